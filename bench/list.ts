// npm run bench:list — `baton service ls` and `baton service ps` of a service of --tasks (10,000)
// tasks, as a user types them: a fresh `node dist/src/baton.js` process on the manager's local
// socket, its whole life timed (start-up, the calls, the table written to a pipe). The cluster is
// one real manager daemon (drained) and --nodes (20) simulated nodes in one process
// (bench/scale-sim.ts: real joins, sessions and agents over a fake executor), so every task is
// Running on a named node without 100 machines' worth of processes.
//   ours      this build's dist/src/baton.js;
//   baseline  --baseline FILE: another build's baton.js (e.g. main's), run against the same
//             cluster in alternating turns with ours (the server side is this build's for both);
//   peer      Docker Swarm on the local engine (`docker swarm init --advertise-addr 127.0.0.1`,
//             left again at the end as bench/converge.ts does): one service of --tasks replicas
//             constrained to a label no node has, so its tasks stay Pending (no containers), and
//             `docker service ls` / `docker service ps` of it. Its rows name no node, so it is a
//             floor for the engine's API and CLI rather than the same table; --no-peer skips it.
// Also `--version` (the CLI's start-up alone). Every command runs --rounds times per system,
// systems alternating (order swapped every round); medians and spread of wall time and CPU time
// (the child's user + system, from this process's reaped-children counters; and the server's
// meanwhile: the manager daemon, or dockerd for the peer, from /proc) are printed and written to
// bench/results/list-latest.json.
// Flags: --tasks T, --nodes N, --rounds R (5), --baseline FILE, --no-peer, --cpu-prof (ours'
// CLI profiles into the temp dir, with --keep), --keep, --out DIR.
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baton } from '../client/index.js';
import { BATON_BIN, BatonDaemonCluster } from './lib/baton-daemons.js';
import { benchDir, count, projectRoot } from './lib/args.js';
import { dockerCli, dockerOk, enterSwarm, leaveSwarm } from './lib/docker-engine.js';
import { cpuTimeMs, installCleanupHandlers, keepTempDirs, makeTempDir, runBenchmark, waitFor } from './lib/proc.js';
import { finishRun, formatTable, ratio } from './lib/results.js';
import { median, round } from './lib/stats.js';
import type { SimReply, SimRequest } from './scale-sim.js';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string' },
    nodes: { type: 'string' },
    rounds: { type: 'string' },
    baseline: { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const TASKS = Math.min(10_000, count(args.tasks, 10_000));
const NODES = count(args.nodes, 20);
const ROUNDS = count(args.rounds, 5);
const BASELINE = args.baseline ? resolve(args.baseline) : undefined;
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
const SERVICE = 'list-0';
const PEER_SERVICE = 'baton-bench-list';
const TIMEOUT_MS = 300_000;
/** The issue's target for both listings. */
const TARGET_S = 1;

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

/** CPU ms of this process's reaped children (cutime + cstime of /proc/self/stat). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

interface Run {
  wallMs: number;
  cpuMs: number;
  /** CPU the server spent meanwhile: the manager daemon (ours, baseline) or dockerd (docker). */
  serverCpuMs: number;
  lines: number;
  bytes: number;
}

/** One command to completion, its stdout drained through a pipe as a terminal pager would. */
function timed(command: string, argv: string[], serverPid: number | undefined): Promise<Run> {
  const serverCpu = (): number => (serverPid === undefined ? 0 : (cpuTimeMs([serverPid]) ?? 0));
  return new Promise((done, fail) => {
    const server0 = serverCpu();
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      for (const c of b) if (c === 10) lines++;
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      if (code !== 0) return fail(new Error(`${command} ${argv.join(' ')} exited ${code}: ${stderr.trim().slice(0, 300)}`));
      done({ wallMs, cpuMs: childrenCpuMs() - cpu0, serverCpuMs: serverCpu() - server0, lines, bytes });
    });
  });
}

/** The simulated nodes' host (bench/scale-sim.ts over IPC): joined nodes, then Running counts. */
function simHost(logFd: number) {
  const child = fork(join(benchDir, 'scale-sim.js'), [], { stdio: ['ignore', logFd, logFd, 'ipc'] });
  process.on('exit', () => child.kill('SIGKILL'));
  const ask = (req: SimRequest): Promise<SimReply> =>
    new Promise((answer) => {
      child.once('message', (m: SimReply) => answer(m));
      child.send(req);
    });
  return { ask };
}

type System = 'ours' | 'baseline' | 'docker';
type Command = 'version' | 'ls' | 'ps';

async function main(): Promise<void> {
  installCleanupHandlers();
  keepTempDirs(args.keep);
  const started = new Date();
  const load0 = loadavg();
  const root = makeTempDir('baton-list');
  const stateRoot = mkdtempSync('/dev/shm/baton-list-');
  process.on('exit', () => rmSync(stateRoot, { recursive: true, force: true }));
  log(`bench:list: ${TASKS} tasks on ${NODES} simulated nodes, ${ROUNDS} rounds; load ${load0.map((v) => v.toFixed(2)).join(' ')}; temp ${root}`);

  const cluster = new BatonDaemonCluster(root);
  const m1 = await cluster.init('m1');
  const admin = cluster.client(m1);
  const drained = cluster.cli('m1', ['node', 'update', '--availability', 'drain', m1.nodeId]);
  if (drained.code !== 0) throw new Error(`drain m1: ${drained.stderr}`);
  const sim = simHost(openSync(join(root, 'sim.log'), 'a'));
  const joined = await sim.ask({ type: 'start', remote: m1.addr, token: cluster.workerToken, count: NODES, prefix: 'h0', stateRoot, executorDelayMs: 50, joinConcurrency: 4 });
  if (joined.type !== 'joined') throw new Error(`simulated nodes: ${joined.type === 'error' ? joined.message : joined.type}`);
  await waitFor(`${NODES} nodes Ready`, async () => (await admin.list('ListNodes')).filter((n) => n.status?.state === baton.NodeState.NODE_READY).length > NODES, { timeoutMs: TIMEOUT_MS, intervalMs: 500 });
  const spec: baton.ServiceSpec.$Properties = { annotations: { name: SERVICE }, replicas: TASKS, task: { runtime: 'process', container: { image: 'scale-sim', command: ['sleep', '1000000'] } } };
  await admin.control.call('CreateService', { spec, noResolveImage: true }, 60_000);
  await waitFor(`${TASKS} tasks Running`, async () => {
    const s = await sim.ask({ type: 'stats' });
    return s.type === 'stats' && s.running >= TASKS;
  }, { timeoutMs: TIMEOUT_MS, intervalMs: 1000 });
  log(`${TASKS} tasks Running`);

  let peer: string | undefined = args['no-peer'] ? '--no-peer' : await enterSwarm('127.0.0.1');
  try {
    if (peer === undefined) {
      await dockerOk(['service', 'create', '--detach', '--name', PEER_SERVICE, '--replicas', String(TASKS), '--constraint', 'node.labels.baton-bench-list==none', 'local/busybox:1', 'sleep', '1000000'], 120_000);
      await waitFor(`${TASKS} swarm tasks`, async () => (await dockerOk(['service', 'ps', '-q', PEER_SERVICE])).trim().split('\n').length >= TASKS, { timeoutMs: TIMEOUT_MS, intervalMs: 2000 });
      log(`swarm: ${TASKS} tasks of ${PEER_SERVICE} (Pending)`);
    } else log(`peer: not run (${peer})`);
    const dataDir = ['--data-dir', m1.dataDir];
    const dockerdPid = peer === undefined ? Number(spawnSync('pidof', ['dockerd'], { encoding: 'utf8' }).stdout.trim().split(' ')[0]) || undefined : undefined;
    const profile = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'cli-profiles')] : [];
    const argv: Record<System, Record<Command, [string, string[]]>> = {
      ours: { version: ['node', [...profile, BATON_BIN, '--version']], ls: ['node', [...profile, BATON_BIN, 'service', 'ls', ...dataDir]], ps: ['node', [...profile, BATON_BIN, 'service', 'ps', SERVICE, ...dataDir]] },
      baseline: { version: ['node', [BASELINE ?? '', '--version']], ls: ['node', [BASELINE ?? '', 'service', 'ls', ...dataDir]], ps: ['node', [BASELINE ?? '', 'service', 'ps', SERVICE, ...dataDir]] },
      docker: { version: ['docker', ['--version']], ls: ['docker', ['service', 'ls']], ps: ['docker', ['service', 'ps', PEER_SERVICE]] },
    };
    const systems: System[] = ['ours', ...(BASELINE ? (['baseline'] as const) : []), ...(peer === undefined ? (['docker'] as const) : [])];
    const runs = new Map<string, Run[]>();
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? systems : [...systems].reverse();
      for (const command of ['version', 'ls', 'ps'] as const) {
        for (const system of order) {
          const [bin, words] = argv[system][command];
          const run = await timed(bin, words, system === 'docker' ? dockerdPid : m1.proc.pid);
          const key = `${system} ${command}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
      log(`round ${r + 1}/${ROUNDS}: ${systems.map((s) => `${s} ps ${Math.round(runs.get(`${s} ps`)!.at(-1)!.wallMs)} ms`).join(', ')}; load ${loadavg()[0]!.toFixed(2)}`);
    }

    const summary = (key: string) => {
      const list = runs.get(key) ?? [];
      const wall = list.map((x) => x.wallMs);
      const cpu = list.map((x) => x.cpuMs);
      const server = list.map((x) => x.serverCpuMs);
      return { wallMs: round(median(wall), 0), wallMinMs: round(Math.min(...wall), 0), wallMaxMs: round(Math.max(...wall), 0), cpuMs: round(median(cpu), 0), cpuMinMs: Math.min(...cpu), cpuMaxMs: Math.max(...cpu), serverCpuMs: round(median(server), 0), lines: list[0]?.lines ?? 0, bytes: list[0]?.bytes ?? 0 };
    };
    const results: Record<string, ReturnType<typeof summary>> = {};
    for (const key of runs.keys()) results[key] = summary(key);
    const s = (ms: number): string => (ms / 1000).toFixed(2);
    const cellOf = (key: string): string => {
      const x = results[key];
      return x ? `${s(x.wallMs)} (${s(x.wallMinMs)}-${s(x.wallMaxMs)}) cpu ${s(x.cpuMs)}+${s(x.serverCpuMs)}` : 'n/a';
    };
    const rows: string[][] = [['command (s: median (min-max), cpu median: client+server)', 'ours', ...(BASELINE ? ['baseline', 'ours/baseline'] : []), ...(peer === undefined ? ['docker swarm', 'ours/docker'] : []), 'target']];
    for (const command of ['version', 'ls', 'ps'] as const) {
      const ours = results[`ours ${command}`]!;
      const base = results[`baseline ${command}`];
      const dock = results[`docker ${command}`];
      rows.push([
        `${command === 'version' ? '--version' : `service ${command}`} (${ours.lines} lines)`,
        cellOf(`ours ${command}`),
        ...(BASELINE ? [cellOf(`baseline ${command}`), ratio(ours.wallMs, base?.wallMs)] : []),
        ...(peer === undefined ? [`${cellOf(`docker ${command}`)} (${dock?.lines ?? 0} lines)`, ratio(ours.wallMs, dock?.wallMs)] : []),
        command === 'version' ? '' : `<= ${TARGET_S}`,
      ]);
    }
    console.log(formatTable(rows));
    finishRun(outDir, 'list', started, load0, { tasks: TASKS, nodes: NODES, rounds: ROUNDS, baseline: BASELINE ?? null, peer: peer ?? 'docker swarm (tasks Pending, no node)', results });
    if (args['cpu-prof']) console.log(`CLI profiles: ${join(root, 'cli-profiles')}`);
  } finally {
    if (peer === undefined) {
      await dockerCli(['service', 'rm', PEER_SERVICE], 60_000);
      await leaveSwarm();
    }
    peer = 'done';
  }
}

runBenchmark('list', main);
