// The Docker engine as a benchmark peer and as the place our tasks run: the docker CLI run from
// Node (each call tracked, so an exit kills those still running), the engine's container events
// (create/start times to the nanosecond, with labels), label-scoped container cleanup, and Swarm
// mode entered and left so that the engine is left as found.
//
// Everything a benchmark puts on the engine is found again by labels it registers here
// (`cleanupLabel`): on exit, Ctrl-C, SIGTERM or an uncaught error the containers carrying them
// are force-removed and a Swarm this module initialized is left, synchronously (spawnSync),
// after proc.ts has killed the processes that could create more.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Docker from 'dockerode';
import { installCleanupHandlers, killAll, waitFor } from './proc.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const inFlight = new Set<ChildProcess>();
const labels = new Set<string>();
const networkLabels = new Set<string>();
let swarmJoinedByUs = false;
let networksBeforeSwarm: Set<string> | undefined;
let handlerInstalled = false;

function installEngineCleanup(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  // proc.ts first: its exit handler kills the daemons before this one removes their containers.
  installCleanupHandlers();
  process.on('exit', engineCleanupNow);
}

/** Containers carrying `label` (`key` or `key=value`) are force-removed on exit. */
export function cleanupLabel(label: string): void {
  installEngineCleanup();
  labels.add(label);
}

/**
 * Docker networks carrying `label` are removed on exit, after the containers (a network with a
 * container attached cannot be removed): our daemons' bridges outlive a killed daemon.
 */
export function cleanupNetworkLabel(label: string): void {
  installEngineCleanup();
  networkLabels.add(label);
}

/** Synchronous last-resort cleanup (exit handlers cannot wait for promises). */
export function engineCleanupNow(): void {
  killAll(inFlight);
  for (const label of labels) {
    const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8', timeout: 20_000 }).stdout?.split('\n').filter(Boolean) ?? [];
    if (ids.length > 0) spawnSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore', timeout: 120_000 });
  }
  for (const label of networkLabels) {
    const ids = spawnSync('docker', ['network', 'ls', '-q', '--filter', `label=${label}`], { encoding: 'utf8', timeout: 20_000 }).stdout?.split('\n').filter(Boolean) ?? [];
    if (ids.length > 0) spawnSync('docker', ['network', 'rm', ...ids], { stdio: 'ignore', timeout: 60_000 });
  }
  if (swarmJoinedByUs) {
    spawnSync('docker', ['swarm', 'leave', '--force'], { stdio: 'ignore', timeout: 60_000 });
    removeSwarmNetworksSync();
    swarmJoinedByUs = false;
  }
}

/** Run the docker CLI to completion (tracked: killed if the benchmark exits meanwhile). */
export function dockerCli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  installEngineCleanup();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    inFlight.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => (stderr += err.message));
    child.once('close', (code) => {
      clearTimeout(timer);
      inFlight.delete(child);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** `docker <args>` that must succeed; throws with its stderr otherwise. */
export async function dockerOk(args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await dockerCli(args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Run `fn(i)` for i in [0, count) with at most `parallel` at once. */
export async function pool(count: number, parallel: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
}

export interface EngineEvent {
  /** Wall clock, ms since the epoch (from the engine's timeNano). */
  at: number;
  action: string;
  id: string;
  labels: Record<string, string>;
}

/** The engine's container create/start/destroy events, recorded from start() on. */
export class EngineEvents {
  readonly events: EngineEvent[] = [];
  /** The engine's answer: an http.IncomingMessage, which can be destroyed. */
  private stream: { destroy(): void } | undefined;

  constructor(private readonly docker: Docker) {}

  async start(): Promise<void> {
    const stream = await this.docker.getEvents({ filters: { type: ['container'], event: ['create', 'start', 'destroy'] } });
    this.stream = stream as unknown as { destroy(): void };
    let buf = '';
    stream.on('data', (piece: Buffer | string) => {
      buf += piece.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        try {
          const e = JSON.parse(line) as { Action?: string; status?: string; id?: string; timeNano?: number; time?: number; Actor?: { ID?: string; Attributes?: Record<string, string> } };
          const at = e.timeNano !== undefined ? e.timeNano / 1e6 : (e.time ?? 0) * 1000;
          this.events.push({ at, action: e.Action ?? e.status ?? '', id: e.Actor?.ID ?? e.id ?? '', labels: e.Actor?.Attributes ?? {} });
        } catch {
          // a torn line: the next chunk completes nothing we need
        }
      }
    });
    stream.on('error', () => undefined);
  }

  /** Events in [from, to] (wall ms) whose labels satisfy `match`. */
  between(from: number, to: number, match: (labels: Record<string, string>) => boolean): EngineEvent[] {
    return this.events.filter((e) => e.at >= from && e.at <= to && match(e.labels));
  }

  stop(): void {
    this.stream?.destroy();
    this.stream = undefined;
  }
}

/** What a set of events says about one convergence, relative to `wall0` (ms). */
export interface EngineTimeline {
  creates: number;
  starts: number;
  firstCreateMs?: number;
  firstStartMs?: number;
  lastStartMs?: number;
}

export function timeline(events: readonly EngineEvent[], wall0: number): EngineTimeline {
  const creates = events.filter((e) => e.action === 'create').map((e) => e.at - wall0);
  const starts = events.filter((e) => e.action === 'start').map((e) => e.at - wall0);
  const t: EngineTimeline = { creates: creates.length, starts: starts.length };
  if (creates.length > 0) t.firstCreateMs = Math.min(...creates);
  if (starts.length > 0) {
    t.firstStartMs = Math.min(...starts);
    t.lastStartMs = Math.max(...starts);
  }
  return t;
}

/** IDs of containers (running or not) with every one of `labelFilters`. */
export async function containerIds(docker: Docker, labelFilters: string[]): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: labelFilters } });
  return list.map((c) => c.Id);
}

/** Force-remove every container with `labelFilters`, `parallel` at once, and wait until none is listed. */
export async function removeContainers(docker: Docker, labelFilters: string[], timeoutMs = 180_000, parallel = 8): Promise<void> {
  await waitFor(
    `no container with ${labelFilters.join(',')}`,
    async () => {
      const ids = await containerIds(docker, labelFilters);
      if (ids.length === 0) return true;
      await pool(ids.length, parallel, async (i) => {
        try {
          await docker.getContainer(ids[i]!).remove({ force: true, v: true });
        } catch {
          // 404 (gone meanwhile) or 409 (removal in progress): the next listing tells
        }
      });
      return false;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** Poll until no container with `labelFilters` is listed (their owner removes them). */
export async function waitNoContainers(docker: Docker, labelFilters: string[], timeoutMs = 180_000): Promise<void> {
  await waitFor(`no container with ${labelFilters.join(',')}`, async () => (await containerIds(docker, labelFilters)).length === 0, { timeoutMs, intervalMs: 200 });
}

// ---------------------------------------------------------------------------------------------
// Swarm mode

/** `inactive`, `active`, `pending`, `error`, `locked`, or the reason docker info failed. */
export async function swarmState(): Promise<string> {
  const r = await dockerCli(['info', '--format', '{{.Swarm.LocalNodeState}}'], 30_000);
  if (r.code !== 0) return `docker info failed: ${r.stderr.trim()}`;
  return r.stdout.trim();
}

async function networkNames(): Promise<Set<string>> {
  const r = await dockerCli(['network', 'ls', '--format', '{{.Name}}'], 30_000);
  return new Set(r.stdout.split('\n').map((s) => s.trim()).filter(Boolean));
}

/**
 * `docker swarm init` on an engine that is in no swarm. Resolves to undefined when the engine is
 * now a single-node swarm of ours, else to the reason it is not (nothing is left behind then).
 */
export async function enterSwarm(advertiseAddr = '127.0.0.1'): Promise<string | undefined> {
  installEngineCleanup();
  const state = await swarmState();
  if (state !== 'inactive') return state === 'active' ? 'the engine is already part of a swarm that is not ours (left untouched)' : `swarm state is "${state}"`;
  networksBeforeSwarm = await networkNames();
  swarmJoinedByUs = true;
  const r = await dockerCli(['swarm', 'init', '--advertise-addr', advertiseAddr], 60_000);
  if (r.code === 0) return undefined;
  await leaveSwarm();
  return r.stderr.trim().split('\n')[0] || `docker swarm init exited with ${r.code}`;
}

/** `docker swarm leave --force` if we initialized it, and the networks swarm init added go too. */
export async function leaveSwarm(): Promise<void> {
  if (!swarmJoinedByUs) return;
  await dockerCli(['swarm', 'leave', '--force'], 60_000);
  swarmJoinedByUs = false;
  const before = networksBeforeSwarm;
  if (!before) return;
  for (const name of await networkNames()) {
    if (!before.has(name) && SWARM_NETWORKS.includes(name)) await dockerCli(['network', 'rm', name], 30_000);
  }
}

/** What `docker swarm init` creates besides the (swarm-scoped, removed on leave) ingress network. */
const SWARM_NETWORKS = ['docker_gwbridge', 'ingress'];

function removeSwarmNetworksSync(): void {
  const before = networksBeforeSwarm;
  if (!before) return;
  const now = spawnSync('docker', ['network', 'ls', '--format', '{{.Name}}'], { encoding: 'utf8', timeout: 20_000 }).stdout?.split('\n') ?? [];
  for (const name of now.map((s) => s.trim())) {
    if (name && !before.has(name) && SWARM_NETWORKS.includes(name)) spawnSync('docker', ['network', 'rm', name], { stdio: 'ignore', timeout: 20_000 });
  }
}
