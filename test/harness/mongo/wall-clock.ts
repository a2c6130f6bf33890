/**
 * The wall clock the server reports (change events' wallTime, $currentDate,
 * hello.localTime, cluster time): real time plus an offset, so a soak can run
 * one server with a skewed clock (`--clock-offset-ms`, or its control channel).
 * Process-wide: one emulator process is one machine's clock.
 */
let offsetMs = 0;

export function setClockOffsetMs(ms: number): void {
  offsetMs = ms;
}

export function clockOffsetMs(): number {
  return offsetMs;
}

/** Epoch milliseconds as this server's clock reads them. */
export function wallNow(): number {
  return Date.now() + offsetMs;
}
