/**
 * Agent memory under steady load, printed every 30 s (not a timed test):
 *   npm run bench:memory [-- --minutes M]
 * One hub and one till, each an emulator in its own process, and the till's
 * headless agent. The till takes orders (50 inserts and 10 updates every
 * 100 ms, as fast as the servers allow) while HQ edits the menu on the hub, so
 * both directions run the whole time. A steady agent's resident memory levels
 * off after the first minute.
 */
import { MongoClient } from 'mongodb';
import { agentProcess, emulatorProcess, rssMb } from './processes.ts';

const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg >= 0 ? Number(process.argv[minutesArg + 1]) : 5;
if (!(minutes > 0)) throw new Error(`--minutes: got "${process.argv[minutesArg + 1]}", expected a positive number`);

const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
const agent = await agentProcess(['--local', till.uri, '--hub', hub.uri, '--db', 'pos', '--device-id', 'memory-a']);
const tillClient = new MongoClient(till.uri);
const hqClient = new MongoClient(hub.uri);
const samples: Array<{ s: number; mb: number; orders: number }> = [];
try {
  const start = Date.now();
  let orders = 0;
  let lastSample = -Infinity;
  const sample = (): void => {
    const row = { s: Math.round((Date.now() - start) / 1000), mb: rssMb(agent.pid), orders };
    samples.push(row);
    console.log(`${String(row.s).padStart(5)} s  agent ${row.mb.toFixed(0)} MB  ${orders.toLocaleString('en')} orders written`);
  };
  while (Date.now() - start < minutes * 60_000) {
    const batch = Array.from({ length: 50 }, () => ({
      _id: `order-${orders++}`,
      total: orders % 100,
      lines: [{ sku: 'soup', qty: 1 }],
      note: 'x'.repeat(300),
    }));
    await tillClient.db('pos').collection<{ _id: string }>('orders').insertMany(batch);
    await tillClient
      .db('pos')
      .collection('orders')
      .updateMany({ _id: { $in: batch.slice(0, 10).map((d) => d._id) } } as never, { $inc: { total: 1 } });
    await hqClient
      .db('pos')
      .collection('menu')
      .updateOne({ _id: `menu-${orders % 200}` } as never, { $set: { price: orders % 50 } }, { upsert: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (Date.now() - lastSample >= 30_000) {
      lastSample = Date.now();
      sample();
    }
  }
  sample();
  const afterWarmUp = samples.find((r) => r.s >= 60) ?? samples[0];
  const end = samples[samples.length - 1];
  if (afterWarmUp && end) {
    console.log(
      `\nagent resident memory after the first minute ${afterWarmUp.mb.toFixed(0)} MB, at the end ${end.mb.toFixed(0)} MB (${end.orders.toLocaleString('en')} orders in ${minutes} min)`,
    );
  }
} finally {
  await tillClient.close();
  await hqClient.close();
  await agent.stop();
  await hub.stop();
  await till.stop();
}
