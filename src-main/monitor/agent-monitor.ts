/**
 * The agent's `--monitor-port` and `--monitor-token-file`, turned into a
 * running monitor API. The agent replaces its engine when a start fails, so
 * the monitor asks for the current one each time.
 */
import type { SyncEngine } from '../sync/engine.ts';
import type { Logger } from '../sync/log.ts';
import { startMonitor, type Monitor, type MonitoredEngine } from './server.ts';
import { defaultTokenPath, loadOrCreateToken, MonitorSetupError } from './token.ts';

export { MonitorSetupError } from './token.ts';

export interface AgentMonitorOptions {
  /** The --monitor-port value as given. */
  port: string;
  /** The --monitor-token-file value, if given. */
  tokenFile: string | undefined;
  engine: () => Pick<SyncEngine, 'status' | 'listConflicts' | 'setEnabled'>;
  log: Logger;
}

export async function startAgentMonitor(options: AgentMonitorOptions): Promise<Monitor> {
  if (!/^\d{1,5}$/.test(options.port) || Number(options.port) > 65_535) {
    throw new MonitorSetupError(`--monitor-port must be a whole number from 1 to 65535 (0 picks a free one); got "${options.port}"`);
  }
  const port = Number(options.port);
  const token = loadOrCreateToken(options.tokenFile ?? defaultTokenPath(), options.log);
  const engine: MonitoredEngine = {
    status: () => options.engine().status(),
    listConflicts: (query) => options.engine().listConflicts(query),
    setEnabled: (enabled) => options.engine().setEnabled(enabled),
  };
  try {
    return await startMonitor({ engine, token, port, log: options.log });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new MonitorSetupError(
      code === 'EADDRINUSE'
        ? `port ${port} on 127.0.0.1 is in use; choose another --monitor-port`
        : `cannot listen on port ${port}: ${String(err)}`,
    );
  }
}
