// @jsxRuntime automatic
/**
 * One conflict: both versions side by side with the fields that differ
 * highlighted, which one was kept and why (from its rule, in the operator's
 * language), and "Apply the other version" in a bar that stays on screen
 * however long the record is.
 */
import { useEffect, useRef, useState } from 'react';
import { FormattedMessage } from 'react-intl';
import type { ConflictSide, ConflictView } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import type { Words } from '../i18n/words.ts';
import { originWords, valueText } from '../format.ts';
import { Dialog } from './Dialog.tsx';
import { ActionButton } from './ActionButton.tsx';

type SideName = 'local' | 'hub';

export function ConflictDetail(props: { conflict: ConflictView; onBack: () => void; onChanged: (conflict: ConflictView) => void }) {
  const { conflict } = props;
  const w = useWords();
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
  const mono = (text: string) => <span className="mono">{text}</span>;

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
    <section className="panel conflict-detail" aria-labelledby="conflict-title" data-testid="conflict-detail">
      <h2 id="conflict-title" ref={heading} tabIndex={-1}>
        <FormattedMessage id="conflict.title" values={{ collection: conflict.collection, documentId: mono(conflict.documentId) }} />
      </h2>
      <p>
        {w.t('conflict.recorded', { when: w.dateTime(conflict.at) })}{' '}
        <FormattedMessage
          id="conflict.verdict"
          values={{
            kept: <strong data-testid="conflict-winner">{w.t(`conflict.kept.${conflict.winner}`)}</strong>,
            why: <span data-testid="conflict-explanation">{w.rule(conflict.rule, conflict.winner, conflict.fields)}</span>,
          }}
        />
      </p>
      {conflict.reappliedAt !== null && (
        <p className="banner banner-ok" role="status" data-testid="conflict-reapplied">
          {w.t(`conflict.reapplied.${loser}`, { when: w.dateTime(conflict.reappliedAt) })}
        </p>
      )}

      <table className="versions" data-testid="conflict-versions">
        <caption className="visually-hidden">{w.t('conflict.caption')}</caption>
        <thead>
          <tr>
            <th scope="col">{w.t('conflict.field')}</th>
            {(['local', 'hub'] as const).map((side) => (
              <th scope="col" key={side} data-testid={`side-${side}`}>
                <SideHeading w={w} name={side} side={conflict[side]} kept={conflict.winner === side} ownDeviceId={ownDeviceId} />
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
                  {isChanged && <span className="tag tag-changed">{w.t('conflict.tag.changed')}</span>}
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

      <div className="sticky-actions" data-testid="conflict-actions">
        <button type="button" onClick={props.onBack}>
          {w.t('conflict.back')}
        </button>
        {conflict.reappliedAt === null && (
          <>
            <button
              type="button"
              className="primary"
              onClick={() => setConfirming(true)}
              aria-describedby="apply-hint"
              data-testid="apply-other-version"
            >
              {w.t('conflict.apply')}
            </button>
            <span className="hint" id="apply-hint">
              {w.t(`conflict.apply.hint.${loser}`)}
            </span>
          </>
        )}
      </div>

      {confirming && (
        <Dialog title={w.t('conflict.confirm.title')} onCancel={() => !busy && setConfirming(false)}>
          <p>
            <FormattedMessage
              id={`conflict.confirm.${loser}`}
              values={{
                collection: conflict.collection,
                documentId: mono(conflict.documentId),
                deletes: conflict[loser].document === null ? 'yes' : 'no',
              }}
            />
          </p>
          {error && (
            <p className="banner banner-bad" role="alert">
              {error}
            </p>
          )}
          <div className="actions">
            <ActionButton data-autofocus onClick={() => setConfirming(false)} unavailable={busy}>
              {w.t('common.cancel')}
            </ActionButton>
            <ActionButton className="primary" onClick={() => void applyLoser()} busy={busy}>
              {busy ? w.t('conflict.confirm.busy') : w.t('conflict.confirm.yes')}
            </ActionButton>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function SideHeading(props: { w: Words; name: SideName; side: ConflictSide; kept: boolean; ownDeviceId: string | null }) {
  const { w, side } = props;
  const who = originWords(w, side.origin, props.ownDeviceId);
  return (
    <>
      {w.t(`side.${props.name}`)}{' '}
      <span className={`tag ${props.kept ? 'tag-kept' : 'tag-lost'}`}>
        {w.t(props.kept ? 'conflict.tag.kept' : 'conflict.tag.not-kept')}
      </span>
      <span className="side-meta">
        {side.wallTime === null ? w.t('conflict.made-by', { who }) : w.t('conflict.made-by-at', { who, when: w.dateTime(side.wallTime) })}
        {side.document === null && <> {w.t('conflict.deleted')}</>}
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
