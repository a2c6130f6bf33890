/**
 * `configureFailPoint`, with the fail points drivers' tests use:
 *
 * - `failCommand`: fails a named command before it runs (an error, a closed
 *   connection, a delay), or lets it run and adds a write-concern error.
 * - `failGetMoreAfterCursorCheckout`: fails a getMore once it holds its
 *   cursor, so the error is one of that cursor's (a change stream's error
 *   gets the labels the server would give).
 * - `onPrimaryTransactionalWrite`: acts on each write of a retryable write:
 *   closes the connection after the write (`closeConnection`, default true),
 *   and/or fails the write before it commits (`failBeforeCommitExceptionCode`).
 *
 * Modes: "alwaysOn", "off", `{times: n}`, `{skip: n}`.
 *
 * As on mongod, each fail point counts the times it fired (`timesEntered`):
 * `configureFailPoint` answers with it as `count`, and `waitForFailPoint`
 * waits until it reaches a number, so a test can act while a command is held.
 */
import type { Document } from 'bson';
import { CommandError } from './errors.ts';

export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  appName?: string;
  namespace?: string;
  writeConcernError?: Document;
}

export interface CursorCheckoutData {
  errorCode?: number;
  closeConnection?: boolean;
}

export interface TransactionalWriteData {
  closeConnection?: boolean;
  failBeforeCommitExceptionCode?: number;
}

interface DataByName {
  failCommand: FailCommandData;
  failGetMoreAfterCursorCheckout: CursorCheckoutData;
  onPrimaryTransactionalWrite: TransactionalWriteData;
}
type Name = keyof DataByName;
const NAMES: readonly Name[] = ['failCommand', 'failGetMoreAfterCursorCheckout', 'onPrimaryTransactionalWrite'];

interface Armed {
  data: Document;
  /** Remaining activations; Infinity for alwaysOn. */
  times: number;
  skip: number;
}

function parseMode(mode: unknown): { times: number; skip: number } | undefined {
  if (mode === 'off') return undefined;
  if (mode === 'alwaysOn') return { times: Infinity, skip: 0 };
  if (mode && typeof mode === 'object' && 'times' in mode) return { times: Number((mode as { times: unknown }).times), skip: 0 };
  if (mode && typeof mode === 'object' && 'skip' in mode) return { times: Infinity, skip: Number((mode as { skip: unknown }).skip) };
  throw new CommandError(2, `fail point mode must be "alwaysOn", "off", {times: n} or {skip: n}; got ${JSON.stringify(mode)}`);
}

export class FailPoints {
  readonly #armed = new Map<Name, Armed>();
  readonly #entered = new Map<Name, number>();
  readonly #waiting = new Set<() => void>();

  configure(body: Document): Document {
    const name = body.configureFailPoint as Name;
    if (!NAMES.includes(name)) {
      throw new CommandError(2, `unknown fail point "${String(name)}"; the emulator supports ${NAMES.map((n) => `"${n}"`).join(', ')}`);
    }
    const mode = parseMode(body.mode);
    const count = this.#entered.get(name) ?? 0;
    if (!mode || !(mode.times > 0)) {
      this.#armed.delete(name);
      return { count, ok: 1 };
    }
    const data = (body.data ?? {}) as Document;
    if (name === 'failCommand' && (!Array.isArray(data.failCommands) || data.failCommands.length === 0)) {
      throw new CommandError(2, 'failCommand needs data.failCommands: a non-empty array of command names');
    }
    this.#armed.set(name, { data, ...mode });
    return { count, ok: 1 };
  }

  /** `waitForFailPoint`: resolves once fail point `name` has fired `timesEntered` times in all; MaxTimeMSExpired after `maxTimeMS`. */
  async waitFor(body: Document): Promise<Document> {
    const name = body.waitForFailPoint as Name;
    if (!NAMES.includes(name)) throw new CommandError(2, `unknown fail point "${String(name)}"`);
    const target = Number(body.timesEntered);
    const maxTimeMS = Number(body.maxTimeMS);
    if (!Number.isInteger(target) || target < 0) throw new CommandError(2, 'waitForFailPoint needs timesEntered: a whole number');
    if (!(maxTimeMS > 0)) throw new CommandError(2, 'waitForFailPoint needs maxTimeMS: how long to wait, in ms');
    const reached = (): boolean => (this.#entered.get(name) ?? 0) >= target;
    if (reached()) return { ok: 1 };
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!reached()) return;
        clearTimeout(timer);
        this.#waiting.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(check);
        reject(
          new CommandError(
            50,
            `fail point ${name} was entered ${this.#entered.get(name) ?? 0} times, not ${target}, within ${maxTimeMS} ms`,
          ),
        );
      }, maxTimeMS);
      this.#waiting.add(check);
    });
    return { ok: 1 };
  }

  /** The failCommand data if it fires for this command now (counting it down). */
  failCommand(command: string, appName: string | undefined, ns: string): FailCommandData | undefined {
    const armed = this.#armed.get('failCommand');
    const data = armed?.data as FailCommandData | undefined;
    if (!armed || !data || !data.failCommands.includes(command)) return undefined;
    if (data.appName !== undefined && data.appName !== appName) return undefined;
    if (data.namespace !== undefined && data.namespace !== ns) return undefined;
    return this.#fire('failCommand', armed) ? data : undefined;
  }

  /** The data of fail point `name` if it fires now (counting it down). */
  fires<N extends Exclude<Name, 'failCommand'>>(name: N): DataByName[N] | undefined {
    const armed = this.#armed.get(name);
    if (!armed) return undefined;
    return this.#fire(name, armed) ? (armed.data as DataByName[N]) : undefined;
  }

  #fire(name: Name, armed: Armed): boolean {
    if (armed.skip > 0) {
      armed.skip -= 1;
      return false;
    }
    armed.times -= 1;
    if (armed.times <= 0) this.#armed.delete(name);
    this.#entered.set(name, (this.#entered.get(name) ?? 0) + 1);
    for (const check of [...this.#waiting]) check();
    return true;
  }

  clear(): void {
    this.#armed.clear();
  }
}
