/** `configureFailPoint` with `failCommand`, as the server's test commands offer it. */
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

interface Armed {
  data: FailCommandData;
  /** Remaining activations; Infinity for alwaysOn. */
  times: number;
  skip: number;
}

export class FailPoints {
  #failCommand: Armed | undefined;

  configure(body: Document): Document {
    const name = body.configureFailPoint;
    if (name !== 'failCommand') {
      throw new CommandError(2, `unknown fail point "${String(name)}"; the emulator supports "failCommand"`);
    }
    const mode = body.mode as unknown;
    if (mode === 'off') {
      this.#failCommand = undefined;
      return { count: 0, ok: 1 };
    }
    const data = (body.data ?? {}) as FailCommandData;
    if (!Array.isArray(data.failCommands) || data.failCommands.length === 0) {
      throw new CommandError(2, 'failCommand needs data.failCommands: a non-empty array of command names');
    }
    let times = Infinity;
    let skip = 0;
    if (mode === 'alwaysOn') times = Infinity;
    else if (mode && typeof mode === 'object' && 'times' in mode) times = Number((mode as { times: number }).times);
    else if (mode && typeof mode === 'object' && 'skip' in mode) skip = Number((mode as { skip: number }).skip);
    else throw new CommandError(2, `fail point mode must be "alwaysOn", "off", {times: n} or {skip: n}; got ${JSON.stringify(mode)}`);
    this.#failCommand = { data, times, skip };
    return { count: 0, ok: 1 };
  }

  /** The fail point's data if it fires for this command now (counting it down). */
  check(command: string, appName: string | undefined, ns: string): FailCommandData | undefined {
    const armed = this.#failCommand;
    if (!armed || !armed.data.failCommands.includes(command)) return undefined;
    if (armed.data.appName !== undefined && armed.data.appName !== appName) return undefined;
    if (armed.data.namespace !== undefined && armed.data.namespace !== ns) return undefined;
    if (armed.skip > 0) {
      armed.skip -= 1;
      return undefined;
    }
    armed.times -= 1;
    if (armed.times <= 0) this.#failCommand = undefined;
    return armed.data;
  }

  clear(): void {
    this.#failCommand = undefined;
  }
}
