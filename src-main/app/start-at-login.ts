/**
 * "Start TillSync when the till is switched on": the system's side of the
 * settings box, and the command line the system starts TillSync with.
 *
 * The box always shows what the system will really do, read back from it
 * (the autostart entry on disk on Linux, the login item on Windows and
 * macOS), never a flag the app remembers. Free of Electron.
 */
import { realpathSync } from 'node:fs';

export interface StartAtLogin {
  /** Whether the system starts TillSync at login, as the system says now. */
  isEnabled(): Promise<boolean>;
  /** Makes the system start TillSync at login, or stop doing so. */
  setEnabled(enabled: boolean): Promise<void>;
}

/** Marks a start by the system at login: TillSync then starts in the tray, without opening its window over the till. */
export const AUTOSTART_ARG = '--autostart';

/** A program and its arguments, as the system should start it. */
export interface LaunchCommand {
  program: string;
  args: string[];
}

export interface LaunchContext {
  /** The process environment: an AppImage's runtime sets APPIMAGE to the AppImage's own path. */
  env: NodeJS.ProcessEnv;
  /** This program (the installed binary, or the Electron program in development). */
  execPath: string;
  /** In development (`electron .`), the app folder Electron must be given. */
  appPath?: string;
}

/**
 * The command that starts this copy of TillSync again: the AppImage file
 * itself (its real path: the running program is only its temporary mount),
 * else the installed program, with the app folder in development.
 */
export function launchCommand(context: LaunchContext): LaunchCommand {
  const appImage = context.env.APPIMAGE;
  const program = appImage ? realPath(appImage) : context.execPath;
  const args = context.appPath && !appImage ? [context.appPath] : [];
  return { program, args: [...args, AUTOSTART_ARG] };
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
