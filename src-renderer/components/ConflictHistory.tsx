// @jsxRuntime automatic
/**
 * Conflict history: newest first, a page at a time, optionally one collection.
 * Choosing a conflict opens its detail in place of the list.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ConflictPageView, ConflictView } from '../../src-shared/ipc.ts';
import { useApi, useDashboard, useDashboardStore } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { useWords } from '../i18n/language.tsx';
import { ConflictDetail } from './ConflictDetail.tsx';
import { ActionButton } from './ActionButton.tsx';

export const CONFLICT_PAGE_SIZE = 10;

export function ConflictHistory() {
  const w = useWords();
  const api = useApi();
  const store = useDashboardStore();
  const conflictEvents = useDashboard((s) => s.conflictEvents);
  const collections = useDashboard((s) => s.collections);
  const connection = useDashboard((s) => s.connection);
  const history = useDashboard((s) => s.status?.history);
  const now = useNow(5000);

  const [collection, setCollection] = useState('');
  const [page, setPage] = useState(0);
  const [data, setData] = useState<ConflictPageView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<ConflictView | null>(null);
  const [newSinceLoad, setNewSinceLoad] = useState(0);
  const seenEvents = useRef(conflictEvents);
  const listHeading = useRef<HTMLHeadingElement>(null);
  const returnFocusTo = useRef<string | null>(null);

  const load = useCallback(async () => {
    const result = await api.invoke('conflicts.list', {
      page,
      pageSize: CONFLICT_PAGE_SIZE,
      ...(collection ? { collection } : {}),
    });
    if (result.ok) {
      setData(result.value);
      setError(null);
      setNewSinceLoad(0);
      seenEvents.current = store.getState().conflictEvents;
    } else {
      setError(result.error.message);
    }
  }, [api, store, page, collection]);

  useEffect(() => {
    void load();
  }, [load, connection]);

  // New conflicts: the first page refreshes itself; on later pages, offer to jump to the newest.
  // (Each new conflict is announced once by the Announcer; nothing here is a live region.)
  useEffect(() => {
    if (conflictEvents === seenEvents.current) return;
    if (page === 0) void load();
    else setNewSinceLoad(conflictEvents - seenEvents.current);
  }, [conflictEvents, page, load]);

  // Back from a detail view: focus returns to the row that was opened.
  useEffect(() => {
    if (selected || !returnFocusTo.current) return;
    const row = document.querySelector<HTMLElement>(`[data-conflict-id="${CSS.escape(returnFocusTo.current)}"] button`);
    (row ?? listHeading.current)?.focus();
    returnFocusTo.current = null;
  }, [selected]);

  if (selected) {
    return (
      <ConflictDetail
        conflict={selected}
        onBack={() => {
          returnFocusTo.current = selected.id;
          setSelected(null);
          void load();
        }}
        onChanged={setSelected}
      />
    );
  }

  const pages = data ? Math.max(1, Math.ceil(data.total / data.pageSize)) : 1;
  const items = data ? [...data.items].sort((a, b) => b.at - a.at) : [];

  return (
    <section className="panel" aria-labelledby="conflicts-title">
      <div className="panel-head">
        <h2 id="conflicts-title" ref={listHeading} tabIndex={-1}>
          {w.t('conflicts.title')}
        </h2>
        <label className="inline-field">
          {w.t('conflicts.filter')}
          <select
            value={collection}
            onChange={(event) => {
              setCollection(event.target.value);
              setPage(0);
            }}
          >
            <option value="">{w.t('conflicts.filter.all')}</option>
            {collections.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint">{w.t('conflicts.hint')}</p>
      {history && (history.conflictsSince !== null || history.olderConflicts > 0) && (
        <p className="hint" data-testid="history-reach">
          {history.conflictsSince !== null &&
            w.t('conflicts.history.since', {
              days: history.keepDays,
              entries: history.keepEntries,
              since: w.dateTime(history.conflictsSince),
            })}
          {history.conflictsSince !== null && history.olderConflicts > 0 && ' '}
          {history.olderConflicts > 0 && w.t('conflicts.history.older', { count: history.olderConflicts })}
        </p>
      )}
      {error && (
        <p className="banner banner-bad" role="alert">
          {error}
        </p>
      )}
      {newSinceLoad > 0 && (
        <p className="banner banner-info">
          {w.t('conflicts.new', { count: newSinceLoad })}{' '}
          <button type="button" onClick={() => setPage(0)}>
            {w.t('conflicts.show-newest')}
          </button>
        </p>
      )}
      {data && data.total === 0 && (
        <p data-testid="no-conflicts">{collection ? w.t('conflicts.none-in', { collection }) : w.t('conflicts.none')}</p>
      )}
      {items.length > 0 && (
        <table className="conflict-table" data-testid="conflict-list">
          <caption className="visually-hidden">{w.t('conflicts.caption')}</caption>
          <thead>
            <tr>
              <th scope="col">{w.t('conflicts.when')}</th>
              <th scope="col">{w.t('conflicts.collection')}</th>
              <th scope="col">{w.t('conflicts.record')}</th>
              <th scope="col">{w.t('conflicts.kept')}</th>
              <th scope="col">
                <span className="visually-hidden">{w.t('conflicts.details')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((conflict) => (
              <tr key={conflict.id} data-conflict-id={conflict.id}>
                <td title={w.dateTime(conflict.at)}>{w.timeAgo(conflict.at, now)}</td>
                <td>{conflict.collection}</td>
                <td className="mono">{conflict.documentId}</td>
                <td>
                  {w.t(conflict.winner === 'local' ? 'side.local' : 'side.hub')}
                  {conflict.reappliedAt !== null && <span className="tag">{w.t('conflicts.reapplied')}</span>}
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => setSelected(conflict)}
                    aria-label={w.t('conflicts.view.label', { collection: conflict.collection, documentId: conflict.documentId })}
                  >
                    {w.t('conflicts.view')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.total > 0 && (
        <nav className="pager" aria-label={w.t('conflicts.pages')}>
          {/* aria-disabled, not disabled: the button that reached the first or last page keeps focus. */}
          <ActionButton onClick={() => setPage((p) => p - 1)} unavailable={page === 0}>
            {w.t('conflicts.newer')}
          </ActionButton>
          <span data-testid="page-position">{w.t('conflicts.position', { page: page + 1, pages, total: data.total })}</span>
          <ActionButton onClick={() => setPage((p) => p + 1)} unavailable={page + 1 >= pages}>
            {w.t('conflicts.older')}
          </ActionButton>
        </nav>
      )}
    </section>
  );
}
