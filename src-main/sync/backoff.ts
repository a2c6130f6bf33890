/**
 * Retry delays for push and pull while the hub is unreachable: exponential
 * growth so a down hub is not hammered, "full jitter" so a restaurant's worth
 * of tills coming back online do not retry in lockstep. Pure: randomness is
 * injected, and the caller does the waiting.
 */

export interface BackoffOptions {
  /** Ceiling of the first delay. Default 500 ms. */
  initialMs?: number;
  /** No delay ever exceeds this. Default 60 s. */
  maxMs?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
}

/** Options that would make the delays meaningless (zero, negative, or a cap below the start). */
export class BackoffOptionError extends Error {
  override readonly name = 'BackoffOptionError';
  readonly reason = 'backoff-option' as const;

  constructor(detail: string) {
    super(`Invalid backoff options: ${detail}`);
  }
}

/** Past this many doublings the ceiling is the cap for any sane option, so stop computing powers. */
const MAX_EXPONENT = 52;

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempts = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 60_000;
    this.random = options.random ?? Math.random;
    if (!Number.isFinite(this.initialMs) || this.initialMs <= 0) {
      throw new BackoffOptionError(`initialMs must be a positive number, got ${this.initialMs}`);
    }
    if (!Number.isFinite(this.maxMs) || this.maxMs < this.initialMs) {
      throw new BackoffOptionError(`maxMs must be a number >= initialMs (${this.initialMs}), got ${this.maxMs}`);
    }
  }

  /** How many delays have been handed out since the last reset. */
  get attempt(): number {
    return this.attempts;
  }

  /** The ceiling the next delay is drawn under: min(maxMs, initialMs * 2^attempt). */
  get ceilingMs(): number {
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempts, MAX_EXPONENT));
  }

  /** The next delay in whole ms, uniform in [0, ceiling); the attempt count goes up by one. */
  next(): number {
    const ceiling = this.ceilingMs;
    this.attempts += 1;
    // Clamp in case an injected random() returns 1 or a little outside [0, 1).
    const r = Math.min(Math.max(this.random(), 0), 1);
    return Math.min(Math.floor(r * ceiling), Math.max(0, Math.ceil(ceiling) - 1));
  }

  /** After a success: the next failure starts from the smallest delay again. */
  reset(): void {
    this.attempts = 0;
  }
}
