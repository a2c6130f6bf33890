/**
 * One engine per till database: a lease in the engine's database, held while
 * an engine runs and renewed every few seconds. A second engine on the same
 * till (the app and an agent, two app instances under different users, a copy
 * started by hand beside the one started with the till) waits, says who holds
 * it, and takes over when the lease lapses — the holder stopped, or died
 * without letting go.
 *
 * Times are this machine's clock: every engine that can reach this till's
 * database through localhost runs on the same machine. A holder whose process
 * is gone from this machine (killed, the power cut) is taken over at once.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Collection } from 'mongodb';
import { serverCode } from '../errors.ts';

/** Who holds the lease, as another engine sees it. */
export interface LeaseHolder {
  /** This engine instance (a fresh id per process start). */
  holder: string;
  device: string;
  host: string;
  pid: number;
  since: Date;
  expiresAt: Date;
}

interface LeaseRecord extends LeaseHolder {
  _id: 'lease';
  renewedAt: Date;
}

export type LeaseAttempt = { held: true } | { held: false; by: LeaseHolder };

/** Whether a process with this id runs on this machine (one of another user's counts). */
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

export class Lease {
  readonly #coll: Collection<LeaseRecord>;
  readonly #ttlMs: number;
  readonly #me: Pick<LeaseHolder, 'holder' | 'device' | 'host' | 'pid'>;

  /** `holder`: this engine instance's id (kept for its life, across reconnections to the database). */
  constructor(meta: Collection<{ _id: string }>, device: string, ttlMs: number, holder: string = randomUUID()) {
    this.#coll = meta as unknown as Collection<LeaseRecord>;
    this.#ttlMs = ttlMs;
    this.#me = { holder, device, host: hostname(), pid: process.pid };
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Takes the lease if nobody holds it, it lapsed, or this engine holds it already. */
  async acquire(): Promise<LeaseAttempt> {
    const now = new Date();
    try {
      await this.#coll.updateOne(
        { _id: 'lease', $or: [{ holder: this.#me.holder }, { expiresAt: { $lt: now } }] },
        { $set: { ...this.#me, since: now, renewedAt: now, expiresAt: new Date(now.getTime() + this.#ttlMs) } },
        { upsert: true },
      );
      return { held: true };
    } catch (err) {
      if (serverCode(err) !== 11000) throw err;
      // Held by another engine, not lapsed: the upsert found no match and the lease document exists.
      const by = await this.#coll.findOne({ _id: 'lease' });
      if (!by) return this.acquire(); // let go of between the two
      // Its process is gone (killed, or the till lost power): no need to wait for the lease to lapse.
      if (by.host === this.#me.host && !processAlive(by.pid)) {
        const taken = await this.#coll.updateOne(
          { _id: 'lease', holder: by.holder },
          { $set: { ...this.#me, since: now, renewedAt: now, expiresAt: new Date(now.getTime() + this.#ttlMs) } },
        );
        if (taken.matchedCount === 1) return { held: true };
      }
      const { holder, device, host, pid, since, expiresAt } = by;
      return { held: false, by: { holder, device, host, pid, since, expiresAt } };
    }
  }

  /** Extends the lease; false when this engine no longer holds it (it lapsed and another took it). */
  async renew(): Promise<boolean> {
    const now = new Date();
    const result = await this.#coll.updateOne(
      { _id: 'lease', holder: this.#me.holder },
      { $set: { renewedAt: now, expiresAt: new Date(now.getTime() + this.#ttlMs) } },
    );
    return result.matchedCount === 1;
  }

  /** Lets go at once, so a waiting engine takes over without waiting for the lease to lapse. */
  async release(): Promise<void> {
    await this.#coll.deleteOne({ _id: 'lease', holder: this.#me.holder });
  }
}
