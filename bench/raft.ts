// npm run bench:raft — our Raft (the example KV server over raft/) beside etcd, same run, same
// machine, same load generator: 3 members each on 127.0.0.1, data on disk, fsync on.
//   writes/s, p50, p99 of 256-byte writes from 1 and from 64 concurrent clients (to the leader);
//   failover: SIGKILL of the leader to the first write acknowledged after it, over N kills.
// Flags: --quick (3 s phases, 5 kills), --duration S, --warmup S, --slices N (turns per
// phase, alternating between the systems), --kills N, --clients 1,64,
// --only baton|etcd, --keep (keep temp dirs), --cpu-prof (profile our kv-servers; the
// .cpuprofile files land in bench/results/profiles-<timestamp>/), --out DIR, and for
// experiments --baton-args="--snapshot-entries 100000" / --etcd-args="..." (no longer defaults),
// and --baton-node-args="--max-semi-space-size=32" (node flags of our kv-servers).
// --base DIR: a third contender, "base", the kv-server of another build of this repository (DIR
// holds its dist/, e.g. main's: `git archive main | tar -x -C DIR`, node_modules linked, built),
// in the same run and the same alternating turns, for an A/B of a change beside etcd.
// Env: BENCH_DURATION, BENCH_WARMUP, BENCH_SLICES, BENCH_KILLS override the defaults the same way.
import { join, resolve } from 'node:path';
import { mkdirSync, readdirSync } from 'node:fs';
import { RAFT_DEFAULTS } from '../raft/node.js';
import { BatonKvCluster } from './lib/baton-kv.js';
import { EtcdCluster, ensureEtcd } from './lib/etcd.js';
import { LeaderTarget, waitForHealthy, type ReplicatedCluster } from './lib/cluster.js';
import { LoadAccumulator, type LoadResult } from './lib/load.js';
import { FailoverRunner, summarizeFailover, type FailoverResult, type FailoverSample } from './lib/failover.js';
import { installCleanupHandlers, keepTempDirs, makeTempDir, removeTempDir, runBenchmark } from './lib/proc.js';
import { busyMachineWarning, cell, fileTimestamp, formatTable, machineInfo, ratio, writeRun } from './lib/results.js';
import { baseDist, benchDir, count, num, projectRoot, timedArgs } from './lib/args.js';

const here = benchDir;
const serverScript = resolve(here, '../raft/example/kv-server.js');

const args = timedArgs(['warmup', 'kills', 'clients', 'slices', 'only', 'baton-args', 'baton-node-args', 'etcd-args', 'base']);


const quick = args.quick;
const durationMs = num(args.duration, process.env.BENCH_DURATION, quick ? 3 : 10) * 1000;
const warmupMs = num(args.warmup, process.env.BENCH_WARMUP, quick ? 1 : 2) * 1000;
const kills = num(args.kills, process.env.BENCH_KILLS, quick ? 5 : 20);
/** Each load phase is cut into this many turns per system, alternating between the systems. */
const slices = count(args.slices ?? process.env.BENCH_SLICES, quick ? 3 : 5);
const clientCounts = (args.clients ?? '1,64').split(',').map((c) => Number(c));
const baseServerScript = args.base ? join(baseDist(args.base), 'raft/example/kv-server.js') : undefined;
const systems = [...(args.only ? args.only.split(',') : ['baton', 'etcd']), ...(baseServerScript ? ['base'] : [])];
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
/** Extra server flags for experiments (the table then no longer shows defaults): space-separated. */
const batonArgs = (args['baton-args'] ?? '').split(' ').filter(Boolean);
const etcdArgs = (args['etcd-args'] ?? '').split(' ').filter(Boolean);
/** Extra node flags for our kv-servers, for experiments (e.g. a GC setting); the settings line shows them. */
const batonNodeArgs = (args['baton-node-args'] ?? '').split(' ').filter(Boolean);
const started = new Date();
const VALUE_BYTES = 256;

installCleanupHandlers();
keepTempDirs(args.keep);

/** 256 printable bytes, different per write (no JSON escaping needed on either side). */
function makeValue(seq: number): Buffer {
  const b = Buffer.alloc(VALUE_BYTES, 0x61 + (seq % 26));
  b.write(`${seq}:`, 0, 'latin1');
  return b;
}

interface SystemResult {
  system: string;
  settings: Record<string, unknown>;
  load: LoadResult[];
  failover: FailoverResult | undefined;
  error?: string;
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

/** One system's share of a load phase: its accumulator and where its clients send writes. */
class LoadTurn {
  readonly acc: LoadAccumulator;
  private target: LeaderTarget | undefined;

  constructor(
    readonly cluster: ReplicatedCluster,
    readonly clients: number,
    /** The contender's name in the log ("base" is a baton cluster too). */
    readonly label: string,
  ) {
    this.acc = new LoadAccumulator(clients);
  }

  async slice(first: boolean): Promise<void> {
    const cluster = this.cluster;
    const target = (this.target ??= new LeaderTarget(cluster, await waitForHealthy(cluster)));
    await this.acc.runSlice({
      clients: this.clients,
      // The full warm-up once; later slices only refill the pipeline after the other system's turn.
      warmupMs: first ? warmupMs : Math.min(warmupMs, 300),
      durationMs: durationMs / slices,
      serverPids: () => cluster.pids(),
      op: async (c, seq) => {
        const member = target.current;
        const outcome = await cluster.write(member, { key: `bench/${c}/${seq % 1024}`, value: makeValue(seq), id: `w${this.clients}-${c}-${seq}` }, 10_000);
        if (outcome.ok) return true;
        target.onFailure(member, outcome);
        throw new Error(outcome.kind === 'not-leader' ? `not leader (status ${outcome.status})` : `${outcome.status ?? ''} ${outcome.error}`);
      },
    });
  }

  finish(): LoadResult {
    const result = this.acc.result();
    const l = result.latencyMs;
    log(
      `${this.label} ${this.clients} client(s): ${result.opsPerSec.toFixed(0)} writes/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, errors ${result.errors}` +
        (result.cpu ? `, servers ${result.cpu.serverMsPerOp.toFixed(3)} CPU-ms/write (${result.cpu.serverCores.toFixed(2)} cores)` : '') +
        (result.errorSamples.length ? ` (${result.errorSamples.join('; ')})` : ''),
    );
    return result;
  }
}

function makeCluster(system: string, root: string, profileDir: string | undefined): ReplicatedCluster {
  if (system === 'baton' || system === 'base') {
    return new BatonKvCluster({
      serverScript: system === 'base' && baseServerScript ? baseServerScript : serverScript,
      root,
      nodeFlags: [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...batonNodeArgs],
      serverArgs: batonArgs,
      describe: {
        tickMs: RAFT_DEFAULTS.tickMs,
        heartbeatMs: RAFT_DEFAULTS.tickMs * RAFT_DEFAULTS.heartbeatTicks,
        electionTimeoutMs: RAFT_DEFAULTS.tickMs * RAFT_DEFAULTS.electionTicks,
        electionRandomized: `[${RAFT_DEFAULTS.tickMs * RAFT_DEFAULTS.electionTicks}, ${2 * RAFT_DEFAULTS.tickMs * RAFT_DEFAULTS.electionTicks}) ms`,
        preVote: 'on',
        checkQuorum: 'on',
        maxInflightMsgs: RAFT_DEFAULTS.maxInflightMsgs,
        maxEntriesPerMsg: RAFT_DEFAULTS.maxEntriesPerMsg,
        ...(batonNodeArgs.length > 0 ? { nodeArgs: batonNodeArgs.join(' ') } : {}),
      },
    });
  }
  if (system === 'etcd') return new EtcdCluster({ root, extraArgs: etcdArgs });
  throw new Error(`unknown system ${system} (want baton or etcd)`);
}

interface Contender {
  cluster: ReplicatedCluster;
  root: string;
  result: SystemResult;
  failover: FailoverRunner;
  samples: FailoverSample[];
}

/**
 * Run `step` for each contender still healthy; a failure marks that one and the others go on.
 * The order rotates with `order`, so that each contender goes first, in the middle and last in turn.
 */
async function eachContender(contenders: Contender[], order: number, step: (c: Contender) => Promise<void>): Promise<void> {
  const shift = order % contenders.length;
  const list = [...contenders.slice(shift), ...contenders.slice(0, shift)];
  for (const c of list) {
    if (c.result.error) continue;
    try {
      await step(c);
    } catch (err) {
      c.result.error = err instanceof Error ? err.message : String(err);
      log(`${c.result.system}: FAILED: ${c.result.error}`);
    }
  }
}

/**
 * Both clusters run side by side for the whole benchmark (the idle one only heartbeats), and
 * every phase and every kill alternates between them, so that a noisy neighbour on the machine
 * or a drift over the run does not land on one side only.
 */
async function benchAll(profileDir: string | undefined): Promise<SystemResult[]> {
  const contenders: Contender[] = systems.map((system) => {
    const root = makeTempDir(`baton-bench-${system}`);
    if (args.keep) log(`${system}: data and logs in ${root}`);
    const cluster = makeCluster(system, root, profileDir);
    let seq = 0;
    return {
      cluster,
      root,
      result: { system, settings: {}, load: [], failover: undefined },
      samples: [],
      failover: new FailoverRunner(cluster, {
        makeWrite: () => ({ key: `failover/${seq % 64}`, value: makeValue(seq), id: `f-${seq++}` }),
        onKill: (s) =>
          log(
            `${system} kill ${s.kill + 1}/${kills}: member ${s.killedMember} -> ${s.ms === undefined ? 'no write acknowledged' : `${s.ms.toFixed(0)} ms (acked by member ${s.ackedBy}, ${s.attempts} writes sent after the kill)`}; healthy again ${s.recoverMs.toFixed(0)} ms after restart`,
          ),
      }),
    };
  });
  try {
    await eachContender(contenders, 0, async (c) => {
      log(`${c.result.system}: starting ${c.cluster.size} members`);
      await c.cluster.start();
      c.result.settings = c.cluster.settings();
      log(`${c.result.system}: leader is member ${await waitForHealthy(c.cluster)}`);
    });
    let order = 0;
    for (const clients of clientCounts) {
      const turns = new Map(contenders.map((c) => [c, new LoadTurn(c.cluster, clients, c.result.system)]));
      for (let i = 0; i < slices; i++) {
        await eachContender(contenders, order++, async (c) => turns.get(c)!.slice(i === 0));
      }
      for (const c of contenders) if (!c.result.error) c.result.load.push(turns.get(c)!.finish());
    }
    if (kills > 0) log(`failover: ${kills} kills of the leader of each cluster, alternating`);
    for (let k = 0; k < kills; k++) {
      await eachContender(contenders, order++, async (c) => {
        c.samples.push(await c.failover.killLeader());
      });
    }
    for (const c of contenders) if (c.samples.length > 0) c.result.failover = summarizeFailover(c.samples);
  } finally {
    for (const c of contenders) {
      await c.cluster.stop();
      removeTempDir(c.root);
    }
  }
  return contenders.map((c) => c.result);
}

function loadAt(r: SystemResult | undefined, clients: number): LoadResult | undefined {
  return r?.load.find((l) => l.clients === clients);
}

function report(results: SystemResult[]): { table: string; verdicts: string[] } {
  const ours = results.find((r) => r.system === 'baton');
  const etcd = results.find((r) => r.system === 'etcd');
  const base = results.find((r) => r.system === 'base');
  const rows: string[][] = [['metric', 'baton', 'etcd', 'ratio baton/etcd', ...(base ? ['base', 'ratio base/etcd', 'ratio baton/base'] : [])]];
  /** One measure of each system, its ratios to etcd, and with --base the change's ratio to the base. */
  const row = (name: string, digits: number, a: number | undefined, b: number | undefined, c: number | undefined): string[] => [
    name,
    cell(a, digits),
    cell(b, digits),
    ratio(a, b),
    ...(base ? [cell(c, digits), ratio(c, b), ratio(a, c)] : []),
  ];
  for (const c of clientCounts) {
    const [a, b, o] = [loadAt(ours, c), loadAt(etcd, c), loadAt(base, c)];
    const label = `${c} client${c === 1 ? '' : 's'}`;
    rows.push(row(`writes/s, ${label}`, 0, a?.opsPerSec, b?.opsPerSec, o?.opsPerSec));
    rows.push(row(`p50 ms, ${label}`, 2, a?.latencyMs.p50, b?.latencyMs.p50, o?.latencyMs.p50));
    rows.push(row(`p99 ms, ${label}`, 2, a?.latencyMs.p99, b?.latencyMs.p99, o?.latencyMs.p99));
    if (a?.cpu || b?.cpu) {
      rows.push(row(`server CPU ms/write, ${label}`, 3, a?.cpu?.serverMsPerOp, b?.cpu?.serverMsPerOp, o?.cpu?.serverMsPerOp));
    }
  }
  const fa = ours?.failover;
  const fb = etcd?.failover;
  const fo = base?.failover;
  if (fa || fb) rows.push(row(`failover median ms (${fa?.kills ?? fb?.kills ?? 0} kills)`, 0, fa?.medianMs, fb?.medianMs, fo?.medianMs));
  if (fa || fb) rows.push(row('failover max ms', 0, fa?.maxMs, fb?.maxMs, fo?.maxMs));
  if ((fa?.failures ?? 0) + (fb?.failures ?? 0) + (fo?.failures ?? 0) > 0) {
    rows.push(['failover kills without a write', String(fa?.failures ?? '-'), String(fb?.failures ?? '-'), '', ...(base ? [String(fo?.failures ?? '-'), '', ''] : [])]);
  }

  const verdicts: string[] = [];
  const top = Math.max(...clientCounts);
  const a = loadAt(ours, top);
  const b = loadAt(etcd, top);
  if (a && b) {
    const okRate = a.opsPerSec >= b.opsPerSec;
    const okP99 = a.latencyMs.p99 <= b.latencyMs.p99;
    verdicts.push(`target writes/s >= 1.0x etcd at ${top} clients: ${okRate ? 'MET' : 'NOT MET'} (${ratio(a.opsPerSec, b.opsPerSec)})`);
    verdicts.push(`target p99 no worse than etcd at ${top} clients: ${okP99 ? 'MET' : 'NOT MET'} (${cell(a.latencyMs.p99, 2)} vs ${cell(b.latencyMs.p99, 2)} ms)`);
  }
  const how = batonArgs.length ? `with ${batonArgs.join(' ')}` : 'defaults';
  if (fa) verdicts.push(`target failover median <= 1000 ms (${how}): ${fa.medianMs <= 1000 ? 'MET' : 'NOT MET'} (${cell(fa.medianMs, 0)} ms)`);
  return { table: formatTable(rows), verdicts };
}

function settingsLines(results: SystemResult[]): string[] {
  return results.map((r) => {
    const s = r.settings;
    const parts = Object.entries(s)
      .filter(([k, v]) => !(['serverArgs', 'extraArgs'].includes(k) && Array.isArray(v) && v.length === 0))
      .map(([k, v]) => `${k}=${Array.isArray(v) ? `"${v.join(' ')}"` : String(v)}`);
    return `${r.system}: ${parts.join(', ')}`;
  });
}

async function main(): Promise<void> {
  if (systems.includes('etcd')) ensureEtcd();
  let profileDir: string | undefined;
  if (args['cpu-prof']) {
    profileDir = join(outDir, `profiles-${fileTimestamp(started)}`);
    mkdirSync(profileDir, { recursive: true });
  }
  log(
    `bench:raft: ${durationMs / 1000} s per load phase in ${slices} turns after ${warmupMs / 1000} s warm-up, clients ${clientCounts.join(',')}, ${kills} kills, ` +
      `${VALUE_BYTES}-byte values${quick ? ' (quick)' : ''}`,
  );
  const machineAtStart = machineInfo();
  const busyAtStart = busyMachineWarning();
  const results = await benchAll(profileDir);
  const busyAtEnd = busyMachineWarning();

  const { table, verdicts } = report(results);
  const out = [
    '',
    `Raft writes, 3 members on 127.0.0.1, data on disk with fsync, ${VALUE_BYTES}-byte values, writes sent to the leader;`,
    `${durationMs / 1000} s per load phase and system (${slices} alternating turn${slices === 1 ? '' : 's'}; ${warmupMs / 1000} s warm-up first); failover = SIGKILL of the leader -> first 200 of a write sent after it.`,
    '',
    table,
    '',
    ...verdicts,
    '',
    `settings (${batonArgs.length || etcdArgs.length ? 'defaults plus the extra server args shown' : 'defaults of each'}):`,
    ...settingsLines(results).map((l) => `  ${l}`),
    ...results.filter((r) => r.error).map((r) => `ERROR ${r.system}: ${r.error}`),
    ...[busyAtStart ?? busyAtEnd].filter((w): w is string => w !== undefined),
  ];
  process.stdout.write(`${out.join('\n')}\n`);

  const path = writeRun(outDir, 'raft', started, machineAtStart, machineInfo().loadAverage, {
    config: { durationMs, warmupMs, slices, kills, clients: clientCounts, valueBytes: VALUE_BYTES, quick, batonArgs, etcdArgs, base: args.base },
    results,
    table,
    verdicts,
  });
  process.stdout.write(`\nresults: ${path}\n`);
  if (profileDir) {
    const files = readdirSync(profileDir);
    process.stdout.write(`cpu profiles (${files.length}): ${profileDir}\n`);
  }
  if (results.some((r) => r.error)) process.exitCode = 1;
}

runBenchmark('raft', main);
