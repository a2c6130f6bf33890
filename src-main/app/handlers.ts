/**
 * The one entry point for every dashboard command, over Electron IPC and the
 * web bridge alike: refuse senders the app did not create, refuse unknown
 * commands, validate the input against the contract's schema, run the
 * command, and turn whatever is thrown into an `IpcError` in plain words —
 * never a stack trace, never a password.
 */
import {
  isCommandName,
  parseCommandInput,
  type CommandArgs,
  type CommandName,
  type CommandResults,
  type IpcError,
  type IpcResult,
} from '../../src-shared/ipc.ts';
import { silentLogger, type Logger } from '../sync/log.ts';
import { redactText } from './app-error.ts';
import { engineErrorToAppError, type AppBackend } from './backend.ts';

export type IpcHandler<Sender> = (command: unknown, input: unknown, sender: Sender) => Promise<IpcResult<unknown>>;

export interface IpcHandlerOptions<Sender> {
  /** True only for senders the app created (its own window, its own page over the bridge). */
  isTrustedSender: (sender: Sender) => boolean;
  log?: Logger;
}

type Commands = { [C in CommandName]: (args: CommandArgs<C>) => Promise<CommandResults[C]> | CommandResults[C] };

/** Every command, mapped to the backend; the type makes sure none is missing. */
function commands(backend: AppBackend): Commands {
  return {
    'status.get': () => backend.status(),
    'app.info': () => backend.info(),
    'conflicts.list': (args) => backend.listConflicts(args),
    'conflicts.get': ({ id }) => backend.getConflict(id),
    'conflicts.applyLoser': ({ id }) => backend.applyLoser(id),
    'setAside.retry': ({ id }) => backend.retrySetAside(id),
    'setAside.discard': ({ id }) => backend.discardSetAside(id),
    'settings.get': () => backend.settings(),
    'settings.setEnabled': ({ enabled }) => backend.setEnabled(enabled),
    'settings.setHubUri': ({ uri }) => backend.setHubUri(uri),
    'settings.testHub': ({ uri }) => backend.testHub(uri),
    'settings.setPolicy': (args) => backend.setPolicy(args),
    'settings.setStartAtLogin': ({ enabled }) => backend.setStartAtLogin(enabled),
    'settings.setLanguage': ({ language }) => backend.setLanguage(language),
  };
}

function failure(error: IpcError): IpcResult<never> {
  return { ok: false, error };
}

function describeCommand(command: unknown): string {
  if (typeof command !== 'string') return `a ${command === null ? 'null' : typeof command}`;
  return JSON.stringify(command.length > 60 ? `${command.slice(0, 57)}...` : command);
}

export function createIpcHandlers<Sender>(backend: AppBackend, options: IpcHandlerOptions<Sender>): IpcHandler<Sender> {
  const table = commands(backend);
  const log = (options.log ?? silentLogger).child({ component: 'ipc' });

  return async (command, input, sender) => {
    let trusted = false;
    try {
      trusted = options.isTrustedSender(sender);
    } catch {
      trusted = false;
    }
    if (!trusted) {
      log.warn({ event: 'ipc.forbidden-sender' }, 'a command from a sender this app did not create was refused');
      return failure({ code: 'forbidden', message: 'This page is not part of TillSync, so it may not control sync.' });
    }
    if (!isCommandName(command)) {
      return failure({
        code: 'unknown-command',
        message: `Unknown command ${describeCommand(command)}. TillSync knows: ${Object.keys(table).join(', ')}.`,
      });
    }
    const parsed = parseCommandInput(command, input);
    if (!parsed.ok) return parsed;
    try {
      const run = table[command] as (args: unknown) => Promise<unknown> | unknown;
      return { ok: true, value: await run(parsed.value) };
    } catch (err) {
      const known = engineErrorToAppError(err);
      if (known) {
        return failure({ code: known.code, message: redactText(known.message), ...(known.field ? { field: known.field } : {}) });
      }
      log.error({ event: 'ipc.command-failed', command, error: redactText(String(err)) }, 'a command failed unexpectedly');
      return failure({
        code: 'internal',
        message: `Something went wrong while running ${command}. Try again; if it keeps happening, restart TillSync.`,
      });
    }
  };
}
