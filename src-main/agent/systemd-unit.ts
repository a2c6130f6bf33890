/**
 * The agent as a systemd service: `npm run agent -- --print-systemd-unit`
 * prints a unit filled in for this machine (this Node.js, this checkout, this
 * user), which `systemd-analyze verify` accepts.
 *
 * What it promises: the hub connection string stays out of the unit (a file
 * only the agent's user can read); the agent restarts after a failure with a
 * growing delay and never gives up, except after a configuration mistake
 * (exit code 2), which a restart cannot fix; a stop is a SIGTERM with time to
 * close the streams and write the checkpoints; the service sees the file
 * system read-only and has no privileges it does not need.
 */
import { spawnSync } from 'node:child_process';

export interface AgentUnitOptions {
  /** The whole command line: the Node.js program first. */
  command: readonly string[];
  /** The checkout the agent runs from (tsx is resolved from it). */
  workingDirectory: string;
  /** The user the service runs as; the hub file must belong to this user (or root). */
  user: string;
  /** The hub file the command names. */
  hubFile: string;
  /** The installed systemd's version; null when unknown (no systemd here). */
  systemdVersion: number | null;
}

export const UNIT_NAME = 'tillsync-agent.service';
/** The agent gets this long to stop after SIGTERM before systemd kills it; the agent's own limit is shorter. */
export const STOP_TIMEOUT_S = 30;
/** systemd 254 added RestartSteps= and RestartMaxDelaySec= (a growing delay between restarts). */
const GROWING_RESTART_DELAY_SINCE = 254;

/**
 * One argument of ExecStart=: quoted when it must be, with systemd's % specifiers and $ variables kept literal.
 * The program itself is not searched for $ variables, and systemd refuses one whose path holds a quote or a backslash.
 */
export function quoteExecArg(arg: string, options: { program?: boolean } = {}): string {
  if (/\p{Cc}/u.test(arg)) throw new Error(`a control character cannot go in a systemd unit: ${JSON.stringify(arg)}`);
  if (options.program && /["'\\]/.test(arg))
    throw new Error(`systemd cannot start a program whose path holds a quote or a backslash (${arg}); install it under another path`);
  if (arg === ';') return '\\;';
  const literal = options.program ? arg.replace(/%/g, '%%') : arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./?&-]+$/.test(arg)) return literal;
  return `"${literal.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A path or name in a plain setting (WorkingDirectory=, User=): % specifiers kept literal. */
function plainValue(value: string): string {
  if (/\p{Cc}/u.test(value)) throw new Error(`a control character cannot go in a systemd unit: ${JSON.stringify(value)}`);
  return value.replace(/%/g, '%%');
}

export function renderAgentUnit(options: AgentUnitOptions): string {
  const { user, hubFile } = options;
  const growing = options.systemdVersion !== null && options.systemdVersion >= GROWING_RESTART_DELAY_SINCE;
  const restart = growing
    ? [
        'RestartSec=5s',
        '# The delay grows from 5 s to 5 minutes over ten failed starts in a row.',
        'RestartSteps=10',
        'RestartMaxDelaySec=5min',
      ]
    : ['# systemd 254 and newer can also grow this delay (RestartSteps=, RestartMaxDelaySec=).', 'RestartSec=15s'];
  return `${[
    "# TillSync agent: keeps this till's MongoDB database in sync with the hub.",
    '# Printed by `npm run agent -- --print-systemd-unit` for this machine. To install it:',
    '#',
    "#  1. Put the hub connection string in a file only the agent's user can read (never in",
    '#     this unit, which every user can read):',
    `#       sudo install -d -m 755 ${dirnameOf(hubFile)}`,
    `#       sudo install -m 600 -o ${user} /dev/null ${hubFile}`,
    `#       sudoedit ${hubFile}     (one line: mongodb+srv://USER:PASSWORD@cluster.example.net/)`,
    `#  2. Save this text as /etc/systemd/system/${UNIT_NAME}, then:`,
    '#       sudo systemctl daemon-reload',
    `#       sudo systemctl enable --now ${UNIT_NAME}`,
    `#  3. Follow it with: journalctl -u ${UNIT_NAME} -f`,
    '',
    '[Unit]',
    "Description=TillSync agent (keeps this till's database in sync with the hub)",
    '# Ordering only: if the till runs its MongoDB as the mongod service, start after it.',
    '# The agent waits for the database anyway, and says so in its log.',
    'After=network-online.target mongod.service',
    'Wants=network-online.target',
    '# A till must come back by itself once the cause of a failure is gone: never give up restarting.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=exec',
    `User=${plainValue(user)}`,
    `WorkingDirectory=${plainValue(options.workingDirectory)}`,
    `ExecStart=${options.command.map((arg, i) => quoteExecArg(arg, { program: i === 0 })).join(' ')}`,
    'Restart=on-failure',
    ...restart,
    '# Exit code 2 is a configuration mistake (its message is in the log): a restart would not fix it.',
    'RestartPreventExitStatus=2',
    '# SIGTERM: the agent stops its streams and writes its checkpoints; a batch in flight is committed',
    '# whole or not at all, and sent again on the next start.',
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${STOP_TIMEOUT_S}s`,
    'SyslogIdentifier=tillsync-agent',
    '# Hardening. Not MemoryDenyWriteExecute=: Node.js compiles JavaScript to machine code as it runs.',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n')}\n`;
}

function dirnameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash > 0 ? path.slice(0, slash) : '/';
}

/** The installed systemd's version (`systemctl --version`), or null when there is none. */
export function detectSystemdVersion(): number | null {
  const result = spawnSync('systemctl', ['--version'], { encoding: 'utf8', timeout: 5_000 });
  const match = /^systemd (\d+)/m.exec(result.stdout ?? '');
  return match ? Number(match[1]) : null;
}
