// npm run bench:converge — time until N replicas of busybox `sleep` are running on one Docker
// engine, for N = 10 and 50 and a scale 50 -> 100, three ways in the same run:
//   ours:  `baton init` (one node, docker runtime, 127.0.0.1, temp data dir), then
//          `baton service create --detach --name bench --replicas N local/busybox:1 sleep 100000`
//          and `baton service scale --detach bench=100`, polled over the SDK (ListTasks) until
//          N tasks are desired and observed TASK_RUNNING;
//   raw:   `docker run -d --label baton.bench=1 local/busybox:1 sleep 100000` N times, 8 at once,
//          polled (`docker ps`, running) until N are up: the engine's floor;
//   swarm: `docker swarm init --advertise-addr 127.0.0.1`, `docker service create --detach ...`,
//          `docker service scale --detach bench=100`, polled (`docker service ps`, running);
//          `docker swarm leave --force` always, so the engine is left as found.
// The systems take turns within each run (the order rotates between runs); the clock starts
// just before the command and stops at the poll that first sees every replica running (every
// 100 ms for all three). The engine's own create/start events give where the time went.
// Then node loss: 1 manager + 2 workers on the same engine, 20 replicas constrained to the
// workers, SIGKILL of the worker holding most, time until 20 run on the other one.
// Flags: --quick (N = 10 only, 1 run, no node loss), --runs R, --sizes 10,50, --scale-to 100,
// --parallel 8, --only ours,raw,swarm, --loss-runs K, --loss-replicas 20, --poll-ms 100,
// --timeout S, --baton-args="...", --keep, --out DIR.
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { baton, type BatonClient } from '../client/index.js';
import { BatonDaemonCluster, controlClient, runCli, type BatonDaemon } from './lib/baton-daemons.js';
import {
  EngineEvents,
  cleanupLabel,
  dockerCli,
  dockerOk,
  enterSwarm,
  leaveSwarm,
  pool,
  removeContainers,
  timeline,
  waitNoContainers,
  type EngineTimeline,
} from './lib/docker-engine.js';
import { cpuTimeMs, installCleanupHandlers, keepTempDirs, makeTempDir, removeTempDir, sleep, waitFor } from './lib/proc.js';
import { busyMachineWarning, cell, formatTable, machineInfo, ratio, writeResults } from './lib/results.js';
import { median, round } from './lib/stats.js';
import { count, num, projectRoot } from './lib/args.js';


const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    sizes: { type: 'string' },
    'scale-to': { type: 'string' },
    parallel: { type: 'string' },
    only: { type: 'string' },
    'loss-runs': { type: 'string' },
    'loss-replicas': { type: 'string' },
    'poll-ms': { type: 'string' },
    timeout: { type: 'string' },
    'baton-args': { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});


type System = 'ours' | 'raw' | 'swarm';
const SYSTEMS: System[] = ['ours', 'raw', 'swarm'];
const IMAGE = 'local/busybox:1';
const COMMAND = ['sleep', '100000'];
const SERVICE = 'bench';
const RAW_LABEL = 'baton.bench=1';
const SWARM_LABEL = `com.docker.swarm.service.name=${SERVICE}`;

const quick = args.quick;
const runs = count(args.runs, quick ? 1 : 3);
const sizes = (args.sizes ?? (quick ? '10' : '10,50')).split(',').map((s) => count(s.trim(), 0, 0)).filter((n) => n > 0);
const scaleTo = count(args['scale-to'], quick ? 0 : 100, 0);
const parallel = count(args.parallel, 8);
const only = (args.only ?? SYSTEMS.join(',')).split(',').map((s) => s.trim());
for (const s of only) if (!SYSTEMS.includes(s as System)) throw new Error(`--only: unknown system ${s} (ours, raw, swarm)`);
const systems = SYSTEMS.filter((s) => only.includes(s));
const lossRuns = count(args['loss-runs'], quick ? 0 : 3, 0);
const lossReplicas = count(args['loss-replicas'], 20);
const pollMs = Math.max(5, num(args['poll-ms'], undefined, 100));
const timeoutMs = num(args.timeout, undefined, 180) * 1000;
const batonArgs = (args['baton-args'] ?? '').split(/\s+/).filter(Boolean);
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
const started = new Date();
const loadStart = loadavg()[0] ?? 0;
/** Targets from the issue. */
const RAW_RATIO_TARGET = 1.1;
const LOSS_EXPECTED_MS: [number, number] = [3_000, 5_000];

installCleanupHandlers();
keepTempDirs(args.keep);
cleanupLabel(RAW_LABEL);

const docker = new Docker();
const events = new EngineEvents(docker);
/** Cluster IDs of every baton cluster this run started: their containers are ours. */
const ourClusters = new Set<string>();

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

const s1 = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const s2 = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)}`);

/** int64 fields arrive as numbers or Longs. */
function int(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'toNumber' in v && typeof v.toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
}

/** Labels of containers some system of this run created; anything else on the engine is another user's. */
function isOurs(labels: Record<string, string>): boolean {
  return ourClusters.has(labels['baton.cluster'] ?? '') || labels['baton.bench'] === '1' || labels['com.docker.swarm.service.name'] === SERVICE;
}

/** The engine's long-lived processes (dockerd, containerd), found in /proc; empty when not readable. */
function enginePids(): number[] {
  const pids: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'dockerd' || comm === 'containerd') pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

// ---------------------------------------------------------------------------------------------
// One convergence

interface Trial {
  system: System;
  run: number;
  from: number;
  to: number;
  /** Command start -> the poll that first saw `to` replicas running. */
  ms?: number;
  error?: string;
  /** The command(s): `baton service create/scale -d`, `docker service create/scale -d`, or the whole `docker run` pool. */
  commandMs?: number;
  /** The engine's container events of this system in the trial, ms from the command start. */
  engine?: EngineTimeline;
  /** Ours: the last new task's meta.createdAt and its RUNNING status.timestamp, ms from the command start. */
  lastTaskCreatedMs?: number;
  lastRunningReportedMs?: number;
  /** Container create/start events of other users of the engine during the trial. */
  foreignEvents?: number;
  /** CPU time of dockerd + containerd, of our daemon (ours), and of this benchmark process (polling, docker CLI spawns). */
  engineCpuMs?: number;
  oursCpuMs?: number;
  benchCpuMs?: number;
}

/** Poll `count` every pollMs until it reaches `target`; ms from t0 to that poll's answer. */
async function until(count: () => Promise<number>, target: number, t0: number, what: string): Promise<number> {
  let last = 0;
  let lastErr = '';
  for (;;) {
    try {
      last = await count();
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    const now = performance.now();
    if (last >= target) return now - t0;
    if (now - t0 > timeoutMs) throw new Error(`${what}: ${last}/${target} running after ${timeoutMs / 1000} s${lastErr ? ` (last error: ${lastErr})` : ''}`);
    await sleep(pollMs);
  }
}

/**
 * Runs `command` and the poll side by side from the same instant; fills the trial with the
 * time, the command's time and the engine's events of `mine`.
 */
async function measure(
  trial: Trial,
  command: () => Promise<void>,
  count: () => Promise<number>,
  mine: (labels: Record<string, string>) => boolean,
  oursPids: readonly number[] = [],
): Promise<number> {
  const engine = enginePids();
  const cpu0 = { engine: cpuTimeMs(engine), ours: cpuTimeMs(oursPids), bench: cpuTimeMs([process.pid]) };
  const wall0 = Date.now();
  const t0 = performance.now();
  const cmd = command().then(() => (trial.commandMs = performance.now() - t0));
  try {
    const [, ms] = await Promise.all([cmd, until(count, trial.to, t0, `${trial.system} ${trial.from}->${trial.to}`)]);
    trial.ms = ms;
  } catch (err) {
    trial.error = err instanceof Error ? err.message : String(err);
    await cmd.catch(() => undefined);
  }
  const cpu1 = { engine: cpuTimeMs(engine), ours: cpuTimeMs(oursPids), bench: cpuTimeMs([process.pid]) };
  const diff = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined ? b - a : undefined);
  if (engine.length > 0) trial.engineCpuMs = diff(cpu0.engine, cpu1.engine);
  if (oursPids.length > 0) trial.oursCpuMs = diff(cpu0.ours, cpu1.ours);
  trial.benchCpuMs = diff(cpu0.bench, cpu1.bench);
  // Events arrive over a stream: give the last ones a moment.
  await sleep(300);
  const to = wall0 + (trial.ms ?? performance.now() - t0) + 200;
  const mineEvents = events.between(wall0, to, mine);
  trial.engine = timeline(mineEvents, wall0);
  trial.foreignEvents = events.between(wall0, to, (l) => !isOurs(l)).filter((e) => e.action !== 'destroy').length;
  log(`${trial.system} run ${trial.run} ${trial.from}->${trial.to}: ${trial.error ?? s1(trial.ms)}`);
  return wall0;
}

// ---------------------------------------------------------------------------------------------
// Ours

interface Ours {
  cluster: BatonDaemonCluster;
  node: BatonDaemon;
  client: BatonClient;
  clusterId: string;
  root: string;
}

function clusterIdOf(d: BatonDaemon): string {
  return (JSON.parse(readFileSync(join(d.dataDir, 'node.json'), 'utf8')) as { clusterId: string }).clusterId;
}

async function cli(d: BatonDaemon, words: string[], rest: string[]): Promise<void> {
  // --data-dir right after the command words: at the end it would land in the task's command.
  const r = await runCli([...words, '--data-dir', d.dataDir, ...rest], 60_000);
  if (r.code !== 0) throw new Error(`baton ${words.join(' ')} ${rest.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
}

async function tasksOf(client: BatonClient): Promise<baton.Task.$Properties[]> {
  // Every page: a converge run may have more tasks than one page holds.
  return client.list('ListTasks', {}, 10_000);
}

const isRunning = (t: baton.Task.$Properties): boolean =>
  t.desiredState === baton.TaskState.TASK_RUNNING && t.status?.state === baton.TaskState.TASK_RUNNING;

async function waitDockerRuntime(client: BatonClient, nodes: number): Promise<void> {
  await waitFor(
    `${nodes} nodes ready with the docker runtime (is the engine reachable by the daemons?)`,
    async () => {
      const list = (await client.control.call('ListNodes', {}, 10_000)).nodes ?? [];
      return list.filter((n) => n.status?.state === baton.NodeState.NODE_READY && (n.description?.runtimes ?? []).includes('docker')).length >= nodes;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function startOurs(): Promise<Ours> {
  const root = makeTempDir('baton-bench-conv');
  const cluster = new BatonDaemonCluster(root, { batonArgs });
  const node = await cluster.init('m1');
  const clusterId = clusterIdOf(node);
  ourClusters.add(clusterId);
  cleanupLabel(`baton.cluster=${clusterId}`);
  const client = controlClient(node.dataDir);
  await waitDockerRuntime(client, 1);
  return { cluster, node, client, clusterId, root };
}

async function oursTrial(o: Ours, run: number, from: number, to: number): Promise<Trial> {
  const trial: Trial = { system: 'ours', run, from, to };
  const words = from === 0 ? ['service', 'create'] : ['service', 'scale'];
  const rest = from === 0 ? ['--detach', '--name', SERVICE, '--replicas', String(to), IMAGE, ...COMMAND] : ['--detach', `${SERVICE}=${to}`];
  const wall0 = await measure(
    trial,
    () => cli(o.node, words, rest),
    async () => (await tasksOf(o.client)).filter(isRunning).length,
    (l) => l['baton.cluster'] === o.clusterId,
    o.cluster.pids(),
  );
  // The store's view: when the last new task was created, when its RUNNING was reported (agent clock; same machine).
  const fresh = (await tasksOf(o.client)).filter((t) => isRunning(t) && int(t.meta?.createdAt) >= wall0 - 5);
  if (fresh.length > 0) {
    trial.lastTaskCreatedMs = Math.max(...fresh.map((t) => int(t.meta?.createdAt))) - wall0;
    trial.lastRunningReportedMs = Math.max(...fresh.map((t) => int(t.status?.timestamp))) - wall0;
  }
  return trial;
}

async function oursCleanup(o: Ours): Promise<void> {
  const r = await runCli(['service', 'rm', '--data-dir', o.node.dataDir, SERVICE], 60_000);
  if (r.code !== 0 && !/not found|no such/i.test(r.stderr)) throw new Error(`baton service rm failed: ${r.stderr.trim()}`);
  await waitNoContainers(docker, [`baton.cluster=${o.clusterId}`], timeoutMs);
  await waitFor('the removed service\'s tasks to leave the store', async () => (await tasksOf(o.client)).length === 0, { timeoutMs, intervalMs: 200 });
}

// ---------------------------------------------------------------------------------------------
// Raw docker run, `parallel` at once

async function rawRunning(): Promise<number> {
  return (await docker.listContainers({ filters: { label: [RAW_LABEL], status: ['running'] } })).length;
}

async function rawTrial(run: number, from: number, to: number): Promise<Trial> {
  const trial: Trial = { system: 'raw', run, from, to };
  const launch = (): Promise<void> =>
    pool(to - from, parallel, async () => {
      await dockerOk(['run', '-d', '--label', RAW_LABEL, IMAGE, ...COMMAND]);
    });
  await measure(trial, launch, rawRunning, (l) => l['baton.bench'] === '1');
  return trial;
}

// ---------------------------------------------------------------------------------------------
// Docker Swarm mode

let swarmUnavailable: string | undefined;

async function swarmRunning(): Promise<number> {
  const tasks = (await docker.listTasks({ filters: { service: [SERVICE], 'desired-state': ['running'] } })) as { Status?: { State?: string } }[];
  return tasks.filter((t) => t.Status?.State === 'running').length;
}

async function swarmTrial(run: number, from: number, to: number): Promise<Trial> {
  const trial: Trial = { system: 'swarm', run, from, to };
  const command =
    from === 0
      ? ['service', 'create', '--detach', '--name', SERVICE, '--replicas', String(to), IMAGE, ...COMMAND]
      : ['service', 'scale', '--detach', `${SERVICE}=${to}`];
  await measure(
    trial,
    async () => {
      await dockerOk(command);
    },
    swarmRunning,
    (l) => l['com.docker.swarm.service.name'] === SERVICE,
  );
  return trial;
}

async function swarmCleanup(): Promise<void> {
  await dockerCli(['service', 'rm', SERVICE], 60_000);
  // The tasks' sleep is PID 1 and ignores SIGTERM: skip the 10 s stop grace period.
  await removeContainers(docker, [SWARM_LABEL], timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// A turn: one system, every size, then the scale

async function turn(system: System, run: number, ours: Ours | undefined): Promise<Trial[]> {
  const trials: Trial[] = [];
  if (system === 'swarm') {
    if (swarmUnavailable) return trials;
    const why = await enterSwarm('127.0.0.1');
    if (why !== undefined) {
      swarmUnavailable = why;
      log(`Swarm: not available here (${why})`);
      return trials;
    }
    cleanupLabel(SWARM_LABEL);
  }
  try {
    for (const n of sizes) {
      const scale = n === sizes[sizes.length - 1] && scaleTo > n;
      if (system === 'ours') {
        trials.push(await oursTrial(ours!, run, 0, n));
        if (scale && !trials[trials.length - 1]!.error) trials.push(await oursTrial(ours!, run, n, scaleTo));
        await oursCleanup(ours!);
      } else if (system === 'raw') {
        trials.push(await rawTrial(run, 0, n));
        if (scale && !trials[trials.length - 1]!.error) trials.push(await rawTrial(run, n, scaleTo));
        await removeContainers(docker, [RAW_LABEL], timeoutMs);
      } else {
        trials.push(await swarmTrial(run, 0, n));
        if (scale && !trials[trials.length - 1]!.error) trials.push(await swarmTrial(run, n, scaleTo));
        await swarmCleanup();
      }
    }
  } finally {
    if (system === 'swarm') {
      await swarmCleanup().catch((err: unknown) => log(`swarm cleanup: ${String(err)}`));
      await leaveSwarm();
    }
  }
  return trials;
}

// ---------------------------------------------------------------------------------------------
// Node loss

interface LossRun {
  run: number;
  /** SIGKILL -> the poll that first saw `replicas` tasks running on the surviving worker. */
  ms?: number;
  error?: string;
  tasksOnVictim: number;
  /** SIGKILL -> the first poll that showed the victim Down. */
  downSeenMs?: number;
  /** SIGKILL -> the replacement tasks' meta.createdAt (first, last). */
  replacementsCreatedMs?: [number, number];
  /** The survivor's container events after the kill. */
  engine?: EngineTimeline;
  foreignEvents?: number;
  /** CPU of dockerd + containerd and of our three daemons from the kill to the end. */
  engineCpuMs?: number;
  oursCpuMs?: number;
}

async function lossRun(run: number): Promise<LossRun> {
  const root = makeTempDir('baton-bench-loss');
  const cluster = new BatonDaemonCluster(root, { batonArgs });
  const result: LossRun = { run, tasksOnVictim: 0 };
  let clusterId = '';
  try {
    const m1 = await cluster.init('m1');
    clusterId = clusterIdOf(m1);
    ourClusters.add(clusterId);
    cleanupLabel(`baton.cluster=${clusterId}`);
    const w1 = await cluster.join('w1', 'worker');
    const w2 = await cluster.join('w2', 'worker');
    await cluster.waitUntilFormed();
    const client = cluster.client(m1);
    await waitDockerRuntime(client, 3);
    await cli(m1, ['service', 'create'], [
      '--detach', '--name', 'loss', '--replicas', String(lossReplicas), '--constraint', 'node.role==worker', IMAGE, ...COMMAND,
    ]);
    await until(async () => (await tasksOf(client)).filter(isRunning).length, lossReplicas, performance.now(), 'node-loss setup');
    const placed = (await tasksOf(client)).filter(isRunning);
    const on = (d: BatonDaemon): number => placed.filter((t) => t.nodeId === d.nodeId).length;
    const [victim, survivor] = on(w1) >= on(w2) ? [w1, w2] : [w2, w1];
    result.tasksOnVictim = on(victim);
    log(`node loss run ${run}: SIGKILL ${victim.name} (${result.tasksOnVictim} of ${lossReplicas} tasks), ${survivor.name} has ${on(survivor)}`);

    const engine = enginePids();
    const daemons = cluster.pids().filter((p) => p !== victim.proc.pid);
    const cpu0 = { engine: cpuTimeMs(engine), ours: cpuTimeMs(daemons) };
    const wall0 = Date.now();
    const t0 = performance.now();
    victim.proc.signal('SIGKILL');
    const downWatch = (async () => {
      for (;;) {
        const nodes = (await client.control.call('ListNodes', {}, 10_000).catch(() => ({ nodes: [] }))).nodes ?? [];
        if (nodes.find((n) => n.meta?.id === victim.nodeId)?.status?.state === baton.NodeState.NODE_DOWN) return performance.now() - t0;
        if (performance.now() - t0 > timeoutMs) return undefined;
        await sleep(pollMs);
      }
    })();
    try {
      result.ms = await until(
        async () => (await tasksOf(client)).filter((t) => isRunning(t) && t.nodeId === survivor.nodeId).length,
        lossReplicas,
        t0,
        'node loss',
      );
    } catch (err) {
      result.error = err instanceof Error ? err.message : String(err);
    }
    const cpu1 = { engine: cpuTimeMs(engine), ours: cpuTimeMs(daemons) };
    if (engine.length > 0 && cpu0.engine !== undefined && cpu1.engine !== undefined) result.engineCpuMs = cpu1.engine - cpu0.engine;
    if (cpu0.ours !== undefined && cpu1.ours !== undefined) result.oursCpuMs = cpu1.ours - cpu0.ours;
    const down = await downWatch;
    if (down !== undefined) result.downSeenMs = down;
    const replacements = (await tasksOf(client)).filter((t) => t.nodeId === survivor.nodeId && int(t.meta?.createdAt) >= wall0);
    if (replacements.length > 0) {
      const created = replacements.map((t) => int(t.meta?.createdAt) - wall0);
      result.replacementsCreatedMs = [Math.min(...created), Math.max(...created)];
    }
    await sleep(300);
    const to = wall0 + (result.ms ?? performance.now() - t0) + 200;
    result.engine = timeline(events.between(wall0, to, (l) => l['baton.node'] === survivor.nodeId), wall0);
    result.foreignEvents = events.between(wall0, to, (l) => !isOurs(l)).filter((e) => e.action !== 'destroy').length;
    log(`node loss run ${run}: ${result.error ?? s1(result.ms)} (down seen after ${s1(result.downSeenMs)})`);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    log(`node loss run ${run}: ${result.error}`);
  } finally {
    await cluster.stop(3_000);
    // The killed worker's containers outlive it (as they would on a lost machine): ours to remove.
    if (clusterId) await removeContainers(docker, [`baton.cluster=${clusterId}`], timeoutMs);
    if (!args.keep) removeTempDir(root);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Summary

interface Row {
  label: string;
  from: number;
  to: number;
  median: Partial<Record<System, number>>;
}

function rowsOf(trials: readonly Trial[]): Row[] {
  const keys: [number, number][] = [];
  for (const n of sizes) {
    keys.push([0, n]);
    if (n === sizes[sizes.length - 1] && scaleTo > n) keys.push([n, scaleTo]);
  }
  return keys.map(([from, to]) => {
    const med: Partial<Record<System, number>> = {};
    for (const s of systems) {
      const ms = trials.filter((t) => t.system === s && t.from === from && t.to === to && t.ms !== undefined).map((t) => t.ms!);
      if (ms.length > 0) med[s] = median(ms);
    }
    return { label: from === 0 ? `${to}` : `${from} -> ${to}`, from, to, median: med };
  });
}

function verdict(row: Row): { met: boolean | undefined; text: string } {
  const { ours, raw, swarm } = row.median;
  if (ours === undefined || raw === undefined) return { met: undefined, text: 'not measured' };
  const rawOk = ours <= RAW_RATIO_TARGET * raw;
  const swarmOk = swarm === undefined ? undefined : ours < swarm;
  const met = rawOk && swarmOk !== false;
  const parts = [`ours/raw ${ratio(ours, raw)} (${rawOk ? '≤' : '>'} ${RAW_RATIO_TARGET.toFixed(2)}x)`, swarm === undefined ? 'swarm n/a' : `ours ${swarmOk ? '<' : '≥'} swarm`];
  return { met, text: `${met ? 'MET' : 'NOT MET'}: ${parts.join(', ')}` };
}

/** Medians of a per-trial figure over the trials of one system and row. */
function medianOf(trials: readonly Trial[], s: System, row: Row, pick: (t: Trial) => number | undefined): number | undefined {
  const v = trials.filter((t) => t.system === s && t.from === row.from && t.to === row.to).map(pick).filter((x): x is number => x !== undefined);
  return v.length > 0 ? median(v) : undefined;
}

function breakdown(trials: readonly Trial[], rows: readonly Row[]): string {
  const header = ['system, N', 'command', 'task in store', 'first create', 'first start', 'last start', 'RUNNING reported', 'seen', 'starts/s', 'engine CPU', 'our CPU'];
  const out: string[][] = [header];
  for (const row of rows) {
    for (const s of systems) {
      const m = (pick: (t: Trial) => number | undefined): number | undefined => medianOf(trials, s, row, pick);
      const first = m((t) => t.engine?.firstCreateMs);
      const last = m((t) => t.engine?.lastStartMs);
      const span = first !== undefined && last !== undefined && last > first ? last - first : undefined;
      const n = row.to - row.from;
      out.push([
        `${s}, ${row.label}`,
        s2(m((t) => t.commandMs)),
        s2(m((t) => t.lastTaskCreatedMs)),
        s2(first),
        s2(m((t) => t.engine?.firstStartMs)),
        s2(last),
        s2(m((t) => t.lastRunningReportedMs)),
        s2(row.median[s]),
        span === undefined ? '-' : cell((n / span) * 1000, 1),
        s2(m((t) => t.engineCpuMs)),
        s2(m((t) => t.oursCpuMs)),
      ]);
    }
  }
  return formatTable(out);
}

// ---------------------------------------------------------------------------------------------
// Main

async function ourCliAloneMs(o: Ours): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await runCli(['service', 'ls', '--data-dir', o.node.dataDir], 30_000);
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function main(): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`no Docker engine answers (${err instanceof Error ? err.message : String(err)}): run bash scripts/docker-up.sh`);
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    throw new Error(`image ${IMAGE} is not on the engine (scripts/docker-up.sh imports it)`);
  }
  await events.start();
  const leftovers = (await docker.listContainers({ all: true, filters: { label: [RAW_LABEL] } })).length;
  if (leftovers > 0) {
    log(`removing ${leftovers} containers labelled ${RAW_LABEL} left by an earlier run`);
    await removeContainers(docker, [RAW_LABEL]);
  }
  log(`converge: sizes ${sizes.join(', ')}${scaleTo > 0 ? `, scale to ${scaleTo}` : ''}; ${runs} run(s) of ${systems.join(', ')}; node loss ${lossRuns} run(s)`);

  let ours: Ours | undefined;
  let cliAloneMs: number | undefined;
  const trials: Trial[] = [];
  const loss: LossRun[] = [];
  try {
    if (systems.includes('ours')) {
      ours = await startOurs();
      cliAloneMs = await ourCliAloneMs(ours);
      log(`ours: one node up (${ours.node.addr}, data in ${ours.root}); \`baton service ls\` alone takes ${s1(cliAloneMs)}`);
    }
    for (let run = 1; run <= runs; run++) {
      const order = systems.map((_, i) => systems[(i + run - 1) % systems.length]!);
      for (const system of order) trials.push(...(await turn(system, run, ours)));
    }
    if (ours) {
      ours.client.close();
      await ours.cluster.stop();
      await removeContainers(docker, [`baton.cluster=${ours.clusterId}`]);
      ours = undefined;
    }
    for (let run = 1; run <= lossRuns; run++) loss.push(await lossRun(run));
  } finally {
    if (ours) {
      ours.client.close();
      await ours.cluster.stop().catch(() => undefined);
      await removeContainers(docker, [`baton.cluster=${ours.clusterId}`]).catch(() => undefined);
    }
    await removeContainers(docker, [RAW_LABEL]).catch(() => undefined);
    await leaveSwarm();
    events.stop();
  }

  // ---- report
  const rows = rowsOf(trials);
  const table = formatTable([
    ['N', 'ours', `raw (docker run x${parallel})`, 'swarm', 'ours/raw', 'ours/swarm'],
    ...rows.map((r) => [r.label, s1(r.median.ours), s1(r.median.raw), swarmUnavailable ? 'n/a' : s1(r.median.swarm), ratio(r.median.ours, r.median.raw), ratio(r.median.ours, r.median.swarm)]),
  ]);
  const out: string[] = [];
  out.push('');
  out.push(`Time until every replica of ${IMAGE} \`${COMMAND.join(' ')}\` is running on one engine (median of ${runs} run${runs > 1 ? 's' : ''})`);
  out.push('');
  out.push(table);
  if (runs > 1) {
    out.push('each run, in seconds:');
    for (const r of rows) {
      const per = systems
        .map((sys) => `${sys} ${trials.filter((t) => t.system === sys && t.from === r.from && t.to === r.to).map((t) => (t.ms === undefined ? 'failed' : s2(t.ms))).join(' ')}`)
        .join(' | ');
      out.push(`  ${r.label}: ${per}`);
    }
  }
  out.push('');
  if (swarmUnavailable) out.push(`Swarm: not available here (${swarmUnavailable})`);
  const verdicts = rows.map((r) => ({ row: r.label, ...verdict(r) }));
  out.push(`Target (issue): ours ≤ ${RAW_RATIO_TARGET.toFixed(1)}x the raw floor and faster than Swarm`);
  for (const v of verdicts) out.push(`  N = ${v.row}: ${v.text}`);
  const failed = trials.filter((t) => t.error);
  for (const t of failed) out.push(`  FAILED ${t.system} run ${t.run} ${t.from}->${t.to}: ${t.error}`);
  out.push('');
  out.push('Where the time goes (medians, seconds from the command start; engine events of each system\'s containers):');
  out.push(breakdown(trials, rows));
  if (cliAloneMs !== undefined) out.push(`(\`baton service ls\` alone, a fresh node process against the idle node: ${s2(cliAloneMs)} s)`);
  const lossOk = loss.filter((l) => l.ms !== undefined).map((l) => l.ms!);
  const lossMedian = lossOk.length > 0 ? median(lossOk) : undefined;
  if (lossRuns > 0) {
    out.push('');
    out.push(
      `Node loss (1 manager + 2 workers, ${lossReplicas} replicas on the workers, SIGKILL of the worker holding most, until all ${lossReplicas} run on the other): ` +
        `median ${s1(lossMedian)} over ${lossOk.length}/${loss.length} runs [${loss.map((l) => (l.ms !== undefined ? s2(l.ms) : 'failed')).join(', ')} s]; ` +
        `victim seen Down after ${s1(median(loss.filter((l) => l.downSeenMs !== undefined).map((l) => l.downSeenMs!)))}; ` +
        `expected ~${LOSS_EXPECTED_MS[0] / 1000}–${LOSS_EXPECTED_MS[1] / 1000} s (heartbeat 1 s, grace 3): ` +
        (lossMedian === undefined ? 'NOT MEASURED' : lossMedian <= LOSS_EXPECTED_MS[1] ? 'WITHIN' : 'ABOVE'),
    );
    const lm = (pick: (l: LossRun) => number | undefined): string => {
      const v = loss.map(pick).filter((x): x is number => x !== undefined);
      return v.length > 0 ? s2(median(v)) : '-';
    };
    out.push(
      `  medians from the SIGKILL: replacements in the store ${lm((l) => l.replacementsCreatedMs?.[1])} s, first create ${lm((l) => l.engine?.firstCreateMs)} s, ` +
        `first start ${lm((l) => l.engine?.firstStartMs)} s, last start ${lm((l) => l.engine?.lastStartMs)} s, all ${lossReplicas} seen running ${s2(lossMedian)} s`,
    );
    for (const l of loss.filter((x) => x.error)) out.push(`  FAILED node loss run ${l.run}: ${l.error}`);
  }
  const foreign = trials.reduce((a, t) => a + (t.foreignEvents ?? 0), 0) + loss.reduce((a, l) => a + (l.foreignEvents ?? 0), 0);
  out.push('');
  if (foreign > 0) out.push(`note: ${foreign} container create/start events of other users of the engine landed inside measured windows: figures are noisy`);
  const busy = busyMachineWarning();
  if (busy) out.push(busy);
  const loadEnd = loadavg()[0] ?? 0;
  out.push(`1-min load average: ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end`);

  const file = writeResults(
    outDir,
    'converge',
    {
      benchmark: 'converge',
      started: started.toISOString(),
      machine: machineInfo(),
      engine: await docker.version().catch(() => undefined),
      settings: { image: IMAGE, command: COMMAND, runs, sizes, scaleTo, parallel, systems, pollMs, timeoutMs, batonArgs, lossRuns, lossReplicas, heartbeat: '1 s (default), grace 3' },
      summary: rows.map((r) => ({
        n: r.label,
        from: r.from,
        to: r.to,
        oursMs: r.median.ours,
        rawMs: r.median.raw,
        swarmMs: r.median.swarm,
        oursOverRaw: r.median.ours !== undefined && r.median.raw ? round(r.median.ours / r.median.raw, 3) : undefined,
        oursOverSwarm: r.median.ours !== undefined && r.median.swarm ? round(r.median.ours / r.median.swarm, 3) : undefined,
      })),
      targets: verdicts,
      swarmUnavailable,
      ourCliAloneMs: cliAloneMs,
      trials,
      nodeLoss: { medianMs: lossMedian, runs: loss },
      foreignEvents: foreign,
      loadAverage: { start: loadStart, end: loadEnd },
    },
    started,
  );
  out.push(`results: ${file}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:converge failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
