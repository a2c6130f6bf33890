/**
 * The server's topologyVersion (SDAM spec, "Awaitable hello"): a processId new
 * with every start of the process and a counter that moves on a significant
 * topology change. A 4.4+ server puts it in every hello reply and every
 * state-change error; a driver that sees it monitors with the streaming
 * protocol — an awaitable hello answered when the counter moves or
 * maxAwaitTimeMS passes — and starts its monitor afresh after a network error.
 * Without it the Node driver polls, and its polling monitor can write its next
 * hello to a socket the server has just closed and wait for ever (issue 17).
 */
import { Long, ObjectId, type Document } from 'bson';

export class Topology {
  #processId = new ObjectId();
  #counter = 0;
  readonly #waiters = new Set<() => void>();

  /** The version as the server reports it: `{processId, counter: Long}`. */
  version(): Document {
    return { processId: this.#processId, counter: Long.fromNumber(this.#counter) };
  }

  /** A new process: a new processId, the counter from 0 (what a restart looks like to a monitor). */
  newProcess(): void {
    this.#processId = new ObjectId();
    this.#counter = 0;
    this.#changed();
  }

  /**
   * Waits as an awaitable hello does: not at all when the client's version is of
   * another process or older than ours; otherwise until the counter moves, `ms`
   * passes or `signal` aborts.
   */
  async awaitChange(client: { processId: ObjectId; counter: number }, ms: number, signal: AbortSignal): Promise<void> {
    if (!client.processId.equals(this.#processId) || client.counter < this.#counter || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #changed(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
