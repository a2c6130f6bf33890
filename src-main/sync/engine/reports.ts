/**
 * What the parts report, turned into the status, the log and the engine's
 * events: problems (by side and part), conflicts, changes set aside, and the
 * clock-drift warning that lasts until a reconciliation finds no version too
 * far ahead any more.
 */
import type { SyncErrorInfo } from '../../../src-shared/status.ts';
import { describeError, isUnreachable, SyncError } from '../errors.ts';
import type { ReconcileSummary } from '../flows/reconcile.ts';
import type { Logger } from '../log.ts';
import type { HubPart, StatusTracker } from '../status-tracker.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';
import { setAsideSummary } from './status-reads.ts';

export interface ReportSink {
  tracker(): StatusTracker | undefined;
  log: Logger;
  syncError(info: SyncErrorInfo): void;
  conflict(record: ConflictRecord): void;
  quarantine(record: QuarantineRecord): void;
}

export class Reports {
  readonly #s: ReportSink;
  /** Since when the till's database has not answered (unset once it does). */
  localFailingSince: number | undefined;
  /** Since when hub versions too far ahead of this till's clock wait to be compared again. */
  aheadSince: number | undefined;

  constructor(sink: ReportSink) {
    this.#s = sink;
  }

  /**
   * Records a problem; `blocking` names the part that cannot go on until it
   * clears (state 'error'); `part` which hub-facing part met it.
   */
  error(err: unknown, side: 'hub' | 'local', blocking?: string, part?: HubPart): void {
    const info = (err instanceof SyncError ? err : describeError(err, side)).toInfo();
    const tracker = this.#s.tracker();
    if (side === 'local' && isUnreachable(err)) this.localFailingSince ??= Date.now();
    if (side === 'hub' && part && isUnreachable(err)) tracker?.unreachable(part, info, Date.now());
    else if (blocking) tracker?.fatal(blocking, info);
    else tracker?.failed(info);
    this.#s.log.warn({ event: 'engine.error', side, reason: info.reason, error: String(err) }, info.message);
    this.#s.syncError(info);
  }

  /** The till's database answered. */
  localAnswered(): void {
    this.#s.tracker()?.fatal('local', null);
    this.localFailingSince = undefined;
  }

  conflicts(records: ConflictRecord[]): void {
    const tracker = this.#s.tracker();
    if (tracker && records.length > 0) {
      // Counted as they come, so the status tick reads nothing; the history's reach starts at the first.
      tracker.conflictsRecorded(records.length);
      const reach = tracker.historyReach;
      if (reach && reach.conflictsSince === null)
        tracker.history({ ...reach, conflictsSince: Math.min(...records.map((c) => c.at.getTime())) });
    }
    for (const c of records) {
      this.#s.log.info({ event: 'engine.conflict', collection: c.collection, winner: c.winner, rule: c.rule }, 'conflict resolved');
      this.#s.conflict(c);
    }
  }

  quarantined(records: QuarantineRecord[]): void {
    const first = records.find((r) => r.kind === 'clock-drift');
    if (first) {
      this.aheadSince ??= Date.now();
      this.#s
        .tracker()
        ?.warn(
          'clock-drift',
          `Some changes from another till or head office carry a time ahead of this till's clock (${first.reason}). ` +
            'They are kept and will be applied once the clocks agree. Check the date and time on the tills.',
          {
            code: 'clock-drift',
            params: { device: String(first.reasonParams?.device ?? '?'), aheadMs: Number(first.reasonParams?.aheadMs ?? 0) },
          },
        );
    }
    if (records.length > 0) this.#s.tracker()?.quarantineRecorded(records.map(setAsideSummary));
    for (const r of records) {
      this.#s.log.warn(
        { event: 'engine.quarantined', collection: r.collection, reason: r.reason },
        'a change could not be applied and was set aside',
      );
      this.#s.quarantine(r);
    }
  }

  reconciled({ aheadRefused }: ReconcileSummary): void {
    if (aheadRefused > 0 || this.aheadSince === undefined) return;
    this.aheadSince = undefined;
    this.#s.tracker()?.warn('clock-drift', null);
    this.#s.log.info({ event: 'engine.clock-drift-cleared' }, 'changes set aside for clock drift are applied');
  }
}
