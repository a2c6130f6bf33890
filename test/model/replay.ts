/**
 * Replays a model run from the steps a failure printed, and shows what each
 * step wrote to the hub: `npx tsx test/model/replay.ts '[[{"t":"write",…}]]'`.
 */
/* eslint-disable no-console */
import { runModel, type Step } from './run.ts';
import { World, type Arrival } from './world.ts';

const arg = process.argv[2];
if (!arg) {
  console.error("usage: npx tsx test/model/replay.ts '<the counterexample fast-check printed>'");
  process.exit(2);
}
const parsed = JSON.parse(arg) as Step[] | [Step[]];
const steps = (Array.isArray(parsed[0]) ? parsed[0] : parsed) as Step[];
const world = new World(3);
const observe = world.observe.bind(world);
world.observe = (a: Arrival, previous: string | undefined): void => {
  console.log(`step ${a.step}: ${a.device} ${a.kind} ${a.c} ${a.id} v=${a.v}${a.doc ? ` ${JSON.stringify(a.doc)}` : ''}`);
  observe(a, previous);
};
const violations = runModel(steps, world);
console.log(violations.length === 0 ? 'no violations' : violations.join('\n'));
