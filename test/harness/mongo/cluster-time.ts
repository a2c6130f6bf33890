/**
 * Cluster time: a strictly increasing (seconds, increment) pair, the BSON
 * Timestamp every oplog entry carries. Held as a bigint `seconds << 32 | inc`
 * so it compares with `<`.
 */
import { Timestamp } from 'bson';
import { wallNow } from './wall-clock.ts';

export type ClusterTime = bigint;

export function toTimestamp(ts: ClusterTime): Timestamp {
  return new Timestamp({ t: Number(ts >> 32n), i: Number(ts & 0xffffffffn) });
}

export function fromTimestamp(ts: Timestamp): ClusterTime {
  return (BigInt(ts.high >>> 0) << 32n) | BigInt(ts.low >>> 0);
}

export class ClusterClock {
  #last: ClusterTime;

  constructor(last: ClusterTime = 0n) {
    this.#last = last;
  }

  get last(): ClusterTime {
    return this.#last;
  }

  /** The next cluster time: this second's next increment, never going back. */
  tick(): ClusterTime {
    const now = BigInt(Math.floor(wallNow() / 1000)) << 32n;
    this.#last = now > this.#last ? now | 1n : this.#last + 1n;
    return this.#last;
  }

  /** Moves the clock forward to at least `ts` (after loading from disk). */
  advanceTo(ts: ClusterTime): void {
    if (ts > this.#last) this.#last = ts;
  }
}
