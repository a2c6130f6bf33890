/**
 * Transactions a stream has recognised as the engine's, by transaction key
 * (lsid + txnNumber), so the rest of each one's events are skipped too. The
 * marker (or an own-session event) comes first in its transaction; the other
 * events may arrive in a later batch, or after a restart, so the keys still
 * open at a checkpoint are saved with it.
 *
 * Bounded: only the newest few are kept (a transaction's events arrive
 * together; older keys are long finished).
 */
const REMEMBERED = 64;

export class TxnMemory<Kind extends string = 'engine'> {
  readonly #kinds = new Map<string, Kind>();

  constructor(saved: Iterable<readonly [string, Kind]> = []) {
    for (const [key, kind] of saved) this.remember(key, kind);
  }

  remember(key: string, kind: Kind): void {
    this.#kinds.delete(key);
    this.#kinds.set(key, kind);
    if (this.#kinds.size > REMEMBERED) this.#kinds.delete(this.#kinds.keys().next().value as string);
  }

  kindOf(key: string | undefined): Kind | undefined {
    return key === undefined ? undefined : this.#kinds.get(key);
  }

  entries(): Array<[string, Kind]> {
    return [...this.#kinds];
  }

  /** A copy to plan with; `adopt` it once the plan's transaction committed. */
  copy(): TxnMemory<Kind> {
    return new TxnMemory(this.#kinds);
  }

  adopt(other: TxnMemory<Kind>): void {
    this.#kinds.clear();
    for (const [key, kind] of other.entries()) this.#kinds.set(key, kind);
  }

  clear(): void {
    this.#kinds.clear();
  }
}
