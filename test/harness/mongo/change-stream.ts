/**
 * Change streams over the oplog: scope, start point, event shapes,
 * pre/post images, invalidation and post-batch resume tokens.
 * See shared/reference §2 and §3.
 */
import { createHash } from 'node:crypto';
import { Long, Timestamp, calculateObjectSize, type Document } from 'bson';
import { Aggregator } from 'mingo';
import { fromTimestamp, toTimestamp } from './cluster-time.ts';
import { CommandError } from './errors.ts';
import { fitsInBatch, sizedEvent, splitStageIn, type Sized } from './change-stream-size.ts';
import { isAfter, type ChangeEntry, type StreamPosition } from './oplog.ts';
import { decodeToken, eventToken, highWaterMarkToken } from './resume-token.ts';
import type { ServerState } from './state.ts';
import { compileFilter } from './query.ts';
import { isPlainObject, valueKey } from './values.ts';

const EXPANDED = new Set(['create', 'createIndexes', 'dropIndexes', 'modify']);
/** uid of an unauthenticated session: SHA-256 of the empty user name. */
const EMPTY_UID = createHash('sha256').update('').digest();
const FULL_DOCUMENT = ['default', 'updateLookup', 'whenAvailable', 'required'];
const BEFORE_CHANGE = ['off', 'whenAvailable', 'required'];
const MAX_POSITION_INDEX = Number.MAX_SAFE_INTEGER;

export interface StreamScope {
  db?: string;
  coll?: string;
}

interface PendingEvent extends Sized {
  /** The oplog entry it came from. */
  at: StreamPosition;
}

export interface ChangeBatch {
  events: Document[];
  postBatchResumeToken: { _data: string };
  /** The stream ended (invalidate returned); the cursor closes. */
  closed: boolean;
}

export class ChangeStream {
  readonly scope: StreamScope;
  position: StreamPosition;
  readonly fullDocument: string;
  readonly beforeChange: string;
  readonly expanded: boolean;
  readonly stages: Document[];
  /** The pipeline ends with $changeStreamSplitLargeEvent. */
  readonly split: boolean;
  closed = false;
  readonly #state: ServerState;
  /** Scanned but not yet returned (a batch was full): whole events or fragments, in order. */
  readonly #pending: PendingEvent[] = [];
  /** The invalidate event has been returned: the cursor closes. */
  #ended = false;
  /** Fragments of the first event to skip: the stream resumed from a fragment token. */
  #skipFragments = 0;
  /** A pipeline of `$match` stages only, compiled once: mingo's Aggregator costs more per event than the match. */
  readonly #matches: Array<(doc: Document) => boolean> | undefined;

  /** Validates `$changeStream` options and finds the start point; throws the server's errors. */
  constructor(state: ServerState, scope: StreamScope, spec: Document, stages: Document[]) {
    this.#state = state;
    this.scope = scope;
    this.split = splitStageIn(stages);
    this.stages = this.split ? stages.slice(0, -1) : stages;
    this.fullDocument = (spec.fullDocument as string | undefined) ?? 'default';
    this.beforeChange = (spec.fullDocumentBeforeChange as string | undefined) ?? 'off';
    this.expanded = spec.showExpandedEvents === true;
    if (!FULL_DOCUMENT.includes(this.fullDocument)) {
      throw new CommandError(2, `unknown fullDocument mode "${this.fullDocument}"; expected one of ${FULL_DOCUMENT.join(', ')}`);
    }
    if (!BEFORE_CHANGE.includes(this.beforeChange)) {
      throw new CommandError(
        2,
        `unknown fullDocumentBeforeChange mode "${this.beforeChange}"; expected one of ${BEFORE_CHANGE.join(', ')}`,
      );
    }
    for (const stage of this.stages) {
      const name = Object.keys(stage)[0];
      if (!['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact'].includes(name ?? '')) {
        throw new CommandError(
          name === '$changeStream' ? 40602 : 40324,
          name === '$changeStream'
            ? '$changeStream is only valid as the first stage in a pipeline'
            : `Unrecognized pipeline stage name: '${name}'`,
        );
      }
    }
    const onlyMatches = this.stages.every((stage) => Object.keys(stage).length === 1 && isPlainObject(stage.$match));
    this.#matches = onlyMatches ? this.stages.map((stage) => compileFilter(stage.$match as Document)) : undefined;
    this.position = this.startPosition(spec);
  }

  private startPosition(spec: Document): StreamPosition {
    const oplog = this.#state.oplog;
    if (spec.resumeAfter !== undefined && spec.startAfter !== undefined) {
      throw new CommandError(50865, 'Do not specify both startAfter and resumeAfter in a $changeStream stage');
    }
    const tokenSpec = spec.resumeAfter ?? spec.startAfter;
    if (tokenSpec !== undefined && spec.startAtOperationTime !== undefined) {
      throw new CommandError(40674, 'Only one type of resume option is allowed, but multiple were found.');
    }
    if (tokenSpec !== undefined) {
      const token = decodeToken(tokenSpec);
      if (token.fromInvalidate && spec.resumeAfter !== undefined) {
        throw new CommandError(
          260,
          "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
        );
      }
      const pos: StreamPosition = token.hwm ? { ts: token.ts, opIndex: -1 } : { ts: token.ts, opIndex: token.txnOpIndex };
      if (oplog.lostHistory(pos)) throw historyLost();
      if (!token.hwm && !oplog.find(token.ts, token.txnOpIndex)) {
        const first = oplog.first();
        if (!first || token.ts < first.ts) throw historyLost();
        throw notFound();
      }
      if (token.fragmentNum !== undefined) {
        // A fragment's token: the event is split again and the fragments up to this one are skipped.
        if (!this.split) throw notFound();
        this.#skipFragments = token.fragmentNum + 1;
        return { ts: token.ts, opIndex: token.txnOpIndex - 1 };
      }
      return pos;
    }
    if (spec.startAtOperationTime !== undefined) {
      const at = spec.startAtOperationTime;
      if (!(at instanceof Timestamp)) throw new CommandError(14, 'startAtOperationTime must be a Timestamp');
      const pos = { ts: fromTimestamp(at), opIndex: -1 };
      if (oplog.lostHistory(pos)) throw historyLost();
      return pos;
    }
    return { ts: this.#state.clock.last, opIndex: MAX_POSITION_INDEX };
  }

  private inScope(e: ChangeEntry): boolean {
    const { db, coll } = this.scope;
    if (db === undefined) return !['admin', 'config', 'local'].includes(e.db);
    if (e.db !== db) return false;
    if (coll === undefined) return true;
    // A rename onto this collection (dropTarget) ends it too.
    return e.coll === coll || (e.op === 'rename' && e.to?.db === db && e.to.coll === coll);
  }

  /** Whether this entry ends the stream after it is returned. */
  private invalidates(e: ChangeEntry): boolean {
    if (this.scope.db === undefined) return false;
    if (this.scope.coll === undefined) return e.op === 'dropDatabase';
    return e.op === 'drop' || e.op === 'rename';
  }

  /** Events after the current position, up to `max` and about 16 MB; never waits. */
  nextBatch(max: number): ChangeBatch {
    const oplog = this.#state.oplog;
    if (oplog.lostHistory(this.position)) throw historyLost();
    const events: Document[] = [];
    let bytes = 0;
    let full = false;
    /** Where the last returned event was in the oplog. */
    let lastReturned: StreamPosition | undefined;
    const drain = (): void => {
      while (this.#pending.length > 0 && events.length < max) {
        const next = this.#pending[0] as PendingEvent;
        if (!fitsInBatch(bytes, next.size, events.length)) {
          full = true;
          return;
        }
        this.#pending.shift();
        events.push(next.doc);
        bytes += next.size;
        lastReturned = next.at;
        if (next.doc.operationType === 'invalidate') this.#ended = true;
      }
    };
    drain();
    let index = oplog.indexAfter(this.position);
    while (index < oplog.endIndex && events.length < max && !full && !this.closed) {
      const e = oplog.at(index) as ChangeEntry;
      index += 1;
      const at = { ts: e.ts, opIndex: e.opIndex };
      this.position = at;
      if (!this.inScope(e)) continue;
      const event = this.toEvent(e);
      const shown = event && this.applyStages(event);
      if (shown) for (const sized of sizedEvent(shown, this.split, this.#skipFragments)) this.#pending.push({ ...sized, at });
      this.#skipFragments = 0;
      if (this.invalidates(e)) {
        const invalidate = {
          _id: eventToken(e.ts, e.opIndex, e.uuid, true),
          operationType: 'invalidate',
          clusterTime: toTimestamp(e.ts),
          wallTime: e.wall,
        };
        this.#pending.push({ doc: invalidate, size: calculateObjectSize(invalidate), at });
        this.closed = true;
      }
      drain();
    }
    const last = events[events.length - 1];
    // The token moves past the last event only when nothing scanned is still waiting to be returned.
    const scannedPastLast = this.#pending.length === 0 && (lastReturned === undefined || isAfter(this.position, lastReturned));
    const pbrt = last && !scannedPastLast ? (last._id as { _data: string }) : highWaterMarkToken(this.highWaterMark());
    return { events, postBatchResumeToken: pbrt, closed: this.#ended };
  }

  private highWaterMark(): bigint {
    // Everything up to the newest cluster time has been scanned: resume at the next tick.
    const newest = this.#state.clock.last > this.position.ts ? this.#state.clock.last : this.position.ts;
    return newest + 1n;
  }

  private applyStages(event: Document): Document | undefined {
    if (this.stages.length === 0) return event;
    if (this.#matches) return this.#matches.every((test) => test(event)) ? event : undefined;
    const [out] = new Aggregator(this.stages).run([event]) as Document[];
    if (!out) return undefined;
    if (out._id === undefined || valueKey(out._id) !== valueKey(event._id)) {
      throw new CommandError(
        280,
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.',
        { labels: ['NonResumableChangeStreamError'] },
      );
    }
    return out;
  }

  private toEvent(e: ChangeEntry): Document | undefined {
    if (EXPANDED.has(e.op) && !this.expanded) return undefined;
    const ev: Document = {};
    if (e.txnNumber !== undefined && e.lsid) {
      ev.txnNumber = Long.fromNumber(e.txnNumber);
      ev.lsid = { id: e.lsid.id, uid: EMPTY_UID };
    }
    ev._id = eventToken(e.ts, e.opIndex, e.uuid);
    ev.operationType = e.op;
    ev.clusterTime = toTimestamp(e.ts);
    if (this.expanded && e.uuid) ev.collectionUUID = e.uuid;
    ev.wallTime = e.wall;
    const ns = e.coll === undefined ? { db: e.db } : { db: e.db, coll: e.coll };
    switch (e.op) {
      case 'insert':
      case 'replace':
        ev.fullDocument = e.doc;
        ev.ns = ns;
        ev.documentKey = { _id: e.id };
        break;
      case 'update': {
        const full = this.postImage(e);
        if (full !== undefined) ev.fullDocument = full;
        ev.ns = ns;
        ev.documentKey = { _id: e.id };
        ev.updateDescription = this.updateDescription(e.updateDescription);
        break;
      }
      case 'delete':
        ev.ns = ns;
        ev.documentKey = { _id: e.id };
        break;
      case 'rename':
        ev.ns = ns;
        ev.to = e.to;
        if (this.expanded) ev.operationDescription = e.spec?.dropTarget ? { to: e.to, dropTarget: e.spec.dropTarget } : { to: e.to };
        break;
      case 'create':
        ev.ns = ns;
        // A view's create says what it is on; a collection's, its _id index and options.
        ev.operationDescription =
          typeof e.spec?.viewOn === 'string'
            ? { viewOn: e.spec.viewOn, pipeline: e.spec.pipeline }
            : { idIndex: { v: 2, key: { _id: 1 }, name: '_id_' }, ...(e.spec ?? {}) };
        break;
      case 'createIndexes':
      case 'dropIndexes':
        ev.ns = ns;
        ev.operationDescription = { indexes: e.spec?.indexes ?? (e.spec?.names as string[] | undefined)?.map((name) => ({ name })) };
        break;
      case 'modify':
        ev.ns = ns;
        // Journals written before the state was kept hold only the changed options.
        if (e.spec && 'before' in e.spec) {
          ev.operationDescription = e.spec.changes;
          ev.stateBeforeChange = { collectionOptions: e.spec.before };
        } else ev.operationDescription = e.spec ?? {};
        break;
      default:
        ev.ns = ns;
    }
    if (this.beforeChange !== 'off' && (e.op === 'update' || e.op === 'replace' || e.op === 'delete')) {
      if (e.images && e.pre) ev.fullDocumentBeforeChange = e.pre;
      else if (this.beforeChange === 'required') {
        throw new CommandError(
          47,
          `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not available for event: ${JSON.stringify(ev._id)}`,
        );
      } else ev.fullDocumentBeforeChange = null;
    }
    return ev;
  }

  /** The stored description as this stream shows it: disambiguatedPaths only with showExpandedEvents, and then always. */
  private updateDescription(stored: Document | undefined): Document | undefined {
    if (!stored) return stored;
    if (this.expanded) return stored.disambiguatedPaths ? stored : { ...stored, disambiguatedPaths: {} };
    if (!stored.disambiguatedPaths) return stored;
    const { disambiguatedPaths: _hidden, ...shown } = stored;
    return shown;
  }

  private postImage(e: ChangeEntry): Document | null | undefined {
    switch (this.fullDocument) {
      case 'updateLookup': {
        const coll = e.coll === undefined ? undefined : this.#state.catalog.get(e.db, e.coll);
        return coll?.docs.get(valueKey(e.id)) ?? null;
      }
      case 'whenAvailable':
        return e.images ? (e.doc ?? null) : null;
      case 'required':
        if (e.images && e.doc) return e.doc;
        throw new CommandError(
          47,
          `Change stream was configured to require a post-image for all update events, but the post-image was not available for event: ${JSON.stringify(eventToken(e.ts, e.opIndex, e.uuid))}`,
        );
      default:
        return undefined;
    }
  }
}

function notFound(): CommandError {
  return new CommandError(280, 'cannot resume stream; the resume token was not found.');
}

function historyLost(): CommandError {
  return new CommandError(286, 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.', {
    labels: ['NonResumableChangeStreamError'],
  });
}
