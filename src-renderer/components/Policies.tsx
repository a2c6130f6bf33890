// @jsxRuntime automatic
/** Which collections sync which way, and how their conflicts are settled. */
import { useState } from 'react';
import { CONFLICT_GRANULARITIES, SYNC_MODES, type ConflictGranularityName, type SyncModeName } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { GRANULARITY_WORDS, MODE_WORDS } from '../format.ts';

export function Policies() {
  const api = useApi();
  const policies = useDashboard((s) => s.settings?.policies ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  if (!policies) return null;
  const names = Object.keys(policies).sort();

  async function change(collection: string, mode: SyncModeName, conflict: ConflictGranularityName) {
    setBusy(collection);
    setMessage(null);
    const result = await api.invoke('settings.setPolicy', { collection, mode, conflict });
    setBusy(null);
    if (result.ok) {
      setSettings(result.value);
      setMessage({ ok: true, text: `${collection}: ${MODE_WORDS[mode].toLowerCase()}, ${GRANULARITY_WORDS[conflict].toLowerCase()}.` });
    } else {
      setMessage({ ok: false, text: result.error.message });
    }
  }

  return (
    <section className="panel" aria-labelledby="policies-title">
      <h2 id="policies-title">Collections</h2>
      {names.length === 0 ? (
        <p>Every collection syncs both ways.</p>
      ) : (
        <table className="policies" data-testid="policies">
          <thead>
            <tr>
              <th scope="col">Collection</th>
              <th scope="col">Sync</th>
              <th scope="col">When both sides change a record</th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => {
              const policy = policies[name]!;
              return (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td>
                    <select
                      aria-label={`How ${name} syncs`}
                      value={policy.mode}
                      disabled={busy !== null}
                      onChange={(event) => void change(name, event.target.value as SyncModeName, policy.conflict)}
                    >
                      {SYNC_MODES.map((mode) => (
                        <option key={mode} value={mode}>
                          {MODE_WORDS[mode]}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <select
                      aria-label={`How conflicts in ${name} are settled`}
                      value={policy.conflict}
                      disabled={busy !== null}
                      onChange={(event) => void change(name, policy.mode, event.target.value as ConflictGranularityName)}
                    >
                      {CONFLICT_GRANULARITIES.map((granularity) => (
                        <option key={granularity} value={granularity}>
                          {GRANULARITY_WORDS[granularity]}
                        </option>
                      ))}
                    </select>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {message && (
        <p className={`banner ${message.ok ? 'banner-ok' : 'banner-bad'}`} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
      <p className="hint">Collections not listed sync both ways.</p>
    </section>
  );
}
