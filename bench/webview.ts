// `npm run bench:webview`: what the web view (README "Web view") costs a manager. One real
// `baton init` with --http-addr, a store holding ~10,000 tasks, the same bounded churn of
// `baton service scale` commands twice: once with no view open, once with 5 open views (each a
// GET /api/state for the state's size (the page itself takes the state from the stream's first
// message), then GET /api/events read to the end). The manager's
// CPU over each window (from /proc/<pid>/stat) and the bytes each view received are printed side
// by side with the difference: the views' cost. There is no Swarm web view to compare with, so
// the peer is the same manager with no view open.
//
// The 10,000 tasks: services whose tasks cannot be placed (a constraint no node meets) stay
// pending with desired state running, as in Swarm: real task objects in the store, drawn by the
// view, without 10,000 processes. A small service of real `sleep` processes (process runtime on
// the manager) gives running tasks beside them. The churn scales a pending service 100 ↔ 200 and
// the running one 10 ↔ 20, one command every --step seconds, in a cycle that ends where it began.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request, type IncomingMessage } from 'node:http';
import { baton, type BatonClient } from '../client/index.js';
import { num, projectRoot, timedArgs } from './lib/args.js';
import { BatonDaemonCluster, runCli, type BatonDaemon } from './lib/baton-daemons.js';
import { cpuTimeMs, freePort, keepTempDirs, makeTempDir, runBenchmark, sleep, waitFor } from './lib/proc.js';
import { busyMachineWarning, cell, formatTable, machineInfo, writeRun } from './lib/results.js';
import { median } from './lib/stats.js';

const args = timedArgs(['tasks', 'views', 'rounds', 'step'] as const);
const quick = args.quick;
const windowS = num(args.duration, process.env.BENCH_DURATION, quick ? 20 : 60);
const taskCount = Math.floor(num(args.tasks, undefined, 10_000));
const viewCount = Math.floor(num(args.views, undefined, 5));
const rounds = Math.max(1, Math.floor(num(args.rounds, undefined, quick ? 1 : 2)));
const stepS = num(args.step, undefined, 3);
/** The idle reading (no churn, no views) before the rounds. */
const idleS = Math.max(5, windowS / 3);
const outDir = args.out ?? join(projectRoot, 'bench/results');
const TARGET_PCT = 5;

const RUNNING = { name: 'run', low: 10, high: 20 };
const CHURN = { name: 'churn', low: 100, high: 200 };
/** Replicas of one filler service: the store's tasks are spread over several services, as a real cluster's are. */
const FILLER_REPLICAS = 1000;
const UNPLACEABLE = ['--constraint', 'node.labels.bench==unplaceable'];
/** Every command of the churn, and the wait for the tasks, is bounded. */
const CLI_TIMEOUT_MS = 60_000;

interface ViewReading {
  stateBytes: number;
  /** Bytes of the stream's first message (the whole state), read before the window. */
  firstEventBytes: number;
  windowBytes: number;
  windowMessages: number;
}

interface Phase {
  round: number;
  views: number;
  wallMs: number;
  cpuMs: number;
  /** CPU of the manager over the window, in % of one core. */
  cpuPct: number;
  commands: number;
  failedCommands: number;
  /** CPU the manager spent while the views opened (state + first event), before the window. */
  openCpuMs?: number;
  perView?: ViewReading[];
}

async function cli(d: BatonDaemon, words: string[], rest: string[]): Promise<boolean> {
  // --data-dir right after the command words: at the end it would land in the task's command.
  const r = await runCli([...words, '--data-dir', d.dataDir, ...rest], CLI_TIMEOUT_MS);
  if (r.code !== 0) process.stderr.write(`baton ${words.join(' ')} ${rest.join(' ')} failed (${r.code}): ${r.stderr.trim()}\n`);
  return r.code === 0;
}

async function mustCli(d: BatonDaemon, words: string[], rest: string[]): Promise<void> {
  if (!(await cli(d, words, rest))) throw new Error(`baton ${words.join(' ')} failed`);
}

/** One open view: GET /api/state, then GET /api/events read as it comes, counting bytes. */
class View {
  private res: IncomingMessage | undefined;
  private bytes = 0;
  private messages = 0;
  private firstBytes = 0;
  private markBytes = 0;
  private markMessages = 0;
  stateBytes = 0;

  constructor(private readonly base: string) {}

  async open(timeoutMs: number): Promise<void> {
    this.stateBytes = (await get(`${this.base}/api/state`, timeoutMs)).length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the view\'s first event did not come in time')), timeoutMs);
      const req = request(`${this.base}/api/events`, { agent: false }, (res) => {
        if (res.statusCode !== 200) {
          clearTimeout(timer);
          reject(new Error(`GET /api/events: ${res.statusCode}`));
          res.resume();
          return;
        }
        this.res = res;
        let lastByte = 0;
        res.on('data', (chunk: Buffer) => {
          this.bytes += chunk.length;
          // Messages end with a blank line ("\n\n"), which may straddle two chunks.
          if (lastByte === 0x0a && chunk[0] === 0x0a) this.messages++;
          for (let i = chunk.indexOf('\n\n'); i !== -1; i = chunk.indexOf('\n\n', i + 2)) this.messages++;
          lastByte = chunk[chunk.length - 1] ?? 0;
          if (this.firstBytes === 0 && this.messages > 0) {
            this.firstBytes = this.bytes;
            clearTimeout(timer);
            resolve();
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end();
    });
  }

  mark(): void {
    this.markBytes = this.bytes;
    this.markMessages = this.messages;
  }

  reading(): ViewReading {
    return { stateBytes: this.stateBytes, firstEventBytes: this.firstBytes, windowBytes: this.bytes - this.markBytes, windowMessages: this.messages - this.markMessages };
  }

  close(): void {
    this.res?.destroy();
  }
}

function get(url: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The churn's commands in order; the cycle ends where it began. */
const CYCLE: [string, number][] = [
  [CHURN.name, CHURN.high],
  [RUNNING.name, RUNNING.high],
  [CHURN.name, CHURN.low],
  [RUNNING.name, RUNNING.low],
];

/** The same churn every phase: a scale every stepS seconds for windowS seconds (whole cycles). */
async function churn(d: BatonDaemon): Promise<{ commands: number; failed: number }> {
  const steps = Math.max(CYCLE.length, Math.floor(windowS / stepS / CYCLE.length) * CYCLE.length);
  const t0 = performance.now();
  let failed = 0;
  for (let i = 0; i < steps; i++) {
    const due = t0 + i * stepS * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const [name, replicas] = CYCLE[i % CYCLE.length]!;
    if (!(await cli(d, ['service', 'scale'], ['--detach', `${name}=${replicas}`]))) failed++;
  }
  // The window runs to its end even when the last command returned early.
  const rest = t0 + steps * stepS * 1000 - performance.now();
  if (rest > 0) await sleep(rest);
  return { commands: steps, failed };
}

async function taskTotals(client: BatonClient): Promise<{ all: number; running: number }> {
  const tasks = await client.list('ListTasks', {}, 30_000);
  const live = tasks.filter((t) => t.desiredState === baton.TaskState.TASK_RUNNING);
  return { all: live.length, running: live.filter((t) => t.status?.state === baton.TaskState.TASK_RUNNING).length };
}

/** Back to the cycle's start, settled: every phase starts from the same store. */
async function settle(client: BatonClient): Promise<void> {
  await waitFor(
    `${taskCount} tasks meant to run, ${RUNNING.low} running`,
    async () => {
      const t = await taskTotals(client);
      return t.all === taskCount && t.running === RUNNING.low;
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
  await sleep(2_000);
}

async function phase(round: number, views: number, m1: BatonDaemon, pid: number, base: string, client: BatonClient): Promise<Phase> {
  await settle(client);
  const open: View[] = [];
  let openCpuMs: number | undefined;
  if (views > 0) {
    const c0 = cpuTimeMs([pid]) ?? 0;
    // As pages opening one after the other.
    for (let i = 0; i < views; i++) {
      const v = new View(base);
      open.push(v);
      await v.open(60_000);
    }
    openCpuMs = (cpuTimeMs([pid]) ?? 0) - c0;
    await sleep(1_000);
    for (const v of open) v.mark();
  }
  const c0 = cpuTimeMs([pid]) ?? 0;
  const w0 = performance.now();
  const { commands, failed } = await churn(m1);
  const cpuMs = (cpuTimeMs([pid]) ?? 0) - c0;
  const wallMs = performance.now() - w0;
  const p: Phase = { round, views, wallMs, cpuMs, cpuPct: (cpuMs / wallMs) * 100, commands, failedCommands: failed };
  if (views > 0) {
    p.openCpuMs = openCpuMs;
    p.perView = open.map((v) => v.reading());
    for (const v of open) v.close();
  }
  process.stdout.write(`round ${round}, ${views} views: manager ${cell(p.cpuPct, 2)} % of a core over ${cell(wallMs / 1000, 1)} s (${commands} commands, ${failed} failed)\n`);
  return p;
}

async function main(): Promise<void> {
  const started = new Date();
  const loadStart = loadavg()[0] ?? 0;
  keepTempDirs(args.keep);
  const root = makeTempDir('baton-bench-web');
  const profDir = join(outDir, `profiles-webview-${started.toISOString().replace(/[:.]/g, '-')}`);
  const cluster = new BatonDaemonCluster(root, { managerNodeFlags: args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const m1 = await cluster.init('m1', ['--http-addr', `127.0.0.1:${port}`]);
  const pid = m1.proc.pid!;
  const client = cluster.client(m1);
  try {
    const fillerTotal = taskCount - RUNNING.low - CHURN.low;
    if (fillerTotal < 0) throw new Error(`--tasks must be at least ${RUNNING.low + CHURN.low}`);
    process.stdout.write(`filling the store with ${taskCount} tasks…\n`);
    await mustCli(m1, ['service', 'create'], ['--detach', '--name', RUNNING.name, '--runtime', 'process', '--replicas', String(RUNNING.low), '--', 'sleep', '100000']);
    await mustCli(m1, ['service', 'create'], ['--detach', '--name', CHURN.name, '--runtime', 'process', ...UNPLACEABLE, '--replicas', String(CHURN.low), '--', 'sleep', '100000']);
    for (let i = 0, left = fillerTotal; left > 0; i++, left -= FILLER_REPLICAS) {
      const n = Math.min(FILLER_REPLICAS, left);
      await mustCli(m1, ['service', 'create'], ['--detach', '--name', `pending-${i}`, '--runtime', 'process', ...UNPLACEABLE, '--replicas', String(n), '--', 'sleep', '100000']);
    }
    const t0 = performance.now();
    await settle(client);
    process.stdout.write(`store filled and settled in ${cell((performance.now() - t0) / 1000, 1)} s\n`);

    // What the manager spends holding these tasks with neither churn nor views: the floor under both phases.
    await settle(client);
    const i0 = cpuTimeMs([pid]) ?? 0;
    const iw0 = performance.now();
    await sleep(idleS * 1000);
    const idle = { wallMs: performance.now() - iw0, cpuMs: (cpuTimeMs([pid]) ?? 0) - i0, cpuPct: 0 };
    idle.cpuPct = (idle.cpuMs / idle.wallMs) * 100;
    process.stdout.write(`idle (no churn, no views): manager ${cell(idle.cpuPct, 2)} % of a core over ${cell(idle.wallMs / 1000, 1)} s\n`);

    const phases: Phase[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternating order, so that a drift over time does not land on one side only.
      const order = r % 2 === 0 ? [0, viewCount] : [viewCount, 0];
      for (const v of order) phases.push(await phase(r, v, m1, pid, base, client));
    }
    report(phases, idle, started, loadStart);
  } finally {
    await cluster.stop(10_000);
    cluster.killProcessTasks();
    if (args['cpu-prof']) process.stdout.write(`profiles: ${profDir}\n`);
    if (args.keep) process.stdout.write(`kept: ${root}\n`);
  }
}

function report(phases: Phase[], idle: { wallMs: number; cpuMs: number; cpuPct: number }, started: Date, loadStart: number): void {
  const none = phases.filter((p) => p.views === 0);
  const some = phases.filter((p) => p.views > 0);
  const pctNone = median(none.map((p) => p.cpuPct));
  const pctViews = median(some.map((p) => p.cpuPct));
  const cost = pctViews - pctNone;
  const readings = some.flatMap((p) => p.perView ?? []);
  const windowBytes = median(readings.map((r) => r.windowBytes));
  const windowS2 = median(some.map((p) => p.wallMs)) / 1000;
  const openCpu = median(some.map((p) => p.openCpuMs ?? 0));
  const out: string[] = [''];
  out.push(`web view cost: 1 manager, ${taskCount} tasks in the store, ${viewCount} views, churn of ${some[0]?.commands ?? 0} \`service scale\` over ${windowS} s, ${rounds} round(s)`);
  out.push('peer: there is no Swarm web view; the baseline is the same manager under the same churn with no view open');
  out.push('');
  out.push(
    formatTable([
      ['metric', '0 views', `${viewCount} views`, 'difference'],
      ['manager CPU, % of a core (median of rounds)', cell(pctNone, 2), cell(pctViews, 2), cell(cost, 2)],
      ...phases.map((p) => [`  round ${p.round}, ${p.views} views`, p.views === 0 ? cell(p.cpuPct, 2) : '', p.views > 0 ? cell(p.cpuPct, 2) : '', '']),
      [`  idle: no churn, no views (${cell(idle.wallMs / 1000, 0)} s)`, cell(idle.cpuPct, 2), '', ''],
      ['bytes sent per view over the window', '0', cell(windowBytes, 0), ''],
      ['  per second', '0', cell(windowBytes / windowS2, 0), ''],
      ['messages per view over the window', '0', cell(median(readings.map((r) => r.windowMessages)), 0), ''],
      ['GET /api/state at open, bytes', '', cell(median(readings.map((r) => r.stateBytes)), 0), ''],
      [`CPU ms to open the ${viewCount} views (state + first event)`, '', cell(openCpu, 0), ''],
    ]),
  );
  out.push('');
  const met = (ok: boolean): string => (ok ? 'MET' : 'NOT MET');
  out.push(`target: ${viewCount} open views with ${taskCount} tasks cost the manager < ${TARGET_PCT} % of a core: views' cost ${cell(cost, 2)} % → ${met(cost < TARGET_PCT)}`);
  out.push(`        the manager's whole CPU with ${viewCount} views (churn included) ${cell(pctViews, 2)} % → ${met(pctViews < TARGET_PCT)}`);
  const failed = phases.reduce((a, p) => a + p.failedCommands, 0);
  if (failed > 0) out.push(`note: ${failed} churn commands failed (see above): the phases did not all do the same work`);
  const busy = busyMachineWarning();
  if (busy) out.push(busy);
  const loadEnd = loadavg()[0] ?? 0;
  out.push(`1-min load average: ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end`);
  const file = writeRun(outDir, 'webview', started, machineInfo(), loadavg(), {
    settings: { tasks: taskCount, views: viewCount, windowS, stepS, idleS, rounds, churn: CYCLE, running: RUNNING, pending: CHURN, fillerReplicas: FILLER_REPLICAS, peer: 'the same manager with no view open' },
    summary: { cpuPctIdle: idle.cpuPct, cpuPctNoViews: pctNone, cpuPctViews: pctViews, viewsCostPct: cost, targetPct: TARGET_PCT, bytesPerViewWindow: windowBytes, bytesPerViewPerS: windowBytes / windowS2, openCpuMs: openCpu },
    idle,
    phases,
    loadAverage: { start: loadStart, end: loadEnd },
  });
  out.push(`results: ${file}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

runBenchmark('webview', main);
