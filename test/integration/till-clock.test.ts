/**
 * A till whose clock runs 10 minutes fast stamps its changes in head office's
 * time: they sync at once, a later change elsewhere still wins, and the till's
 * status says its clock is off. The fast till's server is its own process
 * (an emulator's clock is process-wide), with its clock set 10 minutes ahead.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MongoClient, type Document } from 'mongodb';
import { createSyncEngine, type SyncEngine } from '../../src-main/sync/engine.ts';
import { decodeVersion } from '../../src-main/sync/core/hlc.ts';
import { serverKind, ServerProcess } from '../soak/processes.ts';
import { POS_DB, startTopology, waitFor, type Topology } from './topology.ts';

const TEN_MINUTES = 10 * 60_000;

describe(
  'a till whose clock runs fast',
  { skip: serverKind() === 'mongod' ? "a real mongod's clock cannot be set from a test" : false },
  () => {
    let topology: Topology;
    let dir: string;
    let fastServer: ServerProcess;
    let fastClient: MongoClient;
    let fast: SyncEngine;

    before(async () => {
      topology = await startTopology({ tills: 1 });
      dir = mkdtempSync(join(tmpdir(), 'tillsync-clock-'));
      mkdirSync(join(dir, 'logs'));
      fastServer = await ServerProcess.create('fast-till', dir);
      await fastServer.setClockOffset(TEN_MINUTES);
      fastClient = await new MongoClient(fastServer.uri).connect();
      fast = createSyncEngine(topology.tills[0]!.config({ local: { uri: fastServer.uri }, deviceId: 'till-fast' }));
      await fast.start();
    });

    after(async () => {
      await fast?.stop();
      await fastClient?.close();
      await fastServer?.close();
      await topology?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("stamps its changes in head office's time, so a later change on another till still wins", async () => {
      const other = topology.tills[0]!;
      await waitFor('both tills synced', () => fast.status().state === 'synced' && other.engine?.status().state === 'synced', 30_000);
      const serverTime = (await fastClient.db('admin').command({ hello: 1 })).localTime as Date;
      assert.ok(serverTime.getTime() - Date.now() > TEN_MINUTES - 30_000, 'the fast till server reads 10 minutes ahead');

      await fastClient
        .db(POS_DB)
        .collection('menu')
        .insertOne({ _id: 'soup', name: 'Soup', price: 5 } as Document);
      const onHub = await waitFor(
        'the fast till change on the hub',
        () => topology.hubDb.collection('menu').findOne({ _id: 'soup' } as Document),
        15_000,
      );
      const version = decodeVersion(String((onHub._sync as { v: string }).v));
      assert.ok(
        Math.abs(version.wall - Date.now()) < 30_000,
        `its version is in head office's time (${Math.round((version.wall - Date.now()) / 1000)} s from now)`,
      );
      await waitFor('the change on the other till', () => other.db.collection('menu').findOne({ _id: 'soup' } as Document), 15_000);

      // A minute of real time later is far less than 10 minutes: with the till's own clock it would lose.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await other.db.collection('menu').updateOne({ _id: 'soup' } as Document, { $set: { price: 6 } });
      await waitFor(
        'the later price on the fast till',
        async () =>
          (
            await fastClient
              .db(POS_DB)
              .collection('menu')
              .findOne({ _id: 'soup' } as Document)
          )?.price === 6,
        15_000,
      );
      assert.equal((await topology.hubDb.collection('menu').findOne({ _id: 'soup' } as Document))?.price, 6, 'the hub has the later price');
    });

    it("says in its status that the till's clock is fast", async () => {
      const warning = await waitFor('a clock warning', () => fast.status().warnings.find((w) => /clock/i.test(w)), 15_000);
      assert.match(warning, /10 minutes fast/);
    });

    it('stamps in real time even when it restarts with the hub out of reach and no reading of the hub kept', async () => {
      await fast.stop();
      await fastClient
        .db('tillsync')
        .collection('meta')
        .deleteOne({ _id: 'clock' } as Document);
      const unreachable = 'mongodb://127.0.0.1:9/?replicaSet=rs0&serverSelectionTimeoutMS=500';
      fast = createSyncEngine(
        topology.tills[0]!.config({ local: { uri: fastServer.uri }, hub: { uri: unreachable }, deviceId: 'till-fast' }),
      );
      await fast.start();
      await fastClient
        .db(POS_DB)
        .collection('menu')
        .insertOne({ _id: 'bread', name: 'Bread', price: 2 } as Document);
      const entry = await waitFor(
        'the change in the outbox',
        () => fastClient.db('tillsync').collection('outbox').findOne({ id: 'bread' }),
        15_000,
      );
      const version = decodeVersion(String(entry.v));
      assert.ok(
        Math.abs(version.wall - Date.now()) < 30_000,
        `its version is in real time (${Math.round((version.wall - Date.now()) / 1000)} s from now)`,
      );
    });
  },
);
