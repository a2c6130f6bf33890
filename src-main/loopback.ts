/**
 * The local HTTP servers (the demo's web bridge, the fleet page, the agent's
 * monitor API) listen on the loopback address only, and answer only requests
 * that name it in their Host header (a page elsewhere cannot reach them by DNS
 * rebinding).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** Starts `server` on 127.0.0.1 (`port` 0: any free one); resolves with the port and the Host values to accept. */
export async function listenOnLoopback(server: Server, port: number): Promise<{ port: number; hosts: Set<string> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, hosts: new Set([`${LOOPBACK}:${bound}`, `localhost:${bound}`]) };
}
