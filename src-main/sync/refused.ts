/**
 * A write one side refused for one document for good (see core/refusals.ts),
 * told apart from the rest of its bulk write: which write failed, and why.
 */
import { refusal, refusesDocument, type RefusingSide } from './core/refusals.ts';
import type { QuarantineDraft } from './core/types.ts';
import type { DocumentId } from './core/types.ts';

/** One document's change was refused for good by `side`; the batch can go on without it. */
export class DocumentRefused extends Error {
  constructor(
    readonly side: RefusingSide,
    readonly c: string,
    readonly id: DocumentId,
    readonly code: number | undefined,
    readonly serverMessage: string,
  ) {
    super(`${side === 'hub' ? 'the hub' : 'the till'} refused ${c} ${String(id)}: ${serverMessage}`);
    this.name = 'DocumentRefused';
  }

  /** Why, in words and as data, for the set-aside record. */
  get reason(): Pick<QuarantineDraft, 'reason' | 'reasonCode' | 'reasonParams'> {
    return refusal(this.side, this.code, this.serverMessage);
  }
}

/** The write that failed in a bulk write, when one did: its index in the bulk, its code and message. */
export function failedWrite(err: unknown): { index: number; code: number | undefined; message: string } | undefined {
  const errors = (err as { writeErrors?: unknown } | null)?.writeErrors;
  const first = (Array.isArray(errors) ? errors[0] : errors) as
    { index?: unknown; code?: unknown; errmsg?: unknown; message?: unknown } | undefined;
  // Numbers may come as BSON Int32 objects: the engine reads raw BSON (promoteValues: false).
  const index = Number(first?.index);
  if (!first || !Number.isInteger(index)) return undefined;
  const code = first.code === undefined ? undefined : Number(first.code);
  return { index, code: Number.isInteger(code) ? code : undefined, message: String(first.errmsg ?? first.message ?? err) };
}

/** Rethrows a bulk write's failure as DocumentRefused when it refused one document for good. */
export function refusedOrRethrow(err: unknown, side: RefusingSide, c: string, idAt: (index: number) => DocumentId | undefined): never {
  const failed = failedWrite(err);
  if (failed && refusesDocument(failed.code)) {
    const id = idAt(failed.index);
    if (id !== undefined) throw new DocumentRefused(side, c, id, failed.code, failed.message);
  }
  throw err;
}
