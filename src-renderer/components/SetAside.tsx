// @jsxRuntime automatic
/**
 * Changes sync could not apply and set aside (`status.quarantine`), newest
 * first, each with its reason in the operator's language, and what can be
 * done: "Try again" once the cause is fixed, or "Discard" (asked first: for a
 * change of this till's the hub refused, the till then takes the hub's
 * version). Shown only when there are some.
 */
import { useState } from 'react';
import { useApi, useDashboard } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { useWords } from '../i18n/language.tsx';
import { quarantineReasonWords } from '../format.ts';
import type { QuarantineSummary } from '../../src-shared/status.ts';
import { ActionButton } from './ActionButton.tsx';
import { Dialog } from './Dialog.tsx';

type Item = QuarantineSummary['latest'][number];

export function SetAside() {
  const w = useWords();
  const api = useApi();
  const quarantine = useDashboard((s) => s.status?.quarantine ?? null);
  const now = useNow(5_000);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [discarding, setDiscarding] = useState<Item | null>(null);
  if (!quarantine || quarantine.count === 0) return null;
  const more = quarantine.count - quarantine.latest.length;

  async function act(item: Item, command: 'setAside.retry' | 'setAside.discard') {
    if (!item.id) return;
    setBusy(item.id);
    setError(null);
    const result = await api.invoke(command, { id: item.id });
    setBusy(null);
    setDiscarding(null);
    if (!result.ok) setError(result.error.message);
  }

  return (
    <section className="panel" aria-labelledby="set-aside-title" data-testid="set-aside">
      <h2 id="set-aside-title">{w.t('quarantine.title')}</h2>
      <p className="hint">{w.t('quarantine.hint')}</p>
      {error && (
        <p className="banner banner-bad" role="alert">
          {error}
        </p>
      )}
      <ul className="set-aside-list">
        {quarantine.latest.map((item) => (
          <li key={item.id ?? `${item.collection} ${item.documentId} ${item.at}`} data-testid="set-aside-item">
            <span>
              {w.t('quarantine.item', { collection: item.collection, documentId: item.documentId, reason: quarantineReasonWords(w, item) })}
            </span>{' '}
            <span className="hint" title={w.dateTime(item.at)}>
              {w.timeAgo(item.at, now)}
            </span>
            {item.handling ? (
              <p className="hint" role="status" data-testid="set-aside-handling">
                {w.t(`quarantine.handling.${item.handling}`)}
              </p>
            ) : (
              item.id && (
                <div className="actions">
                  <ActionButton onClick={() => void act(item, 'setAside.retry')} busy={busy === item.id} data-testid="set-aside-retry">
                    {w.t('quarantine.retry')}
                  </ActionButton>
                  <ActionButton onClick={() => setDiscarding(item)} unavailable={busy === item.id} data-testid="set-aside-discard">
                    {w.t('quarantine.discard')}
                  </ActionButton>
                </div>
              )
            )}
          </li>
        ))}
      </ul>
      {more > 0 && <p className="hint">{w.t('quarantine.more', { count: more })}</p>}
      {discarding && (
        <Dialog title={w.t('quarantine.discard.title')} onCancel={() => busy === null && setDiscarding(null)}>
          <p>{w.t(discarding.side === 'hub' ? 'quarantine.discard.hub' : 'quarantine.discard.local')}</p>
          <div className="actions">
            <ActionButton data-autofocus onClick={() => setDiscarding(null)} unavailable={busy !== null}>
              {w.t('common.cancel')}
            </ActionButton>
            <ActionButton className="primary" onClick={() => void act(discarding, 'setAside.discard')} busy={busy === discarding.id}>
              {w.t('quarantine.discard.yes')}
            </ActionButton>
          </div>
        </Dialog>
      )}
    </section>
  );
}
