/**
 * Start at login for the desktop app, on each system: on Linux the XDG
 * autostart entry (Electron's login items do nothing there), checked at each
 * start so a moved AppImage is still the one started; on Windows and macOS
 * Electron's login items. The only part of start-at-login that imports Electron.
 */
import { homedir } from 'node:os';
import { app } from 'electron';
import type { Logger } from '../sync/log.ts';
import { launchCommand, type StartAtLogin } from './start-at-login.ts';
import { autostartDir, XdgAutostart } from './xdg-autostart.ts';

export async function setupStartAtLogin(log: Logger): Promise<StartAtLogin> {
  const command = launchCommand({
    env: process.env,
    execPath: process.execPath,
    appPath: process.defaultApp ? app.getAppPath() : undefined,
  });
  if (process.platform === 'linux') {
    const autostart = new XdgAutostart({ dir: autostartDir(process.env, homedir()), command });
    try {
      if ((await autostart.refresh()) === 'rewritten')
        log.info({ event: 'app.autostart-updated' }, 'TillSync moved: the entry that starts it at login now names this copy');
    } catch (err) {
      log.warn({ event: 'app.autostart-check-failed', error: String(err) }, 'the entry that starts TillSync at login could not be checked');
    }
    return autostart;
  }
  // Windows looks the login item up by program and arguments, so both are given each time.
  const settings = { path: command.program, args: command.args };
  return {
    isEnabled: async () => app.getLoginItemSettings(settings).openAtLogin,
    setEnabled: async (openAtLogin) => app.setLoginItemSettings({ ...settings, openAtLogin }),
  };
}
