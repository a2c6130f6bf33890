/**
 * The guarantees, checked on the healed model — the same ones the chaos soak
 * checks on real servers (test/soak/checks.ts):
 * converged; single-writer documents exactly as their writer left them;
 * every acknowledged till write reached the hub, or is a conflict loser on
 * its till, or was superseded by a later write of the same till; final
 * content is some real write; hub versions only move forward; no echoes; a
 * till's changes of a document arrive in order (it never loses to itself).
 */
import { withoutSync } from '../../src-main/sync/core/hub-versions.ts';
import type { Document } from '../../src-main/sync/core/types.ts';
import { fieldFor, keyOf, type World } from './world.ts';

export interface Write {
  w: string;
  writer: string;
  c: string;
  id: string;
  kind: 'put' | 'update' | 'delete';
  step: number;
  /** The writer's document right after the write (null: deleted). */
  after: Document | null;
  /** The hub held the document when the write was made. */
  onHub: boolean;
  /** Where the write's change event sits in its till's log. */
  pos?: number;
  /**
   * The till lost its change history before capture read this write: nothing
   * can say it happened, only the till's state afterwards is compared (the
   * single-writer and convergence checks still hold it to that).
   */
  historyLost?: boolean;
}

const SYNCED = ['menu', 'orders', 'recipes', 'notes', 'prices'];

function docsOf(map: Map<string, Document>, c: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, doc] of map) if (key.startsWith(`${c}\u0000`)) out.set(key, JSON.stringify(withoutSync(doc)));
  return out;
}

export function checkGuarantees(world: World, journal: readonly Write[]): string[] {
  const violations: string[] = [];
  const hub = world.hub;
  for (const till of world.tills) {
    if (till.outbox.size > 0) violations.push(`${till.name}: ${till.outbox.size} changes still in the outbox after healing`);
    for (const c of SYNCED) {
      const mine = docsOf(till.docs, c);
      const theirs = docsOf(hub.docs, c);
      for (const key of new Set([...mine.keys(), ...theirs.keys()])) {
        if (mine.get(key) !== theirs.get(key))
          violations.push(
            `not converged: ${till.name} ${key.replace('\u0000', ' ')} is ${mine.get(key) ?? 'absent'}, hub ${theirs.get(key) ?? 'absent'}`,
          );
      }
    }
  }
  if ([...hub.docs.keys()].some((k) => k.startsWith('drawer\u0000'))) violations.push('a local-only collection reached the hub');

  // Single writer: each till's orders, HQ's notes and prices.
  const last = new Map<string, Write>();
  for (const w of journal) if (['orders', 'notes', 'prices'].includes(w.c)) last.set(keyOf(w.c, w.id), w);
  for (const [key, w] of last) {
    const actual = hub.docs.get(key);
    const got = actual ? JSON.stringify(withoutSync(actual)) : 'absent';
    const want = w.after ? JSON.stringify(w.after) : 'absent';
    if (got !== want)
      violations.push(`nothing lost: ${w.c} ${w.id} on the hub is ${got}; its only writer ${w.writer} last left ${want} (write ${w.w})`);
  }

  // Shared documents: every till write accounted for.
  for (const w of journal) {
    if (w.writer === 'hq' || w.historyLost || (w.c !== 'menu' && w.c !== 'recipes')) continue;
    const till = world.tills.find((t) => t.name === w.writer)!;
    const carries = (doc: Document | null | undefined): boolean =>
      !!doc && (w.c === 'menu' ? doc.w === w.w : Object.values(doc).includes(w.w));
    const arrived =
      w.kind === 'delete'
        ? world.arrivals.some((a) => a.device === w.writer && a.kind === 'tombstone' && a.c === w.c && a.id === w.id && a.step >= w.step)
        : world.arrivals.some((a) => a.device === w.writer && a.kind === 'put' && a.c === w.c && a.id === w.id && carries(a.doc));
    const loser = till.conflicts.some(
      (r) => r.collection === w.c && r.documentId === w.id && (w.kind === 'delete' ? r.local.document === null : carries(r.local.document)),
    );
    const superseded = journal.some(
      (o) =>
        o.writer === w.writer &&
        o.c === w.c &&
        o.id === w.id &&
        o.step > w.step &&
        (w.c === 'menu' || o.kind !== 'update' || w.kind !== 'update' || fieldFor(o.w) === fieldFor(w.w)),
    );
    // A delete of a document the hub did not hold, which this till never pushed either, had nothing to send.
    const neverOnHub =
      w.kind === 'delete' &&
      !w.onHub &&
      !world.arrivals.some((a) => a.device === w.writer && a.kind === 'put' && a.c === w.c && a.id === w.id);
    if (!arrived && !loser && !superseded && !neverOnHub) {
      violations.push(
        `every write reaches the hub or loses a recorded conflict: ${w.writer} ${w.kind} ${w.c} ${w.id} (write ${w.w}, step ${w.step})`,
      );
    }
  }

  // Final content is a real write; nothing from nowhere; no echoes.
  const byW = new Map(journal.map((w) => [w.w, w]));
  for (const [key, doc] of hub.docs) {
    const w = doc.w as string | undefined;
    const made = w ? byW.get(w) : undefined;
    if (!made || keyOf(made.c, made.id) !== key)
      violations.push(`final content is a real write: ${key.replace('\u0000', ' ')} carries ${String(w)}`);
  }
  for (const a of world.arrivals) {
    if (a.kind !== 'put' || a.c !== 'menu') continue;
    const made = byW.get(a.doc?.w as string);
    if (made && made.writer !== a.device)
      violations.push(`no echoes: ${a.device} pushed ${a.c} ${a.id} carrying ${made.w}, written by ${made.writer}`);
  }
  // A write overwritten by a concurrent one (its pusher had not seen it) is in the pusher's conflict log.
  for (const a of world.arrivals) {
    if (a.c !== 'menu' || a.kind === 'stamp' || a.over === undefined || a.overBy === a.device || a.base === a.over) continue;
    const till = world.tills.find((t) => t.name === a.device)!;
    if (!till.conflicts.some((r) => r.collection === a.c && r.documentId === a.id && r.hub.version === a.over)) {
      violations.push(
        `concurrent edits are logged: ${a.device} overwrote ${a.c} ${a.id} at ${a.over} (by ${a.overBy}) with ${a.v} from base ${String(a.base)}, and no conflict names it`,
      );
    }
  }
  // A till's changes of one document reach the hub in the order it made them: its log never has
  // one of them lose to its own later one, nor to a delete the hub never saw.
  for (const till of world.tills) {
    for (const r of till.conflicts) {
      const doc = `${r.collection} ${String(r.documentId)}`;
      if (r.winner === 'hub' && r.hub.origin === till.name)
        violations.push(
          `a till's changes arrive in order: ${till.name} logged ${doc} ${r.local.version} losing to its own ${r.hub.version}`,
        );
      const deletedOnHub =
        world.arrivals.some((a) => a.kind === 'tombstone' && a.c === r.collection && a.id === String(r.documentId)) ||
        journal.some((w) => w.writer === 'hq' && w.kind === 'delete' && w.c === r.collection && w.id === String(r.documentId));
      if (r.rule === 'deleted-beyond-retention' && !deletedOnHub)
        violations.push(
          `a till's changes arrive in order: ${till.name} logged ${doc} as deleted at the hub long ago, and the hub never deleted it`,
        );
    }
  }
  violations.push(...world.regressions.map((r) => `hub versions only move forward: ${r}`));
  return violations;
}
