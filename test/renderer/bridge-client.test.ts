/**
 * The web bridge client against a real WebSocket server speaking the
 * contract's bridge messages: commands, events, losing the server and
 * reconnecting.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket as NodeWebSocket } from 'ws';
import { BRIDGE_WS_PATH, type BridgeClientMessage, type BridgeServerMessage } from '../../src-shared/ipc.ts';
import { createBridgeClient, type BridgeClient } from '../../src-renderer/api/bridge-client.ts';
import type { ConnectionState } from '../../src-renderer/api/dashboard-api.ts';
import { makeStatus } from './fake-api.ts';

async function startServer(port = 0): Promise<WebSocketServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port, path: BRIDGE_WS_PATH });
  await once(server, 'listening');
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as BridgeClientMessage;
      const reply: BridgeServerMessage = {
        type: 'result',
        id: message.id,
        result:
          message.command === 'settings.get'
            ? { ok: true, value: { enabled: true, hubUriMasked: null, policies: {}, startAtLogin: false } }
            : { ok: false, error: { code: 'unknown-command', message: `no command "${message.command}"` } },
      };
      socket.send(JSON.stringify(reply));
    });
  });
  return server;
}

function waitForState(client: BridgeClient, wanted: ConnectionState): Promise<void> {
  if (client.connection() === wanted) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = client.onConnection((state) => {
      if (state === wanted) {
        stop();
        resolve();
      }
    });
  });
}

async function closeServer(server: WebSocketServer): Promise<void> {
  for (const socket of server.clients) socket.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('web bridge client', () => {
  const clients: BridgeClient[] = [];
  after(() => clients.forEach((c) => c.close()));

  it('sends commands, receives answers and events, and comes back after the service restarts', async () => {
    let server = await startServer();
    const port = (server.address() as AddressInfo).port;
    const client = createBridgeClient({
      url: `ws://127.0.0.1:${port}${BRIDGE_WS_PATH}`,
      WebSocketImpl: NodeWebSocket as unknown as typeof WebSocket,
      initialRetryMs: 50,
      maxRetryMs: 100,
    });
    clients.push(client);
    await waitForState(client, 'open');

    const settings = await client.invoke('settings.get', {});
    assert.deepEqual(settings, { ok: true, value: { enabled: true, hubUriMasked: null, policies: {}, startAtLogin: false } });
    const unknown = await client.invoke('status.get', {});
    assert.equal(unknown.ok, false);

    const seen: string[] = [];
    const unsubscribe = client.on('status', (status) => seen.push(status.state));
    for (const socket of server.clients)
      socket.send(JSON.stringify({ type: 'event', event: 'status', payload: makeStatus({ state: 'offline' }) }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen, ['offline']);
    unsubscribe();

    await closeServer(server);
    await waitForState(client, 'lost');
    const whileDown = await client.invoke('settings.get', {});
    assert.equal(whileDown.ok, false);
    assert.equal(!whileDown.ok && whileDown.error.code, 'unavailable');

    server = await startServer(port);
    await waitForState(client, 'open');
    assert.equal((await client.invoke('settings.get', {})).ok, true);
    await closeServer(server);
  });
});
