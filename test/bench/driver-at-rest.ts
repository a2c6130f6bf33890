/**
 * The floor of `npm run bench:idle`: a process that holds the engine's two driver clients (the same
 * options, connected to the same servers) and does nothing else. What the driver itself costs at rest
 * (its server monitoring, its pools' timers), which no engine change can take away.
 *
 *   tsx test/bench/driver-at-rest.ts <till uri> <hub uri>
 */
import { MongoClient } from 'mongodb';
import { LOCAL_CLIENT_OPTIONS } from '../../src-main/sync/engine/parts.ts';
import { HUB_CLIENT_OPTIONS } from '../../src-main/sync/hub/hub.ts';

const [tillUri, hubUri] = process.argv.slice(2);
if (!tillUri || !hubUri) {
  process.stderr.write('usage: tsx test/bench/driver-at-rest.ts <till uri> <hub uri>\n');
  process.exit(2);
}
const clients = [new MongoClient(tillUri, LOCAL_CLIENT_OPTIONS), new MongoClient(hubUri, HUB_CLIENT_OPTIONS)];
for (const client of clients) await client.db('admin').command({ ping: 1 });
process.stdout.write('connected\n');
process.on('SIGTERM', () => void Promise.all(clients.map((c) => c.close())).then(() => process.exit(0)));
setInterval(() => undefined, 1 << 30); // held open until SIGTERM, like the agent
