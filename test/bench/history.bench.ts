/**
 * A year of a busy till's history, and what stays of it (not a timed test):
 *
 *   npm run bench:history [-- --days 365 --orders-per-day 300 --conflicts-per-day 300 --deletes-per-day 30]
 *
 * One till database (the emulator, or a mongod when MONGOMS_SYSTEM_BINARY or
 * MONGODB_TEST_URI is set). Day by day it writes what a year of trading
 * leaves: orders of about 1 KB in the POS database, each with its version
 * record (written as the engine writes it, with its content hash); conflicts
 * on the menu and on orders, both versions kept; orders deleted, leaving
 * delete traces. After each day, housekeeping runs as the
 * engine runs it (till/retention.ts, with the default rules: conflicts 90 days
 * and 10,000 at most, delete traces twice the 30-day tombstone retention).
 *
 * It prints, at the end, the data size (BSON bytes) of the POS database and
 * of the engine's (by collection), and the target of issue 18: the till's
 * databases at most 1.2 × (POS data + outbox).
 */
import { calculateObjectSize, type Document } from 'bson';
import type { Db } from 'mongodb';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { ENGINE } from '../../src-main/sync/core/names.ts';
import { contentHash } from '../../src-main/sync/documents.ts';
import { TillHistory } from '../../src-main/sync/till/retention.ts';
import { TillStore, newDeviceId } from '../../src-main/sync/till/store.ts';
import { startReplSet } from '../harness/replset.ts';

function intArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: got "${process.argv[at + 1]}", expected a positive whole number`);
  return value;
}

const days = intArg('--days', 365);
const ordersPerDay = intArg('--orders-per-day', 300);
const conflictsPerDay = intArg('--conflicts-per-day', 300);
const deletesPerDay = intArg('--deletes-per-day', 30);
const DAY_MS = 86_400_000;
/** Two devices with ids as a till makes them by default (`till-` and 8 hex digits): the id is in every version kept. */
const TILL = newDeviceId();
const OTHER = newDeviceId();
const RULES = { conflictRetentionDays: 90, conflictRetentionEntries: 10_000, tombstoneRetentionDays: 30 };

/** An order of about 1 KB, as a POS writes it. */
function order(n: number, day: number): Document & { _id: string } {
  return {
    _id: `o-${n}`,
    day,
    table: n % 40,
    status: 'paid',
    lines: Array.from({ length: 8 }, (_, i) => ({
      sku: `sku-${(n + i) % 200}`,
      name: `dish ${(n + i) % 200}`,
      qty: 1 + (i % 3),
      price: 450 + i * 25,
    })),
    note: 'x'.repeat(300),
  };
}

/** Data size (BSON bytes) of each collection of `db`, largest first. */
async function dataBytes(db: Db): Promise<Array<[string, number]>> {
  const sizes: Array<[string, number]> = [];
  for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
    let bytes = 0;
    for await (const doc of db.collection(name).find({})) bytes += calculateObjectSize(doc);
    sizes.push([name, bytes]);
  }
  return sizes.sort((a, b) => b[1] - a[1]);
}

const total = (sizes: Array<[string, number]>): number => sizes.reduce((sum, [, bytes]) => sum + bytes, 0);

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const rs = await startReplSet();
const client = await rs.connect();
try {
  const store = new TillStore(client, 'pos', 'tillsync');
  await store.init();
  const history = new TillHistory(store, RULES);
  await history.init();
  const orders = client.db('pos').collection<Document & { _id: string }>('orders');
  const start = Date.UTC(2025, 0, 1);
  let n = 0;
  let written = 0;
  let removed = { conflicts: 0, deleteTraces: 0 };
  const began = performance.now();
  for (let day = 0; day < days; day += 1) {
    const at = start + day * DAY_MS;
    const v = (ms: number, device: string): string => encodeVersion({ wall: ms, counter: 0, device });
    const todays = Array.from({ length: ordersPerDay }, () => order((n += 1), day));
    await orders.insertMany(todays);
    // Each with its version record as the engine writes it: the version and the content hash.
    await store.transaction((session) =>
      store.putKnown(
        todays.map((o, i) => ({ c: 'orders', id: o._id, known: { v: v(at + i * 1000, TILL), h: contentHash(o) } })),
        session,
      ),
    );
    // Some orders are deleted: the document goes, its version record stays as a delete trace.
    const gone = todays.slice(0, deletesPerDay).map((o) => o._id);
    await orders.deleteMany({ _id: { $in: gone } });
    await store.transaction((session) =>
      store.putKnown(
        gone.map((id, i) => ({ c: 'orders', id, known: { v: v(at + 40_000_000 + i, TILL), h: null } })),
        session,
      ),
    );
    await store.conflicts.record(
      Array.from({ length: conflictsPerDay }, (_, i) => {
        const doc = i % 2 === 0 ? todays[i % todays.length] : { _id: `m-${i % 200}`, name: `dish ${i % 200}`, price: 500 + i };
        return {
          collection: i % 2 === 0 ? 'orders' : 'menu',
          documentId: doc?._id as string,
          winner: i % 3 === 0 ? ('local' as const) : ('hub' as const),
          rule: 'newer-version' as const,
          local: { version: v(at + i, TILL), origin: TILL, document: { ...doc, status: 'open' } },
          hub: { version: v(at + i + 1, OTHER), origin: OTHER, document: { ...doc, status: 'kitchen' } },
        };
      }),
      undefined,
      new Date(at + 12 * 3_600_000),
    );
    written += conflictsPerDay;
    // Housekeeping runs every few minutes: by the end of a day it has caught up.
    for (;;) {
      const r = await history.prune(at + DAY_MS - 1);
      removed = { conflicts: removed.conflicts + r.conflicts, deleteTraces: removed.deleteTraces + r.deleteTraces };
      if (r.conflicts + r.deleteTraces === 0) break;
    }
    if ((day + 1) % 30 === 0 || day === days - 1)
      process.stdout.write(`day ${day + 1} of ${days}: ${(await store.conflicts.count()).toLocaleString('en')} conflicts kept\n`);
  }
  const pos = total(await dataBytes(client.db('pos')));
  const engineSizes = await dataBytes(store.engine);
  const engine = total(engineSizes);
  let outbox = 0;
  for await (const e of store.engine.collection(ENGINE.outbox).find({})) outbox += calculateObjectSize(e);
  const reach = await history.reach();
  const ratio = (pos + engine) / (pos + outbox);
  console.log(
    [
      '',
      `${days} days: ${n.toLocaleString('en')} orders (${(days * deletesPerDay).toLocaleString('en')} deleted), ${written.toLocaleString('en')} conflicts, in ${((performance.now() - began) / 1000).toFixed(0)} s (devices ${TILL}, ${OTHER})`,
      `housekeeping forgot ${removed.conflicts.toLocaleString('en')} conflicts (counted by day: ${reach.olderConflicts.toLocaleString('en')}) and ${removed.deleteTraces.toLocaleString('en')} delete traces`,
      `conflict history kept from ${reach.conflictsSince === null ? '-' : new Date(reach.conflictsSince).toISOString().slice(0, 10)} (${(await store.conflicts.count()).toLocaleString('en')} conflicts)`,
      `POS data ${mb(pos)}; outbox ${mb(outbox)}; engine database ${mb(engine)} (${engineSizes
        .filter(([, bytes]) => bytes > 0)
        .map(([name, bytes]) => `${name} ${mb(bytes)}`)
        .join(', ')})`,
      `till databases ÷ (POS data + outbox) = ${ratio.toFixed(3)}   target <= 1.2 ${ratio <= 1.2 ? 'ok' : 'MISSED'}`,
    ].join('\n'),
  );
} finally {
  await client.close();
  await rs.stop();
}
