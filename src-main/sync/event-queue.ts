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

  constructor(stream: ChangeStream<Document, ChangeEvent>) {
    this.#stream = stream;
    stream.on('change', (event: ChangeEvent) => {
      this.#events.push(event);
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
    if (this.#events.length > 0) return this.#events.splice(0, max);
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new QueueClosed();
    return [];
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
