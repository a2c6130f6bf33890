/**
 * The write journal: every write the soak's POS and HQ clients made, with its
 * outcome, appended to a file as it happens (so a crashed soak still leaves
 * the record) and kept in memory for the checks.
 */
import { appendFileSync } from 'node:fs';

export type WriteKind =
  | 'order-insert'
  | 'order-update'
  | 'order-delete'
  | 'counter-inc'
  | 'menu-set'
  | 'menu-replace'
  | 'menu-delete'
  | 'note-insert'
  | 'note-update'
  | 'note-delete';

export interface WriteRecord {
  /** Unique write id; written into the document as `w` (deletes leave none). */
  w: string;
  /** `till-1`..`till-N`, or `hq` (writes made directly on the hub). */
  writer: string;
  kind: WriteKind;
  c: string;
  id: string;
  /**
   * true: acknowledged, or seen applied after an error; false: seen not applied;
   * null: the outcome is unknown (an error, and what was read after does not tell).
   */
  applied: boolean | null;
  /** Whether the server answered (false: an error, the outcome was found by reading). */
  acked: boolean;
  /** Soak-process clock, epoch ms. */
  issuedAt: number;
  doneAt: number;
  /** The fields this write set (menu writes: the whole document for a replace). */
  fields?: Record<string, unknown>;
  /** Written while the writer's server clock was skewed. */
  skewed?: boolean;
}

/** Something a client saw that only a sync bug explains (e.g. its own document changed under it). */
export interface Anomaly {
  writer: string;
  c: string;
  id: string;
  what: string;
  at: number;
}

export class Journal {
  readonly writes: WriteRecord[] = [];
  readonly anomalies: Anomaly[] = [];
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  /** Fault events as noted (`fault`, `targets`, `phase`, `at`, …). */
  readonly events: Array<Record<string, unknown> & { at: number }> = [];

  record(write: WriteRecord): void {
    this.writes.push(write);
    appendFileSync(this.#file, `${JSON.stringify({ type: 'write', ...write })}\n`);
  }

  anomaly(a: Anomaly): void {
    this.anomalies.push(a);
    appendFileSync(this.#file, `${JSON.stringify({ type: 'anomaly', ...a })}\n`);
  }

  note(event: Record<string, unknown>): void {
    const noted = { at: Date.now(), ...event };
    this.events.push(noted);
    appendFileSync(this.#file, `${JSON.stringify({ type: 'event', ...noted })}\n`);
  }
}
