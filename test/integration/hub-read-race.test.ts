/**
 * What the pull reads from the hub can be out of date by the time it acts on
 * it: this till's own push, or another till's, may land in between. Found by
 * the 30-minute soak (seed 3003): a till checked a document with the hub while
 * its own newer change was being pushed and settled. It read the hub before
 * itself, so the hub's older content looked newer than the version it had just
 * settled; it took that content back, and its stamp then overwrote the push's
 * version on the hub.
 *
 * Made deterministic with the server's fail points: the till's read is held
 * until the push has landed (`waitForFailPoint` says when it is held).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MongoClient } from 'mongodb';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { hubStateNow } from '../../src-main/sync/core/till-apply.ts';
import type { HubOp } from '../../src-main/sync/core/types.ts';
import { bsonCodec, contentHash } from '../../src-main/sync/documents.ts';
import { hubRepairs } from '../../src-main/sync/flows/hub-checks.ts';
import { Hub } from '../../src-main/sync/hub/hub.ts';
import { TillStore } from '../../src-main/sync/till/store.ts';
import type { ReplSet } from '../harness/replset.ts';
import { withReplSet } from '../conformance/helpers.ts';

const TILL_APP = 'hub-read-race-till';
const HUB_DB = 'race_hub';
const POS_DB = 'race_pos';

describe("the pull's reads of the hub, with a push landing meanwhile", () => {
  let rs: ReplSet;
  let tillClient: MongoClient;
  let client: MongoClient;
  let store: TillStore;
  let hub: Hub;

  // Registered first, so it runs before withReplSet's clean-up, which stops the server.
  after(async () => {
    await hub?.close();
    await tillClient?.close();
  });
  withReplSet((r, c) => {
    rs = r;
    client = c;
  });
  before(async () => {
    tillClient = await rs.connect({ appName: TILL_APP });
    store = new TillStore(tillClient, POS_DB, 'race_engine');
    await store.init();
    hub = await Hub.connect(rs.uri, HUB_DB, 'hub-read-race-hub');
  });

  const version = (wall: number, device: string): string => encodeVersion({ wall, counter: 0, device });
  const menuOnHub = () => client.db(HUB_DB).collection<{ _id: string; [k: string]: unknown }>('menu');
  const menuOnTill = () => client.db(POS_DB).collection<{ _id: string; [k: string]: unknown }>('menu');
  /** What a push of this till's change writes on the hub. */
  const pushed = (doc: { _id: string; price: number }, v: string) => ({ ...doc, _sync: { v, o: 'till-a', h: contentHash(doc) } });

  it("does not take the hub's older content back over the till's own change, settled while the hub was read", async () => {
    const before = { _id: 'soup', price: 1 };
    const vBefore = version(Date.now() - 5_000, 'till-a');
    await menuOnTill().insertOne(before);
    await menuOnHub().insertOne(pushed(before, vBefore));
    await store.transaction((s) => store.putKnown([{ c: 'menu', id: 'soup', known: { v: vBefore, h: contentHash(before) } }], s));

    // The till's next read (by the store's client) is held for a second.
    const admin = client.db('admin');
    const { count } = await admin.command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['find'], blockConnection: true, blockTimeMS: 1_000, appName: TILL_APP },
    });
    const checking = hubRepairs(store, hub, [{ c: 'menu', id: 'soup' }]);
    await admin.command({ waitForFailPoint: 'failCommand', timesEntered: Number(count) + 1, maxTimeMS: 10_000 });

    // Meanwhile the till's own change is made, pushed and settled.
    const mine = { _id: 'soup', price: 2 };
    const vMine = version(Date.now(), 'till-a');
    await menuOnTill().replaceOne({ _id: 'soup' }, mine);
    await menuOnHub().replaceOne({ _id: 'soup' }, pushed(mine, vMine));
    await store.transaction((s) => store.putKnown([{ c: 'menu', id: 'soup', known: { v: vMine, h: contentHash(mine) } }], s));

    const repairs = await checking;
    assert.deepEqual(
      repairs.map((op) => ({ doc: op.doc, v: op.v })),
      [],
      'the till holds what the hub holds: nothing to take, and nothing to stamp',
    );
  });

  /** Head office writes a document without a version; a till reads it and plans its stamp. */
  const hqWriteReadForStamp = async (doc: { _id: string; price: number }): Promise<HubOp> => {
    await menuOnHub().insertOne(doc);
    const read = await hub.state('menu', [doc._id]);
    const hubSide = { doc: read.docs.get(bsonCodec.idKey(doc._id)) ?? null, tombstone: null };
    const stamp = hubStateNow('menu', doc._id, hubSide, Date.now(), bsonCodec);
    assert.ok(stamp?.stamp, "HQ's change is to be stamped");
    return stamp;
  };

  it("does not stamp HQ's change over a push that landed after it was read", async () => {
    const stamp = await hqWriteReadForStamp({ _id: 'tea', price: 3 });

    // A till's push lands first, with a version from a clock a little behind.
    const theirs = { _id: 'tea', price: 4 };
    const vTheirs = version(Date.now() - 2_000, 'till-a');
    await menuOnHub().replaceOne({ _id: 'tea' }, pushed(theirs, vTheirs));

    await hub.stamp('till-b', [stamp]);
    const now = await menuOnHub().findOne({ _id: 'tea' });
    assert.deepEqual(now, pushed(theirs, vTheirs), "the push's content keeps the push's version and origin");
  });

  it("stamps HQ's change when nothing landed after it was read", async () => {
    const stamp = await hqWriteReadForStamp({ _id: 'cake', price: 5 });
    await hub.stamp('till-b', [stamp]);
    const now = await menuOnHub().findOne({ _id: 'cake' });
    assert.deepEqual(now?._sync, { v: stamp.v, o: 'hub', h: contentHash({ _id: 'cake', price: 5 }) });
  });
});
