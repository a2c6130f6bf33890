/**
 * POS traffic: one writer per till (its own till's database) and one HQ writer
 * (the hub, knowing nothing of sync). Every write is designed to be checkable:
 *
 * - `orders` (tills) and `notes` (HQ): single-writer documents with a revision;
 *   updates and deletes are conditional on the revision the writer last wrote,
 *   so the expected final content of each is known exactly, and a document
 *   changed under its writer is seen at once. Deleted ids are never reused.
 * - `counters`: one per writer, `$inc` by a random amount with a sequence
 *   number, conditional on the previous one: an exact expected total.
 * - `menu`: a few shared documents edited, replaced and deleted by everyone
 *   at once — real conflicts. Each write carries a unique write id `w`.
 *
 * A write that fails (server down, partitioned, connection dropped) has an
 * unknown outcome; the writer reads the document once the server answers and
 * records what it finds.
 */
import type { Collection, Db, Document } from 'mongodb';
import type { Journal, WriteKind, WriteRecord } from './journal.ts';
import type { Random } from './prng.ts';
import { serverCode } from '../../src-main/sync/errors.ts';

export const POS_COLLECTIONS = ['orders', 'counters', 'menu', 'notes'] as const;
export const MENU_ITEMS = 8;
const MAX_LIVE = 25;
const STATUSES = ['open', 'kitchen', 'served', 'paid'];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Outcome = boolean | null | 'noop';

/** Every document the soak writes has a string id. */
interface SoakDoc extends Document {
  _id: string;
}

export interface WriterOptions {
  name: string;
  db: Db;
  rng: Random;
  journal: Journal;
  /** `orders` for a till, `notes` for HQ. */
  owned: 'orders' | 'notes';
  /** Pause between writes, ms. */
  pauseMs: [number, number];
  /** Whether this writer's server clock is skewed right now. */
  skewed?: () => boolean;
}

export class Writer {
  readonly name: string;
  /** Expected content of this writer's own documents (null: deleted). */
  readonly expected = new Map<string, Document | null>();
  readonly #o: WriterOptions;
  readonly #live: string[] = [];
  #next = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #lastOutcome: Outcome = null;
  /** Set when a write found the writer's own document changed under it: re-read before going on. */
  #resyncNeeded: { c: string; id: string; cur?: Document | null } | undefined;
  noops = 0;

  constructor(options: WriterOptions) {
    this.#o = options;
    this.name = options.name;
  }

  get counterId(): string {
    return `ctr-${this.name}`;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops after the write in progress (and finding out its outcome). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { rng, pauseMs } = this.#o;
    while (!this.#stopped) {
      await sleep(rng.int(pauseMs[0], pauseMs[1]));
      if (this.#stopped) break;
      const kind = this.#choose();
      await this.#perform(kind);
    }
  }

  #choose(): WriteKind {
    const own = this.#o.owned === 'orders' ? 'order' : 'note';
    if (this.#live.length === 0) return `${own}-insert`;
    const weights: Record<string, number> = {
      [`${own}-insert`]: this.#live.length >= MAX_LIVE ? 2 : 20,
      [`${own}-update`]: 20,
      [`${own}-delete`]: this.#live.length >= MAX_LIVE ? 20 : 7,
      'counter-inc': 15,
      'menu-set': 18,
      'menu-replace': 10,
      'menu-delete': 6,
    };
    return this.#o.rng.weighted(weights) as WriteKind;
  }

  #newWriteId(): string {
    this.#next += 1;
    return `${this.name}:${this.#next}`;
  }

  async #perform(kind: WriteKind): Promise<void> {
    const w = this.#newWriteId();
    switch (kind) {
      case 'order-insert':
      case 'note-insert':
        return this.#insertOwned(kind, w);
      case 'order-update':
      case 'note-update':
        return this.#updateOwned(kind, w);
      case 'order-delete':
      case 'note-delete':
        return this.#deleteOwned(kind, w);
      case 'counter-inc':
        return this.#increment(w);
      default:
        return this.#menu(kind, w);
    }
  }

  async #insertOwned(kind: WriteKind, w: string): Promise<void> {
    const { rng } = this.#o;
    const c = this.#o.owned;
    const id = `${c === 'orders' ? 'o' : 'n'}-${this.name}-${this.#next}`;
    const doc = { _id: id, by: this.name, rev: 0, status: 'open', total: rng.int(100, 9_999), lines: rng.int(1, 5), w };
    await this.#write(
      kind,
      w,
      c,
      id,
      undefined,
      async (coll) => {
        await coll.insertOne(doc);
        return true;
      },
      (cur) => (cur === null ? false : cur.w === w ? true : this.#strange(c, id, `insert ${w}: found ${JSON.stringify(cur)}`)),
    );
    if (this.#lastOutcome === true) {
      this.expected.set(id, doc);
      this.#live.push(id);
    }
  }

  async #updateOwned(kind: WriteKind, w: string): Promise<void> {
    const { rng } = this.#o;
    const c = this.#o.owned;
    const id = rng.pick(this.#live);
    const before = this.expected.get(id) as Document;
    const rev = before.rev as number;
    const set = { status: rng.pick(STATUSES), total: rng.int(100, 9_999), w };
    const addLines = rng.int(0, 3);
    await this.#write(
      kind,
      w,
      c,
      id,
      undefined,
      async (coll) => {
        const r = await coll.updateOne({ _id: id, rev }, { $set: set, $inc: { rev: 1, lines: addLines } });
        return r.matchedCount === 1 ? true : this.#changedUnder(c, id, `update ${w} of rev ${rev} matched nothing`);
      },
      (cur) =>
        cur?.rev === rev + 1 && cur.w === w
          ? true
          : cur?.rev === rev
            ? false
            : this.#changedUnder(c, id, `update ${w} of rev ${rev}: found ${JSON.stringify(cur)}`, cur),
    );
    if (this.#lastOutcome === true) this.expected.set(id, { ...before, ...set, rev: rev + 1, lines: (before.lines as number) + addLines });
  }

  async #deleteOwned(kind: WriteKind, w: string): Promise<void> {
    const c = this.#o.owned;
    const id = this.#o.rng.pick(this.#live);
    const rev = (this.expected.get(id) as Document).rev as number;
    await this.#write(
      kind,
      w,
      c,
      id,
      undefined,
      async (coll) => {
        const r = await coll.deleteOne({ _id: id, rev });
        return r.deletedCount === 1 ? true : this.#changedUnder(c, id, `delete ${w} of rev ${rev} matched nothing`);
      },
      (cur) =>
        cur === null
          ? true
          : cur.rev === rev
            ? false
            : this.#changedUnder(c, id, `delete ${w} of rev ${rev}: found ${JSON.stringify(cur)}`, cur),
    );
    if (this.#lastOutcome === true) {
      this.expected.set(id, null);
      this.#live.splice(this.#live.indexOf(id), 1);
    }
  }

  async #increment(w: string): Promise<void> {
    const id = this.counterId;
    const before = this.expected.get(id) ?? null;
    const seq = (before?.seq as number | undefined) ?? 0;
    const delta = this.#o.rng.int(1, 9);
    await this.#write(
      'counter-inc',
      w,
      'counters',
      id,
      { delta },
      async (coll) => {
        if (seq === 0) {
          await coll.insertOne({ _id: id, by: this.name, n: delta, seq: 1, w });
          return true;
        }
        const r = await coll.updateOne({ _id: id, seq }, { $inc: { n: delta, seq: 1 }, $set: { w } });
        return r.matchedCount === 1 ? true : this.#changedUnder('counters', id, `increment ${w} after seq ${seq} matched nothing`);
      },
      (cur) =>
        cur?.seq === seq + 1 && cur.w === w
          ? true
          : (cur?.seq ?? 0) === seq
            ? false
            : this.#changedUnder('counters', id, `increment ${w} after seq ${seq}: found ${JSON.stringify(cur)}`, cur),
    );
    if (this.#lastOutcome === true)
      this.expected.set(id, { _id: id, by: this.name, n: ((before?.n as number | undefined) ?? 0) + delta, seq: seq + 1, w });
  }

  async #menu(kind: WriteKind, w: string): Promise<void> {
    const { rng } = this.#o;
    const item = rng.int(0, MENU_ITEMS - 1);
    const id = `m-${item}`;
    const price = rng.int(100, 2_500);
    if (kind === 'menu-set') {
      const fields = { price, by: this.name, w };
      await this.#write(
        kind,
        w,
        'menu',
        id,
        fields,
        async (coll) => {
          const r = await coll.updateOne({ _id: id }, { $set: fields });
          return r.matchedCount === 1 ? true : 'noop';
        },
        (cur) => (cur?.w === w ? true : null),
      );
    } else if (kind === 'menu-replace') {
      const fields = { name: `item ${item} v${this.#next}`, price, by: this.name, w };
      await this.#write(
        kind,
        w,
        'menu',
        id,
        fields,
        async (coll) => {
          await coll.replaceOne({ _id: id }, fields, { upsert: true });
          return true;
        },
        (cur) => (cur?.w === w ? true : null),
      );
    } else {
      await this.#write(
        kind,
        w,
        'menu',
        id,
        undefined,
        async (coll) => {
          const r = await coll.deleteOne({ _id: id });
          return r.deletedCount === 1 ? true : 'noop';
        },
        () => null,
      );
    }
  }

  /** Runs one write and records it; on an error, reads the document to find out what happened. */
  async #write(
    kind: WriteKind,
    w: string,
    c: string,
    id: string,
    fields: Record<string, unknown> | undefined,
    exec: (coll: Collection<SoakDoc>) => Promise<Outcome>,
    resolve: (cur: Document | null) => Outcome,
  ): Promise<void> {
    const coll = this.#o.db.collection<SoakDoc>(c);
    const issuedAt = Date.now();
    const skewed = this.#o.skewed?.() ?? false;
    let outcome: Outcome;
    let acked = true;
    try {
      outcome = await exec(coll);
    } catch (err) {
      if (isDuplicateKey(err)) outcome = resolve(await this.#read(c, id));
      else {
        acked = false;
        outcome = resolve(await this.#read(c, id));
      }
    }
    this.#lastOutcome = outcome;
    const resync = this.#resyncNeeded;
    this.#resyncNeeded = undefined;
    if (resync) await this.#resync(resync.c, resync.id, resync.cur);
    if (outcome === 'noop') {
      this.noops += 1;
      return;
    }
    const record: WriteRecord = { w, writer: this.name, kind, c, id, applied: outcome, acked, issuedAt, doneAt: Date.now() };
    if (fields) record.fields = fields;
    if (skewed || (this.#o.skewed?.() ?? false)) record.skewed = true;
    this.#o.journal.record(record);
  }

  /** Reads a document once the server answers again (the outcome of a failed write). */
  async #read(c: string, id: string): Promise<Document | null> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#o.db.collection<SoakDoc>(c).findOne({ _id: id });
      } catch (err) {
        if (attempt > 600) throw err;
        await sleep(500);
      }
    }
  }

  /** The writer's own document is not as it left it: only the sync engine could have changed it. */
  #changedUnder(c: string, id: string, what: string, cur?: Document | null): 'noop' {
    this.#o.journal.anomaly({ writer: this.name, c, id, what, at: Date.now() });
    // Carry on from what is there, so one anomaly is reported once.
    this.#resyncNeeded = { c, id, cur };
    return 'noop';
  }

  #strange(c: string, id: string, what: string): null {
    this.#o.journal.anomaly({ writer: this.name, c, id, what, at: Date.now() });
    return null;
  }

  async #resync(c: string, id: string, cur?: Document | null): Promise<void> {
    const now = cur === undefined ? await this.#read(c, id).catch(() => null) : cur;
    this.expected.set(id, now);
    const i = this.#live.indexOf(id);
    if (now === null && i !== -1) this.#live.splice(i, 1);
    if (now !== null && i === -1 && id !== this.counterId) this.#live.push(id);
  }
}

function isDuplicateKey(err: unknown): boolean {
  return serverCode(err) === 11000;
}
