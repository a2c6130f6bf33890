/**
 * Simulated restaurant traffic for the demo: orders rung up on each till,
 * menu price changes from head office written straight to the hub, and now
 * and then the same menu item edited on both tills at once — one of them a
 * moment offline — so a conflict appears on the dashboard.
 */
import type { Db } from 'mongodb';
import type { EngineBackend } from '../../src-main/app/backend.ts';

export const MENU = [
  { _id: 'burger', name: 'Burger', price: 9.5, category: 'mains' },
  { _id: 'veggie-burger', name: 'Veggie burger', price: 9, category: 'mains' },
  { _id: 'fish-and-chips', name: 'Fish and chips', price: 11, category: 'mains' },
  { _id: 'soup', name: 'Soup of the day', price: 5.5, category: 'starters' },
  { _id: 'salad', name: 'House salad', price: 6, category: 'starters' },
  { _id: 'fries', name: 'Fries', price: 3.5, category: 'sides' },
  { _id: 'lemonade', name: 'Lemonade', price: 3, category: 'drinks' },
  { _id: 'coffee', name: 'Coffee', price: 2.5, category: 'drinks' },
];

export interface DemoTill {
  name: string;
  /** `till-a` */
  deviceId: string;
  db: Db;
  backend: EngineBackend;
}

export interface TrafficOptions {
  hubDb: Db;
  tills: [DemoTill, DemoTill];
  conflictEverySeconds: number;
  onProblem: (what: string, err: unknown) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const money = (n: number): number => Math.round(n * 100) / 100;

/** Head office writes the menu on the hub; every till receives it. */
export async function seedMenu(hubDb: Db): Promise<void> {
  const menu = hubDb.collection<{ _id: string }>('menu');
  for (const item of MENU) await menu.updateOne({ _id: item._id }, { $setOnInsert: { ...item, updatedBy: 'HQ' } }, { upsert: true });
}

export function startTraffic(options: TrafficOptions): { stop(): Promise<void> } {
  let running = true;
  const loops: Array<Promise<void>> = [];
  const loop = (everyMs: () => number, step: () => Promise<void>, what: string): void => {
    loops.push(
      (async () => {
        while (running) {
          await sleep(everyMs());
          if (!running) break;
          await step().catch((err: unknown) => options.onProblem(what, err));
        }
      })(),
    );
  };

  for (const till of options.tills) {
    let orderNo = 0;
    loop(
      () => 700 + Math.random() * 600,
      async () => {
        orderNo += 1;
        const lines = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => {
          const item = pick(MENU);
          return { item: item._id, qty: 1 + Math.floor(Math.random() * 2), price: item.price };
        });
        await till.db.collection<{ _id: string; [field: string]: unknown }>('orders').insertOne({
          _id: `${till.deviceId}-${Date.now().toString(36)}-${orderNo}`,
          till: till.name,
          lines,
          total: money(lines.reduce((sum, l) => sum + l.qty * l.price, 0)),
          status: 'paid',
          at: new Date(),
        });
      },
      `ringing up an order on ${till.name}`,
    );
  }

  loop(
    () => 4_000 + Math.random() * 3_000,
    async () => {
      const item = pick(MENU);
      const price = money(item.price * (0.9 + Math.random() * 0.2));
      await options.hubDb.collection<{ _id: string }>('menu').updateOne({ _id: item._id }, { $set: { price, updatedBy: 'HQ' } });
    },
    'changing a price from head office',
  );

  if (options.conflictEverySeconds > 0) {
    loop(
      () => options.conflictEverySeconds * 1_000,
      () => concurrentEdit(options),
      'making a conflict',
    );
  }

  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Both tills change the same menu item while till B is off the hub for a
 * moment: A's later edit reaches the hub first, so when B comes back its
 * older edit loses, and B's dashboard shows the conflict. (B's sync is paused
 * in the engine only, so its saved "enabled" setting never changes.)
 */
async function concurrentEdit({ tills: [a, b], hubDb }: TrafficOptions): Promise<void> {
  const engine = b.backend.engine;
  if (!engine?.enabled || !a.backend.engine?.enabled) return; // someone paused a till: leave it alone
  const item = pick(MENU);
  await engine.setEnabled(false);
  try {
    await b.db
      .collection<{ _id: string }>('menu')
      .updateOne({ _id: item._id }, { $set: { special: `Today only (${b.name})`, updatedBy: b.name } });
    await sleep(20);
    const mark = `Chef's pick (${a.name})`;
    await a.db.collection<{ _id: string }>('menu').updateOne({ _id: item._id }, { $set: { special: mark, updatedBy: a.name } });
    const deadline = Date.now() + 5_000;
    while (
      Date.now() < deadline &&
      (await hubDb.collection<{ _id: string; special?: string }>('menu').findOne({ _id: item._id }))?.special !== mark
    )
      await sleep(100);
  } finally {
    await engine.setEnabled(true);
  }
}
