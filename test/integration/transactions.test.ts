/**
 * Exactly-once checkpoints (DESIGN.md guarantee 5): capture writes its outbox
 * entries and the capture checkpoint in one local transaction, and pull-apply
 * writes the pulled documents and the pull checkpoint in one local
 * transaction. A cluster-wide change stream on the till's server shows it:
 * writes of one transaction carry the same `lsid` and `txnNumber`.
 *
 * And because of that, restarting the engine between (and during) writes
 * neither pushes anything twice nor loses anything.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EJSON } from 'bson';
import type { ChangeStream, Db, Document, MongoClient } from 'mongodb';
import { withTopology, waitFor, type Till, type Topology } from './topology.ts';

/** After everything arrived, how long we go on watching to show no second push happens (push runs within ~1 s of capture). */
const QUIET_MS = 1_500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects change events of a stream from the moment `open` resolves. */
class Recorder {
  readonly events: Document[] = [];
  readonly #stream: ChangeStream<Document, Document>;
  #loop: Promise<void> | undefined;
  #closed = false;

  constructor(source: MongoClient | Db) {
    this.#stream = source.watch<Document, Document>([], { maxAwaitTimeMS: 100 });
  }

  async open(): Promise<this> {
    const first = await this.#stream.tryNext();
    if (first) this.events.push(first);
    this.#loop = (async () => {
      while (!this.#closed) {
        try {
          const ev = await this.#stream.tryNext();
          if (ev) this.events.push(ev);
        } catch (err) {
          if (!this.#closed) throw err;
        }
      }
    })();
    return this;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stream.close();
    await this.#loop;
  }
}

/** The transaction an event belongs to, or undefined for a write outside a transaction. */
function txnOf(ev: Document): string | undefined {
  const id = ev.lsid?.id as { toString(enc: string): string } | undefined;
  if (!id || ev.txnNumber === undefined) return undefined;
  return `${id.toString('hex')}#${String(ev.txnNumber)}`;
}

function describeEvent(ev: Document): string {
  return `${ev.operationType} ${ev.ns?.db}.${ev.ns?.coll} ${EJSON.stringify(ev.documentKey?._id)} txn=${txnOf(ev) ?? 'none'}`;
}

function isCheckpointUpdate(ev: Document, name: 'capture' | 'pull'): boolean {
  return (
    ev.ns?.db === 'tillsync' &&
    ev.ns?.coll === 'checkpoints' &&
    ev.documentKey?._id === name &&
    ['update', 'insert', 'replace'].includes(ev.operationType)
  );
}

describe('transactions: each batch and its checkpoint commit together', () => {
  let topology: Topology;

  withTopology({ tills: 2 }, (t) => (topology = t));

  it('capture: the outbox insert and the capture checkpoint update are one local transaction', async () => {
    const till = topology.tills[0]!;
    const coll = 'tx_capture';
    const recorder = await new Recorder(till.client).open();
    let outboxInsert: Document | undefined;
    let checkpoint: Document | undefined;
    try {
      await till.db.collection(coll).insertOne({ _id: 'c1' as never, total: 3 });
      outboxInsert = await waitFor('the outbox insert for the write', () =>
        recorder.events.find(
          (ev) =>
            ev.ns?.db === 'tillsync' &&
            ev.ns?.coll === 'outbox' &&
            ev.operationType === 'insert' &&
            ev.fullDocument?.c === coll &&
            ev.fullDocument?.id === 'c1',
        ),
      );
      const key = txnOf(outboxInsert);
      assert.ok(key, `the outbox insert is transactional (${describeEvent(outboxInsert)})`);
      checkpoint = await waitFor('a capture checkpoint update in the same transaction', () =>
        recorder.events.find((ev) => isCheckpointUpdate(ev, 'capture') && txnOf(ev) === key),
      );
    } finally {
      await recorder.close();
    }
    const key = txnOf(outboxInsert);
    // The checkpoint covers exactly the entries written with it.
    const seq = checkpoint.updateDescription?.updatedFields?.seq ?? checkpoint.fullDocument?.seq;
    assert.equal(
      Number(seq),
      Number(outboxInsert.fullDocument._id),
      'the checkpoint records the sequence number of the outbox entry written with it',
    );
    // The POS write itself is the POS software's, not part of the engine's transaction.
    const posWrite = recorder.events.find((ev) => ev.ns?.db === 'pos' && ev.ns?.coll === coll);
    assert.ok(posWrite, 'the POS write was seen');
    assert.notEqual(txnOf(posWrite), key, 'the POS write is not in the capture transaction');
    // No capture checkpoint for this entry was written outside the transaction before it.
    const inTxn = recorder.events.filter((ev) => txnOf(ev) === key).map(describeEvent);
    assert.ok(inTxn.length >= 2, `outbox and checkpoint in one transaction: ${inTxn.join('; ')}`);
  });

  it('pull: the pulled document write and the pull checkpoint update are one local transaction', async () => {
    const till = topology.tills[0]!;
    const coll = 'tx_pull';
    const recorder = await new Recorder(till.client).open();
    let posWrite: Document | undefined;
    let checkpoint: Document | undefined;
    try {
      await topology.hubDb.collection(coll).insertOne({ _id: 'p1' as never, price: 7 });
      posWrite = await waitFor('the pulled document to be written on the till', () =>
        recorder.events.find((ev) => ev.ns?.db === 'pos' && ev.ns?.coll === coll && ev.documentKey?._id === 'p1'),
      );
      const key = txnOf(posWrite);
      assert.ok(key, `the pulled write is transactional (${describeEvent(posWrite)})`);
      checkpoint = await waitFor('a pull checkpoint update in the same transaction', () =>
        recorder.events.find((ev) => isCheckpointUpdate(ev, 'pull') && txnOf(ev) === key),
      );
    } finally {
      await recorder.close();
    }
    const moved = Object.keys(checkpoint.updateDescription?.updatedFields ?? checkpoint.fullDocument ?? {});
    assert.ok(
      moved.some((f) => f === 'token' || f.startsWith('token.')),
      `the checkpoint update moves the resume token (updated ${JSON.stringify(moved)})`,
    );
    // Nothing of the pulled document was written outside that transaction.
    const stray = recorder.events.filter((ev) => ev.ns?.db === 'pos' && ev.ns?.coll === coll && txnOf(ev) !== txnOf(posWrite as Document));
    assert.deepStrictEqual(stray.map(describeEvent), [], 'every write of the pulled document is in the apply transaction');
    // And capture did not turn the engine's own write into an outbox entry.
    const echoed = recorder.events.filter((ev) => ev.ns?.coll === 'outbox' && ev.operationType === 'insert' && ev.fullDocument?.c === coll);
    assert.deepStrictEqual(echoed.map(describeEvent), [], 'the pulled write is not captured for push');
  });

  describe('engine restarts', () => {
    /** Hub events per document of `coll`, from a database-level stream. */
    function perDocument(events: Document[], coll: string): Record<string, string[]> {
      const out: Record<string, string[]> = {};
      for (const ev of events) {
        if (ev.ns?.coll !== coll) continue;
        const key = EJSON.stringify(ev.documentKey?._id);
        (out[key] ??= []).push(ev.operationType);
      }
      return out;
    }

    async function hubHas(coll: string, filter: Document, count: number): Promise<boolean> {
      return (await topology.hubDb.collection(coll).countDocuments(filter)) === count;
    }

    async function restart(till: Till): Promise<void> {
      await till.stopEngine();
      await till.startEngine();
    }

    it('writes made before, while and after the engine is stopped are each pushed exactly once', async () => {
      const till = topology.tills[0]!;
      const coll = 'tx_restart';
      const c = till.db.collection(coll);
      const hub = await new Recorder(topology.hubDb).open();
      try {
        await c.insertOne({ _id: 'x1' as never, n: 1 });
        await waitFor('x1 on the hub', () => hubHas(coll, { _id: 'x1' }, 1));

        await till.stopEngine();
        await c.insertOne({ _id: 'x2' as never, n: 2 });
        await c.updateOne({ _id: 'x1' as never }, { $set: { n: 10 } });
        await till.startEngine();
        await waitFor(
          'x2 and the x1 update on the hub',
          async () => (await hubHas(coll, { _id: 'x2' }, 1)) && hubHas(coll, { _id: 'x1', n: 10 }, 1),
        );

        await restart(till); // a restart with nothing pending
        await c.insertOne({ _id: 'x3' as never, n: 3 });
        await c.deleteOne({ _id: 'x2' as never });
        await waitFor('x3 on the hub and x2 gone', async () => (await hubHas(coll, { _id: 'x3' }, 1)) && hubHas(coll, { _id: 'x2' }, 0));
        await sleep(QUIET_MS);
      } finally {
        await hub.close();
      }
      assert.deepStrictEqual(
        perDocument(hub.events, coll),
        { '"x1"': ['insert', 'replace'], '"x2"': ['insert', 'delete'], '"x3"': ['insert'] },
        'each change reached the hub exactly once',
      );
      await waitFor('till B to hold what till A holds', async () => {
        const want = JSON.stringify(await c.find({}).sort({ _id: 1 }).toArray());
        return JSON.stringify(await topology.tills[1]!.db.collection(coll).find({}).sort({ _id: 1 }).toArray()) === want;
      });
    });

    it('changes captured into the outbox while the hub refuses them survive a restart and are pushed once', async () => {
      const till = topology.tills[0]!;
      const coll = 'tx_outbox_restart';
      const hub = await new Recorder(topology.hubDb).open();
      const admin = topology.hubClient.db('admin');
      // The hub refuses every update (code 13, Unauthorized: not a transient error, so push gives up on the batch
      // and retries later). Push's transaction starts with an update (its marker), or on an 8.0 hub with a bulkWrite
      // (the marker and the new documents in one request), so nothing gets through.
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['update', 'bulkWrite'], errorCode: 13 },
      });
      try {
        await till.db.collection(coll).insertMany([{ _id: 'o1' as never }, { _id: 'o2' as never }, { _id: 'o3' as never }]);
        await waitFor('the three writes to be captured into the outbox', () => (till.engine?.status().outbox.depth ?? 0) >= 3 || undefined);
        assert.equal(await topology.hubDb.collection(coll).countDocuments(), 0, 'nothing reached the hub while it refused');
        await till.stopEngine();
        await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
        await till.startEngine();
        await waitFor('the three writes on the hub', () => hubHas(coll, {}, 3));
        await waitFor('the outbox to drain', () => till.engine?.status().outbox.depth === 0);
        await sleep(QUIET_MS);
      } finally {
        await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
        await hub.close();
      }
      assert.deepStrictEqual(
        perDocument(hub.events, coll),
        { '"o1"': ['insert'], '"o2"': ['insert'], '"o3"': ['insert'] },
        'each captured change pushed once',
      );
    });

    it('stopping the engine does not wait for a hub that keeps failing with a transient error', async () => {
      const till = topology.tills[0]!;
      const coll = 'tx_stop_transient';
      const admin = topology.hubClient.db('admin');
      const STOP_LIMIT_MS = 5_000;
      let stopTook: number | undefined;
      // Code 91 (ShutdownInProgress) inside a transaction is labelled TransientTransactionError by the server.
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['update', 'bulkWrite'], errorCode: 91 },
      });
      try {
        await till.db.collection(coll).insertOne({ _id: 's1' as never });
        await waitFor('the write to be captured into the outbox', () => (till.engine?.status().outbox.depth ?? 0) >= 1 || undefined);
        // Give push time to be in the middle of trying (it wakes within a second of capture).
        await sleep(1_000);
        const began = Date.now();
        const stopping = till.stopEngine();
        stopTook = await Promise.race([stopping.then(() => Date.now() - began), sleep(STOP_LIMIT_MS).then(() => undefined)]);
        // If stop is stuck retrying against the hub, let the hub answer so the test can finish.
        await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
        await stopping;
      } finally {
        await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
        if (!till.engine) await till.startEngine();
      }
      await waitFor('the write on the hub after the restart', () => hubHas(coll, { _id: 's1' }, 1));
      assert.ok(stopTook !== undefined, `the engine stopped within ${STOP_LIMIT_MS} ms while the hub kept failing (it did not)`);
    });

    it('restarts in the middle of a stream of writes lose nothing and duplicate nothing', async () => {
      const till = topology.tills[0]!;
      const coll = 'tx_burst_restart';
      const c = till.db.collection(coll);
      const hub = await new Recorder(topology.hubDb).open();
      const total = 60;
      try {
        const writer = (async () => {
          for (let i = 0; i < total; i += 1) {
            await c.insertOne({ _id: `w${String(i).padStart(2, '0')}` as never, i });
            await sleep(10);
          }
        })();
        // Two restarts while the writer is busy.
        await waitFor('some writes to reach the hub', async () => (await topology.hubDb.collection(coll).countDocuments()) >= 10);
        await restart(till);
        await waitFor('more writes to reach the hub', async () => (await topology.hubDb.collection(coll).countDocuments()) >= 30);
        await restart(till);
        await writer;
        await waitFor(`all ${total} writes on the hub`, () => hubHas(coll, {}, total));
        await sleep(QUIET_MS);
      } finally {
        await hub.close();
      }
      const seen = perDocument(hub.events, coll);
      const wrong = Object.entries(seen).filter(([, ops]) => ops.length !== 1);
      assert.deepStrictEqual(wrong, [], 'every write reached the hub exactly once');
      assert.equal(Object.keys(seen).length, total, 'no write is missing');
      await waitFor(`all ${total} writes on till B`, async () => (await topology.tills[1]!.db.collection(coll).countDocuments()) === total);
    });
  });
});
