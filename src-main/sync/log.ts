/**
 * The engine's structured logger: one JSON line per event with a component
 * name and a stable `event` id per log site. pino-compatible, so the agent and
 * the Electron shell pass pino; tests pass a recorder.
 */
export interface LogFields {
  /** Stable id of the log site, e.g. `push.batch-applied`. */
  event: string;
  [field: string]: unknown;
}

export interface Logger {
  debug(fields: LogFields, msg?: string): void;
  info(fields: LogFields, msg?: string): void;
  warn(fields: LogFields, msg?: string): void;
  error(fields: LogFields, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
