// @jsxRuntime automatic
/**
 * Conflict history: newest first, a page at a time, optionally one collection.
 * Choosing a conflict opens its detail in place of the list.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ConflictPageView, ConflictView } from '../../src-shared/ipc.ts';
import { useApi, useDashboard, useDashboardStore } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { clockTime, plural, timeAgo } from '../format.ts';
import { ConflictDetail } from './ConflictDetail.tsx';

export const CONFLICT_PAGE_SIZE = 10;

export function ConflictHistory() {
  const api = useApi();
  const store = useDashboardStore();
  const conflictEvents = useDashboard((s) => s.conflictEvents);
  const collections = useDashboard((s) => s.collections);
  const connection = useDashboard((s) => s.connection);
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
          Conflicts
        </h2>
        <label className="inline-field">
          Show
          <select
            value={collection}
            onChange={(event) => {
              setCollection(event.target.value);
              setPage(0);
            }}
          >
            <option value="">All collections</option>
            {collections.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint">
        When this till and the hub both changed the same record, TillSync keeps the newest change and lists the other one here.
      </p>
      {error && (
        <p className="banner banner-bad" role="alert">
          {error}
        </p>
      )}
      {newSinceLoad > 0 && (
        <p className="banner banner-info" role="status">
          {plural(newSinceLoad, 'new conflict')}.{' '}
          <button type="button" onClick={() => setPage(0)}>
            Show the newest
          </button>
        </p>
      )}
      {data && data.total === 0 && <p data-testid="no-conflicts">No conflicts{collection ? ` in ${collection}` : ''}.</p>}
      {items.length > 0 && (
        <table className="conflict-table" data-testid="conflict-list">
          <caption className="visually-hidden">Conflicts, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Collection</th>
              <th scope="col">Record</th>
              <th scope="col">Kept</th>
              <th scope="col">
                <span className="visually-hidden">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((conflict) => (
              <tr key={conflict.id} data-conflict-id={conflict.id}>
                <td title={clockTime(conflict.at)}>{timeAgo(conflict.at, now)}</td>
                <td>{conflict.collection}</td>
                <td className="mono">{conflict.documentId}</td>
                <td>
                  {conflict.winner === 'local' ? "This till's version" : "The hub's version"}
                  {conflict.reappliedAt !== null && <span className="tag">other version applied</span>}
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => setSelected(conflict)}
                    aria-label={`View conflict on ${conflict.collection} ${conflict.documentId}`}
                  >
                    View
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.total > 0 && (
        <nav className="pager" aria-label="Conflict pages">
          <button type="button" onClick={() => setPage((p) => p - 1)} disabled={page === 0}>
            Newer
          </button>
          <span data-testid="page-position">
            Page {page + 1} of {pages} ({plural(data.total, 'conflict')})
          </span>
          <button type="button" onClick={() => setPage((p) => p + 1)} disabled={page + 1 >= pages}>
            Older
          </button>
        </nav>
      )}
    </section>
  );
}
