// The flags of `baton init` and `baton join`, kept apart from the daemon itself so that the
// CLI's client commands do not load daemon code just to parse their arguments.
import type { Argv } from 'yargs';
import { numeric } from '../../cli/context.js';

export interface DaemonArgs {
  'data-dir'?: string | undefined;
  'listen-addr': string;
  'advertise-addr'?: string | undefined;
  'log-level': string;
  'snapshot-interval'?: number | undefined;
  'data-path-addr'?: string | undefined;
  'http-addr'?: string | undefined;
  'mesh-workers'?: number | undefined;
  'socket-group'?: string | undefined;
  hostname?: string | undefined;
  'raft-tick'?: string | undefined;
  'election-timeout'?: string | undefined;
}

export function daemonOptions<T>(y: Argv<T>): Argv<T & DaemonArgs> {
  return y
    .option('data-dir', { type: 'string', describe: 'where the node keeps its identity and state' })
    .option('listen-addr', { type: 'string', default: '0.0.0.0:4242', describe: 'host:port for every node-to-node service' })
    .option('advertise-addr', { type: 'string', describe: 'host[:port] other nodes reach this one at' })
    .option('data-path-addr', { type: 'string', describe: 'IP the routing mesh listens on for published ports (default: the IP of --listen-addr, or all interfaces)' })
    .option('mesh-workers', { type: 'string', requiresArg: true, coerce: numeric('--mesh-workers'), describe: 'processes that relay routing-mesh connections, to use more cores (default 1)' })
    .option('http-addr', { type: 'string', alias: 'metrics-addr', describe: 'host:port of an HTTP server answering GET /metrics (Prometheus text; off by default; --metrics-addr is its old name)' })
    .option('socket-group', { type: 'string', requiresArg: true, describe: 'group that may use the local socket besides root (default baton, if that group exists)' })
    .option('hostname', { type: 'string', requiresArg: true, describe: "the node's name in `node ls` and `service ps`, kept in the data dir for the next start (default: the OS hostname)" })
    .option('election-timeout', { type: 'string', requiresArg: true, describe: "a manager's Raft election timeout, e.g. 5s (default 5 ticks: 500ms); longer keeps a loaded or large cluster's leader, slower to replace a lost one. Give every manager the same" })
    .option('raft-tick', { type: 'string', requiresArg: true, describe: "a manager's Raft tick, its leader's heartbeat interval (default 100ms)" })
    .option('log-level', { type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error'] })
    .option('snapshot-interval', { type: 'number', hidden: true, describe: 'Raft entries between snapshots' });
}

export type InitArgs = DaemonArgs & { autolock?: boolean | undefined; 'force-new-cluster'?: boolean | undefined; restore?: string | undefined; 'cert-expiry'?: string | undefined; 'heartbeat-period'?: string | undefined; 'heartbeat-grace'?: number | undefined; 'max-heartbeats-per-second'?: number | undefined };

export type JoinArgs = DaemonArgs & { token: string; address: string };
