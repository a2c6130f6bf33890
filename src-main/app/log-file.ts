/**
 * The desktop app's log file, kept bounded on a till that runs for months
 * without a restart: once it passes `maxBytes` it becomes `<name>.1` (the one
 * before is dropped) and a fresh file starts, checked every `checkEveryMs`
 * and at start. At most twice `maxBytes` on disk, however long the app runs.
 */
import { once } from 'node:events';
import { rename, stat } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';

/** 10 MB: weeks of an ordinary till's log lines. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
const CHECK_EVERY_MS = 10 * 60_000;

export interface LogFile {
  destination: ReturnType<typeof pino.destination>;
  /** Rotates now if the file has passed its size; resolves with whether it did, once the new file is open. */
  rotateIfLarge(): Promise<boolean>;
  stop(): void;
}

export async function openLogFile(path: string, options: { maxBytes?: number; checkEveryMs?: number } = {}): Promise<LogFile> {
  const maxBytes = options.maxBytes ?? LOG_MAX_BYTES;
  mkdirSync(dirname(path), { recursive: true });
  const rotateIfLarge = async (): Promise<boolean> => {
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size < maxBytes) return false;
    await rename(path, `${path}.1`);
    return true;
  };
  await rotateIfLarge(); // before opening, so a large file from the last run moves aside whole
  const destination = pino.destination({ dest: path, mkdir: true, sync: false });
  await once(destination, 'ready');
  const timer = setInterval(() => {
    void rotateIfLarge()
      .then((rotated) => {
        if (rotated) destination.reopen();
      })
      .catch(() => undefined); // a log that cannot rotate must not stop the till's sync
  }, options.checkEveryMs ?? CHECK_EVERY_MS);
  timer.unref();
  return {
    destination,
    rotateIfLarge: async () => {
      const rotated = await rotateIfLarge();
      if (rotated) {
        const ready = once(destination, 'ready');
        destination.reopen();
        await ready;
      }
      return rotated;
    },
    stop: () => {
      clearInterval(timer);
      destination.end();
    },
  };
}
