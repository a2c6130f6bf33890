/**
 * The app's till database at login: a start that fails because the port is
 * still held (the copy the last session was closing) is tried again, each
 * retry reported, and succeeds once the port is free; a start that keeps
 * failing gives up after the set number of tries with the last reason.
 *
 * Sized for a small till: a capped cache, an oplog sized from the free disk
 * space within limits, its retention lowered (and said in words) when the
 * disk is too small; the settings file's mistakes named field by field; the
 * options mongod is started with, as mongodb-memory-server builds its command
 * line. With MONGOMS_SYSTEM_BINARY set, a real mongod shows the cache at its
 * cap and the oplog at its planned size and retention, resized at a later start.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { MongoInstance, MongoMemoryReplSet } from 'mongodb-memory-server-core';
import { freeSpaceMB, replSetOptions, retryStart, startLocalMongod } from '../../src-main/app/local-mongod.ts';
import { planTillDatabase, RESERVE_MB, SHORT_DISK_RETENTION_HOURS } from '../../src-main/app/local-mongod-plan.ts';
import {
  DEFAULT_TILL_DATABASE,
  parseTillDatabaseSettings,
  readTillDatabaseSettings,
  TILL_DATABASE_FILE,
  TillDatabaseSettingsError,
} from '../../src-main/app/till-database-settings.ts';

function listen(port = 0): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('starting the till database again when it fails', () => {
  it('tries again while the port is held, says so each time, and starts once it is free', async () => {
    const blocker = await listen();
    const port = (blocker.address() as { port: number }).port;
    const retries: Array<{ code: string | undefined; attempt: number }> = [];
    const started = await retryStart(() => listen(port), {
      attempts: 5,
      delayMs: 50,
      onRetry: (err, attempt) => {
        retries.push({ code: (err as NodeJS.ErrnoException).code, attempt });
        if (attempt === 2) void close(blocker); // the old copy lets go of the port
      },
    });
    try {
      assert.equal((started.address() as { port: number }).port, port);
      // Two refusals before the port was let go (a third if closing it took longer than the delay).
      assert.ok(retries.length >= 2, JSON.stringify(retries));
      assert.deepEqual(
        retries,
        retries.map((_r, i) => ({ code: 'EADDRINUSE', attempt: i + 1 })),
        'each retry is reported with its reason and number',
      );
    } finally {
      await close(started);
    }
  });

  it('gives up after the set number of tries with the last reason', async () => {
    const blocker = await listen();
    const port = (blocker.address() as { port: number }).port;
    let retries = 0;
    try {
      await assert.rejects(
        retryStart(() => listen(port), { attempts: 3, delayMs: 10, onRetry: () => (retries += 1) }),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
      );
      assert.equal(retries, 2, 'three tries: two retries reported, then the failure');
    } finally {
      await close(blocker);
    }
  });
});

describe('sizing the till database', () => {
  const defaults = DEFAULT_TILL_DATABASE;
  const firstStart = (freeMB: number) => ({ freeMB, oplogMaxMB: null, oplogUsedMB: 0 });

  it('caps the cache at 0.25 GB and keeps a week of history by default', () => {
    const plan = planTillDatabase(firstStart(40_000), defaults);
    assert.equal(plan.cacheSizeGB, 0.25);
    assert.equal(plan.oplogSizeMB, 2_000, '5% of the free space');
    assert.equal(plan.oplogMinRetentionHours, 168);
    assert.equal(plan.shortOfSpace, null);
  });

  it("sizes the oplog from the free space, never below 990 MB (mongod's floor) nor above the setting", () => {
    assert.equal(planTillDatabase(firstStart(10_000), defaults).oplogSizeMB, 990);
    assert.equal(planTillDatabase(firstStart(100_000), defaults).oplogSizeMB, 2_048);
    assert.equal(planTillDatabase(firstStart(100_000), { ...defaults, oplogMaxSizeMB: 1_500 }).oplogSizeMB, 1_500);
    // At a later start the oplog's own space counts as free for it.
    assert.equal(planTillDatabase({ freeMB: 30_000, oplogMaxMB: 2_048, oplogUsedMB: 2_000 }, defaults).oplogSizeMB, 1_600);
  });

  it('on a disk too small for the history, keeps a day instead and says so in words', () => {
    const plan = planTillDatabase(firstStart(2_500), defaults);
    assert.equal(plan.oplogSizeMB, 990);
    assert.equal(plan.oplogMinRetentionHours, SHORT_DISK_RETENTION_HOURS);
    assert.equal(
      plan.shortOfSpace,
      `This till's disk has only 2.4 GB free; TillSync needs ${((990 + RESERVE_MB) / 1024).toFixed(1)} GB to keep 168 hours of change history, so it keeps 24 hours. Free some space on the disk.`,
    );
    assert.equal(
      planTillDatabase(firstStart(2_500), { ...defaults, oplogMinRetentionHours: 12 }).shortOfSpace,
      null,
      'asked for less already',
    );
  });

  it('resizes an existing oplog only when it is well off the plan', () => {
    assert.equal(planTillDatabase({ freeMB: 60_000, oplogMaxMB: 2_048, oplogUsedMB: 100 }, defaults).resize, false);
    assert.equal(
      planTillDatabase({ freeMB: 60_000, oplogMaxMB: 2_000, oplogUsedMB: 100 }, { ...defaults, oplogMaxSizeMB: 1_024 }).resize,
      true,
    );
    assert.equal(planTillDatabase({ freeMB: 10_000, oplogMaxMB: 2_048, oplogUsedMB: 300 }, defaults).resize, true, 'the disk filled up');
  });

  it('starts mongod with the cap, the oplog size and its retention', async () => {
    const plan = planTillDatabase(firstStart(30_000), defaults);
    const options = replSetOptions(plan, { dataDir: '/data/till', port: 27217 });
    // The command line mongodb-memory-server builds from these options (no process is started).
    class Probe extends MongoMemoryReplSet {
      instanceOptions(base: (typeof options.instanceOpts)[0]) {
        return this.getInstanceOpts(base);
      }
    }
    const [base] = options.instanceOpts;
    assert.ok(base);
    const instance = new MongoInstance({ instance: new Probe(options).instanceOptions(base) });
    assert.deepEqual(instance.prepareCommandArgs(), [
      '--port',
      '27217',
      '--dbpath',
      '/data/till',
      '--replSet',
      'rs0',
      '--storageEngine',
      'wiredTiger',
      '--bind_ip',
      '127.0.0.1',
      '--noauth',
      '--wiredTigerCacheSizeGB',
      '0.25',
      '--oplogSize',
      '1500',
      '--oplogMinRetentionHours',
      '168',
    ]);
  });
});

describe('the till database settings file', () => {
  it('is optional, and each field defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillsync-db-settings-'));
    try {
      assert.deepEqual(await readTillDatabaseSettings(dir), DEFAULT_TILL_DATABASE);
      await writeFile(join(dir, TILL_DATABASE_FILE), '{ "cacheSizeGB": 0.5 }');
      assert.deepEqual(await readTillDatabaseSettings(dir), { ...DEFAULT_TILL_DATABASE, cacheSizeGB: 0.5 });
      await writeFile(join(dir, TILL_DATABASE_FILE), '{ "cacheSizeGB": 0.5, }');
      await assert.rejects(readTillDatabaseSettings(dir), (err: Error) => {
        assert.ok(err instanceof TillDatabaseSettingsError);
        assert.match(err.message, /till-database\.json\) cannot be used:\n {2}- the file is not valid JSON/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names every wrong field and what it should be', () => {
    assert.throws(
      () => parseTillDatabaseSettings({ cacheSizeGB: 0.1, oplogMinRetentionHours: 'a week', oplogMaxSizeMB: 500, cache: 1 }),
      (err: TillDatabaseSettingsError) => {
        assert.deepEqual(err.problems, [
          'cacheSizeGB: got 0.1, expected a number of gigabytes from 0.25 to 64',
          'oplogMinRetentionHours: got "a week", expected a number of hours from 0 (no minimum) to 8760 (a year)',
          'oplogMaxSizeMB: got 500, expected a whole number of megabytes from 990 to 1048576',
          'cache: unknown field, expected one of cacheSizeGB, oplogMinRetentionHours, oplogMaxSizeMB',
        ]);
        return true;
      },
    );
    assert.throws(() => parseTillDatabaseSettings([1]), /expected a JSON object with any of the fields cacheSizeGB/);
  });
});

const systemBinary = process.env.MONGOMS_SYSTEM_BINARY;

describe(
  'the till database on a real mongod',
  { skip: systemBinary ? false : 'set MONGOMS_SYSTEM_BINARY to run it against a real mongod' },
  () => {
    async function freePort(): Promise<number> {
      const server = await listen();
      const port = (server.address() as { port: number }).port;
      await close(server);
      return port;
    }

    it('runs with the cache at its cap and the oplog at its planned size and retention, resized at a later start', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tillsync-mongod-'));
      const port = await freePort();
      const read = async (uri: string) => {
        const client = new MongoClient(uri);
        try {
          const status = await client.db('admin').command({ serverStatus: 1, oplogTruncation: 1 });
          const oplog = await client.db('local').command({ collStats: 'oplog.rs' });
          return {
            cacheBytes: Number(status.wiredTiger.cache['maximum bytes configured']),
            oplogMB: Number(oplog.maxSize) / 1024 / 1024,
            retentionHours: Number(status.oplogTruncation.oplogMinRetentionHours),
          };
        } finally {
          await client.close();
        }
      };
      try {
        const first = await startLocalMongod({
          dataDir,
          binary: systemBinary,
          port,
          settings: { ...DEFAULT_TILL_DATABASE, oplogMaxSizeMB: 1_000 },
        });
        try {
          const seen = await read(first.uri);
          process.stderr.write(`real mongod, first start: ${JSON.stringify(seen)}\n`);
          assert.equal(seen.cacheBytes, 0.25 * 1024 ** 3, 'the cache at its cap');
          assert.equal(seen.oplogMB, first.plan.oplogSizeMB);
          assert.equal(seen.retentionHours, first.plan.oplogMinRetentionHours);
        } finally {
          await first.stop();
        }
        const free = await freeSpaceMB(dataDir);
        const settings = { ...DEFAULT_TILL_DATABASE, cacheSizeGB: 0.5, oplogMaxSizeMB: 1_500, oplogMinRetentionHours: 48 };
        const again = await startLocalMongod({ dataDir, binary: systemBinary, port, settings });
        try {
          const seen = await read(again.uri);
          process.stderr.write(`real mongod, second start (free ${Math.round(free)} MB): ${JSON.stringify(seen)}\n`);
          assert.equal(seen.cacheBytes, 0.5 * 1024 ** 3);
          assert.equal(seen.oplogMB, again.plan.oplogSizeMB, 'the oplog made at the first start was resized');
          assert.equal(seen.retentionHours, again.plan.oplogMinRetentionHours);
        } finally {
          await again.stop();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  },
);
