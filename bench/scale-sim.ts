// A host of simulated nodes for bench:scale (bench/scale.ts forks a few of these): joins
// `count` nodes (bench/lib/sim-node.ts) a few at a time, then answers the parent's requests for
// what its nodes see — acknowledged Running tasks, heartbeat round trips, push latencies — over
// the fork IPC channel. It exits when the parent goes away (the IPC channel closes).
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { RpcClient } from '../rpc/client.js';
import { caService } from '../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, bootstrapCredentials, caDigest, clientCredentials } from '../rpc/tls/index.js';
import { parseJoinToken } from '../manager/ca/index.js';
import { SimNode, stateDirOf, type Arrival } from './lib/sim-node.js';

export interface SimStart {
  type: 'start';
  /** host:port of a manager to join through. */
  remote: string;
  token: string;
  count: number;
  /** Names the nodes sim-<prefix>-<i>. */
  prefix: string;
  stateRoot: string;
  executorDelayMs: number;
  joinConcurrency: number;
}

export type SimRequest = SimStart | { type: 'stats' };

export interface SimStats {
  type: 'stats';
  nodes: number;
  running: number;
  /** Heartbeat round trips (ms) since the last stats request. */
  heartbeatMs: number[];
  heartbeatFailures: number;
  /** Scheduler's assignment → node received (ms), since the last stats request. */
  pushMs: number[];
  /** Tasks received in the Assigned state since the last stats request (the node-loss breakdown). */
  arrivals: Arrival[];
  /** When the leader last acknowledged a Running status of this host's nodes (ms since the epoch; 0: never). */
  lastRunningAckAt: number;
}

export type SimReply = { type: 'joined'; nodes: number; seconds: number } | { type: 'error'; message: string } | SimStats;

const logger = pino({ level: process.env.SIM_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const nodes: SimNode[] = [];
let heartbeatMs: number[] = [];
let heartbeatFailures = 0;
let pushMs: number[] = [];
let arrivals: Arrival[] = [];
let lastRunningAckAt = 0;
/** Samples kept between two stats requests, at most (the parent asks every second or so). */
const MAX_SAMPLES = 200_000;

function send(msg: SimReply): void {
  process.send?.(msg);
}

async function start(s: SimStart): Promise<void> {
  const started = performance.now();
  // As `baton join`: the root CA fetched unverified, then trusted only if the token's digest matches.
  const bootstrap = new RpcClient(s.remote, bootstrapCredentials(), caService, NODE_CHANNEL_OPTIONS);
  const caPem = (await bootstrap.call('GetRootCACertificate', {}, 10_000)).caCertPem ?? '';
  bootstrap.close();
  if (caDigest(caPem) !== parseJoinToken(s.token).digest) throw new Error(`the CA at ${s.remote} does not match the join token`);
  const ca = new RpcClient(s.remote, clientCredentials({ caPem, serverRole: 'manager' }), caService, NODE_CHANNEL_OPTIONS);
  let next = 0;
  const joinOne = async (): Promise<void> => {
    for (let i = next++; i < s.count; i = next++) {
      nodes.push(
        await SimNode.join({
          ca,
          caPem,
          token: s.token,
          hostname: `sim-${s.prefix}-${i}`,
          advertiseAddr: `127.0.0.1:${10_000 + i}`,
          stateDir: stateDirOf(s.stateRoot, i),
          executorDelayMs: s.executorDelayMs,
          logger,
          onHeartbeat: (ms) => {
            if (ms === undefined) heartbeatFailures++;
            else if (heartbeatMs.length < MAX_SAMPLES) heartbeatMs.push(ms);
          },
          onAssigned: (arrival) => {
            if (pushMs.length < MAX_SAMPLES) pushMs.push(arrival.receivedAt - arrival.assignedAt);
            if (arrivals.length < MAX_SAMPLES) arrivals.push(arrival);
          },
          onRunningAcknowledged: (at) => {
            lastRunningAckAt = Math.max(lastRunningAckAt, at);
          },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, s.joinConcurrency) }, joinOne));
  ca.close();
  send({ type: 'joined', nodes: nodes.length, seconds: (performance.now() - started) / 1000 });
}

function stats(): SimStats {
  let running = 0;
  for (const n of nodes) running += n.running.size;
  const out: SimStats = { type: 'stats', nodes: nodes.length, running, heartbeatMs, heartbeatFailures, pushMs, arrivals, lastRunningAckAt };
  heartbeatMs = [];
  pushMs = [];
  arrivals = [];
  heartbeatFailures = 0;
  return out;
}

let stateRoot: string | undefined;
process.on('message', (msg: SimRequest) => {
  if (msg.type === 'start') {
    stateRoot = msg.stateRoot;
    start(msg).catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  } else if (msg.type === 'stats') send(stats());
});
// The parent gone (finished, or killed): nothing here may outlive it.
process.on('disconnect', () => {
  if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
  process.exit(0);
});
