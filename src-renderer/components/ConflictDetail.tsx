// @jsxRuntime automatic
/**
 * One conflict: both versions side by side with the fields that differ
 * highlighted, which one was kept and why, and "Apply the other version".
 */
import { useEffect, useRef, useState } from 'react';
import type { ConflictSide, ConflictView } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { clockTime, originWords, valueText } from '../format.ts';
import { Dialog } from './Dialog.tsx';

type SideName = 'local' | 'hub';

const SIDE_TITLE: Record<SideName, string> = { local: "This till's version", hub: "The hub's version" };

export function ConflictDetail(props: { conflict: ConflictView; onBack: () => void; onChanged: (conflict: ConflictView) => void }) {
  const { conflict } = props;
  const api = useApi();
  const ownDeviceId = useDashboard((s) => s.info?.deviceId ?? s.status?.deviceId ?? null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  // Focus moves to the heading when the view opens, and again once the other version is applied
  // (the button that opened the dialog is gone by then).
  useEffect(() => heading.current?.focus(), [conflict.reappliedAt]);

  const loser: SideName = conflict.winner === 'local' ? 'hub' : 'local';
  const fields = fieldOrder(conflict.local.document, conflict.hub.document);
  const changed = new Set(conflict.changedFields);

  async function applyLoser() {
    setBusy(true);
    setError(null);
    const result = await api.invoke('conflicts.applyLoser', { id: conflict.id });
    setBusy(false);
    if (result.ok) {
      setConfirming(false);
      props.onChanged(result.value);
    } else {
      setError(result.error.message);
    }
  }

  return (
    <section className="panel" aria-labelledby="conflict-title" data-testid="conflict-detail">
      <div className="panel-head">
        <h2 id="conflict-title" ref={heading} tabIndex={-1}>
          Conflict on {conflict.collection} <span className="mono">{conflict.documentId}</span>
        </h2>
        <button type="button" onClick={props.onBack}>
          Back to the list
        </button>
      </div>
      <p>
        Recorded {clockTime(conflict.at)}. <strong data-testid="conflict-winner">{SIDE_TITLE[conflict.winner]} was kept</strong>:{' '}
        <span data-testid="conflict-explanation">{conflict.explanation}</span>
      </p>
      {conflict.reappliedAt !== null && (
        <p className="banner banner-ok" role="status" data-testid="conflict-reapplied">
          {SIDE_TITLE[loser]} was applied on this till and on the hub ({clockTime(conflict.reappliedAt)}).
        </p>
      )}

      <table className="versions" data-testid="conflict-versions">
        <caption className="visually-hidden">Both versions, field by field. Fields that differ are marked “changed”.</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            {(['local', 'hub'] as const).map((side) => (
              <th scope="col" key={side} data-testid={`side-${side}`}>
                <SideHeading name={side} side={conflict[side]} kept={conflict.winner === side} ownDeviceId={ownDeviceId} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {fields.map((field) => {
            const isChanged = changed.has(field);
            return (
              <tr key={field} className={isChanged ? 'changed' : undefined} data-field={field} data-changed={isChanged}>
                <th scope="row">
                  {field}
                  {isChanged && <span className="tag tag-changed">changed</span>}
                </th>
                {(['local', 'hub'] as const).map((side) => (
                  <td key={side} className="mono">
                    {conflict[side].document === null ? '' : valueText(conflict[side].document?.[field])}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>

      {conflict.reappliedAt === null && (
        <div className="actions">
          <button type="button" className="primary" onClick={() => setConfirming(true)}>
            Apply the other version
          </button>
          <span className="hint">Replaces the kept version with {SIDE_TITLE[loser].toLowerCase()}, on this till and on the hub.</span>
        </div>
      )}

      {confirming && (
        <Dialog title="Apply the other version?" onCancel={() => !busy && setConfirming(false)}>
          <p>
            The {conflict.collection} record <span className="mono">{conflict.documentId}</span> will be replaced with{' '}
            {SIDE_TITLE[loser].toLowerCase()}
            {conflict[loser].document === null ? ', which deletes it' : ''}, on this till and on the hub. Every till will get the change.
          </p>
          {error && (
            <p className="banner banner-bad" role="alert">
              {error}
            </p>
          )}
          <div className="actions">
            <button type="button" data-autofocus onClick={() => setConfirming(false)} disabled={busy}>
              Cancel
            </button>
            <button type="button" className="primary" onClick={() => void applyLoser()} disabled={busy}>
              {busy ? 'Applying…' : 'Yes, apply it'}
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function SideHeading(props: { name: SideName; side: ConflictSide; kept: boolean; ownDeviceId: string | null }) {
  const { side } = props;
  return (
    <>
      {SIDE_TITLE[props.name]} <span className={`tag ${props.kept ? 'tag-kept' : 'tag-lost'}`}>{props.kept ? 'kept' : 'not kept'}</span>
      <span className="side-meta">
        made by {originWords(side.origin, props.ownDeviceId)}
        {side.wallTime !== null && <> at {clockTime(side.wallTime)}</>}
        {side.document === null && <> — deleted the record</>}
      </span>
    </>
  );
}

/** `_id` first, then the fields in the order they appear in either version. */
function fieldOrder(a: Record<string, unknown> | null, b: Record<string, unknown> | null): string[] {
  const names = new Set<string>(['_id']);
  for (const doc of [a, b]) for (const key of Object.keys(doc ?? {})) names.add(key);
  if (!(a && '_id' in a) && !(b && '_id' in b)) names.delete('_id');
  return [...names];
}
