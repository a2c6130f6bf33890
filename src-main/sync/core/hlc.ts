/**
 * Hybrid logical clock (HLC): the version every synced write carries.
 *
 * A version is (wall ms, counter, device). Wall time keeps versions close to
 * real time so "last writer wins" means what staff expect; the counter orders
 * events inside one millisecond and when a physical clock steps backwards; the
 * device id breaks the remaining ties so every replica picks the same winner.
 *
 * Pure: the physical clock is injected, nothing here does I/O.
 */

export interface Version {
  /** Epoch milliseconds (integer, 0..MAX_WALL). */
  wall: number;
  /** Orders events that share a wall value (integer, 0..MAX_COUNTER). */
  counter: number;
  /** The device that produced the version (see isValidDeviceId). */
  device: string;
}

/** The largest wall value 12 hex digits hold (year 10889). */
export const MAX_WALL = 0xffff_ffff_ffff;
/** The largest counter 4 hex digits hold; one more moves wall forward by 1 ms. */
export const MAX_COUNTER = 0xffff;
/** Five minutes: a remote version further ahead of our physical clock is refused. */
export const DEFAULT_MAX_DRIFT_MS = 5 * 60_000;

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const ENCODED = /^([0-9a-f]{12})\.([0-9a-f]{4})\.([A-Za-z0-9_-]{1,64})$/;
const EXPECTED_FORM = '12 lowercase hex digits, ".", 4 lowercase hex digits, ".", device id (1-64 of A-Z a-z 0-9 _ -)';

/** A version string or object that is not in the expected form. */
export class VersionFormatError extends Error {
  override readonly name = 'VersionFormatError';
  readonly reason = 'version-format' as const;

  constructor(
    /** The bad input, as JSON. */
    readonly input: string,
    detail: string,
  ) {
    super(`Invalid version ${input}: ${detail}`);
  }
}

/** Device ids go into encoded versions and collection metadata, so they are kept to a safe alphabet. */
export function isValidDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID.test(id);
}

/** Throws VersionFormatError unless `v` is a well-formed Version. */
export function assertVersion(v: Version): void {
  const problem = versionProblem(v);
  if (problem !== null) throw new VersionFormatError(safeJson(v), problem);
}

function versionProblem(v: Version): string | null {
  if (typeof v !== 'object' || v === null) return 'expected an object { wall, counter, device }';
  if (!Number.isInteger(v.wall) || v.wall < 0 || v.wall > MAX_WALL) {
    return `wall must be an integer from 0 to ${MAX_WALL}`;
  }
  if (!Number.isInteger(v.counter) || v.counter < 0 || v.counter > MAX_COUNTER) {
    return `counter must be an integer from 0 to ${MAX_COUNTER}`;
  }
  if (!isValidDeviceId(v.device)) return 'device must be 1-64 characters of A-Z a-z 0-9 _ -';
  return null;
}

/**
 * Fixed-width encoding whose plain string order equals version order, so the
 * hub can compare versions with an ordinary `$lt` / `$gt` on a string field.
 */
export function encodeVersion(v: Version): string {
  assertVersion(v);
  return `${v.wall.toString(16).padStart(12, '0')}.${v.counter.toString(16).padStart(4, '0')}.${v.device}`;
}

/** Inverse of encodeVersion; throws VersionFormatError naming the bad input and the expected form. */
export function decodeVersion(s: string): Version {
  const match = typeof s === 'string' ? ENCODED.exec(s) : null;
  if (match === null) throw new VersionFormatError(safeJson(s), `expected ${EXPECTED_FORM}`);
  const [, wall, counter, device] = match as unknown as [string, string, string, string];
  return { wall: Number.parseInt(wall, 16), counter: Number.parseInt(counter, 16), device };
}

/** Total order: wall, then counter, then device (plain string order). Negative when a < b. */
export function compareVersions(a: Version, b: Version): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.device === b.device) return 0;
  return a.device < b.device ? -1 : 1;
}

/** The later of two versions: a join (commutative, associative, idempotent). */
export function maxVersion(a: Version, b: Version): Version {
  return compareVersions(a, b) >= 0 ? a : b;
}

export type ReceiveResult = { ok: true; version: Version } | { ok: false; reason: 'clock-drift'; aheadMs: number };

export interface HybridClockOptions {
  /** Physical clock, epoch ms. Defaults to Date.now. */
  now?: () => number;
  /** Remote versions further ahead of `now()` than this are refused. Default 5 minutes. */
  maxDriftMs?: number;
  /** The persisted clock state to resume from, so a restart never goes backwards. */
  last?: Version;
}

/**
 * One device's clock. Every version it hands out is strictly greater than
 * every version it handed out or absorbed before — even when the physical
 * clock steps backwards — which is what makes "newer version wins" safe.
 */
export class HybridClock {
  readonly device: string;
  readonly maxDriftMs: number;
  private readonly now: () => number;
  private current: Version;

  constructor(device: string, options: HybridClockOptions = {}) {
    if (!isValidDeviceId(device)) {
      throw new VersionFormatError(safeJson(device), 'device id must be 1-64 characters of A-Z a-z 0-9 _ -');
    }
    this.device = device;
    this.now = options.now ?? Date.now;
    this.maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    if (options.last !== undefined) assertVersion(options.last);
    this.current = options.last ?? { wall: 0, counter: 0, device };
  }

  /** The newest version this clock has issued or absorbed (persist it to resume after a restart). */
  get last(): Version {
    return { ...this.current };
  }

  /**
   * A local event (HLC send rule). `eventWallMs` is the event's own time, e.g.
   * the local change stream's `wallTime`; the clock uses whichever of it and
   * the physical clock is later. It is a local timestamp, so no drift check.
   */
  tick(eventWallMs?: number): Version {
    const eventWall = eventWallMs !== undefined && Number.isFinite(eventWallMs) ? Math.floor(eventWallMs) : 0;
    const physical = Math.max(this.physicalNow(), eventWall);
    const prev = this.current;
    const next =
      physical > prev.wall ? { wall: physical, counter: 0, device: this.device } : carry(prev.wall, prev.counter + 1, this.device);
    this.current = next;
    return { ...next };
  }

  /**
   * Absorb a remote version (HLC receive rule) so the next local version is
   * later than it. Refused, with the clock left where it was, when the remote
   * wall is more than maxDriftMs ahead of our physical clock: otherwise one
   * till with a wrong clock would drag every clock forward and win forever.
   */
  receive(remote: Version): ReceiveResult {
    const result = this.peekReceive(remote);
    if (result.ok) this.current = { ...result.version };
    return result;
  }

  /** What receive would return now, without moving the clock. */
  peekReceive(remote: Version): ReceiveResult {
    assertVersion(remote);
    const physical = this.physicalNow();
    const aheadMs = remote.wall - physical;
    if (aheadMs > this.maxDriftMs) return { ok: false, reason: 'clock-drift', aheadMs };

    const prev = this.current;
    const wall = Math.max(prev.wall, remote.wall, physical);
    let counter: number;
    if (wall === prev.wall && wall === remote.wall) counter = Math.max(prev.counter, remote.counter) + 1;
    else if (wall === prev.wall) counter = prev.counter + 1;
    else if (wall === remote.wall) counter = remote.counter + 1;
    else counter = 0;
    return { ok: true, version: carry(wall, counter, this.device) };
  }

  /**
   * A tentative copy (same device, physical clock and drift limit) to stamp a
   * batch with before its transaction commits. Commit the result with
   * advance(copy.last) only after the commit: the clock moves after the
   * writes it covers, never before.
   */
  fork(): HybridClock {
    return new HybridClock(this.device, { now: this.now, maxDriftMs: this.maxDriftMs, last: this.current });
  }

  /**
   * Move to `version` if it is later; never backwards, and no drift check.
   * Only for versions this device issued itself (from fork()): they are
   * already trusted, and refusing one would let the next batch reissue it.
   */
  advance(version: Version): void {
    assertVersion(version);
    if (compareVersions(version, this.current) > 0) this.current = { ...version };
  }

  /** A broken physical clock (NaN) counts as time zero: the counter still keeps versions increasing. */
  private physicalNow(): number {
    const t = this.now();
    return Number.isFinite(t) ? Math.floor(t) : 0;
  }
}

/** Counter overflow moves wall forward by 1 ms rather than failing or wrapping. */
function carry(wall: number, counter: number, device: string): Version {
  return counter > MAX_COUNTER ? { wall: wall + 1, counter: 0, device } : { wall, counter, device };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The smallest version after `v` that `device` can claim without a clock
 * tick: for a merge written on top of a newer version made elsewhere.
 */
export function successor(v: string, device: string): string {
  const d = decodeVersion(v);
  return encodeVersion(
    d.counter < MAX_COUNTER ? { wall: d.wall, counter: d.counter + 1, device } : { wall: d.wall + 1, counter: 0, device },
  );
}
