/**
 * The fleet rules' thresholds: the defaults head office gets, and a JSON file
 * that overrides any of them, checked so a mistake is named at once
 * (`lag.seconds: got "30", expected a number above 0`).
 *
 *   {
 *     "notSeen":       { "colour": "red",   "minutes": 5 },
 *     "changeWaiting": { "colour": "red",   "minutes": 10 },
 *     "oplogHeadroom": { "colour": "red",   "hours": 24 },
 *     "lag":           { "colour": "amber", "seconds": 30 },
 *     "conflicts":     { "colour": "amber", "perHour": 10 },
 *     "setAside":      { "colour": "amber", "count": 0 },
 *     "clock":         { "colour": "amber", "seconds": 60 },
 *     "syncProblem":   { "colour": "amber" },
 *     "paused":        { "colour": "amber" }
 *   }
 *
 * A colour of "off" turns a rule off. Pure: reading the file is the CLI's job.
 */
import { z } from 'zod';
import type { FleetColour } from '../../src-shared/fleet.ts';

export type RuleColour = Exclude<FleetColour, 'green'> | 'off';

export interface FleetRules {
  /** Not heard from for longer than this. */
  notSeen: { colour: RuleColour; minutes: number };
  /** A change has waited on the till longer than this to be sent. */
  changeWaiting: { colour: RuleColour; minutes: number };
  /** The till's oplog holds fewer hours of writes than this. */
  oplogHeadroom: { colour: RuleColour; hours: number };
  /** Lag p95 (either direction) over this. */
  lag: { colour: RuleColour; seconds: number };
  /** More conflicts than this in the last hour. */
  conflicts: { colour: RuleColour; perHour: number };
  /** More changes set aside than this. */
  setAside: { colour: RuleColour; count: number };
  /** The till's clock at least this far from the hub's. */
  clock: { colour: RuleColour; seconds: number };
  /** The engine reports a problem it cannot get past by itself (state error). */
  syncProblem: { colour: RuleColour };
  /** Sync paused on the till, or TillSync stopped there. */
  paused: { colour: RuleColour };
}

export const DEFAULT_FLEET_RULES: Readonly<FleetRules> = Object.freeze<FleetRules>({
  notSeen: { colour: 'red', minutes: 5 },
  changeWaiting: { colour: 'red', minutes: 10 },
  oplogHeadroom: { colour: 'red', hours: 24 },
  lag: { colour: 'amber', seconds: 30 },
  conflicts: { colour: 'amber', perHour: 10 },
  setAside: { colour: 'amber', count: 0 },
  clock: { colour: 'amber', seconds: 60 },
  syncProblem: { colour: 'amber' },
  paused: { colour: 'amber' },
});

export class FleetConfigError extends Error {
  override readonly name = 'FleetConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid fleet rules:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const COLOUR_FORM = 'one of "red", "amber", "off"';
const colour = z.enum(['red', 'amber', 'off'], { error: () => COLOUR_FORM });
const above0 = z.number({ error: () => 'a number above 0' }).positive({ error: () => 'a number above 0' });
const atLeast0 = z.number({ error: () => 'a number of 0 or more' }).min(0, { error: () => 'a number of 0 or more' });

function rule<K extends string>(key: K, amount: z.ZodNumber) {
  return z.strictObject({ colour: colour.optional(), [key]: amount.optional() } as Record<'colour' | K, z.ZodOptional<z.ZodType>>, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `the fields colour, ${key}` : `an object like { "colour": "red", "${key}": 5 }`,
  });
}

const colourOnly = z.strictObject(
  { colour: colour.optional() },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'the field colour' : 'an object like { "colour": "amber" }') },
);

const schema = z.strictObject(
  {
    notSeen: rule('minutes', above0).optional(),
    changeWaiting: rule('minutes', above0).optional(),
    oplogHeadroom: rule('hours', above0).optional(),
    lag: rule('seconds', above0).optional(),
    conflicts: rule('perHour', atLeast0).optional(),
    setAside: rule('count', atLeast0).optional(),
    clock: rule('seconds', above0).optional(),
    syncProblem: colourOnly.optional(),
    paused: colourOnly.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `one of the rules ${Object.keys(DEFAULT_FLEET_RULES).join(', ')}` : 'a JSON object of rules',
  },
);

/** The defaults with every threshold the input gives laid over them. Throws FleetConfigError naming each mistake. */
export function parseFleetRules(input: unknown): FleetRules {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) {
    throw new FleetConfigError(
      result.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.') || '(rules)';
        if (issue.code === 'unrecognized_keys')
          return `${[path === '(rules)' ? '' : `${path}.`, issue.keys.join(', ')].join('')}: unknown, expected ${issue.message}`;
        const got = issue.input === undefined ? 'missing' : `got ${JSON.stringify(issue.input)}`;
        return `${path}: ${got}, expected ${issue.message}`;
      }),
    );
  }
  const rules = structuredClone(DEFAULT_FLEET_RULES) as FleetRules;
  for (const [name, override] of Object.entries(result.data) as Array<[keyof FleetRules, Record<string, unknown> | undefined]>) {
    for (const [field, value] of Object.entries(override ?? {}))
      if (value !== undefined) (rules[name] as Record<string, unknown>)[field] = value;
  }
  return rules;
}
