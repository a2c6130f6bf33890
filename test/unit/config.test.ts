import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { ConfigError, parseSyncConfig, redactUri, type SyncConfig } from '../../src-main/sync/config.ts';

const MINIMAL = {
  local: { uri: 'mongodb://127.0.0.1:27017/?replicaSet=rs0' },
  hub: { uri: 'mongodb+srv://till:s3cret@cluster0.example.mongodb.net/?retryWrites=true' },
  database: 'pos',
};

/** The problems parseSyncConfig reports for `input` (fails the test if it accepts it). */
function problemsOf(input: unknown): readonly string[] {
  try {
    parseSyncConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.reason, 'invalid-config');
    for (const p of err.problems) assert.ok(err.message.includes(p), 'the message lists every problem');
    return err.problems;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

describe('parseSyncConfig: valid input', () => {
  it('fills every default into a minimal config', () => {
    const expected: SyncConfig = {
      ...MINIMAL,
      engineDatabase: 'tillsync',
      collections: {},
      batchSize: 500,
      maxClockDriftMs: 300_000,
      retry: { initialMs: 500, maxMs: 60_000 },
      statusIntervalMs: 1_000,
      tombstoneRetentionDays: 30,
      conflictRetentionDays: 90,
      conflictRetentionEntries: 10_000,
      housekeepingIntervalMs: 300_000,
      heartbeatIntervalMs: 30_000,
      leaseTtlMs: 30_000,
    };
    assert.deepEqual(parseSyncConfig(MINIMAL), expected);
    assert.equal(parseSyncConfig(MINIMAL).deviceId, undefined);
  });

  it('keeps every given value and defaults each collection policy', () => {
    const full = {
      ...MINIMAL,
      engineDatabase: 'tillsync_engine',
      deviceId: 'till-01',
      collections: { sales: { mode: 'push-only' }, menu: { conflict: 'field' }, 'orders.archive': {} },
      batchSize: 10_000,
      maxClockDriftMs: 1_000,
      retry: { initialMs: 10, maxMs: 10 },
      statusIntervalMs: 100,
      tombstoneRetentionDays: 7,
      conflictRetentionDays: 14,
      conflictRetentionEntries: 500,
      housekeepingIntervalMs: 60_000,
      device: { name: 'Till 1', storeId: 'soho' },
      heartbeatIntervalMs: 5_000,
      leaseTtlMs: 2_000,
    };
    assert.deepEqual(parseSyncConfig(full), {
      ...full,
      collections: {
        sales: { mode: 'push-only', conflict: 'document' },
        menu: { mode: 'both', conflict: 'field' },
        'orders.archive': { mode: 'both', conflict: 'document' },
      },
    });
  });

  it('defaults the half of retry that is not given', () => {
    assert.deepEqual(parseSyncConfig({ ...MINIMAL, retry: { maxMs: 5_000 } }).retry, { initialMs: 500, maxMs: 5_000 });
    assert.deepEqual(parseSyncConfig({ ...MINIMAL, retry: { initialMs: 1_000 } }).retry, { initialMs: 1_000, maxMs: 60_000 });
  });
});

describe('parseSyncConfig: each bad field names the field and the expected form', () => {
  const URI = 'expected a connection string starting with mongodb:// or mongodb+srv://';
  const DB = 'expected a MongoDB database name: 1 to 63 bytes, none of / \\ . space " $';
  const MODES = 'expected one of both, push-only, pull-only, local-only';
  const COLLECTION = 'expected a collection name: 1 to 255 bytes, no $, not starting with "system." or "_tillsync"';

  const cases: Array<[label: string, input: Record<string, unknown>, problem: string]> = [
    ['local missing', { hub: MINIMAL.hub, database: 'pos' }, 'local: missing, expected an object like { uri: "mongodb://..." }'],
    ['local.uri missing', { ...MINIMAL, local: {} }, `local.uri: missing, ${URI}`],
    ['local.uri wrong scheme', { ...MINIMAL, local: { uri: 'http://127.0.0.1' } }, `local.uri: got "http://127.0.0.1", ${URI}`],
    ['hub.uri not a string', { ...MINIMAL, hub: { uri: 42 } }, `hub.uri: got 42, ${URI}`],
    ['hub.uri without a host', { ...MINIMAL, hub: { uri: 'mongodb+srv://' } }, `hub.uri: got "mongodb+srv://", ${URI}`],
    [
      'hub unknown field',
      { ...MINIMAL, hub: { ...MINIMAL.hub, url: 'x' } },
      'hub.url: unknown field "url" (did you mean "uri"?), expected one of the fields uri',
    ],
    ['database empty', { ...MINIMAL, database: '' }, `database: got "", ${DB}`],
    ['database with a dot', { ...MINIMAL, database: 'pos.main' }, `database: got "pos.main", ${DB}`],
    ['database with a space', { ...MINIMAL, database: 'my pos' }, `database: got "my pos", ${DB}`],
    ['database with $', { ...MINIMAL, database: 'pos$' }, `database: got "pos$", ${DB}`],
    ['database with a slash', { ...MINIMAL, database: 'a/b' }, `database: got "a/b", ${DB}`],
    ['database with a backslash', { ...MINIMAL, database: 'a\\b' }, `database: got "a\\\\b", ${DB}`],
    ['database with a quote', { ...MINIMAL, database: 'a"b' }, `database: got "a\\"b", ${DB}`],
    ['database too long', { ...MINIMAL, database: 'd'.repeat(64) }, `database: got "${'d'.repeat(64)}", ${DB}`],
    ['database too long in bytes', { ...MINIMAL, database: 'é'.repeat(32) }, `database: got "${'é'.repeat(32)}", ${DB}`],
    ['database not a string', { ...MINIMAL, database: ['pos'] }, `database: got a list, ${DB}`],
    ['engineDatabase invalid', { ...MINIMAL, engineDatabase: 'till sync' }, `engineDatabase: got "till sync", ${DB}`],
    [
      'engineDatabase equal to database',
      { ...MINIMAL, engineDatabase: 'pos' },
      'engineDatabase: got "pos", expected a database name different from database "pos" (compared ignoring case)',
    ],
    [
      'engineDatabase differing only in case',
      { ...MINIMAL, database: 'Pos', engineDatabase: 'pOS' },
      'engineDatabase: got "pOS", expected a database name different from database "Pos"',
    ],
    [
      'database equal to the default engine database',
      { ...MINIMAL, database: 'tillsync' },
      'engineDatabase: got "tillsync", expected a database name different from database "tillsync"',
    ],
    ['deviceId with a space', { ...MINIMAL, deviceId: 'till 1' }, 'deviceId: got "till 1", expected 1 to 64 characters of A-Z a-z 0-9 _ -'],
    ['deviceId empty', { ...MINIMAL, deviceId: '' }, 'deviceId: got "", expected 1 to 64 characters'],
    ['deviceId too long', { ...MINIMAL, deviceId: 'x'.repeat(65) }, 'deviceId: got "xxxx'],
    [
      'collections a list',
      { ...MINIMAL, collections: [] },
      'collections: got a list, expected an object mapping collection names to { mode?, conflict? }',
    ],
    ['collection mode', { ...MINIMAL, collections: { orders: { mode: 'pull' } } }, `collections.orders.mode: got "pull", ${MODES}`],
    [
      'collection conflict',
      { ...MINIMAL, collections: { orders: { conflict: 'row' } } },
      'collections.orders.conflict: got "row", expected one of document, field',
    ],
    [
      'collection unknown field',
      { ...MINIMAL, collections: { orders: { direction: 'both' } } },
      'collections.orders.direction: unknown field "direction", expected one of the fields mode, conflict',
    ],
    [
      'collection policy not an object',
      { ...MINIMAL, collections: { 'orders.archive': 'both' } },
      'collections["orders.archive"]: got "both", expected an object like { mode?, conflict? }',
    ],
    [
      'engine collection',
      { ...MINIMAL, collections: { _tillsync_outbox: {} } },
      `collections._tillsync_outbox: got collection name "_tillsync_outbox", ${COLLECTION}`,
    ],
    [
      'system collection',
      { ...MINIMAL, collections: { 'system.views': {} } },
      `collections["system.views"]: got collection name "system.views", ${COLLECTION}`,
    ],
    ['collection name with $', { ...MINIMAL, collections: { a$b: {} } }, `collections["a$b"]: got collection name "a$b", ${COLLECTION}`],
    ['empty collection name', { ...MINIMAL, collections: { '': {} } }, `collections[""]: got collection name "", ${COLLECTION}`],
    ['batchSize zero', { ...MINIMAL, batchSize: 0 }, 'batchSize: got 0, expected an integer from 1 to 10000'],
    ['batchSize too big', { ...MINIMAL, batchSize: 10_001 }, 'batchSize: got 10001, expected an integer from 1 to 10000'],
    ['batchSize fractional', { ...MINIMAL, batchSize: 1.5 }, 'batchSize: got 1.5, expected an integer from 1 to 10000'],
    [
      'batchSize as text',
      { ...MINIMAL, batchSize: '500' },
      'batchSize: got "500" (text, not a number), expected an integer from 1 to 10000',
    ],
    [
      'maxClockDriftMs too small',
      { ...MINIMAL, maxClockDriftMs: 999 },
      'maxClockDriftMs: got 999, expected an integer >= 1000 (milliseconds)',
    ],
    ['retry not an object', { ...MINIMAL, retry: 'fast' }, 'retry: got "fast", expected an object like { initialMs?, maxMs? }'],
    [
      'retry.initialMs too small',
      { ...MINIMAL, retry: { initialMs: 5 } },
      'retry.initialMs: got 5, expected an integer >= 10 (milliseconds)',
    ],
    [
      'retry.maxMs below initialMs',
      { ...MINIMAL, retry: { initialMs: 1_000, maxMs: 900 } },
      'retry.maxMs: got 900, expected an integer >= retry.initialMs (1000)',
    ],
    [
      'retry.maxMs below the default initialMs',
      { ...MINIMAL, retry: { maxMs: 100 } },
      'retry.maxMs: got 100, expected an integer >= retry.initialMs (500)',
    ],
    [
      'tombstoneRetentionDays zero',
      { ...MINIMAL, tombstoneRetentionDays: 0 },
      'tombstoneRetentionDays: got 0, expected an integer >= 1 (days)',
    ],
    [
      'conflictRetentionDays not a whole number',
      { ...MINIMAL, conflictRetentionDays: 1.5 },
      'conflictRetentionDays: got 1.5, expected an integer >= 1 (days)',
    ],
    [
      'conflictRetentionEntries too few to be useful',
      { ...MINIMAL, conflictRetentionEntries: 10 },
      'conflictRetentionEntries: got 10, expected an integer >= 100 (conflicts)',
    ],
    [
      'housekeepingIntervalMs as text',
      { ...MINIMAL, housekeepingIntervalMs: '300000' },
      'housekeepingIntervalMs: got "300000" (text, not a number), expected an integer >= 1000 (milliseconds)',
    ],
    [
      'statusIntervalMs too small',
      { ...MINIMAL, statusIntervalMs: 99 },
      'statusIntervalMs: got 99, expected an integer >= 100 (milliseconds)',
    ],
    [
      'statusIntervalMs null',
      { ...MINIMAL, statusIntervalMs: null },
      'statusIntervalMs: got null, expected an integer >= 100 (milliseconds)',
    ],
    [
      'unknown top-level field',
      { ...MINIMAL, colections: {} },
      'colections: unknown field "colections" (did you mean "collections"?), expected one of the fields local, hub, database, engineDatabase, deviceId, collections, batchSize, maxClockDriftMs, retry, statusIntervalMs, tombstoneRetentionDays, conflictRetentionDays, conflictRetentionEntries, housekeepingIntervalMs, device, heartbeatIntervalMs, leaseTtlMs',
    ],
    [
      'unknown field with no near match',
      { ...MINIMAL, verbose: true },
      'verbose: unknown field "verbose", expected one of the fields local, hub',
    ],
  ];

  for (const [label, input, problem] of cases) {
    it(label, () => {
      const problems = problemsOf(input);
      assert.equal(problems.length, 1, `only the one bad field is reported:\n${problems.join('\n')}`);
      assert.ok(problems[0]!.startsWith(problem), `got:      ${problems[0]}\nexpected: ${problem}`);
    });
  }

  it('rejects input that is not an object', () => {
    for (const input of [null, undefined, 'mongodb://x', 42, []]) {
      const problems = problemsOf(input);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /^\(config\): (got .+|missing), expected an object with at least local, hub and database$/);
    }
  });

  it('reports a "__proto__" collection instead of silently ignoring it', () => {
    const input = JSON.parse(
      JSON.stringify({ ...MINIMAL, collections: {} }).replace('"collections":{}', '"collections":{"__proto__":{"mode":"both"}}'),
    );
    assert.deepEqual(problemsOf(input), [
      'collections.__proto__: got collection name "__proto__", expected a collection name other than "__proto__" (reserved)',
    ]);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      local: { uri: 'postgres://x' },
      database: 'a.b',
      collections: { orders: { mode: 'pull' } },
      batchSize: -1,
      retry: { initialMs: 1 },
      extra: 1,
    });
    const fields = problems.map((p) => p.slice(0, p.indexOf(':')));
    assert.deepEqual(fields.sort(), ['batchSize', 'collections.orders.mode', 'database', 'extra', 'hub', 'local.uri', 'retry.initialMs']);
  });
});

describe('passwords never appear in messages', () => {
  const password = fc
    .tuple(fc.string({ minLength: 4, maxLength: 30 }), fc.constantFrom('', '@', '/', ':', '?', '#'))
    .map(([s, special]) => `Pw!${s}${special}${s}`);

  /** Every place a connection string could wrongly end up, each holding the password. */
  function badConfigs(pw: string): unknown[] {
    const uri = `mongodb://admin:${pw}@db.example.com:27017/pos?replicaSet=rs0`;
    return [
      { ...MINIMAL, local: { uri: uri.replace('mongodb://', 'http://') } },
      { ...MINIMAL, hub: { uri: `mongodb+srv://admin:${pw}@` } },
      { ...MINIMAL, hub: { uri: `admin:${pw}@db.example.com` } },
      { ...MINIMAL, hub: { uri, extra: uri } },
      { ...MINIMAL, database: uri },
      { ...MINIMAL, engineDatabase: uri, database: uri },
      { ...MINIMAL, deviceId: uri },
      { ...MINIMAL, collections: { [`system.${uri}`]: {} } },
      { ...MINIMAL, collections: { orders: { mode: uri } } },
      { ...MINIMAL, [uri]: true },
      { ...MINIMAL, hubUri: uri, batchSize: uri },
      { ...MINIMAL, hub: { uri: `http://h/?tls=true&tlsCertificateKeyFilePassword=${pw}&appName=till` } },
    ];
  }

  it('in any problem, the message, or the inspected error', () => {
    fc.assert(
      fc.property(password, (pw) => {
        for (const input of badConfigs(pw)) {
          let caught: unknown;
          try {
            parseSyncConfig(input);
          } catch (err) {
            caught = err;
          }
          assert.ok(caught instanceof ConfigError, `rejected: ${JSON.stringify(input)}`);
          assert.equal(caught.cause, undefined, 'the raw zod error (with the input) is not attached');
          const text = `${caught.message}\n${caught.problems.join('\n')}\n${inspect(caught, { depth: 10 })}`;
          assert.ok(!text.includes(pw), `password leaked:\n${text}`);
          assert.ok(!text.includes(JSON.stringify(pw).slice(1, -1)), `escaped password leaked:\n${text}`);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('shows the rest of the connection string, so the operator can see what is wrong', () => {
    const [problem] = problemsOf({ ...MINIMAL, local: { uri: 'http://admin:hunter2@db.example.com:27017/pos' } });
    assert.equal(
      problem,
      `local.uri: got "http://admin:***@db.example.com:27017/pos", expected a connection string starting with mongodb:// or mongodb+srv://`,
    );
  });
});

describe('redactUri', () => {
  const cases: Array<[string, string]> = [
    ['mongodb://admin:s3cret@h1:27017,h2:27017/pos?replicaSet=rs0', 'mongodb://admin:***@h1:27017,h2:27017/pos?replicaSet=rs0'],
    ['mongodb+srv://till:p%40ss@cluster0.example.mongodb.net/', 'mongodb+srv://till:***@cluster0.example.mongodb.net/'],
    ['mongodb://till:pa@ss/w:rd@host/db', 'mongodb://till:***@host/db'],
    ['mongodb://:secret@host', 'mongodb://:***@host'],
    ['mongodb://user@host/?authMechanism=MONGODB-X509', 'mongodb://user@host/?authMechanism=MONGODB-X509'],
    ['mongodb://127.0.0.1:27017/?replicaSet=rs0', 'mongodb://127.0.0.1:27017/?replicaSet=rs0'],
    ['admin:secret@host', 'admin:***@host'],
    [
      'mongodb://h/?tls=true&tlsCertificateKeyFilePassword=k3y&appName=x',
      'mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***&appName=x',
    ],
    [
      'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok123,SERVICE_NAME:x',
      'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:***,SERVICE_NAME:x',
    ],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    it(`redacts ${JSON.stringify(input)}`, () => assert.equal(redactUri(input), expected));
  }

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        assert.equal(redactUri(redactUri(s)), redactUri(s));
      }),
    );
  });
});
