/**
 * A change stream as a queue of events the engine takes in batches. The driver
 * resumes by itself after transient errors; anything else ends the queue with
 * the error, and the owner reopens it from its own persisted checkpoint.
 */
import type { ChangeStream, ChangeStreamDocument, Document, ResumeToken } from 'mongodb';

export type ChangeEvent = ChangeStreamDocument<Document> & Document;

export class EventQueue {
  readonly #stream: ChangeStream<Document, ChangeEvent>;
  readonly #events: ChangeEvent[] = [];
  #error: unknown;
  #closed = false;
  #wake: (() => void) | undefined;

  /** Events held before the stream is paused: without it a slow apply let a fast hub fill memory. */
  readonly #highWater: number;
  #paused = false;

  /**
   * `onResponse` hears every answer the server gives the stream, empty ones
   * included (each carries a post-batch resume token): proof the server is
   * reachable, which a quiet queue is not.
   */
  constructor(stream: ChangeStream<Document, ChangeEvent>, highWater = 2_000, onResponse?: () => void) {
    this.#stream = stream;
    this.#highWater = highWater;
    if (onResponse) stream.on('resumeTokenChanged', () => onResponse());
    stream.on('change', (event: ChangeEvent) => {
      this.#events.push(event);
      if (this.#events.length >= this.#highWater) this.#flow(false);
      this.#notify();
    });
    stream.on('error', (err: unknown) => {
      this.#error = err;
      this.#notify();
    });
    // The driver can emit 'close' just before the 'error' that caused it (a
    // failed initial aggregate, e.g. 286 history lost): wait a turn so the
    // error is what the owner sees, not a bare close it would simply reopen.
    stream.on('close', () => {
      setTimeout(() => {
        this.#closed = true;
        this.#notify();
      }, 10);
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  get pending(): number {
    return this.#events.length;
  }

  /** The stream's newest resume token (a post-batch token when idle). */
  get resumeToken(): ResumeToken | undefined {
    return this.#stream.resumeToken ?? undefined;
  }

  /**
   * Up to `max` events; waits for the first one up to `waitMs` (returns [] then).
   * Throws the stream's error, or `QueueClosed` once closed with nothing left.
   */
  async take(max: number, waitMs: number): Promise<ChangeEvent[]> {
    if (this.#events.length === 0 && this.#error === undefined && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#wake = undefined;
          resolve();
        }, waitMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.#events.length > 0) {
      const taken = this.#events.splice(0, max);
      if (this.#paused && this.#events.length < this.#highWater / 2) this.#flow(true);
      return taken;
    }
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new QueueClosed();
    return [];
  }

  /**
   * Backpressure. The driver's ChangeStream has no pause in event mode; its
   * cursor stream (a Readable, recreated after a resume) does, and a paused
   * Readable stops asking the server for more. Tokens stay consistent: the
   * stream's resume token is that of the last event handed to us.
   */
  #flow(on: boolean): void {
    const readable = (this.#stream as unknown as { cursorStream?: { pause(): void; resume(): void } }).cursorStream;
    if (!readable) return;
    this.#paused = !on;
    if (on) readable.resume();
    else readable.pause();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#notify();
    await this.#stream.close().catch(() => undefined);
  }
}

export class QueueClosed extends Error {
  constructor() {
    super('change stream closed');
    this.name = 'QueueClosed';
  }
}

/** A key shared by all events of one transaction (undefined outside transactions). */
export function transactionKey(event: Document): string | undefined {
  const lsid = event.lsid as { id?: { toString(enc: string): string } } | undefined;
  if (!lsid?.id || event.txnNumber === undefined) return undefined;
  return `${lsid.id.toString('hex')}:${String(event.txnNumber)}`;
}
