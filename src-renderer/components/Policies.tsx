// @jsxRuntime automatic
/**
 * Which collections sync which way, and how their conflicts are settled.
 * Choosing in a list changes nothing yet: "Apply" saves the row, and a change
 * that stops a collection from being sent or received asks first.
 */
import { useEffect, useRef, useState } from 'react';
import { CONFLICT_GRANULARITIES, SYNC_MODES, type PolicyView, type SyncModeName } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import type { Words } from '../i18n/words.ts';
import { ActionButton } from './ActionButton.tsx';
import { AddPolicy } from './AddPolicy.tsx';
import { Dialog } from './Dialog.tsx';

const SENDS: Record<SyncModeName, boolean> = { both: true, 'push-only': true, 'pull-only': false, 'local-only': false };
const RECEIVES: Record<SyncModeName, boolean> = { both: true, 'push-only': false, 'pull-only': true, 'local-only': false };

/** What a change of mode stops: sending to the hub, receiving from it, both or neither. */
export function stoppedBy(from: SyncModeName, to: SyncModeName): { sending: boolean; receiving: boolean } {
  return { sending: SENDS[from] && !SENDS[to], receiving: RECEIVES[from] && !RECEIVES[to] };
}

/** Collections not listed sync both ways, newest whole record winning. */
const DEFAULT_POLICY: PolicyView = { mode: 'both', conflict: 'document' };

interface Confirming {
  collection: string;
  from: SyncModeName;
  next: PolicyView;
  settle: (saved: boolean) => void;
}

export function Policies() {
  const w = useWords();
  const api = useApi();
  const policies = useDashboard((s) => s.settings?.policies ?? null);
  const known = useDashboard((s) => s.collections);
  const setSettings = useDashboard((s) => s.setSettings);
  const [drafts, setDrafts] = useState<Record<string, PolicyView>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirming, setConfirming] = useState<Confirming | null>(null);
  const modeSelects = useRef(new Map<string, HTMLSelectElement>());
  const [focusRow, setFocusRow] = useState<string | null>(null);

  // After a row is applied its Apply button goes away: focus moves to the row's first list, never to the page.
  useEffect(() => {
    if (focusRow === null) return;
    modeSelects.current.get(focusRow)?.focus();
    setFocusRow(null);
  }, [focusRow, policies]);

  if (!policies) return null;
  const names = Object.keys(policies).sort();

  async function save(collection: string, next: PolicyView): Promise<boolean> {
    setBusy(collection);
    setMessage(null);
    const result = await api.invoke('settings.setPolicy', { collection, mode: next.mode, conflict: next.conflict });
    setBusy(null);
    if (!result.ok) {
      setMessage({ ok: false, text: result.error.message });
      return false;
    }
    setSettings(result.value);
    setDrafts(({ [collection]: _applied, ...rest }) => rest);
    setMessage({ ok: true, text: savedWords(w, collection, next) });
    return true;
  }

  /** Saves `next`, after a confirmation when it stops the collection from being sent or received. */
  function apply(collection: string, next: PolicyView): Promise<boolean> {
    const from = (policies?.[collection] ?? DEFAULT_POLICY).mode;
    const stops = stoppedBy(from, next.mode);
    if (!stops.sending && !stops.receiving) return save(collection, next);
    return new Promise((settle) => setConfirming({ collection, from, next, settle }));
  }

  async function confirm(c: Confirming) {
    const saved = await save(c.collection, c.next);
    setConfirming(null);
    c.settle(saved);
    if (saved && c.collection in (policies ?? {})) setFocusRow(c.collection);
  }

  async function applyRow(collection: string, next: PolicyView) {
    if (busy !== null) return;
    const saved = await apply(collection, next);
    if (saved) setFocusRow(collection);
  }

  return (
    <section className="panel" aria-labelledby="policies-title">
      <h2 id="policies-title">{w.t('policies.title')}</h2>
      {names.length === 0 ? (
        <p>{w.t('policies.none')}</p>
      ) : (
        <table className="policies" data-testid="policies">
          <thead>
            <tr>
              <th scope="col">{w.t('policies.collection')}</th>
              <th scope="col">{w.t('policies.sync')}</th>
              <th scope="col">{w.t('policies.conflicts')}</th>
              <th scope="col">
                <span className="visually-hidden">{w.t('policies.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => {
              const saved = policies[name]!;
              const draft = drafts[name] ?? saved;
              const dirty = draft.mode !== saved.mode || draft.conflict !== saved.conflict;
              const edit = (change: Partial<PolicyView>) => setDrafts((d) => ({ ...d, [name]: { ...draft, ...change } }));
              return (
                <tr key={name} data-collection={name} data-dirty={dirty}>
                  <th scope="row">{name}</th>
                  <td>
                    <select
                      ref={(el) => {
                        if (el) modeSelects.current.set(name, el);
                        else modeSelects.current.delete(name);
                      }}
                      aria-label={w.t('policies.mode.label', { collection: name })}
                      value={draft.mode}
                      onChange={(event) => edit({ mode: event.target.value as SyncModeName })}
                    >
                      {SYNC_MODES.map((mode) => (
                        <option key={mode} value={mode}>
                          {w.t(`mode.${mode}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <select
                      aria-label={w.t('policies.granularity.label', { collection: name })}
                      value={draft.conflict}
                      onChange={(event) => edit({ conflict: event.target.value as PolicyView['conflict'] })}
                    >
                      {CONFLICT_GRANULARITIES.map((granularity) => (
                        <option key={granularity} value={granularity}>
                          {w.t(`granularity.${granularity}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td className="row-actions">
                    {dirty && (
                      <>
                        <ActionButton
                          className="primary"
                          aria-label={w.t('policies.apply.label', { collection: name })}
                          busy={busy === name}
                          unavailable={busy !== null}
                          onClick={() => void applyRow(name, draft)}
                        >
                          {busy === name ? w.t('policies.applying') : w.t('policies.apply')}
                        </ActionButton>
                        <ActionButton
                          aria-label={w.t('policies.undo.label', { collection: name })}
                          unavailable={busy !== null}
                          onClick={() => {
                            setDrafts(({ [name]: _undone, ...rest }) => rest);
                            setFocusRow(name);
                          }}
                        >
                          {w.t('policies.undo')}
                        </ActionButton>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {names.length > 0 && <p className="hint">{w.t('policies.others')}</p>}
      <AddPolicy
        suggestions={known.filter((name) => !(name in policies))}
        busy={busy !== null}
        onAdd={(name, mode) => apply(name, { mode, conflict: 'document' })}
      />
      {message && (
        <p
          className={`banner ${message.ok ? 'banner-ok' : 'banner-bad'}`}
          role={message.ok ? 'status' : 'alert'}
          data-testid="policy-outcome"
        >
          {message.text}
        </p>
      )}
      {confirming && (
        <Dialog
          title={w.t('policies.confirm.title', { collection: confirming.collection })}
          onCancel={() => {
            if (busy !== null) return;
            setConfirming(null);
            confirming.settle(false);
          }}
        >
          <ConfirmBody w={w} confirming={confirming} />
          <div className="actions">
            <ActionButton
              data-autofocus
              unavailable={busy !== null}
              onClick={() => {
                setConfirming(null);
                confirming.settle(false);
              }}
            >
              {w.t('common.cancel')}
            </ActionButton>
            <ActionButton className="primary" busy={busy !== null} onClick={() => void confirm(confirming)}>
              {busy !== null ? w.t('policies.applying') : w.t('policies.confirm.yes')}
            </ActionButton>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function ConfirmBody(props: { w: Words; confirming: Confirming }) {
  const { w, confirming } = props;
  const stops = stoppedBy(confirming.from, confirming.next.mode);
  const values = { collection: confirming.collection };
  return (
    <>
      <p>
        <strong>
          {w.t(`mode.${confirming.from}`)} → {w.t(`mode.${confirming.next.mode}`)}
        </strong>
      </p>
      {stops.sending && <p>{w.t('policies.confirm.stops-sending', values)}</p>}
      {stops.receiving && <p>{w.t('policies.confirm.stops-receiving', values)}</p>}
    </>
  );
}

function savedWords(w: Words, collection: string, policy: PolicyView): string {
  const lower = (text: string) => text.charAt(0).toLocaleLowerCase(w.locale) + text.slice(1);
  return w.t('policies.saved', {
    collection,
    mode: lower(w.t(`mode.${policy.mode}`)),
    granularity: lower(w.t(`granularity.${policy.conflict}`)),
  });
}
