/**
 * What the engine knows about its outbox without reading it: whether it is
 * surely empty. The pull uses it to skip reading the outbox for pending local
 * changes — on a till that only receives, one command of every pull batch.
 *
 * It is pessimistic. Every transaction that may add entries (capture, and
 * reconciliation's enqueue) announces itself *before* it starts, which makes
 * the outbox "maybe not empty" at once. It becomes "surely empty" again only
 * when the push has read the outbox (with no such transaction running) and
 * either found nothing or removed everything it read, and no transaction that
 * may add entries has begun since that read.
 *
 * Why a reader inside a transaction may trust it: it checks after its
 * snapshot is fixed (after its first command). "Surely empty" then means no
 * entry-adding transaction began before that check, so none committed into
 * the reader's snapshot; and everything committed before had been read and
 * removed by the push.
 */
export class OutboxWatch {
  /** Entry-adding transactions begun so far. */
  #begun = 0;
  #running = 0;
  #empty = false;
  /** Hub changes the pull passed over may sit on outbox entries (they outlive a restart, so: unknown at first). */
  #notes = true;

  /** Call before a transaction that may add outbox entries; call the returned function when it has ended, however it ended. */
  adding(): () => void {
    this.#begun += 1;
    this.#running += 1;
    this.#empty = false;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#running -= 1;
    };
  }

  /** Call just before the push reads the outbox; pass the result to `drained`. */
  beforeRead(): number | undefined {
    return this.#running === 0 ? this.#begun : undefined;
  }

  /** The push's read (marked by `beforeRead`) found nothing, or all it found has been removed and committed. */
  drained(mark: number | undefined): void {
    if (mark !== undefined && mark === this.#begun && this.#running === 0) {
      this.#empty = true;
      this.#notes = false; // no entries, so nothing on them
    }
  }

  /** Call before the pull writes a hub change it passed over onto an outbox entry (it commits after this). */
  notesWriting(): void {
    this.#notes = true;
  }

  /**
   * An outbox entry may carry a hub change the pull passed over. The push's
   * settle reads them only then; having skipped the read, it checks again after
   * its first write has fixed its snapshot, and starts over if it changed.
   */
  get notesMayExist(): boolean {
    return this.#notes;
  }

  /** No outbox entry exists (see the class comment for when a transaction may rely on it). */
  get surelyEmpty(): boolean {
    return this.#empty;
  }
}
