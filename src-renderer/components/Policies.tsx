// @jsxRuntime automatic
/** Which collections sync which way, and how their conflicts are settled. */
import { useId, useState, type FormEvent } from 'react';
import {
  CONFLICT_GRANULARITIES,
  SYNC_MODES,
  commandInputs,
  type ConflictGranularityName,
  type SyncModeName,
} from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { GRANULARITY_WORDS, MODE_WORDS } from '../format.ts';

export function Policies() {
  const api = useApi();
  const policies = useDashboard((s) => s.settings?.policies ?? null);
  const known = useDashboard((s) => s.collections);
  const setSettings = useDashboard((s) => s.setSettings);
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  if (!policies) return null;
  const names = Object.keys(policies).sort();

  async function change(collection: string, mode: SyncModeName, conflict: ConflictGranularityName): Promise<boolean> {
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
    return result.ok;
  }

  return (
    <section className="panel" aria-labelledby="policies-title">
      <h2 id="policies-title">Collections</h2>
      {names.length === 0 ? (
        <p>Every collection syncs both ways, and the newest whole record wins when both sides change it.</p>
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
      {names.length > 0 && <p className="hint">Collections not listed sync both ways.</p>}
      <AddPolicy suggestions={known.filter((name) => !(name in policies))} disabled={busy !== null} onAdd={change} />
      {message && (
        <p className={`banner ${message.ok ? 'banner-ok' : 'banner-bad'}`} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
    </section>
  );
}

/** The contract's check of a collection name, as a sentence; null when valid. */
function collectionProblem(name: string): string | null {
  const parsed = commandInputs['settings.setPolicy'].shape.collection.safeParse(name);
  if (parsed.success) return null;
  const message = parsed.error.issues[0]?.message ?? 'this is not a collection name';
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}.`;
}

function AddPolicy(props: {
  suggestions: string[];
  disabled: boolean;
  onAdd: (collection: string, mode: SyncModeName, conflict: ConflictGranularityName) => Promise<boolean>;
}) {
  const nameId = useId();
  const modeId = useId();
  const listId = useId();
  const errorId = useId();
  const [name, setName] = useState('');
  const [mode, setMode] = useState<SyncModeName>('both');
  const [problem, setProblem] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = collectionProblem(name.trim());
    setProblem(found);
    if (found) return;
    if (await props.onAdd(name.trim(), mode, 'document')) setName('');
  }

  return (
    <form className="add-policy" onSubmit={(event) => void submit(event)} noValidate>
      <div>
        <label htmlFor={nameId}>Collection</label>
        <input
          id={nameId}
          type="text"
          value={name}
          list={listId}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={problem !== null}
          aria-describedby={problem ? errorId : undefined}
          onChange={(event) => setName(event.target.value)}
        />
        <datalist id={listId}>
          {props.suggestions.map((suggestion) => (
            <option key={suggestion} value={suggestion} />
          ))}
        </datalist>
      </div>
      <div>
        <label htmlFor={modeId}>How it syncs</label>
        <select id={modeId} value={mode} onChange={(event) => setMode(event.target.value as SyncModeName)}>
          {SYNC_MODES.map((m) => (
            <option key={m} value={m}>
              {MODE_WORDS[m]}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" disabled={props.disabled}>
        Set for this collection
      </button>
      {problem && (
        <p id={errorId} className="field-error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
