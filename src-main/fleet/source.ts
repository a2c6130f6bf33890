/**
 * Reads the fleet from the hub: every heartbeat in `_tillsync_devices` and
 * the hub's clock at that moment (every age is measured by it, as `lastSeen`
 * was written by it). Read-only: a user that may only read the hub database
 * is enough.
 */
import { MongoClient, type Db } from 'mongodb';
import { DEVICES_COLLECTION, type FleetReport } from '../../src-shared/fleet.ts';
import { redactUri } from '../sync/config.ts';
import type { FleetRules } from './rules-config.ts';
import { fleetReport } from './report.ts';

/** The hub could not be read; the message is safe to show (no password). */
export class HubReadError extends Error {
  override readonly name = 'HubReadError';
}

/** An error's message with the connection string's password taken out, however the driver quoted it. */
export function safeMessage(err: unknown, uri: string): string {
  let message = err instanceof Error ? err.message : String(err);
  const password = /^mongodb(?:\+srv)?:\/\/[^:@/]*:([^@]*)@/.exec(uri)?.[1];
  if (password) {
    for (const form of new Set([password, decodeURIComponentSafe(password), encodeURIComponent(password)])) {
      if (form) message = message.split(form).join('***');
    }
  }
  return redactUri(message);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class FleetSource {
  readonly #uri: string;
  readonly #client: MongoClient;
  readonly #db: Db;

  constructor(uri: string, database: string) {
    this.#uri = uri;
    // Timeouts the connection string sets itself win over these defaults.
    const timeouts = Object.fromEntries(
      ['serverSelectionTimeoutMS', 'connectTimeoutMS']
        .filter((name) => !new RegExp(`[?&]${name}=`, 'i').test(uri))
        .map((name) => [name, 10_000]),
    );
    this.#client = new MongoClient(uri, { appName: 'tillsync-fleet', ...timeouts });
    this.#db = this.#client.db(database);
  }

  /** The hub's address without its password, for logs and messages. */
  get where(): string {
    return redactUri(this.#uri);
  }

  async report(rules: FleetRules): Promise<FleetReport> {
    try {
      const [hello, docs] = await Promise.all([
        this.#db.admin().command({ hello: 1 }),
        this.#db.collection(DEVICES_COLLECTION).find({}).toArray(),
      ]);
      const hubTime = hello.localTime instanceof Date ? hello.localTime.getTime() : Date.now();
      return fleetReport(docs as Array<Record<string, unknown>>, hubTime, rules);
    } catch (err) {
      throw new HubReadError(`Cannot read the fleet from the hub (${this.where}): ${safeMessage(err, this.#uri)}`);
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
