/**
 * A change stream as a queue of events the engine takes in batches. The driver
 * resumes by itself after transient errors; anything else ends the queue with
 * the error, and the owner reopens it from its own persisted checkpoint.
 *
 * Events are fetched only when the owner asks for them (the driver's iterator
 * mode), not streamed ahead: while the owner commits a batch, new changes wait
 * on the server and come back together in one `getMore`. Streamed, each change
 * cost a round trip of its own — at 200 writes/s, most of a till's commands.
 * The owner's pace is the backpressure: nothing piles up in memory.
 *
 * With `readAhead`, the next `getMore` is asked for as soon as a batch has
 * been taken, so over a slow link the round trip runs while the owner applies
 * that batch instead of after it: still one request at a time, and at most one
 * batch (the stream's batch size) held ahead.
 *
 * An event over 16 MB (an update of a large document: its change and the
 * document after it) cannot be sent whole; without help the server fails the
 * stream, and it would fail again at the same event for ever. Streams end with
 * `$changeStreamSplitLargeEvent` (MongoDB 7.0), so such an event comes in
 * fragments by top-level field, and the queue joins them into one event
 * before anyone sees it, with the last fragment's resume token.
 */
import type { ChangeStream, ChangeStreamDocument, Document, ResumeToken, Timestamp } from 'mongodb';

export type ChangeEvent = ChangeStreamDocument<Document> & Document;

/**
 * How long a change stream's `getMore` waits on the server when nothing changes. Changes still come
 * back the moment they happen; this is only how often a quiet stream asks again (at rest, the
 * engine's most frequent command). Well under the clients' socket timeouts (10 s to the hub).
 */
export const STREAM_AWAIT_MS = 5_000;

/** The last stage of every engine change stream: an event over 16 MB comes as fragments (joined here). */
export const SPLIT_LARGE_EVENTS: Document = { $changeStreamSplitLargeEvent: {} };

/** Where a change stream starts: after a token, or at a cluster time (nothing: now). */
export interface StreamStart {
  token?: unknown;
  startAt?: Timestamp;
}

export class EventQueue {
  readonly #stream: ChangeStream<Document, ChangeEvent>;
  #closed = false;
  #error: unknown;
  /** The stream has answered once (its opening aggregate). */
  #opened = false;
  readonly #readAhead: boolean;
  /** The request for the next batch, while it is on its way (settles once events are buffered, or on an error). */
  #ahead: Promise<void> | undefined;
  /**
   * What a wait in progress is told when the queue closes: a read waiting on the server ends then, not
   * when its `getMore` returns. One per wait, forgotten when the wait ends: a promise that lived as long
   * as the queue and was raced against every read would keep every event ever read (each race's result
   * hangs on it until it settles).
   */
  readonly #onClose = new Set<() => void>();

  /**
   * `onResponse` hears every answer the server gives the stream, empty ones
   * included (each carries a post-batch resume token): proof the server is
   * reachable, which a quiet queue is not.
   */
  constructor(stream: ChangeStream<Document, ChangeEvent>, options: { onResponse?: () => void; readAhead?: boolean } = {}) {
    const { onResponse, readAhead = false } = options;
    this.#stream = stream;
    this.#readAhead = readAhead;
    if (onResponse) stream.on('resumeTokenChanged', () => onResponse());
    // Iterator mode reports errors from tryNext(); one emitted anyway is kept for the next take, not left to crash the process.
    stream.on('error', (err: unknown) => {
      this.#error ??= err;
    });
  }

  /** Events received from the server and not taken yet. */
  get pending(): number {
    return this.#closed ? 0 : this.#stream.bufferedCount();
  }

  /** The stream's newest resume token: that of the last event taken, or a post-batch token when nothing is buffered. */
  get resumeToken(): ResumeToken | undefined {
    return this.#stream.resumeToken ?? undefined;
  }

  /**
   * Up to `max` events; waits for the first one up to about `waitMs` (returns
   * [] then; each wait on the server lasts up to the stream's maxAwaitTimeMS).
   * A freshly opened stream that has nothing returns [] at once: its owner
   * learns it is caught up without waiting.
   * Throws the stream's error, or `QueueClosed` once closed.
   */
  async take(max: number, waitMs: number): Promise<ChangeEvent[]> {
    const deadline = Date.now() + waitMs;
    const taken: ChangeEvent[] = [];
    while (taken.length === 0) {
      if (this.#closed) throw new QueueClosed();
      if (this.#error !== undefined) throw this.#error;
      if (this.#ahead) {
        // The next batch was asked for while the last one was applied: wait for it, never beside it.
        const closing = this.#closing();
        try {
          const settled = Promise.race([this.#ahead, closing.closed]).then(() => undefined);
          if (!(await settlesWithin(settled, deadline - Date.now()))) return taken;
        } finally {
          closing.done();
        }
        this.#ahead = undefined;
        continue;
      }
      const opening = !this.#opened;
      const first = await this.#next();
      this.#opened = true;
      if (first) taken.push(first);
      else if (opening || Date.now() >= deadline) return taken;
    }
    // The rest of what the server already sent: no round trip.
    while (taken.length < max && !this.#closed && this.#stream.bufferedCount() > 0) {
      const event = await this.#next();
      if (!event) break;
      taken.push(event);
    }
    if (this.#readAhead && !this.#closed && this.#stream.bufferedCount() === 0) {
      this.#ahead = this.#stream.hasNext().then(
        () => undefined,
        (err: unknown) => {
          if (!this.#closed) this.#error ??= err;
        },
      );
    }
    return taken;
  }

  async #next(): Promise<ChangeEvent | null> {
    const event = await this.#read();
    return event?.splitEvent ? this.#joinFragments(event) : event;
  }

  async #read(): Promise<ChangeEvent | null> {
    // Already here: no request, nothing to wait for, so no race with a close (most events of a batch).
    if (this.#stream.bufferedCount() > 0) {
      const event = await this.#stream.tryNext().catch((err: unknown) => {
        throw this.#closed ? new QueueClosed() : err;
      });
      if (this.#closed) throw new QueueClosed();
      return event;
    }
    const reading = this.#stream.tryNext();
    const closing = this.#closing();
    try {
      const event = await Promise.race([reading, closing.closed]);
      if (this.#closed) throw new QueueClosed();
      return event;
    } catch (err) {
      if (this.#closed) throw new QueueClosed();
      throw err;
    } finally {
      closing.done();
      // Closed while the server held the request: it ends when the server answers, and nobody waits for it.
      if (this.#closed) reading.catch(() => undefined);
    }
  }

  /** Settles with null when the queue closes (at once if it has); `done()` once the wait is over. */
  #closing(): { closed: Promise<null>; done(): void } {
    let tell!: () => void;
    const closed = new Promise<null>((resolve) => {
      tell = () => resolve(null);
    });
    if (this.#closed) tell();
    else this.#onClose.add(tell);
    return { closed, done: () => this.#onClose.delete(tell) };
  }

  /** The whole event from its fragments: their fields in order, and the last one's token (which resumes after it). */
  async #joinFragments(first: ChangeEvent): Promise<ChangeEvent> {
    const whole: Document = { _id: first._id };
    let fragment: ChangeEvent = first;
    let expected = 1;
    for (;;) {
      const { n, of } = fragmentOf(fragment);
      if (n !== expected) {
        throw new Error(`change stream: expected fragment ${expected} of a split event, got fragment ${n} of ${of}`);
      }
      for (const [key, value] of Object.entries(fragment)) if (key !== '_id' && key !== 'splitEvent') whole[key] = value;
      whole._id = fragment._id;
      if (n >= of) return whole as ChangeEvent;
      expected = n + 1;
      let next: ChangeEvent | null = null;
      // The other fragments are on the server already: the next getMore brings them.
      while (next === null) {
        if (this.#closed) throw new QueueClosed();
        next = await this.#read();
      }
      fragment = next;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const tell of this.#onClose) tell();
    this.#onClose.clear();
    await this.#stream.close().catch(() => undefined);
  }
}

function fragmentOf(event: ChangeEvent): { n: number; of: number } {
  const split = event.splitEvent as { fragment?: unknown; of?: unknown } | undefined;
  return { n: Number(split?.fragment), of: Number(split?.of) };
}

/** Whether `promise` settles within `ms` (it is left running when it does not). */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.race([promise.then(() => true), Promise.resolve(false)]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class QueueClosed extends Error {
  constructor() {
    super('change stream closed');
    this.name = 'QueueClosed';
  }
}
