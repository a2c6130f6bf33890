/**
 * The model's steps, how fast-check draws them, and one run: the steps, then
 * healing, then the checks. Used by the model test and by replay.ts.
 */
import fc from 'fast-check';
import { checkGuarantees, type Write } from './checks.ts';
import { reconcileTill } from './reconcile-model.ts';
import { keyOf, World } from './world.ts';

const TILLS = 3;

export type Step =
  | { t: 'write'; till: number; c: 'menu' | 'orders' | 'recipes' | 'drawer'; id: number; kind: Write['kind']; txn: boolean }
  | { t: 'hq'; c: 'menu' | 'notes' | 'recipes' | 'prices'; id: number; kind: Write['kind'] }
  | { t: 'capture'; till: number; max: number; checkpointIdle: boolean }
  /** The push reads a batch; `commit` is its hub transaction, `settle` its local one (`pick`: which batch on its way). */
  | { t: 'push'; till: number; max: number }
  | { t: 'commit'; till: number; pick: number }
  | { t: 'settle'; till: number; pick: number }
  /** `captureStalled`: the pull waited for capture as long as it does, and gave up (capture was stuck). */
  | { t: 'pull'; till: number; max: number; stampFails: boolean; captureStalled: boolean }
  /** One stamp transaction on its way (`pick`) lands on the hub. */
  | { t: 'stamp'; till: number; pick: number }
  | { t: 'restart'; till: number }
  | { t: 'lose-hub-history' }
  | { t: 'lose-till-history'; till: number }
  | { t: 'tick'; ms: number }
  | { t: 'skew'; till: number; ms: number };

const till = fc.integer({ min: 0, max: TILLS - 1 });
const kind = fc.constantFrom<Write['kind']>('put', 'update', 'update', 'delete');
export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      till,
      c: fc.constantFrom('menu', 'orders', 'recipes', 'drawer'),
      id: fc.integer({ min: 0, max: 2 }),
      kind,
      txn: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('hq' as const),
      c: fc.constantFrom('menu', 'notes', 'recipes', 'prices'),
      id: fc.integer({ min: 0, max: 2 }),
      kind,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('capture' as const), till, max: fc.integer({ min: 1, max: 6 }), checkpointIdle: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('push' as const), till, max: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('commit' as const), till, pick: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('settle' as const), till, pick: fc.integer({ min: 0, max: 3 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('pull' as const),
      till,
      max: fc.integer({ min: 1, max: 8 }),
      stampFails: fc.boolean(),
      captureStalled: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('stamp' as const), till, pick: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), till }) },
  { weight: 1, arbitrary: fc.constant({ t: 'lose-hub-history' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('lose-till-history' as const), till }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(0, 1, 7, 1_000, 6 * 60_000) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('skew' as const),
      till,
      ms: fc.constantFrom(0, 400, -400, 900, -900, 90_000, -90_000, 10 * 60_000, -10 * 60_000),
    }),
  },
);

/** Runs the steps, heals, and returns what the checks found. */
export function runModel(steps: readonly Step[], world = new World(TILLS)): string[] {
  const journal: Write[] = [];
  let n = 0;
  for (const s of steps) {
    world.step += 1;
    world.now += 1;
    switch (s.t) {
      case 'write': {
        const t = world.tills[s.till]!;
        const id = s.c === 'orders' ? `${t.name}-o${s.id}` : `${s.c[0]}${s.id}`;
        const key = keyOf(s.c, id);
        if (s.kind === 'delete' && !t.docs.has(key)) break;
        const w = `${t.name}:${(n += 1)}`;
        t.posWrite(s.c, id, s.kind, w, s.txn);
        journal.push({
          w,
          writer: t.name,
          c: s.c,
          id,
          kind: t.docs.has(key) ? s.kind : 'delete',
          step: world.step,
          after: structuredClone(t.docs.get(key) ?? null),
          onHub: world.hub.docs.has(key),
          pos: t.log.length - 1,
        });
        break;
      }
      case 'hq': {
        const id = `${s.c[0]}${s.id}`;
        const key = keyOf(s.c, id);
        if (s.kind === 'delete' && !world.hub.docs.has(key)) break;
        const w = `hq:${(n += 1)}`;
        world.hub.hqWrite(s.c, id, s.kind, w);
        const after = world.hub.docs.get(key);
        const { _sync: _meta, ...content } = after ?? {};
        journal.push({ w, writer: 'hq', c: s.c, id, kind: s.kind, step: world.step, after: after ? content : null, onHub: true });
        break;
      }
      case 'capture':
        world.tills[s.till]!.capture(s.max, s.checkpointIdle);
        break;
      case 'push':
        world.tills[s.till]!.push(s.max);
        break;
      case 'commit':
        world.tills[s.till]!.commit(s.pick);
        break;
      case 'settle':
        world.tills[s.till]!.settle(s.pick);
        break;
      case 'pull':
        world.tills[s.till]!.pull(s.max, s.stampFails, s.captureStalled);
        break;
      case 'stamp':
        world.tills[s.till]!.landStamps(s.pick);
        break;
      case 'restart':
        world.tills[s.till]!.restart();
        break;
      case 'lose-hub-history':
        world.hub.firstKept = world.hub.log.length;
        break;
      case 'lose-till-history': {
        const t = world.tills[s.till]!;
        t.firstKept = t.log.length;
        break;
      }
      case 'tick':
        world.now += s.ms;
        break;
      case 'skew': {
        // The machine's clock is set wrong. The engine reads the hub's clock every few seconds, taken here
        // as at once; offsets under a second it ignores (clock-offset.ts), so those stay unmeasured.
        const t = world.tills[s.till]!;
        t.skew = s.ms;
        t.measured = Math.abs(s.ms) < 1_000 ? 0 : -s.ms;
        break;
      }
    }
  }
  const stuck = heal(world);
  // Writes capture never read (their history was lost, and capture restarted from the end): nothing can
  // say they happened, only the till's state afterwards is compared.
  for (const w of journal) {
    const t = world.tills.find((x) => x.name === w.writer);
    if (t && w.pos !== undefined && t.skipped.some(([from, to]) => w.pos! >= from && w.pos! < to)) w.historyLost = true;
  }
  return [...(stuck ? [stuck] : []), ...checkGuarantees(world, journal)];
}

/** Clocks set right, time moves on, and every engine runs until nothing moves any more. */
function heal(world: World): string | undefined {
  for (const t of world.tills) t.measured = Math.abs(t.skew) < 1_000 ? 0 : -t.skew;
  world.now += 10 * 60_000;
  let before = '';
  for (let round = 0; round < 200; round += 1) {
    world.now += 10;
    for (const t of world.tills) {
      t.capture(1_000, true);
      if (t.aheadPending || t.proc.reconcileNeeded) reconcileTill(t);
      for (let i = 0; i < 50 && (t.outbox.size > 0 || t.proc.flights.length > 0); i += 1) {
        t.pushAll(50);
        t.capture(1_000, true);
        world.now += 1;
      }
      t.pull(1_000, false);
      while (t.proc.stamps.length > 0) t.landStamps(0);
    }
    const state = JSON.stringify([
      world.hub.log.length,
      world.tills.map((t) => [t.log.length, t.outbox.size, t.proc.captureRead, t.proc.pullRead, t.aheadPending, t.proc.reconcileNeeded]),
    ]);
    if (state === before) return undefined;
    before = state;
  }
  return 'the engines never came to rest after healing (200 rounds)';
}
