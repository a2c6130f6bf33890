/** Shared by the fleet and heartbeat tests: a log recorder and statuses as the engine makes them. */
import type { SyncState, SyncStatus } from '../../src-shared/status.ts';
import type { LogFields, Logger } from '../../src-main/sync/log.ts';
import { StatusTracker } from '../../src-main/sync/status-tracker.ts';

/** Collects structured log lines. */
export function recordingLogger(into: LogFields[]): Logger {
  const logger: Logger = {
    debug: (f) => void into.push(f),
    info: (f) => void into.push(f),
    warn: (f) => void into.push(f),
    error: (f) => void into.push(f),
    child: () => logger,
  };
  return logger;
}

/** A status built by the engine's own tracker, in the given state, with changes on top. */
export function statusOf(deviceId: string, state: SyncState, changes: Partial<SyncStatus> = {}): SyncStatus {
  const tracker = new StatusTracker(deviceId);
  tracker.caughtUp(true, Date.now());
  const base = tracker.snapshot(
    { enabled: state !== 'disabled', started: state !== 'starting', hubConnected: true, captureBusy: false },
    Date.now(),
  );
  return { ...base, state, ...changes };
}
