/**
 * The desktop app's composition root (Electron main process): one instance
 * per till; starts the till's mongod, the settings, the sync engine (through
 * the backend), the IPC handlers, the dashboard window and the tray. Quitting
 * stops the engine first, then mongod.
 *
 * Bundled by scripts/build-main.mjs into dist/main/main.js.
 */
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, dialog, ipcMain } from 'electron';
import { pino } from 'pino';
import { EVENT_NAMES } from '../../src-shared/ipc.ts';
import type { Logger } from '../sync/log.ts';
import { EngineBackend } from './backend.ts';
import { findMongod, isFound } from './binaries.ts';
import { createIpcHandlers } from './handlers.ts';
import { IPC_CHANNELS } from './ipc-channels.ts';
import { retryStart, startLocalMongod, type LocalMongod } from './local-mongod.ts';
import { setupStartAtLogin } from './login-item.ts';
import { readTillDatabaseSettings } from './till-database-settings.ts';
import { safeStorageBox } from './safe-storage-box.ts';
import { SettingsStore } from './settings-store.ts';
import { openLogFile } from './log-file.ts';
import { AUTOSTART_ARG } from './start-at-login.ts';
import { setupTray } from './tray.ts';
import { createDashboardWindow, hardenWebContents, isOwnSender, preloadPathNextTo, registerAppScheme, serveDashboard } from './window.ts';

const MAIN_DIR = dirname(fileURLToPath(import.meta.url));
/** dist/main → the app root (the asar in a packaged app). */
const APP_ROOT = join(MAIN_DIR, '..', '..');
const POS_DATABASE = 'pos';

async function setupLogging(): Promise<Logger> {
  // Bounded: past 10 MB the file becomes tillsync.log.1 and a new one starts (log-file.ts).
  const { destination } = await openLogFile(join(app.getPath('logs'), 'tillsync.log'));
  return pino({ base: { component: 'app' }, level: process.env.TILLSYNC_LOG_LEVEL ?? 'info' }, destination) as unknown as Logger;
}

async function startMongod(log: Logger): Promise<LocalMongod> {
  const download = process.env.TILLSYNC_DOWNLOAD_MONGOD === '1';
  const found = await findMongod(app.isPackaged ? process.resourcesPath : undefined);
  if (!isFound(found) && !download) throw new Error(`TillSync needs MongoDB, and ${found.problem}.`);
  const dataDir = join(app.getPath('userData'), 'mongod');
  // A mistake in till-database.json stops here, with the dialog naming the field.
  const settings = await readTillDatabaseSettings(app.getPath('userData'));
  log.info({ event: 'app.mongod-starting' }, 'starting the till database');
  const mongod = await retryStart(() => startLocalMongod({ dataDir, binary: isFound(found) ? found.path : undefined, settings }), {
    onRetry: (err, attempt, delayMs) =>
      log.warn(
        { event: 'app.mongod-retry', attempt, error: String(err), retryInMs: delayMs },
        `the till database did not start; trying again in ${delayMs / 1000} s`,
      ),
  });
  const { cacheSizeGB, oplogSizeMB, oplogMinRetentionHours, shortOfSpace } = mongod.plan;
  log.info({ event: 'app.mongod-started', cacheSizeGB, oplogSizeMB, oplogMinRetentionHours }, 'the till database is up');
  if (shortOfSpace) log.warn({ event: 'app.mongod-short-of-space' }, shortOfSpace);
  return mongod;
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  registerAppScheme();
  await app.whenReady();
  const log = await setupLogging();
  hardenWebContents();
  serveDashboard(join(APP_ROOT, 'dist', 'renderer'));

  let mongod: LocalMongod;
  try {
    mongod = await startMongod(log);
  } catch (err) {
    log.error({ event: 'app.mongod-failed', error: String(err) }, 'the till database could not start');
    dialog.showErrorBox(
      'TillSync cannot start',
      `${(err as Error).message}\n\nOn a machine without internet, try \`npm run demo\` instead.`,
    );
    app.exit(1);
    return;
  }

  const settings = await SettingsStore.open(app.getPath('userData'), safeStorageBox());
  if (settings.loadProblem) log.warn({ event: 'app.settings-problem' }, settings.loadProblem);
  const backend = new EngineBackend({
    settings,
    localUri: mongod.uri,
    database: POS_DATABASE,
    info: { version: app.getVersion(), backend: 'mongod', tillName: hostname() },
    log,
    startAtLogin: await setupStartAtLogin(log),
  });
  await backend.start();

  const dashboard = createDashboardWindow({ preloadPath: preloadPathNextTo(MAIN_DIR), icon: join(APP_ROOT, 'assets', 'icon.png') });
  const handle = createIpcHandlers<Electron.IpcMainInvokeEvent>(backend, {
    isTrustedSender: (event) => isOwnSender(dashboard, event.sender, event.senderFrame?.url),
    log,
  });
  ipcMain.handle(IPC_CHANNELS.invoke, (event, command: unknown, input: unknown) => handle(command, input, event));
  for (const name of EVENT_NAMES) {
    backend.on(name, (payload) => {
      const win = dashboard.window;
      if (win && !win.isDestroyed()) win.webContents.send(IPC_CHANNELS.event, name, payload);
    });
  }

  let quitting: Promise<void> | undefined;
  const quit = (): void => {
    quitting ??= (async () => {
      log.info({ event: 'app.quitting' }, 'stopping sync, then the till database');
      tray.destroy();
      await backend
        .stop()
        .catch((err: unknown) => log.error({ event: 'app.engine-stop-failed', error: String(err) }, 'sync did not stop cleanly'));
      await mongod
        .stop()
        .catch((err: unknown) =>
          log.error({ event: 'app.mongod-stop-failed', error: String(err) }, 'the till database did not stop cleanly'),
        );
      dashboard.allowClose();
      app.exit(0);
    })();
  };
  const tray = setupTray({
    backend,
    iconsDir: join(APP_ROOT, 'assets', 'tray'),
    openDashboard: () => dashboard.show(),
    quit,
    onError: (err) => log.warn({ event: 'app.tray-action-failed', error: String(err) }, 'a tray action failed'),
  });

  app.on('second-instance', (_event, argv) => {
    if (!argv.includes(AUTOSTART_ARG)) dashboard.show();
  });
  app.on('before-quit', (event) => {
    event.preventDefault(); // the engine and mongod stop first; quit() exits when they have
    quit();
  });
  // Closing the window keeps TillSync in the tray; only Quit ends it.
  app.on('window-all-closed', () => undefined);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, quit);
  // Started by the system at login: stay in the tray rather than open a window over the till's own screen.
  if (!process.argv.includes(AUTOSTART_ARG)) dashboard.show();
}

void main();
