// node dist/bench/leader-costs.js [--calls 20000] [--connections 50] [--turns 3] [--tasks 10000]
//   [--services 1] [--nodes 4] [--reports 3000] [--base DIR] [--only auth|orchestrator|updater] [--rolling]
//   [--commit-ms 0]
// Three of the leader's costs besides heartbeats' own work, each both ways in the same run
// (alternating turns), for docs/scale.md:
//
// - auth: the server's CPU per authorized unary call (what a heartbeat or a status report pays
//   before its handler) over mTLS, with grpc-js' own TLS (NodeServerCredentials: the peer
//   certificate read from the socket on every call) beside the daemon's NodeTlsListener (read
//   once per connection). The clients run in a child process, so the figure is the server's.
// - orchestrator: the replicated orchestrator's CPU per task status report (Preparing, Starting,
//   Running, in batches of 100 as the dispatcher applies them) at a service of --tasks replicas,
//   on a store without Raft (test/lib/local-cluster). With --base DIR (another built checkout's
//   root, e.g. main's) the same is measured with that build's orchestrator, alternating with ours.
//   Before the reports, --services services of --tasks replicas each are created on --nodes
//   nodes and placed: the loops' CPU for that, the slots the replicated orchestrator looked at,
//   and the longest the event loop was held meanwhile (perf_hooks' monitorEventLoopDelay, 10 ms
//   resolution; the loops' passes are the only long synchronous work in that process).
//   With --commit-ms D every proposal of the loops resolves D ms after it is made, as a Raft
//   commit round would (the store has no Raft), and the wall time to create and place is given
//   too: how many rounds the loops wait for in a row (docs/scale.md item 16).
// - updater: a new leader's first passes over --services services of --tasks running replicas
//   (none updating): every loop is stopped and started again, as on a change of leader, and
//   the loops' CPU until they settle, the longest event-loop block meanwhile and the updater's
//   longest synchronous pass are measured, with --base's build alternating with ours. With
//   --rolling each service is in a rolling update (one task at a time) when the leader changes.
import { fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { createRootCA, loadRootCA } from '../manager/ca/index.js';
import { authorize, clientCredentials, generateNodeKey, NODE_CHANNEL_OPTIONS, NodeServerCredentials, NodeTlsListener, type NodeTlsMaterial } from '../rpc/tls/index.js';
import { baton } from '../proto/gen/baton.js';
import { baseDist, count, num, projectRoot } from './lib/args.js';
import { finishRun, formatTable, ratio } from './lib/results.js';
import { median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string' },
    connections: { type: 'string' },
    turns: { type: 'string' },
    tasks: { type: 'string' },
    reports: { type: 'string' },
    services: { type: 'string' },
    nodes: { type: 'string' },
    only: { type: 'string' },
    base: { type: 'string' },
    client: { type: 'boolean', default: false },
    rolling: { type: 'boolean', default: false },
    'commit-ms': { type: 'string' },
    out: { type: 'string' },
  },
});

const CALLS = count(args.calls, 20_000);
const CONNECTIONS = count(args.connections, 50);
const TURNS = count(args.turns, 3);
const TASKS = count(args.tasks, 10_000);
const REPORTS = count(args.reports, 3_000, 100);
const SERVICES = count(args.services, 1);
const NODES = count(args.nodes, 4);
/** A stand-in for a Raft commit round under every proposal of the loops (0: applied at once). */
const COMMIT_MS = num(args['commit-ms'], undefined, 0);
const ONLY = args.only;
if (ONLY !== undefined && ONLY !== 'auth' && ONLY !== 'orchestrator' && ONLY !== 'updater') {
  process.stderr.write(`bench:leader-costs: --only takes auth, orchestrator or updater, not ${ONLY}\n`);
  process.exit(2);
}
const CLUSTER = 'bench-cluster';
const S = baton.TaskState;

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v ?? null)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')) as unknown,
};
const PING: grpc.MethodDefinition<unknown, unknown> = {
  path: '/baton.bench.Auth/Ping',
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
};

interface ClientJob {
  port: number;
  material: NodeTlsMaterial[];
  calls: number;
}

/** The child: one channel (one TLS connection) per node certificate, calls spread over them, each sequential. */
async function clientMain(): Promise<void> {
  const job = await new Promise<ClientJob>((r) => process.once('message', (m) => r(m as ClientJob)));
  const perConnection = Math.ceil(job.calls / job.material.length);
  await Promise.all(
    job.material.map(async (m) => {
      const c = new grpc.Client(`127.0.0.1:${job.port}`, clientCredentials(m), NODE_CHANNEL_OPTIONS);
      for (let i = 0; i < perConnection; i++) {
        await new Promise<void>((ok, fail) =>
          c.makeUnaryRequest(PING.path, json.serialize, json.deserialize, {}, { deadline: Date.now() + 30_000 }, (err) => (err ? fail(err) : ok())),
        );
      }
      c.close();
    }),
  );
  process.send?.('done');
}

interface AuthServer {
  name: string;
  port: number;
  stop(): void;
}

function pingServer(): grpc.Server {
  const server = new grpc.Server();
  server.addService({ Ping: PING }, { Ping: authorize(['manager', 'worker'], CLUSTER, (_call, callback) => callback(null, {})) });
  return server;
}

async function grpcTlsServer(material: NodeTlsMaterial): Promise<AuthServer> {
  const server = pingServer();
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', new NodeServerCredentials(material), (err, p) => (err ? fail(err) : ok(p))));
  return { name: "grpc-js' TLS, certificate read per call (main)", port, stop: () => server.forceShutdown() };
}

async function listenerServer(material: NodeTlsMaterial): Promise<AuthServer> {
  const server = pingServer();
  const listener = new NodeTlsListener(server, material);
  const port = await listener.listen('127.0.0.1:0');
  return {
    name: 'NodeTlsListener, read per connection (this branch)',
    port,
    stop: () => {
      listener.close();
      server.forceShutdown();
    },
  };
}

/** Server CPU µs per call for one turn: a fresh client process, CONNECTIONS connections, CALLS calls. */
async function authTurn(server: AuthServer, material: NodeTlsMaterial[]): Promise<number> {
  const child = fork(process.argv[1]!, ['--client'], { stdio: 'inherit' });
  const done = new Promise<void>((ok, fail) => {
    child.once('message', () => ok());
    child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`client exited ${String(code)}`))));
  });
  const before = process.cpuUsage();
  child.send({ port: server.port, material, calls: CALLS } satisfies ClientJob);
  await done;
  const used = process.cpuUsage(before);
  child.kill();
  return (used.user + used.system) / CALLS;
}

async function authPart(): Promise<{ main: number[]; branch: number[] }> {
  const root = await createRootCA(CLUSTER);
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const issue = async (nodeId: string, role: 'manager' | 'worker'): Promise<NodeTlsMaterial> => {
    const { keyPem, csrPem } = await generateNodeKey();
    return { caPem: ca.certPem, certPem: await ca.issueNodeCertificate(csrPem, { nodeId, role, clusterId: CLUSTER }, 3600_000), keyPem };
  };
  const serverMaterial = await issue('leader', 'manager');
  const nodes = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => issue(`node-${i}`, 'worker')));
  const servers = [await grpcTlsServer(serverMaterial), await listenerServer(serverMaterial)];
  const result = { main: [] as number[], branch: [] as number[] };
  try {
    // A warm-up turn each, then alternating turns, so that the machine's load falls on both.
    for (const s of servers) await authTurn(s, nodes);
    for (let t = 0; t < TURNS; t++) {
      result.main.push(await authTurn(servers[0]!, nodes));
      result.branch.push(await authTurn(servers[1]!, nodes));
    }
  } finally {
    for (const s of servers) s.stop();
  }
  return result;
}

interface LocalClusterModule {
  started(opts?: object, nodes?: string[]): Promise<{
    addService(id: string, name: string, o?: { replicas?: number; env?: string[]; update?: { parallelism?: number } }): void;
    updateSpec(id: string, change: (spec: { task?: { container?: { env?: string[] } | null } | null }) => void): void;
    settle(): Promise<void>;
    tasks(serviceId: string): { meta: { id: string }; status?: { state?: number } | null }[];
    report(taskId: string, state: number): void;
    runAll(serviceId: string): void;
    start(): unknown;
    stop(): void;
    host: { propose(actions: unknown[]): Promise<unknown> };
    loops: { name: string; start(): void; stats: { passes: number; instancesVisited?: number; longestPassMs?: number; mostTasksRead?: number } }[];
  }>;
}

interface OrchestratorTurn {
  /** The loops' CPU to create and place every service's tasks, ms. */
  createCpuMs: number;
  /** Wall time to create and place them, ms (what --commit-ms shows). */
  createWallMs: number;
  /** Slots the replicated orchestrator looked at meanwhile (a build without the count: undefined). */
  createVisited: number | undefined;
  createPasses: number;
  usPerReport: number;
  passes: number;
  /** The longest event-loop delay over the whole turn, ms. */
  maxBlockMs: number;
  /** The longest synchronous pass of each loop, where the build records it. */
  longestPassMs: Record<string, number>;
}

/** One turn with the local-cluster module of one build: create and place, then the status reports. */
async function orchestratorTurn(lib: LocalClusterModule): Promise<OrchestratorTurn> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const c = await lib.started({}, Array.from({ length: NODES }, (_, i) => `n${i + 1}`));
  const orchestrator = c.loops.find((l) => l.name === 'replicated-orchestrator');
  if (COMMIT_MS > 0) {
    const propose = c.host.propose.bind(c.host);
    c.host.propose = async (actions) => {
      await new Promise((r) => setTimeout(r, COMMIT_MS));
      return propose(actions);
    };
  }
  delay.enable();
  const visited0 = orchestrator?.stats.instancesVisited;
  const created0 = orchestrator?.stats.passes ?? 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let s = 0; s < SERVICES; s++) c.addService(`s${s}`, `web${s}`, { replicas: TASKS });
  await c.settle();
  const createWallMs = performance.now() - wall0;
  const createCpu = process.cpuUsage(cpu0);
  const createVisited = visited0 === undefined ? undefined : (orchestrator?.stats.instancesVisited ?? 0) - visited0;
  const createPasses = (orchestrator?.stats.passes ?? 0) - created0;
  const ids = c.tasks('s0').map((t) => t.meta.id);
  const reports = ids.slice(0, Math.min(ids.length, Math.ceil(REPORTS / 3)));
  const passesBefore = orchestrator?.stats.passes ?? 0;
  const before = process.cpuUsage();
  let count = 0;
  // As a node reports them, applied 100 at a time.
  for (const state of [S.TASK_PREPARING, S.TASK_STARTING, S.TASK_RUNNING]) {
    for (let i = 0; i < reports.length; i += 100) {
      for (const id of reports.slice(i, i + 100)) {
        c.report(id, state);
        count++;
      }
      await c.settle();
    }
  }
  const used = process.cpuUsage(before);
  delay.disable();
  const passes = (orchestrator?.stats.passes ?? 0) - passesBefore;
  const longestPassMs: Record<string, number> = {};
  for (const l of c.loops) if (l.stats.longestPassMs !== undefined) longestPassMs[l.name] = l.stats.longestPassMs;
  c.stop();
  return {
    createCpuMs: (createCpu.user + createCpu.system) / 1000,
    createWallMs,
    createVisited,
    createPasses,
    usPerReport: (used.user + used.system) / count,
    passes,
    maxBlockMs: delay.max / 1e6,
    longestPassMs,
  };
}

/** A new leader's first passes over SERVICES × TASKS running tasks. */
interface UpdaterTurn {
  /** The updater alone started, until it settles: its CPU, ms. */
  updaterCpuMs: number;
  /** The longest event-loop block meanwhile, ms. */
  updaterMaxBlockMs: number;
  /** Its longest synchronous pass (where the build records it), ms. */
  updaterLongestPassMs: number | undefined;
  updaterPasses: number;
  /** Every loop started again together (a change of leader), until they settle: CPU, ms. */
  allCpuMs: number;
  allMaxBlockMs: number;
  /** The longest synchronous pass of each loop in that start. */
  longestPassMs: Record<string, number>;
}

/** Runs `during` with the event loop's delay monitored: the CPU it took and the longest block, ms. */
async function measured(during: () => Promise<void>): Promise<{ cpuMs: number; maxBlockMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  delay.enable();
  await during();
  const cpu = process.cpuUsage(cpu0);
  // A block is recorded when the monitor's next tick fires late: let it fire.
  await new Promise((r) => setTimeout(r, 30));
  delay.disable();
  return { cpuMs: (cpu.user + cpu.system) / 1000, maxBlockMs: delay.max / 1e6 };
}

/** One turn: the services created, placed and running; then the loops start again as on a new leader. */
async function updaterTurn(lib: LocalClusterModule): Promise<UpdaterTurn> {
  const c = await lib.started({}, Array.from({ length: NODES }, (_, i) => `n${i + 1}`));
  for (let s = 0; s < SERVICES; s++) c.addService(`s${s}`, `web${s}`, { replicas: TASKS, env: ['V=1'], update: { parallelism: 1 } });
  await c.settle();
  for (let s = 0; s < SERVICES; s++) c.runAll(`s${s}`);
  await c.settle();
  c.stop();
  // --rolling: while no leader runs the loops, every service gets a new spec (a rolling update
  // under way, one task at a time), so the new leader's updater plans each whole.
  if (args.rolling) for (let s = 0; s < SERVICES; s++) c.updateSpec(`s${s}`, (spec) => (spec.task!.container!.env = ['V=2']));
  // The updater's own first pass (a leader that gains office makes one over every service).
  const updater = c.loops.find((l) => l.name === 'updater');
  if (updater === undefined) throw new Error('no updater among the loops');
  const passes0 = updater.stats.passes;
  // Its longest pass so far (creating the services) is not this measure's.
  if (updater.stats.longestPassMs !== undefined) updater.stats.longestPassMs = 0;
  const alone = await measured(async () => {
    updater.start();
    await c.settle();
  });
  const updaterLongestPassMs = updater.stats.longestPassMs;
  const updaterPasses = updater.stats.passes - passes0;
  c.stop();
  // Every loop together, as a change of leader starts them (fresh loops: fresh stats).
  const all = await measured(async () => {
    c.start();
    await c.settle();
  });
  const longestPassMs: Record<string, number> = {};
  for (const l of c.loops) if (l.stats.longestPassMs !== undefined) longestPassMs[l.name] = l.stats.longestPassMs;
  c.stop();
  return {
    updaterCpuMs: alone.cpuMs,
    updaterMaxBlockMs: alone.maxBlockMs,
    updaterLongestPassMs,
    updaterPasses,
    allCpuMs: all.cpuMs,
    allMaxBlockMs: all.maxBlockMs,
    longestPassMs,
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  const runs = (part: 'auth' | 'orchestrator' | 'updater'): boolean => ONLY === undefined || ONLY === part;
  console.log(
    `bench leader-costs: ${runs('auth') ? `${CALLS} authorized calls over ${CONNECTIONS} connections per turn` : 'no auth part'}, ${TURNS} turns; ` +
      `${runs('orchestrator') ? `orchestrator: ${SERVICES} × ${TASKS} replicas on ${NODES} nodes, ${REPORTS} reports` : 'no orchestrator part'}; ` +
      `${runs('updater') ? `updater: a new leader over ${SERVICES} × ${TASKS} running replicas on ${NODES} nodes${args.rolling ? ', each service rolling' : ''}` : 'no updater part'}; load ${load0.map((v) => v.toFixed(2)).join(' ')}`,
  );
  const auth = runs('auth') ? await authPart() : { main: [], branch: [] };
  const ours = (await import('../test/lib/local-cluster.js')) as unknown as LocalClusterModule;
  const base = args.base ? ((await import(join(baseDist(args.base), 'test/lib/local-cluster.js'))) as LocalClusterModule) : undefined;
  const orch = { base: [] as OrchestratorTurn[], branch: [] as OrchestratorTurn[] };
  const upd = { base: [] as UpdaterTurn[], branch: [] as UpdaterTurn[] };
  for (let turn = 0; turn < TURNS; turn++) {
    // Each build goes first in every other turn: a drift of the machine's load hits both.
    const order = turn % 2 === 0 ? (['base', 'branch'] as const) : (['branch', 'base'] as const);
    if (runs('orchestrator')) {
      for (const which of order) {
        if (which === 'branch') orch.branch.push(await orchestratorTurn(ours));
        else if (base) orch.base.push(await orchestratorTurn(base));
      }
    }
    if (runs('updater')) {
      for (const which of order) {
        if (which === 'branch') upd.branch.push(await updaterTurn(ours));
        else if (base) upd.base.push(await updaterTurn(base));
      }
    }
  }
  const m = (xs: number[]): number | undefined => (xs.length > 0 ? median(xs) : undefined);
  const f = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
  const spread = (xs: number[]): string => (xs.length > 0 ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}` : '-');
  const row = <T>(turns: { base: T[]; branch: T[] }, label: string, pick: (o: T) => number | undefined): string[] => {
    const b = turns.base.map(pick).filter((v): v is number => v !== undefined);
    const o = turns.branch.map(pick).filter((v): v is number => v !== undefined);
    return [label, f(m(b)), f(m(o)), ratio(m(o), m(b)), spread(b), spread(o)];
  };
  const rows = [['median of turns', 'main way / --base', 'this branch', 'branch/base', 'spread base', 'spread branch']];
  if (runs('auth')) rows.push(['server CPU µs per authorized call (mTLS unary, one connection per node)', f(m(auth.main)), f(m(auth.branch)), ratio(m(auth.branch), m(auth.main)), spread(auth.main), spread(auth.branch)]);
  if (runs('orchestrator')) {
    rows.push(
      row(orch, `loops' CPU ms to create and place ${SERVICES} × ${TASKS} tasks`, (o) => o.createCpuMs),
      row(orch, '  the same per task, µs (create, schedule, assign: proposals encoded and applied as on the leader)', (o) => (o.createCpuMs * 1000) / (SERVICES * TASKS)),
      row(orch, `  wall ms for it${COMMIT_MS > 0 ? `, each proposal committed ${COMMIT_MS} ms after it is made` : ''}`, (o) => o.createWallMs),
      row(orch, '  slots the replicated orchestrator looked at meanwhile', (o) => o.createVisited),
      row(orch, `loops' CPU µs per status report (${TASKS} replicas)`, (o) => o.usPerReport),
      row(orch, 'longest event-loop block over the turn, ms', (o) => o.maxBlockMs),
    );
  }
  if (runs('updater')) {
    rows.push(
      row(upd, `new leader, the updater alone over ${SERVICES} × ${TASKS} running tasks: CPU ms`, (o) => o.updaterCpuMs),
      row(upd, '  longest event-loop block, ms', (o) => o.updaterMaxBlockMs),
      row(upd, "  the updater's longest pass, ms", (o) => o.updaterLongestPassMs),
      row(upd, '  its passes', (o) => o.updaterPasses),
      row(upd, 'new leader, every loop started together: CPU ms', (o) => o.allCpuMs),
      row(upd, '  longest event-loop block, ms', (o) => o.allMaxBlockMs),
    );
  }
  console.log(formatTable(rows));
  const longest = (xs: { longestPassMs: Record<string, number> }[]): string =>
    Object.keys(xs[0]?.longestPassMs ?? {})
      .map((name) => `${name} ${Math.max(...xs.map((x) => x.longestPassMs[name] ?? 0)).toFixed(1)}`)
      .join(', ') || '- (not recorded by this build)';
  if (runs('orchestrator')) {
    const last = (xs: OrchestratorTurn[]): string => (xs.length === 0 ? '-' : `${xs[xs.length - 1]!.createPasses} to create, ${xs[xs.length - 1]!.passes} for the reports`);
    console.log(`replicated orchestrator passes in one turn: base ${last(orch.base)}; branch ${last(orch.branch)}`);
    console.log(`longest synchronous pass per loop, ms (max of turns): base ${longest(orch.base)}; branch ${longest(orch.branch)}`);
  }
  if (runs('updater')) console.log(`new leader, longest synchronous pass per loop, ms (max of turns): base ${longest(upd.base)}; branch ${longest(upd.branch)}`);
  finishRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'leader-costs', started, load0, {
    calls: CALLS,
    connections: CONNECTIONS,
    turns: TURNS,
    tasks: TASKS,
    services: SERVICES,
    nodes: NODES,
    reports: REPORTS,
    base: args.base,
    only: ONLY,
    commitMs: COMMIT_MS,
    rolling: args.rolling,
    authUsPerCall: auth,
    orchestrator: orch,
    updater: upd,
  });
}

if (args.client) {
  clientMain().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`client: ${String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:leader-costs failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
