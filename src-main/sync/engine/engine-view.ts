/**
 * What the engine's helpers (housekeeping, the rebuild, the status tick) read
 * of the engine: its configuration, log and reports, and — as they are when
 * asked — the running parts, the status tracker and whether it is stopping.
 * The engine builds it once and hands it to each.
 */
import type { SyncConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { StatusTracker } from '../status-tracker.ts';
import type { Parts } from './parts.ts';
import type { Reports } from './reports.ts';

export interface EngineView {
  config: SyncConfig;
  log: Logger;
  reports: Reports;
  /** The running parts (none before the start, nor once a rebuild has closed them and until it opens new ones). */
  parts(): Parts | undefined;
  /** Made once the device id is known. */
  tracker(): StatusTracker | undefined;
  stopping(): boolean;
}
