/**
 * Watches the hub's POS database for the whole run and keeps what the checks
 * need: which till writes reached the hub (pushes carry the write id `w`),
 * which deletes left a tombstone, and the order of versions the engine wrote
 * for each document.
 *
 * An engine transaction writes `_tillsync_push` first (a push, or the stamp of
 * an HQ write), keyed by device id and session lane; its other events follow with the same
 * lsid and txnNumber. Anything else is a client that knows nothing of sync.
 */
import { MongoClient, type ChangeStream, type Document, type Timestamp } from 'mongodb';
import { contentHash, RAW_BSON } from '../../src-main/sync/documents.ts';
import { serverCode } from '../../src-main/sync/errors.ts';
import { markerDevice } from '../../src-main/sync/core/names.ts';

const PUSH_MARKER = '_tillsync_push';
const TOMBSTONES = '_tillsync_tombstones';

export interface HubArrival {
  c: string;
  id: string;
  /** The device whose engine wrote it. */
  device: string;
  /** The write id in the document (absent for tombstones). */
  w?: string;
  v?: string;
  op: 'upsert' | 'tombstone' | 'stamp';
  /** Soak clock when seen. */
  at: number;
}

export interface VersionRegression {
  c: string;
  id: string;
  from: string;
  to: string;
  device: string;
  what: string;
  at: number;
}

export class HubObserver {
  readonly arrivals: HubArrival[] = [];
  /** Till write ids that reached the hub, by device. */
  readonly arrived = new Set<string>();
  readonly regressions: VersionRegression[] = [];
  /**
   * Stamps written onto a till's pushed content they were not made for (the hash in `_sync`
   * does not match): the push's version and origin are overwritten.
   */
  readonly staleStamps: Array<{ c: string; id: string; device: string; v: string; w?: string; at: number }> = [];
  /** The same onto content an HQ client wrote since: harmless, the document stays an unversioned HQ write. */
  staleStampsOnHqWrites = 0;
  /**
   * Tombstones an engine wrote while the document stood on the hub: a till's delete of a document
   * the hub no longer had, committed beside an HQ client re-creating it (the transaction's snapshot
   * predates the insert; the two share no key, so neither conflicts). The document's newer version
   * stands; the tombstone deleted nothing and is read only once the document is gone.
   */
  tombstonesBesideLiveDocuments = 0;
  /** Documents that stand on the hub now, as the events tell (any writer). */
  readonly #live = new Set<string>();
  /** Who wrote each document's current content: an engine push, or a client that knows nothing of sync. */
  readonly #contentBy = new Map<string, 'push' | 'client'>();
  /** Document writes by an engine whose `w` was not made on that device (echoes). */
  readonly echoes: Array<{ c: string; id: string; device: string; w: string; at: number }> = [];
  /** Times the stream could not resume and restarted from now (history missed). */
  readonly gaps: Array<{ from: number; to: number; error: string }> = [];
  events = 0;
  /** Times the observer's client was replaced after failing for a while. */
  replacedClients = 0;
  /** What made the stream fail, and how often (error names, codes and first words). */
  readonly failures = new Map<string, number>();
  readonly #uri: string;
  #client: MongoClient;
  readonly #txns = new Map<string, string>();
  readonly #lastVersion = new Map<string, { v: string; what: string }>();
  #stream: ChangeStream | undefined;
  #token: unknown;
  #startAt: Timestamp | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastEventAt = Date.now();

  constructor(uri: string) {
    this.#uri = uri;
    this.#client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000 });
  }

  async start(): Promise<void> {
    await this.#client.connect();
    const session = this.#client.startSession();
    await this.#client.db('pos').command({ ping: 1 }, { session });
    this.#startAt = session.operationTime;
    await session.endSession();
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#stream?.close().catch(() => undefined);
    await this.#loop;
    await this.#client.close(true);
  }

  /** Resolves once the stream has read up to the hub's present moment (nothing new for a while). */
  async caughtUp(quietMs = 1_500, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (Date.now() - this.#lastEventAt > quietMs && this.#stream) return true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  }

  async #run(): Promise<void> {
    let failingSince: number | undefined;
    while (this.#running) {
      try {
        const resume = this.#token ? { startAfter: this.#token } : this.#startAt ? { startAtOperationTime: this.#startAt } : {};
        // Raw BSON types, so content hashes are computed as the engine computes them.
        const stream = this.#client
          .db('pos', RAW_BSON)
          .watch([], { ...RAW_BSON, fullDocument: 'whenAvailable', maxAwaitTimeMS: 500, ...resume });
        this.#stream = stream;
        for await (const ev of stream) {
          failingSince = undefined;
          this.#token = (ev as { _id: unknown })._id;
          this.#lastEventAt = Date.now();
          this.events += 1;
          this.see(ev as Document);
        }
      } catch (err) {
        if (!this.#running) break;
        const code = serverCode(err);
        const what = `${(err as Error).name ?? 'Error'}${code === undefined ? '' : ` ${String(code)}`}: ${String((err as Error).message).slice(0, 80)}`;
        this.failures.set(what, (this.failures.get(what) ?? 0) + 1);
        if (code === 286 || code === 280) {
          // The hub's history was truncated past us: note the gap and go on from now.
          const now = Date.now();
          this.gaps.push({ from: this.#lastEventAt, to: now, error: String(err) });
          this.#token = undefined;
          this.#startAt = undefined;
        }
        // A client that keeps failing gets replaced (after dropped connections the driver was seen never selecting the server again).
        failingSince ??= Date.now();
        if (Date.now() - failingSince > 5_000) {
          failingSince = undefined;
          const old = this.#client;
          this.#client = new MongoClient(this.#uri, { serverSelectionTimeoutMS: 5_000 });
          this.replacedClients += 1;
          await old.close(true).catch(() => undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        this.#stream = undefined;
      }
    }
  }

  /** One change event of the hub's POS database, in order (public for the observer's own tests). */
  see(ev: Document): void {
    const coll = ev.ns?.coll as string | undefined;
    const op = ev.operationType as string;
    const key = ev.lsid && ev.txnNumber !== undefined ? `${ev.lsid.id.toString('base64')}:${String(ev.txnNumber)}` : undefined;
    if (!coll) return;
    if (coll === PUSH_MARKER) {
      if (key) this.#txns.set(key, String(markerDevice(ev.documentKey?._id)));
      if (this.#txns.size > 500) this.#txns.delete(this.#txns.keys().next().value as string);
      return;
    }
    const device = key ? this.#txns.get(key) : undefined;
    const now = Date.now();
    if (coll === TOMBSTONES) {
      const t = ev.fullDocument as Document | null | undefined;
      if (!t || !['insert', 'replace', 'update'].includes(op) || !device) return;
      const target = t._id as { c: string; id: string };
      const arrival: HubArrival = { c: target.c, id: String(target.id), device, v: String(t.v), op: 'tombstone', at: now };
      this.arrivals.push(arrival);
      // Its transaction deletes the document before writing the tombstone, so a document still standing was not deleted by it.
      if (this.#live.has(`${target.c}\u0000${String(target.id)}`)) this.tombstonesBesideLiveDocuments += 1;
      else this.#checkOrder(arrival, 'tombstone');
      return;
    }
    if (coll.startsWith('_tillsync') || coll.startsWith('system.')) return;
    const id = String(ev.documentKey?._id);
    if (op === 'delete') this.#live.delete(`${coll}\u0000${id}`);
    else if (['insert', 'replace', 'update'].includes(op)) this.#live.add(`${coll}\u0000${id}`);
    if (!device) {
      // A client that knows nothing of sync (HQ): the engine's ordering starts again from its write.
      this.#lastVersion.delete(`${coll}\u0000${id}`);
      this.#contentBy.set(`${coll}\u0000${id}`, 'client');
      return;
    }
    if (op === 'delete') return; // its tombstone carries the version
    const doc = ev.fullDocument as Document | null | undefined;
    if (!doc) return;
    const sync = doc._sync as { v?: string; o?: string; h?: string } | undefined;
    const w = typeof doc.w === 'string' ? doc.w : undefined;
    const kind = op === 'update' ? 'stamp' : 'upsert';
    const arrival: HubArrival = { c: coll, id, device, w, v: sync?.v, op: kind, at: now };
    this.arrivals.push(arrival);
    if (kind === 'stamp' && sync?.h !== undefined && sync.h !== contentHash(doc)) {
      // A version stamped onto content it was not made for: every engine now takes the document for an unversioned HQ write.
      if (this.#contentBy.get(`${coll}\u0000${id}`) === 'push')
        this.staleStamps.push({ c: coll, id, device, v: String(sync.v), w, at: now });
      else this.staleStampsOnHqWrites += 1;
      this.#lastVersion.delete(`${coll}\u0000${id}`);
      return;
    }
    if (kind === 'upsert') this.#contentBy.set(`${coll}\u0000${id}`, 'push');
    if (kind === 'upsert' && w) {
      this.arrived.add(w);
      if (!w.startsWith(`${device}:`)) this.echoes.push({ c: coll, id, device, w, at: now });
    }
    this.#checkOrder(arrival, kind === 'stamp' ? `stamp by ${device}` : `push of ${w ?? '?'} by ${device}`);
  }

  /** Engine writes to one document must carry increasing versions (a stale one never overwrites a newer one). */
  #checkOrder(a: HubArrival, what: string): void {
    if (!a.v) return;
    const key = `${a.c}\u0000${a.id}`;
    const last = this.#lastVersion.get(key);
    if (last && a.v < last.v)
      this.regressions.push({ c: a.c, id: a.id, from: last.v, to: a.v, device: a.device, what: `${what} after ${last.what}`, at: a.at });
    if (!last || a.v >= last.v) this.#lastVersion.set(key, { v: a.v, what });
  }
}
