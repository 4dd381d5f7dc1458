// A host of simulated nodes for bench:scale (bench/scale.ts forks a few of these): joins
// `count` nodes (bench/lib/sim-node.ts) a few at a time, then answers the parent's requests for
// what its nodes see — acknowledged Running tasks, heartbeat round trips, push latencies — over
// the fork IPC channel. It exits when the parent goes away (the IPC channel closes). The nodes'
// heartbeats go from a thread of their own (bench/lib/sim-heartbeats.ts) unless the parent
// asks for them inline, and the agents keep their records in memory unless it asks for LevelDB.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { RpcClient } from '../rpc/client.js';
import { caService } from '../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, bootstrapCredentials, caDigest, clientCredentials } from '../rpc/tls/index.js';
import { parseJoinToken } from '../manager/ca/index.js';
import { SimNode, stateDirOf, type Arrival } from './lib/sim-node.js';
import { SimHeartbeats, reniceAllBut, type LoopDelay } from './lib/sim-heartbeats.js';

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
  /** The agents' store: in memory (the default), or a LevelDB each as on a real node. */
  store?: 'memory' | 'leveldb';
  /** Heartbeats from a thread of their own ('thread', the default) or from the nodes' event loop ('inline'). */
  heartbeats?: 'thread' | 'inline';
  /** Niceness of this process's threads, but the heartbeat thread's (see reniceAllBut); default 0. */
  nice?: number;
  /**
   * Profile the nodes' event loop (V8's CPU profiler) from the end of the joins until a 'profile'
   * request, which writes it into this directory: the joins' key generation and handshakes
   * would otherwise fill a profile of the converging work.
   */
  cpuProfileDir?: string;
}

export type SimRequest = SimStart | { type: 'stats' } | { type: 'profile' };

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
  /** How late timers fired since the last stats request: the nodes' event loop, and the heartbeat thread's (if any). */
  loop: LoopDelay;
  heartbeatLoop?: LoopDelay;
}

export type SimReply =
  | { type: 'joined'; nodes: number; seconds: number; niced: boolean }
  | { type: 'error'; message: string }
  | { type: 'profiled'; path: string | undefined }
  | SimStats;

const logger = pino({ level: process.env.SIM_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const nodes: SimNode[] = [];
let heartbeatMs: number[] = [];
let heartbeatFailures = 0;
let pushMs: number[] = [];
let arrivals: Arrival[] = [];
let lastRunningAckAt = 0;
let heartbeats: SimHeartbeats | undefined;
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
/** Samples kept between two stats requests, at most (the parent asks every second or so). */
const MAX_SAMPLES = 200_000;

function send(msg: SimReply): void {
  process.send?.(msg);
}

async function start(s: SimStart): Promise<void> {
  const started = performance.now();
  // The nodes stand for other machines: their work takes the CPU the managers (what is
  // measured) leave. Their heartbeats, on their own machines, would not wait for that work nor
  // for this machine's other processes: the heartbeat thread keeps the managers' priority.
  if (s.heartbeats !== 'inline') heartbeats = new SimHeartbeats();
  const niced = !s.nice || reniceAllBut(s.nice, await heartbeats?.tid);
  // As `baton join`: the root CA fetched unverified, then trusted only if the token's digest matches.
  const bootstrap = new RpcClient(s.remote, bootstrapCredentials(), caService, NODE_CHANNEL_OPTIONS);
  const caPem = (await bootstrap.call('GetRootCACertificate', {}, 10_000)).caCertPem ?? '';
  bootstrap.close();
  if (caDigest(caPem) !== parseJoinToken(s.token).digest) throw new Error(`the CA at ${s.remote} does not match the join token`);
  const ca = new RpcClient(s.remote, clientCredentials({ caPem, serverRole: 'manager' }), caService, NODE_CHANNEL_OPTIONS);
  const thread = heartbeats;
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
          store: s.store,
          ...(thread ? { heartbeats: { thread, index: i } } : {}),
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
  if (s.cpuProfileDir) await startProfile(s.cpuProfileDir, s.prefix);
  send({ type: 'joined', nodes: nodes.length, seconds: (performance.now() - started) / 1000, niced });
}

/** Loop delay in ms from a histogram in ns (0 when no timer fired yet). */
function delayOf(h: { count: number; max: number; percentile: (p: number) => number }): LoopDelay {
  return h.count > 0 ? { p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 } : { p99Ms: 0, maxMs: 0 };
}

async function stats(): Promise<SimStats> {
  let running = 0;
  for (const n of nodes) running += n.running.size;
  const out: SimStats = { type: 'stats', nodes: nodes.length, running, heartbeatMs, heartbeatFailures, pushMs, arrivals, lastRunningAckAt, loop: delayOf(loop) };
  heartbeatMs = [];
  pushMs = [];
  arrivals = [];
  heartbeatFailures = 0;
  loop.reset();
  if (heartbeats) {
    const t = await heartbeats.stats();
    out.heartbeatMs = t.heartbeatMs;
    out.heartbeatFailures = t.failures;
    out.heartbeatLoop = t.loop;
  }
  return out;
}

let profiling: { session: Session; path: string } | undefined;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolvePost, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolvePost(result as T))));
}

async function startProfile(dir: string, prefix: string): Promise<void> {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  // 1 ms, V8's default: the nodes' work is many short callbacks, and a host's converging minute is a profile of tens of MiB.
  await post(session, 'Profiler.setSamplingInterval', { interval: 1000 });
  await post(session, 'Profiler.start');
  mkdirSync(dir, { recursive: true });
  profiling = { session, path: join(dir, `sim-${prefix}.cpuprofile`) };
}

/** Stops the profile and writes it (undefined: none was started). */
async function stopProfile(): Promise<string | undefined> {
  const p = profiling;
  if (!p) return undefined;
  profiling = undefined;
  const { profile } = await post<{ profile: object }>(p.session, 'Profiler.stop');
  p.session.disconnect();
  writeFileSync(p.path, JSON.stringify(profile));
  return p.path;
}

let stateRoot: string | undefined;
process.on('message', (msg: SimRequest) => {
  if (msg.type === 'start') {
    stateRoot = msg.stateRoot;
    start(msg).catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  } else if (msg.type === 'stats') void stats().then(send);
  else if (msg.type === 'profile')
    stopProfile().then(
      (path) => send({ type: 'profiled', path }),
      (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
});
// The parent gone (finished, or killed): nothing here may outlive it.
process.on('disconnect', () => {
  if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
  process.exit(0);
});
