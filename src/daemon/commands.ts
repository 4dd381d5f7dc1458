// `baton init` and `baton join`: run the node daemon in the foreground until SIGINT/SIGTERM.
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { defaultDataDir } from '../../client/index.js';
import { init, join, type NodeAddresses } from './bootstrap.js';
import { useHostname } from './host.js';
import { parseDuration } from '../../spec/index.js';
import { BatonError } from '../../rpc/errors.js';
import type { NodeDaemon } from './node.js';
import type { DaemonArgs, InitArgs, JoinArgs } from './options.js';
import { raftTiming, type RaftTiming } from './raft-timing.js';
import { unlockKeyNotice } from '../../cli/unlock.js';

function logger(level: string): Logger {
  return pino({ level }, pino.destination(2));
}

/** --hostname: a name as a hostname is (letters, digits, '.', '-', '_'), checked before anything starts. */
function chooseHostname(name: string | undefined): void {
  if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new BatonError('INVALID_ARGUMENT', `bad --hostname "${name}" (want letters, digits, '.', '-' or '_', at most 63)`);
  }
  useHostname(name);
}

function common(args: DaemonArgs): { dataDir: string; listenAddr: string; logger: Logger; advertiseAddr?: string; snapshotEntries?: number; dataPathAddr?: string; httpAddr?: string; meshWorkers?: number; socketGroup?: string; raft?: RaftTiming } {
  chooseHostname(args.hostname);
  const raft = raftFlags(args);
  return {
    // Absolute, as the client resolves it: a relative path would make the socket's unix:// address relative.
    dataDir: args['data-dir'] !== undefined ? resolve(args['data-dir']) : defaultDataDir(),
    listenAddr: args['listen-addr'],
    logger: logger(args['log-level']),
    ...(args['advertise-addr'] ? { advertiseAddr: args['advertise-addr'] } : {}),
    ...(args['snapshot-interval'] ? { snapshotEntries: args['snapshot-interval'] } : {}),
    ...(args['data-path-addr'] ? { dataPathAddr: args['data-path-addr'] } : {}),
    ...(args['http-addr'] ? { httpAddr: args['http-addr'] } : {}),
    ...(args['mesh-workers'] !== undefined ? { meshWorkers: args['mesh-workers'] } : {}),
    ...(args['socket-group'] !== undefined ? { socketGroup: args['socket-group'] } : {}),
    ...(raft ? { raft } : {}),
  };
}

/** --raft-tick and --election-timeout, both checked before anything starts; every problem in one line. */
function raftFlags(args: DaemonArgs): RaftTiming | undefined {
  if (args['raft-tick'] === undefined && args['election-timeout'] === undefined) return undefined;
  const problems: string[] = [];
  const duration = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    const parsed = positiveDurationOr(text, flag);
    if (typeof parsed === 'string') problems.push(parsed);
    return typeof parsed === 'number' ? parsed : undefined;
  };
  const tickMs = duration(args['raft-tick'], '--raft-tick');
  const electionTimeoutMs = duration(args['election-timeout'], '--election-timeout');
  if (problems.length === 0) {
    const timing = raftTiming({ ...(tickMs !== undefined ? { tickMs } : {}), ...(electionTimeoutMs !== undefined ? { electionTimeoutMs } : {}) });
    if (timing.ok) return timing.value;
    problems.push(...timing.problems);
  }
  throw new BatonError('INVALID_ARGUMENT', problems.join('; '));
}

/** --cert-expiry, --heartbeat-period: spec/'s duration grammar (Go's, plus d), and not 0. */
function positiveDuration(text: string, flag: string): number {
  const parsed = positiveDurationOr(text, flag);
  if (typeof parsed === 'string') throw new BatonError('INVALID_ARGUMENT', parsed);
  return parsed;
}

/** positiveDuration's value in ms, or its problem. */
function positiveDurationOr(text: string, flag: string): number | string {
  const parsed = parseDuration(text, flag);
  if (!parsed.ok) return parsed.problem;
  if (parsed.value <= 0) return `${flag} must be positive`;
  return parsed.value;
}

function parseGrace(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BatonError('INVALID_ARGUMENT', `bad --heartbeat-grace "${n}": want a whole number of periods, 1-1000`);
  return n;
}

function parseHeartbeatRate(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new BatonError('INVALID_ARGUMENT', `bad --max-heartbeats-per-second "${n}": want a whole number, 1-100000`);
  return n;
}

/**
 * Every file the daemon creates is its user's alone, LevelDB's own included (it creates them
 * with the umask's default); private-files.ts checks and tightens what an older version left.
 */
function privateUmask(): void {
  process.umask(0o077);
}

/**
 * grpc-js prints its own errors on stderr ("E No address added out of total 1 resolved") beside
 * the one line the daemon prints for the same failure; the daemon's logger says what matters.
 * GRPC_VERBOSITY in the environment still turns them on, for debugging.
 */
function quietGrpc(): void {
  if (process.env['GRPC_VERBOSITY'] === undefined) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
}

export async function runInit(args: InitArgs): Promise<void> {
  privateUmask();
  quietGrpc();
  const addrs = common(args);
  // Recovery rewrites the data dir, then the daemon resumes from it as after any restart.
  const recovered = await recover(args, addrs);
  if (recovered) process.stdout.write(recovered.join('\n'));
  const started = await init({
    ...addrs,
    ...(args['cert-expiry'] ? { certExpiryMs: positiveDuration(args['cert-expiry'], '--cert-expiry') } : {}),
    ...(args['heartbeat-period'] ? { heartbeatPeriodMs: positiveDuration(args['heartbeat-period'], '--heartbeat-period') } : {}),
    ...(args['heartbeat-grace'] !== undefined ? { heartbeatGrace: parseGrace(args['heartbeat-grace']) } : {}),
    ...(args['max-heartbeats-per-second'] !== undefined ? { maxHeartbeatsPerSecond: parseHeartbeatRate(args['max-heartbeats-per-second']) } : {}),
    ...(args.autolock ? { autolock: true } : {}),
  });
  const d = started.daemon;
  if (started.resumed) {
    process.stdout.write(`Node ${d.nodeId} resumed as a ${d.role} from ${d.dataDir.path}.\n`);
  } else {
    const addr = d.clusterManager?.store.get('node', d.nodeId)?.managerStatus?.addr ?? '';
    process.stdout.write(
      `Cluster initialized: node ${d.nodeId} is now a manager.\n\n` +
        `To add a worker to this cluster, run the following command:\n\n    baton join --token ${started.tokens?.worker} ${addr}\n\n` +
        `To add a manager to this cluster, run the following command:\n\n    baton join --token ${started.tokens?.manager} ${addr}\n\n` +
        (started.unlockKey ? unlockKeyNotice(started.unlockKey) : ''),
    );
  }
  await untilSignal(d);
}

async function recover(args: InitArgs, addrs: NodeAddresses): Promise<string[] | undefined> {
  if (args['force-new-cluster'] && args.restore !== undefined) throw new BatonError('INVALID_ARGUMENT', '--force-new-cluster and --restore cannot be used together');
  if (args['force-new-cluster']) {
    if (args['data-dir'] === undefined) throw new BatonError('INVALID_ARGUMENT', "--force-new-cluster needs the --data-dir of a surviving manager");
    return (await import('./force-new-cluster.js')).forceNewCluster(addrs.dataDir);
  }
  if (args.restore !== undefined) return (await import('./restore.js')).restoreFromBackup(resolve(args.restore), addrs);
  return undefined;
}

export async function runJoin(args: JoinArgs): Promise<void> {
  privateUmask();
  quietGrpc();
  const started = await join({ ...common(args), token: args.token, remote: args.address });
  const d = started.daemon;
  process.stdout.write(started.resumed ? `Node ${d.nodeId} resumed as a ${d.role}.\n` : `This node joined the cluster as a ${d.role} (node ${d.nodeId}).\n`);
  await untilSignal(d);
}

/** Runs until SIGINT/SIGTERM, then stops the node and exits (tasks keep running: a restart adopts them). */
function untilSignal(d: NodeDaemon): Promise<void> {
  // A daemon must not die of one forgotten promise: log it loudly and keep serving.
  process.on('unhandledRejection', (err) => d.logger.error({ err }, 'unhandled promise rejection'));
  return new Promise(() => {
    const stop = (): void => {
      d.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          d.logger.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
