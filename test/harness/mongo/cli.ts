/**
 * Runs the MongoDB emulator as its own process:
 *   npm run emulator -- --port 27018 --repl-set rs0 [--dbpath DIR] [--oplog-max-events N] [--host 127.0.0.1]
 *                       [--control-port P] [--clock-offset-ms N]
 * Prints its mongodb:// connection string on one line, runs until SIGINT/SIGTERM.
 * `--control-port` serves fault controls over HTTP on 127.0.0.1 (see control.ts);
 * `--clock-offset-ms` makes the server's wall clock run that far ahead (or behind).
 */
import { parseArgs } from 'node:util';
import { startControlServer } from './control.ts';
import { startEmulator } from './emulator.ts';
import { setClockOffsetMs } from './wall-clock.ts';

function fail(message: string): never {
  process.stderr.write(`emulator: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '27018' },
    host: { type: 'string', default: '127.0.0.1' },
    'repl-set': { type: 'string', default: 'rs0' },
    dbpath: { type: 'string' },
    'oplog-max-events': { type: 'string' },
    'control-port': { type: 'string' },
    'clock-offset-ms': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(
    'usage: npm run emulator -- [--port 27018] [--host 127.0.0.1] [--repl-set rs0] [--dbpath DIR] [--oplog-max-events N] [--control-port P] [--clock-offset-ms N]\n',
  );
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a whole number from 0 to 65535; got "${values.port}"`);
const oplogMax = values['oplog-max-events'] === undefined ? undefined : Number(values['oplog-max-events']);
if (oplogMax !== undefined && (!Number.isInteger(oplogMax) || oplogMax < 1)) {
  fail(`--oplog-max-events must be a whole number of at least 1; got "${values['oplog-max-events']}"`);
}
const controlPort = values['control-port'] === undefined ? undefined : Number(values['control-port']);
if (controlPort !== undefined && (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65535)) {
  fail(`--control-port must be a whole number from 0 to 65535; got "${values['control-port']}"`);
}
const clockOffset = Number(values['clock-offset-ms'] ?? '0');
if (!Number.isInteger(clockOffset)) fail(`--clock-offset-ms must be a whole number of milliseconds; got "${values['clock-offset-ms']}"`);
setClockOffsetMs(clockOffset);

const emulator = await startEmulator({
  port,
  host: values.host,
  replSetName: values['repl-set'],
  dbPath: values.dbpath,
  oplog: oplogMax === undefined ? undefined : { maxEvents: oplogMax },
}).catch((err: Error) => fail(`could not start: ${err.message}`));

if (controlPort !== undefined) {
  await startControlServer(emulator, controlPort, values.host).catch((err: Error) =>
    fail(`could not start the control channel: ${err.message}`),
  );
}

process.stdout.write(`${emulator.uri}\n`);

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`emulator: ${signal} received, stopping\n`);
  void emulator.stop().then(() => process.exit(0));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
