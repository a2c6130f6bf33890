/**
 * The app's till database at login: a start that fails because the port is
 * still held (the copy the last session was closing) is tried again, each
 * retry reported, and succeeds once the port is free; a start that keeps
 * failing gives up after the set number of tries with the last reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { retryStart } from '../../src-main/app/local-mongod.ts';

function listen(port = 0): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('starting the till database again when it fails', () => {
  it('tries again while the port is held, says so each time, and starts once it is free', async () => {
    const blocker = await listen();
    const port = (blocker.address() as { port: number }).port;
    const retries: Array<{ code: string | undefined; attempt: number }> = [];
    const started = await retryStart(() => listen(port), {
      attempts: 5,
      delayMs: 50,
      onRetry: (err, attempt) => {
        retries.push({ code: (err as NodeJS.ErrnoException).code, attempt });
        if (attempt === 2) void close(blocker); // the old copy lets go of the port
      },
    });
    try {
      assert.equal((started.address() as { port: number }).port, port);
      // Two refusals before the port was let go (a third if closing it took longer than the delay).
      assert.ok(retries.length >= 2, JSON.stringify(retries));
      assert.deepEqual(
        retries,
        retries.map((_r, i) => ({ code: 'EADDRINUSE', attempt: i + 1 })),
        'each retry is reported with its reason and number',
      );
    } finally {
      await close(started);
    }
  });

  it('gives up after the set number of tries with the last reason', async () => {
    const blocker = await listen();
    const port = (blocker.address() as { port: number }).port;
    let retries = 0;
    try {
      await assert.rejects(
        retryStart(() => listen(port), { attempts: 3, delayMs: 10, onRetry: () => (retries += 1) }),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
      );
      assert.equal(retries, 2, 'three tries: two retries reported, then the failure');
    } finally {
      await close(blocker);
    }
  });
});
