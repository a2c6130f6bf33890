/**
 * "Test connection" for the settings page: can this till reach the hub with
 * this connection string, and is it a replica set (sync needs change
 * streams)? The answer is in plain words and never repeats the password.
 */
import { MongoClient, MongoParseError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import type { HubTestResult } from '../../src-shared/ipc.ts';
import { redactText } from './app-error.ts';

const AUTH_FAILED = 18;

function hostsOf(uri: string): string {
  const rest = uri.replace(/^mongodb(\+srv)?:\/\//, '');
  return rest.slice(rest.lastIndexOf('@') + 1).split(/[/?#]/, 1)[0] ?? '';
}

export async function testHubConnection(uri: string, timeoutMs = 5_000): Promise<HubTestResult> {
  let client: MongoClient;
  try {
    client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, appName: 'tillsync-hub-test' });
  } catch (err) {
    const detail = err instanceof MongoParseError ? redactText(err.message) : 'it could not be read';
    return { ok: false, message: `The connection string is not valid: ${detail}.` };
  }
  try {
    await client.connect();
    const hello = await client.db('admin').command({ hello: 1 });
    if (typeof hello.setName !== 'string') {
      return {
        ok: false,
        message:
          'Connected, but this server is not a replica set, which sync needs. Check that the connection string points at the head-office cluster.',
      };
    }
    return { ok: true, message: 'Connected to the hub.' };
  } catch (err) {
    if (err instanceof MongoServerError && err.code === AUTH_FAILED) {
      return { ok: false, message: 'The hub refused the user name or password. Check them in the connection string.' };
    }
    if (err instanceof MongoServerSelectionError) {
      return {
        ok: false,
        message: `Could not reach the hub at ${hostsOf(uri)} within ${Math.round(timeoutMs / 1000)} seconds. Check the address and this till's internet connection.`,
      };
    }
    return { ok: false, message: `The hub could not be used: ${redactText((err as Error).message ?? String(err))}` };
  } finally {
    await client.close().catch(() => undefined);
  }
}
