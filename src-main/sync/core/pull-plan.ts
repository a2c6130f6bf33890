/**
 * What the pull makes of a batch of hub changes: at most one operation per
 * document (the newest), each with its version, and what cannot be applied,
 * set aside with its reason.
 *
 * - This till's own pushes and stamps (its push marker first in their
 *   transaction, or its own session) are skipped; another till's push marker
 *   only marks the transaction as an engine's.
 * - A pushed delete takes its version from the tombstone written in the same
 *   transaction (read from the whole batch first: it comes after the delete).
 * - A write made on the hub by a client that knows nothing of sync (no
 *   `_sync`, or one whose hash no longer matches) takes a version from its
 *   event, and is marked to be stamped with it.
 * - Versions further ahead of this till's clock than the drift limit are
 *   refused (set aside, and compared again once the clocks agree): one till
 *   with a wrong clock must not win every later conflict.
 */
import type { HubChange } from './change.ts';
import { decodeVersion, encodeVersion, type HybridClock, type Version } from './hlc.ts';
import { derivedVersion, readSyncMeta, withoutSync } from './hub-versions.ts';
import { SYNC_FIELD } from './names.ts';
import type { PolicyTable } from './policy.ts';
import type { TxnMemory } from './txn-memory.ts';
import type { MessageParams, QuarantineReasonCode } from '../../../src-shared/status.ts';
import type { Codec, Document, DocumentId, HubOp, HubVersion, QuarantineDraft } from './types.ts';

import { MAX_DOCUMENT_BYTES } from './refusals.ts';

export type PullTxnKind = 'own' | 'engine';

export interface PullContext {
  /** Transactions recognised so far: a copy, adopted once the batch committed. */
  groups: TxnMemory<PullTxnKind>;
  device: string;
  policies: PolicyTable;
  /** A tentative clock (a fork) that absorbs every accepted version. */
  clock: HybridClock;
  codec: Codec;
  now: Date;
}

export interface PullPlan {
  ops: HubOp[];
  quarantined: QuarantineDraft[];
  /** The stream ended: reopen after this batch. */
  invalidated: boolean;
}

export function planPull(changes: readonly HubChange[], ctx: PullContext): PullPlan {
  const { groups, codec } = ctx;
  const ops = new Map<string, HubOp>();
  const quarantined: QuarantineDraft[] = [];
  const keyOf = (c: string, id: DocumentId): string => `${c}\u0000${codec.idKey(id)}`;
  const tombstones = new Map<string, HubVersion>();
  for (const ch of changes) if (ch.kind === 'tombstone' && ch.target) tombstones.set(keyOf(ch.target.c, ch.target.id), ch.target);
  let invalidated = false;
  for (const ch of changes) {
    if (ch.kind === 'push-marker') {
      if (ch.txn) groups.remember(ch.txn, ch.device === ctx.device ? 'own' : 'engine');
      continue;
    }
    if (ch.kind === 'own') {
      groups.remember(ch.txn, 'own');
      continue;
    }
    if (groups.kindOf(ch.txn) === 'own') continue;
    if (ch.kind === 'invalidate') {
      invalidated = true;
      break;
    }
    if (ch.kind === 'unknown') {
      quarantined.push(
        quarantine(
          ch.c,
          ch.id,
          `unknown change type "${ch.op}" (expected insert, update, replace or delete)`,
          ch.raw,
          'unknown-change-type',
          {
            operation: ch.op,
          },
        ),
      );
      continue;
    }
    if (ch.kind !== 'data' || !ctx.policies.shouldPull(ch.c)) continue;
    const { c, id } = ch;
    const wall = ch.wall ?? ctx.now;
    const key = keyOf(c, id);
    if (ch.op === 'delete') {
      const tomb = tombstones.get(key);
      const version = tomb ? decodeOrNull(tomb.v) : derivedVersion(wall.getTime(), ch.clusterIncrement);
      if (!version) {
        quarantined.push(
          quarantine(c, id, `tombstone version "${tomb?.v}" is malformed`, ch.raw, 'malformed-tombstone-version', {
            version: String(tomb?.v),
          }),
        );
        continue;
      }
      const refused = refusal(ctx.clock, version);
      if (refused) {
        quarantined.push({ ...quarantine(c, id, refused.reason, ch.raw, 'clock-drift', refused.params), kind: 'clock-drift' });
        continue;
      }
      ops.set(key, {
        c,
        id,
        op: 'delete',
        v: encodeVersion(version),
        o: tomb?.o ?? 'hub',
        h: null,
        wall,
        stamp: false,
        ...(tomb ? {} : { unrecorded: true as const }),
      });
      continue;
    }
    const full = ch.full;
    if (!full) continue; // deleted since; its delete event follows
    const meta = readSyncMeta(full);
    if (meta && 'malformed' in meta) {
      quarantined.push(
        quarantine(c, id, `sync metadata is malformed: ${meta.malformed}`, ch.raw, 'malformed-sync-metadata', { detail: meta.malformed }),
      );
      continue;
    }
    const content = withoutSync(full);
    const h = codec.hash(content);
    const stamped = meta !== undefined && meta.h === h;
    const version = stamped ? decodeOrNull(meta.v) : derivedVersion(wall.getTime(), ch.clusterIncrement);
    if (!version) {
      quarantined.push(
        quarantine(c, id, `version "${String(meta?.v)}" in ${SYNC_FIELD}.v is malformed`, ch.raw, 'malformed-version', {
          version: String(meta?.v),
        }),
      );
      continue;
    }
    if (codec.size(content) > MAX_DOCUMENT_BYTES) {
      quarantined.push(quarantine(c, id, 'document is over the 16 MB limit', null, 'document-too-large', {}));
      continue;
    }
    const refused = refusal(ctx.clock, version);
    if (refused) {
      quarantined.push({ ...quarantine(c, id, refused.reason, ch.raw, 'clock-drift', refused.params), kind: 'clock-drift' });
      continue;
    }
    ops.set(key, {
      c,
      id,
      op: 'upsert',
      doc: content,
      v: encodeVersion(version),
      o: stamped ? meta.o : 'hub',
      h,
      wall,
      stamp: stamped ? false : { over: meta?.v ?? null },
    });
  }
  return { ops: [...ops.values()], quarantined, invalidated };
}

/** Merges a pulled version into the clock; why, when it is refused (too far in the future). */
export function refusal(clock: HybridClock, version: Version): { reason: string; params: MessageParams } | undefined {
  const result = clock.receive(version);
  if (result.ok) return undefined;
  const minutes = Math.round(result.aheadMs / 60_000);
  return {
    reason: `version from device "${version.device}" is ${minutes} minute(s) ahead of this till's clock; refused until the clocks agree`,
    params: { device: version.device, aheadMs: result.aheadMs },
  };
}

function decodeOrNull(v: string): Version | null {
  try {
    return decodeVersion(v);
  } catch {
    return null;
  }
}

function quarantine(
  collection: string,
  documentId: DocumentId,
  reason: string,
  change: Document | null,
  reasonCode: QuarantineReasonCode,
  reasonParams: MessageParams,
): QuarantineDraft {
  return { collection, documentId: documentId ?? null, side: 'local', reason, change, reasonCode, reasonParams };
}
