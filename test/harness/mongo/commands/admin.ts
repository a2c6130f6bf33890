/** Handshake, status and session commands: what drivers and monitors send. */
import { Long, type Document } from 'bson';
import { toTimestamp } from '../cluster-time.ts';
import { CommandError } from '../errors.ts';
import { MAX_BSON_BYTES } from '../wire.ts';
import type { CommandContext, Handler } from './context.ts';
import { hello } from './hello.ts';
import { isOplogNamespace, oplogStats } from './oplog-view.ts';
import { wallNow } from '../wall-clock.ts';

export const SERVER_VERSION = '8.0.4';

function buildInfo(): Document {
  return {
    version: SERVER_VERSION,
    gitVersion: 'tillsync-emulator',
    versionArray: SERVER_VERSION.split('.').map(Number).concat(0),
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_BYTES,
    storageEngines: ['wiredTiger'],
    modules: [],
    ok: 1,
  };
}

function optime(ctx: CommandContext): Document {
  return { ts: toTimestamp(ctx.state.clock.last), t: Long.fromNumber(1) };
}

function replSetGetStatus(ctx: CommandContext): Document {
  const now = new Date();
  const op = optime(ctx);
  const uptime = Math.floor((Date.now() - ctx.state.startedAt) / 1000);
  return {
    set: ctx.replSetName,
    date: now,
    myState: 1,
    term: Long.fromNumber(1),
    heartbeatIntervalMillis: Long.fromNumber(2000),
    majorityVoteCount: 1,
    writeMajorityCount: 1,
    votingMembersCount: 1,
    writableVotingMembersCount: 1,
    optimes: {
      lastCommittedOpTime: op,
      lastCommittedWallTime: now,
      readConcernMajorityOpTime: op,
      appliedOpTime: op,
      durableOpTime: op,
      lastAppliedWallTime: now,
      lastDurableWallTime: now,
    },
    members: [
      {
        _id: 0,
        name: ctx.host,
        health: 1,
        state: 1,
        stateStr: 'PRIMARY',
        uptime,
        optime: op,
        optimeDate: now,
        electionTime: toTimestamp(0n),
        electionDate: new Date(ctx.state.startedAt),
        configVersion: 1,
        configTerm: 1,
        self: true,
      },
    ],
    ok: 1,
  };
}

function serverStatus(ctx: CommandContext, connections: () => number): Document {
  const mem = process.memoryUsage();
  const uptimeMillis = Date.now() - ctx.state.startedAt;
  const first = ctx.state.oplog.first();
  return {
    host: ctx.host,
    version: SERVER_VERSION,
    process: 'mongod',
    pid: Long.fromNumber(process.pid),
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis: Long.fromNumber(uptimeMillis),
    uptimeEstimate: Long.fromNumber(Math.floor(uptimeMillis / 1000)),
    localTime: new Date(wallNow()),
    connections: { current: connections(), available: 838_860, totalCreated: ctx.conn.id, active: 1 },
    opcounters: ctx.state.opcounters,
    repl: {
      setName: ctx.replSetName,
      setVersion: 1,
      isWritablePrimary: true,
      secondary: false,
      hosts: [ctx.host],
      primary: ctx.host,
      me: ctx.host,
      topologyVersion: ctx.state.topology.version(),
      lastWrite: { opTime: optime(ctx), lastWriteDate: new Date() },
    },
    transactions: { currentActive: Long.fromNumber(ctx.state.sessions.active), currentOpen: Long.fromNumber(ctx.state.sessions.active) },
    logicalSessionRecordCache: { activeSessionsCount: ctx.state.sessions.count },
    mem: { bits: 64, resident: Math.round(mem.rss / 1048576), virtual: Math.round(mem.rss / 1048576) },
    oplogTruncation: {
      totalTimeTruncatingMicros: Long.fromNumber(0),
      truncateCount: Long.fromNumber(ctx.state.oplog.truncatedThrough ? 1 : 0),
    },
    oplog: {
      maxEvents: ctx.state.oplog.maxEvents,
      events: ctx.state.oplog.length,
      earliestOptime: first ? toTimestamp(first.ts) : undefined,
      latestOptime: toTimestamp(ctx.state.clock.last),
    },
    ok: 1,
  };
}

function collStats(ctx: CommandContext): Document {
  const name = ctx.body.collStats as string;
  if (isOplogNamespace(ctx.db, name)) return oplogStats(ctx.state);
  const coll = ctx.state.catalog.get(ctx.db, name);
  if (!coll) throw new CommandError(26, `ns not found: ${ctx.db}.${name}`);
  const count = coll.docs.size;
  return {
    ns: coll.ns,
    count,
    size: count * 256,
    avgObjSize: 256,
    storageSize: count * 256,
    nindexes: coll.indexes.length,
    capped: false,
    ok: 1,
  };
}

function transactionCommand(ctx: CommandContext): Document {
  const session = ctx.session;
  const txnNumber = Number(ctx.body.txnNumber);
  const txn = session?.txn;
  if (!session || !txn || txn.txnNumber !== txnNumber) {
    throw new CommandError(251, `Transaction with txnNumber ${txnNumber} has not been started`);
  }
  if (ctx.name === 'commitTransaction') {
    if (txn.state === 'committed') return { ok: 1 };
    if (txn.state === 'aborted') throw new CommandError(251, `Transaction ${txnNumber} has been aborted.`);
    ctx.state.commitTransaction(txn.entries, session.lsid, txnNumber);
    ctx.state.sessions.finish(txn, 'committed');
    return { ok: 1 };
  }
  if (txn.state === 'committed') throw new CommandError(256, `Transaction ${txnNumber} has been committed.`);
  ctx.state.sessions.abort(txn);
  return { ok: 1 };
}

export function adminCommands(connections: () => number): Record<string, Handler> {
  const ok: Handler = () => ({ ok: 1 });
  return {
    hello,
    isMaster: hello,
    ismaster: hello,
    ping: ok,
    buildInfo,
    buildinfo: buildInfo,
    serverStatus: (ctx) => serverStatus(ctx, connections),
    replSetGetStatus,
    collStats,
    dbStats: (ctx) => {
      const colls = ctx.state.catalog.collections(ctx.db);
      const objects = colls.reduce((n, c) => n + c.docs.size, 0);
      const indexes = colls.reduce((n, c) => n + c.indexes.length, 0);
      return {
        db: ctx.db,
        collections: colls.length,
        views: 0,
        objects,
        dataSize: objects * 256,
        storageSize: objects * 256,
        indexes,
        indexSize: indexes * 4096,
        ok: 1,
      };
    },
    getParameter: () => ({ featureCompatibilityVersion: { version: '8.0' }, ok: 1 }),
    getCmdLineOpts: () => ({ argv: ['mongod', '--replSet'], parsed: {}, ok: 1 }),
    hostInfo: () => ({ system: { currentTime: new Date(), hostname: '127.0.0.1', numCores: 2 }, ok: 1 }),
    whatsmyuri: (ctx) => ({ you: ctx.conn.remote, ok: 1 }),
    connectionStatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
    setClusterParameter: ok,
    getClusterParameter: () => ({ clusterParameters: [], ok: 1 }),
    endSessions: (ctx) => {
      for (const lsid of (ctx.body.endSessions ?? []) as Document[]) ctx.state.sessions.end(lsid);
      return { ok: 1 };
    },
    killSessions: (ctx) => {
      for (const lsid of (ctx.body.killSessions ?? []) as Document[]) ctx.state.sessions.end(lsid);
      return { ok: 1 };
    },
    killAllSessions: (ctx) => {
      ctx.state.sessions.endAll();
      return { ok: 1 };
    },
    refreshSessions: ok,
    startSession: (ctx) => ({ id: { id: ctx.session?.lsid.id }, timeoutMinutes: 30, ok: 1 }),
    configureFailPoint: (ctx) => ctx.state.failPoints.configure(ctx.body),
    waitForFailPoint: (ctx) => ctx.state.failPoints.waitFor(ctx.body),
    commitTransaction: transactionCommand,
    abortTransaction: transactionCommand,
  };
}
