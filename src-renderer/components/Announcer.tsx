// @jsxRuntime automatic
/**
 * What a screen reader hears without looking: one polite announcement per new
 * conflict, and one per change of the sync state once the new state has held
 * for `settleMs` (a pause of a second or two says nothing). The visible
 * header is not a live region, so it does not chatter.
 */
import { useEffect, useRef, useState } from 'react';
import type { SyncState } from '../../src-shared/status.ts';
import { useDashboardStore } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import { describeState } from '../format.ts';

const KEPT = 5;

export function Announcer(props: { settleMs?: number }) {
  const settleMs = props.settleMs ?? 2_000;
  const store = useDashboardStore();
  const w = useWords();
  const words = useRef(w);
  words.current = w;
  const [messages, setMessages] = useState<Array<{ id: number; text: string }>>([]);

  useEffect(() => {
    let nextId = 1;
    const say = (text: string) => setMessages((list) => [...list.slice(-(KEPT - 1)), { id: nextId++, text }]);

    let conflictsSeen = store.getState().conflictEvents;
    /** The state last announced (or first seen, which the page itself shows); undefined until one is known. */
    let announced: SyncState | undefined = store.getState().status?.state;
    let candidate: SyncState | null = announced ?? null;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const unsubscribe = store.subscribe((s) => {
      if (s.conflictEvents !== conflictsSeen) {
        conflictsSeen = s.conflictEvents;
        const c = s.latestConflict;
        if (c) say(words.current.t(`announce.conflict.${c.winner}`, { collection: c.collection, documentId: c.documentId }));
      }
      const state = s.connection === 'open' ? (s.status?.state ?? null) : null;
      if (state === null || state === candidate) return;
      candidate = state;
      clearTimeout(timer);
      if (announced === undefined) {
        announced = state;
        return;
      }
      if (state === announced) return;
      timer = setTimeout(() => {
        const status = store.getState().status;
        if (!status || status.state !== state) return;
        announced = state;
        const { headline, detail } = describeState(words.current, status);
        say(detail === null ? headline : detail.startsWith(headline) ? detail : `${headline}. ${detail}`);
      }, settleMs);
    });
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, [store, settleMs]);

  return (
    <div className="visually-hidden" role="log" aria-live="polite" data-testid="announcements">
      {messages.map((m) => (
        <p key={m.id}>{m.text}</p>
      ))}
    </div>
  );
}
