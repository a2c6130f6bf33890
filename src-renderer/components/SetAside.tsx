// @jsxRuntime automatic
/**
 * Changes sync could not apply and set aside (`status.quarantine`), newest
 * first, each with its reason in the operator's language. Shown only when
 * there are some. The actions on them ("try again", "discard") come with the
 * engine commands that will carry them (the no-loss issue); until then this
 * panel only lists.
 */
import { useDashboard } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { useWords } from '../i18n/language.tsx';
import { quarantineReasonWords } from '../format.ts';

export function SetAside() {
  const w = useWords();
  const quarantine = useDashboard((s) => s.status?.quarantine ?? null);
  const now = useNow(5_000);
  if (!quarantine || quarantine.count === 0) return null;
  const more = quarantine.count - quarantine.latest.length;
  return (
    <section className="panel" aria-labelledby="set-aside-title" data-testid="set-aside">
      <h2 id="set-aside-title">{w.t('quarantine.title')}</h2>
      <p className="hint">{w.t('quarantine.hint')}</p>
      <ul className="set-aside-list">
        {quarantine.latest.map((item) => (
          <li key={`${item.collection} ${item.documentId} ${item.at}`} data-testid="set-aside-item">
            <span>
              {w.t('quarantine.item', { collection: item.collection, documentId: item.documentId, reason: quarantineReasonWords(w, item) })}
            </span>{' '}
            <span className="hint" title={w.dateTime(item.at)}>
              {w.timeAgo(item.at, now)}
            </span>
          </li>
        ))}
      </ul>
      {more > 0 && <p className="hint">{w.t('quarantine.more', { count: more })}</p>}
    </section>
  );
}
