/**
 * No loops, no duplicates: one write causes exactly one write on each other
 * replica, and nothing comes back to where it started. Database-level change
 * streams on the hub and on each till's POS database, opened before the write,
 * count the events each document gets (the engine's own `_tillsync*`
 * collections are left out: markers and tombstones are bookkeeping, not data).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EJSON } from 'bson';
import type { ChangeStream, Db, Document } from 'mongodb';
import { contentHash } from '../../src-main/sync/documents.ts';
import { withTopology, waitFor, type Topology } from './topology.ts';

/**
 * After a write has arrived everywhere, how long we keep watching to show that
 * nothing more happens. The engine polls its streams with maxAwaitTimeMS 500
 * and pushes within a second of capture, so an echo or a ping-pong would show
 * well within 1.5 s.
 */
const QUIET_MS = 1_500;

interface Seen {
  op: string;
  updatedFields?: string[];
}

/** Counts change events per document on one database, from the moment `open` resolves. */
class EventCounter {
  readonly events = new Map<string, Seen[]>();
  readonly #stream: ChangeStream<Document, Document>;
  #loop: Promise<void> | undefined;
  #closed = false;

  constructor(db: Db) {
    this.#stream = db.watch<Document, Document>([], { maxAwaitTimeMS: 100 });
  }

  /** Resolves once the stream's cursor is open on the server, so every later write is seen. */
  async open(): Promise<this> {
    const first = await this.#stream.tryNext();
    if (first) this.#record(first);
    this.#loop = (async () => {
      while (!this.#closed) {
        try {
          const ev = await this.#stream.tryNext();
          if (ev) this.#record(ev);
        } catch (err) {
          if (!this.#closed) throw err;
        }
      }
    })();
    return this;
  }

  #record(ev: Document): void {
    const coll = ev.ns?.coll as string | undefined;
    if (!coll || coll.startsWith('_tillsync')) return;
    if (!['insert', 'update', 'replace', 'delete'].includes(ev.operationType)) return;
    const key = `${coll}/${EJSON.stringify(ev.documentKey?._id)}`;
    const list = this.events.get(key) ?? [];
    list.push({
      op: ev.operationType,
      updatedFields: ev.updateDescription ? Object.keys(ev.updateDescription.updatedFields ?? {}) : undefined,
    });
    this.events.set(key, list);
  }

  count(coll: string, id: unknown): number {
    return this.of(coll, id).length;
  }

  of(coll: string, id: unknown): Seen[] {
    return this.events.get(`${coll}/${EJSON.stringify(id)}`) ?? [];
  }

  /** Every document of `coll` that got events, with its events. */
  inCollection(coll: string): Record<string, Seen[]> {
    const out: Record<string, Seen[]> = {};
    for (const [key, list] of this.events) if (key.startsWith(`${coll}/`)) out[key] = list;
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stream.close();
    await this.#loop;
  }
}

/** Whether the hub document carries a version stamp for its current content. */
async function stampedForCurrentContent(db: Db, coll: string, id: string): Promise<boolean> {
  const doc = await db.collection(coll).findOne({ _id: id as never }, { promoteValues: false, promoteLongs: false, promoteBuffers: false });
  const meta = doc?._sync as Document | undefined;
  return Boolean(doc && meta && meta.h === contentHash(doc));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('no loops: one write, one apply per replica', () => {
  let topology: Topology;

  withTopology({ tills: 2 }, (t) => (topology = t));

  /** Opens counters on the hub and on each till, runs `write`, waits for `arrived`, then watches QUIET_MS more. */
  async function observe(
    write: () => Promise<void>,
    arrived: () => Promise<boolean>,
  ): Promise<{ hub: EventCounter; tills: EventCounter[] }> {
    const hub = await new EventCounter(topology.hubDb).open();
    const tills = await Promise.all(topology.tills.map((t) => new EventCounter(t.db).open()));
    try {
      await write();
      await waitFor('the write to arrive on the hub and every till', arrived);
      await sleep(QUIET_MS);
    } finally {
      await Promise.all([hub.close(), ...tills.map((c) => c.close())]);
    }
    return { hub, tills };
  }

  async function seed(coll: string, doc: Document): Promise<void> {
    await topology.tills[0]!.db.collection(coll).insertOne(doc);
    await waitFor(`the seed document of ${coll} to reach every replica`, async () => {
      for (const db of [topology.hubDb, ...topology.tills.map((t) => t.db)])
        if (!(await db.collection(coll).findOne({ _id: doc._id }))) return false;
      return true;
    });
  }

  function assertTillWrite(coll: string, id: unknown, result: { hub: EventCounter; tills: EventCounter[] }, op: string): void {
    const [origin, other] = result.tills as [EventCounter, EventCounter];
    assert.equal(result.hub.count(coll, id), 1, `hub: exactly one write for the ${op} (saw ${JSON.stringify(result.hub.of(coll, id))})`);
    assert.equal(other.count(coll, id), 1, `till B: exactly one apply of the ${op} (saw ${JSON.stringify(other.of(coll, id))})`);
    assert.equal(origin.count(coll, id), 1, `till A: only its own ${op}, nothing echoed back (saw ${JSON.stringify(origin.of(coll, id))})`);
    for (const [name, counter] of [
      ['hub', result.hub],
      ['till A', origin],
      ['till B', other],
    ] as const) {
      assert.deepStrictEqual(
        Object.keys(counter.inCollection(coll)),
        [`${coll}/${EJSON.stringify(id)}`],
        `${name}: no other document of ${coll} was written`,
      );
    }
  }

  it('an insert on till A: one hub write, one apply on till B, no echo on till A', async () => {
    const coll = 'nl_insert';
    const id = 'ins-1';
    const result = await observe(
      async () => {
        await topology.tills[0]!.db.collection(coll).insertOne({ _id: id as never, total: 10 });
      },
      async () =>
        Boolean(
          (await topology.hubDb.collection(coll).findOne({ _id: id as never })) &&
          (await topology.tills[1]!.db.collection(coll).findOne({ _id: id as never })),
        ),
    );
    assertTillWrite(coll, id, result, 'insert');
  });

  it('an update on till A: one hub write, one apply on till B, no echo on till A', async () => {
    const coll = 'nl_update';
    const id = 'upd-1';
    await seed(coll, { _id: id, total: 10 });
    const result = await observe(
      async () => {
        await topology.tills[0]!.db.collection(coll).updateOne({ _id: id as never }, { $inc: { total: 5 } });
      },
      async () =>
        (await topology.hubDb.collection(coll).findOne({ _id: id as never }))?.total === 15 &&
        (await topology.tills[1]!.db.collection(coll).findOne({ _id: id as never }))?.total === 15,
    );
    assertTillWrite(coll, id, result, 'update');
  });

  it('a delete on till A: one hub write, one apply on till B, no echo on till A', async () => {
    const coll = 'nl_delete';
    const id = 'del-1';
    await seed(coll, { _id: id, total: 10 });
    const result = await observe(
      async () => {
        await topology.tills[0]!.db.collection(coll).deleteOne({ _id: id as never });
      },
      async () =>
        !(await topology.hubDb.collection(coll).findOne({ _id: id as never })) &&
        !(await topology.tills[1]!.db.collection(coll).findOne({ _id: id as never })),
    );
    assertTillWrite(coll, id, result, 'delete');
    assert.equal(result.hub.of(coll, id)[0]?.op, 'delete');
    assert.equal(result.tills[1]!.of(coll, id)[0]?.op, 'delete');
  });

  async function assertHqWrite(
    coll: string,
    id: string,
    write: () => Promise<void>,
    expected: (doc: Document | null) => boolean,
  ): Promise<void> {
    const result = await observe(write, async () => {
      for (const till of topology.tills) if (!expected(await till.db.collection(coll).findOne({ _id: id as never }))) return false;
      // The stamp comes after the tills applied; wait for it too so the quiet period starts after it.
      return stampedForCurrentContent(topology.hubDb, coll, id);
    });
    const hubEvents = result.hub.of(coll, id);
    assert.equal(hubEvents.length, 2, `hub: HQ's write and exactly one version stamp (saw ${JSON.stringify(hubEvents)})`);
    const stamp = hubEvents[1];
    assert.equal(stamp?.op, 'update', 'the second hub write is an update');
    assert.ok(
      (stamp.updatedFields ?? []).length > 0 && (stamp.updatedFields ?? []).every((f) => f === '_sync' || f.startsWith('_sync.')),
      `the second hub write only stamps _sync (updated ${JSON.stringify(stamp.updatedFields)})`,
    );
    for (const [i, till] of topology.tills.entries()) {
      const tillEvents = result.tills[i]!.of(coll, id);
      assert.equal(tillEvents.length, 1, `${till.name}: exactly one apply of HQ's write (saw ${JSON.stringify(tillEvents)})`);
      assert.deepStrictEqual(
        Object.keys(result.tills[i]!.inCollection(coll)),
        [`${coll}/${EJSON.stringify(id)}`],
        `${till.name}: no other document written`,
      );
    }
  }

  it('an insert HQ makes on the hub: each till applies it once; the hub gets only the engine’s version stamp back', async () => {
    await assertHqWrite(
      'nl_hq_insert',
      'menu-1',
      async () => {
        await topology.hubDb.collection('nl_hq_insert').insertOne({ _id: 'menu-1' as never, price: 4 });
      },
      (doc) => doc?.price === 4,
    );
  });

  it('an update HQ makes on the hub: each till applies it once; the hub gets only the engine’s version stamp back', async () => {
    const coll = 'nl_hq_update';
    await topology.hubDb.collection(coll).insertOne({ _id: 'menu-2' as never, price: 4 });
    await waitFor('the HQ seed to reach every till and be stamped', async () => {
      for (const till of topology.tills) if (!(await till.db.collection(coll).findOne({ _id: 'menu-2' as never }))) return false;
      return stampedForCurrentContent(topology.hubDb, coll, 'menu-2');
    });
    // Let the stamp of the seed settle (the other till may still be looking at it) before counting.
    await sleep(QUIET_MS);
    await assertHqWrite(
      coll,
      'menu-2',
      async () => {
        await topology.hubDb.collection(coll).updateOne({ _id: 'menu-2' as never }, { $set: { price: 5 } });
      },
      (doc) => doc?.price === 5,
    );
  });
});
