import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ENGINE_COLLECTION_PREFIX,
  PolicyError,
  PolicyTable,
  SYNC_MODES,
  isEngineCollection,
  type CollectionPolicy,
  type SyncMode,
} from '../../src-main/sync/core/policy.ts';

describe('PolicyTable', () => {
  const table = new PolicyTable({
    sales: { mode: 'push-only' },
    menu: { mode: 'pull-only', conflict: 'field' },
    drawer: { mode: 'local-only' },
    customers: { conflict: 'field' },
  });

  it('syncs both ways at document granularity unless told otherwise', () => {
    assert.deepEqual(table.policyFor('orders'), { mode: 'both', conflict: 'document', engine: false });
    assert.equal(table.shouldPush('orders'), true);
    assert.equal(table.shouldPull('orders'), true);
  });

  it('applies each mode to push and pull', () => {
    const expected: Record<string, [push: boolean, pull: boolean]> = {
      orders: [true, true],
      sales: [true, false],
      menu: [false, true],
      drawer: [false, false],
    };
    for (const [collection, [push, pull]] of Object.entries(expected)) {
      assert.equal(table.shouldPush(collection), push, `${collection} push`);
      assert.equal(table.shouldPull(collection), pull, `${collection} pull`);
    }
  });

  it('fills unset fields from the defaults', () => {
    assert.deepEqual(table.policyFor('customers'), { mode: 'both', conflict: 'field', engine: false });
    assert.deepEqual(table.policyFor('sales'), { mode: 'push-only', conflict: 'document', engine: false });
    const custom = new PolicyTable({ menu: { mode: 'both' } }, { mode: 'local-only', conflict: 'field' });
    assert.deepEqual(custom.policyFor('anything'), { mode: 'local-only', conflict: 'field', engine: false });
    assert.deepEqual(custom.policyFor('menu'), { mode: 'both', conflict: 'field', engine: false });
  });

  it('never syncs engine or system collections, whatever the defaults say', () => {
    for (const name of [ENGINE_COLLECTION_PREFIX, '_tillsync_outbox', '_tillsyncCheckpoints', 'system.views', 'system.profile']) {
      assert.equal(isEngineCollection(name), true, name);
      assert.deepEqual(table.policyFor(name), { mode: 'local-only', conflict: 'document', engine: true });
      assert.equal(table.shouldPush(name), false);
      assert.equal(table.shouldPull(name), false);
    }
    for (const name of ['tillsync', '_till', 'systems', 'my.system.x']) assert.equal(isEngineCollection(name), false, name);
  });

  it('refuses a policy that would sync an engine collection', () => {
    assert.throws(
      () => new PolicyTable({ _tillsync_outbox: { mode: 'both' } }),
      (err: unknown) => err instanceof PolicyError && err.reason === 'engine-collection' && err.collection === '_tillsync_outbox',
    );
    assert.doesNotThrow(() => new PolicyTable({ 'system.js': { mode: 'local-only' } }));
  });

  it('refuses unknown modes and granularities with a reason', () => {
    const bad = { orders: { mode: 'pull' as SyncMode } };
    assert.throws(
      () => new PolicyTable(bad),
      (err: unknown) => err instanceof PolicyError && err.reason === 'unknown-mode',
    );
    assert.throws(
      () => new PolicyTable({ orders: { conflict: 'row' as CollectionPolicy['conflict'] } }),
      (err: unknown) => err instanceof PolicyError && err.reason === 'unknown-conflict' && /document, field/.test(err.message),
    );
  });

  it('treats names like "constructor" and "__proto__" as plain collection names', () => {
    const t = new PolicyTable(JSON.parse('{"__proto__": {"mode": "local-only"}, "constructor": {"mode": "push-only"}}'));
    assert.equal(t.policyFor('__proto__').mode, 'local-only');
    assert.equal(t.policyFor('constructor').mode, 'push-only');
    assert.equal(t.policyFor('toString').mode, 'both');
    assert.equal(t.with({ orders: { mode: 'pull-only' } }).policyFor('__proto__').mode, 'local-only');
  });
});

describe('PolicyTable.with', () => {
  const base = new PolicyTable({ menu: { mode: 'pull-only' }, sales: { mode: 'push-only' } });

  it('returns a new table and leaves the old one as it was', () => {
    const next = base.with({ menu: { mode: 'both' }, drawer: { mode: 'local-only' } });
    assert.equal(next.policyFor('menu').mode, 'both');
    assert.equal(next.policyFor('drawer').mode, 'local-only');
    assert.equal(next.policyFor('sales').mode, 'push-only');
    assert.equal(base.policyFor('menu').mode, 'pull-only');
    assert.equal(base.policyFor('drawer').mode, 'both');
  });

  it('changes only the fields given', () => {
    const next = base.with({ menu: { conflict: 'field' } });
    assert.deepEqual(next.policyFor('menu'), { mode: 'pull-only', conflict: 'field', engine: false });
    assert.deepEqual(base.with({ menu: { mode: undefined } }).policyFor('menu').mode, 'pull-only');
  });

  it('keeps the defaults and the engine-collection rule', () => {
    const t = new PolicyTable({}, { mode: 'push-only', conflict: 'field' }).with({ a: { mode: 'both' } });
    assert.deepEqual(t.policyFor('b'), { mode: 'push-only', conflict: 'field', engine: false });
    assert.throws(() => t.with({ 'system.users': { mode: 'both' } }), PolicyError);
  });

  it('is the same as building the merged table directly', () => {
    const entry = fc.record(
      {
        mode: fc.option(fc.constantFrom(...SYNC_MODES), { nil: undefined }),
        conflict: fc.option(fc.constantFrom('document' as const, 'field' as const), { nil: undefined }),
      },
      { noNullPrototype: true },
    );
    const policies = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), entry, { noNullPrototype: true });
    fc.assert(
      fc.property(policies, policies, fc.constantFrom('a', 'b', 'c', 'd', 'e'), (first, second, name) => {
        const layered = new PolicyTable(first).with(second).policyFor(name);
        assert.deepEqual(layered, {
          mode: second[name]?.mode ?? first[name]?.mode ?? 'both',
          conflict: second[name]?.conflict ?? first[name]?.conflict ?? 'document',
          engine: false,
        });
      }),
    );
  });
});
