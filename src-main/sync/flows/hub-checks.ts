/**
 * What the pull asks the hub about a few documents, outside its stream, and
 * the stamps it writes there:
 *
 * - `hubRepairs`: the hub's state of documents now, for a till that holds a
 *   version the hub may no longer hold (`hubMovedOn`), or knows nothing of
 *   them (`hubStateNow`);
 * - `deletesStillCurrent`: head office's deletes, each checked against the
 *   hub now (`deleteStillCurrent`);
 * - `Stamper`: versions of HQ's unversioned changes written onto the hub,
 *   beside the pull.
 */
import { deleteStillCurrent, hubMovedOn, hubStateNow } from '../core/till-apply.ts';
import type { DocumentId, HubOp } from '../core/types.ts';
import { bsonCodec, idKey } from '../documents.ts';
import { groupBy } from '../group-by.ts';
import type { Hub } from '../hub/hub.ts';
import type { Logger } from '../log.ts';
import type { TillStore } from '../till/store.ts';

/** Stamp transactions on their way at once: over a slow link a stamp takes three round trips, and nothing the pull does next waits for it. */
const STAMPS_IN_FLIGHT = 2;

/**
 * The hub's state of these documents as changes for this till to take (none for those it already holds).
 *
 * The till is read first, the hub after: what this till pushed and settled while the hub was read is
 * then on the hub too. Read the other way round, a push landing in between would make the hub's older
 * state look newer than the version this till just settled, and the till would take it back.
 */
export async function hubRepairs(store: TillStore, hub: Hub, docs: ReadonlyArray<{ c: string; id: DocumentId }>): Promise<HubOp[]> {
  const repairs: HubOp[] = [];
  for (const [c, group] of groupBy(docs, (d) => d.c)) {
    const ids = group.map((d) => d.id);
    const locals = await store.documents(c, ids);
    const known = await store.known(c, ids);
    const onHub = await hub.state(c, ids);
    for (const id of ids) {
      const key = idKey(id);
      const k = known.get(key);
      const hubSide = { doc: onHub.docs.get(key) ?? null, tombstone: onHub.tombstones.get(key) ?? null };
      const op = k
        ? hubMovedOn(c, id, hubSide, { local: locals.get(key) ?? null, known: k }, Date.now(), bsonCodec)
        : hubStateNow(c, id, hubSide, Date.now(), bsonCodec);
      if (op) repairs.push(op);
    }
  }
  return repairs;
}

/** Head office's deletes among `ops`, each checked against the hub now; the other changes as they are. */
export async function deletesStillCurrent(hub: Hub, ops: HubOp[]): Promise<HubOp[]> {
  const unrecorded = ops.filter((op) => op.unrecorded);
  if (unrecorded.length === 0) return ops;
  const now = new Map<HubOp, HubOp>();
  for (const [c, group] of groupBy(unrecorded, (op) => op.c)) {
    const { docs } = await hub.state(
      c,
      group.map((op) => op.id),
    );
    for (const op of group) now.set(op, deleteStillCurrent(op, { doc: docs.get(idKey(op.id)) ?? null }, Date.now(), bsonCodec));
  }
  return ops.map((op) => now.get(op) ?? op);
}

/**
 * Writes HQ's unversioned changes' versions onto the hub, beside the pull (it waits only when
 * STAMPS_IN_FLIGHT are on their way already). Each stamp lands only over the version its document was
 * read with, or an older one for the same content (see `Hub.stamp`): a push landing meanwhile keeps
 * its version, and their order does not matter; a failure only means the next reader derives the
 * versions again.
 */
export class Stamper {
  readonly #device: string;
  readonly #log: Logger;
  readonly #stamping = new Set<Promise<void>>();

  constructor(device: string, log: Logger) {
    this.#device = device;
    this.#log = log;
  }

  async stamp(hub: Hub, ops: HubOp[]): Promise<void> {
    if (ops.length === 0) return;
    while (this.#stamping.size >= STAMPS_IN_FLIGHT) await Promise.race(this.#stamping);
    const stamping: Promise<void> = hub
      .stamp(this.#device, ops)
      .catch((err: unknown) => {
        this.#log.debug({ event: 'pull.stamp-skipped', error: String(err) }, 'could not stamp hub versions; will use the event time');
      })
      .finally(() => this.#stamping.delete(stamping));
    this.#stamping.add(stamping);
  }

  /** Resolves once every stamp on its way has landed or failed. */
  async settled(): Promise<void> {
    await Promise.all(this.#stamping);
  }
}
