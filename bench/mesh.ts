// npm run bench:mesh — the routing mesh beside HAProxy, same run, same machine, same client:
// wrk (1 thread, 50 connections) against one nginx backend directly, our mesh in front of three
// nginx backends, and HAProxy (mode tcp, roundrobin) in front of the same three; with HTTP
// keep-alive and with `Connection: close` (a new connection per request). Prints req/s, p50,
// p99, the ratios to direct and to HAProxy, and writes JSON to bench/results/mesh-*.json.
// Every mesh TCP engine runs in the same run (mesh-<engine>), each in its own process, taking
// turns with the others, and the ratios between them are printed.
// --east-west measures the path between services instead: wrk → a service address's listener
// (applyInternal: 127.0.0.21, with an allow list the client's address passes, so the check is
// on the hot path) → the backends, beside wrk → one backend directly, same run: req/s, p50 and
// p99 and the per-round paired ratios to direct; JSON to bench/results/mesh-east-west-*.json.
// Its systems are `vip-<engine>` (one process each: service addresses are never shared with
// mesh workers), and it is `--only direct,vip --threads 1` by default; `vip` can be added to a
// normal run with --only too.
// Flags: --quick (1 round of 3 s), --duration S (5), --rounds N (3: the systems take turns, the
// median round by req/s is reported), --threads 1,2 (proxy threads: mesh workers and HAProxy
// nbthread), --connections N (50), --only direct,mesh,vip,haproxy, --engines (every engine),
// --modes keep-alive,close, --east-west, --east-west-path (bench/mesh-path.ts), --cpu-prof (profile the mesh processes into
// bench/results/profiles-<timestamp>/), --out DIR, --keep.
// --baseline DIR: also run the mesh of another built checkout (DIR/dist/bench/lib/mesh-process.js,
// e.g. main's, `git archive main | tar -x -C DIR`, node_modules linked, `npm run build`) as the
// system `mesh-base`, with the first of --engines, taking turns with this build's in the same
// rounds: an A/B of old and new code in the same minutes; the paired ratios are printed.
import { join, resolve } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchDir, count, num, projectRoot, timedArgs } from './lib/args.js';
import { ManagedProcess, cpuTimeMs, freePorts, installCleanupHandlers, keepTempDirs, makeTempDir, sleep } from './lib/proc.js';
import { busyMachineWarning, cell, fileTimestamp, formatTable, machineInfo, ratio, writeResults } from './lib/results.js';
import { ensureDebianTools, runWrk, type WrkResult } from './lib/wrk.js';
import { haproxyVersion, startHaproxy } from './lib/haproxy.js';
import { canConnect, startNginx } from './lib/wrk-backends.js';
import { median } from './lib/stats.js';
import { waitFor } from './lib/proc.js';
import { MESH_ENGINES, type MeshEngine } from '../mesh/index.js';

// --east-west-path is a benchmark of its own (a real 2-node cluster on Docker, its own flags):
// bench/mesh-path.ts. Its main exits the process, so nothing below runs for it.
if (process.argv.slice(2).includes('--east-west-path')) await (await import('./mesh-path.js')).main();

const args = timedArgs(['rounds', 'threads', 'connections', 'only', 'engines', 'modes', 'baseline'], ['east-west']);

const quick = args.quick;
const durationS = num(args.duration, process.env.BENCH_DURATION, quick ? 3 : 5);
const rounds = count(args.rounds ?? process.env.BENCH_ROUNDS, quick ? 1 : 3);
const connections = count(args.connections, 50);
const eastWest = args['east-west'];
const threadCounts = (args.threads ?? (eastWest ? '1' : '1,2')).split(',').map((t) => Math.max(1, Math.round(Number(t))));
const engines = pickList('--engines', args.engines, MESH_ENGINES);
const MODES = pickList('--modes', args.modes, ['keep-alive', 'close'] as const);
const kinds = pickList('--only', args.only ?? (eastWest ? 'direct,vip' : 'direct,mesh,haproxy'), ['direct', 'mesh', 'vip', 'haproxy'] as const);
/** The systems measured: direct, one per mesh engine (published port, then service address), haproxy. */
const systems: System[] = kinds.flatMap((k): System[] =>
  k === 'mesh' ? [...engines.map((e): System => `mesh-${e}`), ...(args.baseline ? (['mesh-base'] as const) : [])] : k === 'vip' ? engines.map((e): System => `vip-${e}`) : [k],
);
/** Where the service addresses (vip-<engine>) listen: a loopback address other than the client's, as a VIP on a bridge is. */
const VIP = '127.0.0.21';
/** Their allow list: the client (127.0.0.1) passes on the second entry, so every accept runs the check. */
const VIP_ALLOW = ['10.0.0.0/24', '127.0.0.0/8'];
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
const started = new Date();
const meshScript = join(benchDir, 'lib/mesh-process.js');
/** The other build's mesh (--baseline), run as `mesh-base`. */
const baselineScript = args.baseline ? join(resolve(args.baseline), 'dist/bench/lib/mesh-process.js') : undefined;
if (baselineScript && !existsSync(baselineScript)) {
  process.stderr.write(`--baseline: ${baselineScript} not found (build that checkout first)\n`);
  process.exit(2);
}

/** `mesh-base`: the --baseline build's mesh. */
type MeshSystem = `mesh-${MeshEngine}` | 'mesh-base';
type VipSystem = `vip-${MeshEngine}`;
type System = 'direct' | 'haproxy' | MeshSystem | VipSystem;
type Mode = 'keep-alive' | 'close';

/** The values of a comma-separated flag, each one of `allowed`; all of them when absent. */
function pickList<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T[] {
  if (text === undefined) return [...allowed];
  const items = text.split(',').filter((x) => x !== '');
  const bad = items.filter((x) => !(allowed as readonly string[]).includes(x));
  if (bad.length > 0 || items.length === 0) {
    process.stderr.write(`${flag}: ${bad.length ? `unknown ${bad.join(', ')}; ` : ''}expected a list of ${allowed.join(', ')}\n`);
    process.exit(2);
  }
  return items as T[];
}

function isMesh(s: System): s is MeshSystem {
  return s.startsWith('mesh-');
}

function isVip(s: System): s is VipSystem {
  return s.startsWith('vip-');
}

/** A wrk run with the proxy's CPU time per request (µs; user + system of its processes) and the 1-min load average before it. */
type Run = WrkResult & { cpuUsPerReq: number | undefined; load1: number };

interface Row {
  threads: number;
  mode: Mode;
  system: System;
  /** The median round by req/s. */
  result: Run;
  rounds: Omit<Run, 'raw'>[];
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

function wrkHeaders(mode: Mode): string[] {
  return mode === 'close' ? ['Connection: close'] : [];
}

/** The mesh's processes (its pid and, with several workers, theirs: printed on its ready line). */
interface MeshProc {
  proc: ManagedProcess;
  pids: number[];
}

/** A mesh process: a published port on 127.0.0.1, or (`vip`) a service address's listener with VIP_ALLOW. */
async function startMesh(dir: string, port: number, backends: string[], threads: number, engine: MeshEngine, profDir: string | undefined, vip?: string, script = meshScript): Promise<MeshProc> {
  const name = script === meshScript ? `${vip ? 'vip' : 'mesh'}-${engine}` : 'mesh-base';
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] : [];
  // A service address is served by the mesh's own process only: workers would only idle.
  const workers = vip ? 1 : threads;
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: [...nodeArgs, script, String(port), backends.join(','), String(workers), engine, ...(vip ? [vip, VIP_ALLOW.join(',')] : [])],
    logFile: join(dir, `${name}-${threads}.log`),
    readyLine: /^ready/,
  });
  const line = await proc.ready;
  await waitFor('the mesh to listen', () => canConnect(port, vip), { timeoutMs: 10_000, intervalMs: 50 });
  const pids = [proc.pid!, ...line.split(' ').slice(1).map(Number).filter((n) => n > 0)];
  return { proc, pids };
}

async function main(): Promise<void> {
  installCleanupHandlers();
  keepTempDirs(args.keep);
  ensureDebianTools([
    { command: 'wrk', pkg: 'wrk' },
    { command: 'haproxy', pkg: 'haproxy' },
    { command: 'nginx', pkg: 'nginx-light' },
  ]);
  const dir = makeTempDir('bench-mesh');
  const profDir = args['cpu-prof'] ? join(outDir, `profiles-${fileTimestamp(started)}`) : undefined;
  if (profDir) for (const s of systems.filter((x) => isMesh(x) || isVip(x))) mkdirSync(join(profDir, s), { recursive: true });
  const [p1, p2, p3, haproxyPort, basePort, ...meshPorts] = await freePorts(5 + engines.length);
  const vipPorts = await freePorts(engines.length, VIP);
  const backendPorts = [p1!, p2!, p3!];
  const backends = backendPorts.map((p) => `127.0.0.1:${p}`);
  log(`nginx backends on ${backends.join(', ')}`);
  const nginx = await startNginx(dir, backendPorts);
  const rows: Row[] = [];
  try {
    for (const threads of threadCounts) {
      const meshes = new Map<System, MeshProc>();
      const pids = new Map<System, number[]>([['direct', [nginx.pid!]]]);
      const url = new Map<System, string>([
        ['direct', `http://127.0.0.1:${backendPorts[0]}/`],
        ['haproxy', `http://127.0.0.1:${haproxyPort}/`],
      ]);
      const haproxy = systems.includes('haproxy') ? await startHaproxy(dir, haproxyPort!, backends, threads) : undefined;
      pids.set('haproxy', haproxy?.pid ? [haproxy.pid] : []);
      for (const [i, e] of engines.entries()) {
        const s: System = `mesh-${e}`;
        if (!systems.includes(s)) continue;
        const m = await startMesh(dir, meshPorts[i]!, backends, threads, e, profDir);
        meshes.set(s, m);
        pids.set(s, m.pids);
        url.set(s, `http://127.0.0.1:${meshPorts[i]}/`);
      }
      if (baselineScript && systems.includes('mesh-base')) {
        const m = await startMesh(dir, basePort!, backends, threads, engines[0]!, profDir, undefined, baselineScript);
        meshes.set('mesh-base', m);
        pids.set('mesh-base', m.pids);
        url.set('mesh-base', `http://127.0.0.1:${basePort}/`);
      }
      for (const [i, e] of engines.entries()) {
        const s: System = `vip-${e}`;
        if (!systems.includes(s)) continue;
        const m = await startMesh(dir, vipPorts[i]!, backends, threads, e, profDir, VIP);
        meshes.set(s, m);
        pids.set(s, m.pids);
        url.set(s, `http://${VIP}:${vipPorts[i]}/`);
      }
      try {
        for (const mode of MODES) {
          const runs = new Map<System, Run[]>(systems.map((s) => [s, []]));
          for (const s of systems) {
            // Warm-up: JIT, connection pools, caches.
            await runWrk({ url: url.get(s)!, threads: 1, connections, durationS: 1, headers: wrkHeaders(mode) });
          }
          for (let r = 0; r < rounds; r++) {
            // Take turns, rotating the order each round, so drift in the machine's load is shared.
            const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
            for (const s of order) {
              await sleep(300);
              const load1 = loadavg()[0] ?? 0;
              const cpuBefore = cpuTimeMs(pids.get(s)!);
              const wrk = await runWrk({ url: url.get(s)!, threads: 1, connections, durationS, headers: wrkHeaders(mode) });
              const cpuAfter = cpuTimeMs(pids.get(s)!);
              const cpuUsPerReq = cpuBefore !== undefined && cpuAfter !== undefined && wrk.requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / wrk.requests : undefined;
              const res: Run = { ...wrk, cpuUsPerReq, load1 };
              log(`threads ${threads} ${mode} ${s}: ${res.requestsPerSec.toFixed(0)} req/s p50 ${res.p50.toFixed(2)} ms p99 ${res.p99.toFixed(2)} ms, ${s === 'direct' ? 'nginx' : 'proxy'} CPU ${cell(cpuUsPerReq, 1)} us/req, load ${load1.toFixed(2)}${res.errors ? ` errors ${res.errors}` : ''}`);
              runs.get(s)!.push(res);
            }
          }
          for (const s of systems) {
            const list = runs.get(s)!;
            const med = median(list.map((x) => x.requestsPerSec));
            const chosen = list.reduce((best, x) => (Math.abs(x.requestsPerSec - med) < Math.abs(best.requestsPerSec - med) ? x : best));
            rows.push({ threads, mode, system: s, result: chosen, rounds: list.map(({ raw: _raw, ...rest }) => rest) });
          }
        }
      } finally {
        for (const m of meshes.values()) await m.proc.stop();
        await haproxy?.stop();
      }
    }
  } finally {
    await nginx.stop();
  }
  report(rows, profDir);
}

function report(rows: Row[], profDir: string | undefined): void {
  const find = (threads: number, mode: Mode, system: System): Run | undefined => rows.find((r) => r.threads === threads && r.mode === mode && r.system === system)?.result;
  const table: string[][] = [['mode', 'threads', 'system', 'req/s', 'p50 ms', 'p99 ms', 'x direct', 'x haproxy', 'added p99 ms', 'CPU us/req', 'x haproxy CPU', 'load', 'errors']];
  const targets: string[] = [];
  const engineRatios: string[] = [];
  const eastWestRatios: string[] = [];
  const eastWestFigures: Record<string, unknown>[] = [];
  const roundsOf = (threads: number, mode: Mode, system: System): Omit<Run, 'raw'>[] => rows.find((r) => r.threads === threads && r.mode === mode && r.system === system)!.rounds;
  for (const threads of threadCounts) {
    for (const mode of MODES) {
      const direct = find(threads, mode, 'direct');
      const hap = find(threads, mode, 'haproxy');
      for (const system of systems) {
        const r = find(threads, mode, system)!;
        table.push([
          mode,
          String(threads),
          system,
          cell(r.requestsPerSec, 0),
          cell(r.p50, 2),
          cell(r.p99, 2),
          ratio(r.requestsPerSec, direct?.requestsPerSec),
          system === 'direct' ? '-' : ratio(r.requestsPerSec, hap?.requestsPerSec),
          system === 'direct' || !direct ? '-' : cell(r.p99 - direct.p99, 2),
          cell(r.cpuUsPerReq, 1),
          system === 'direct' ? '-' : ratio(r.cpuUsPerReq, hap?.cpuUsPerReq),
          r.load1.toFixed(2),
          String(r.errors),
        ]);
      }
      for (const system of systems.filter(isMesh)) {
        const mesh = find(threads, mode, system)!;
        if (hap) {
          const met = mesh.requestsPerSec >= hap.requestsPerSec;
          targets.push(`${mode}, ${threads} thread(s): ${system} ${ratio(mesh.requestsPerSec, hap.requestsPerSec)} HAProxy req/s (target >= 1.0x): ${met ? 'MET' : 'NOT MET'}`);
        }
        if (direct) {
          const added = mesh.p99 - direct.p99;
          targets.push(`${mode}, ${threads} thread(s): ${system} added p99 ${added.toFixed(2)} ms over direct (target < 1 ms): ${added < 1 ? 'MET' : 'NOT MET'}`);
        }
      }
      for (const group of [systems.filter(isMesh), systems.filter(isVip)]) {
        const base = group[0];
        for (const other of group.slice(1)) {
          // Engine against engine, every round paired (they ran back to back): the median of the per-round ratios.
          const a = roundsOf(threads, mode, base!);
          const b = roundsOf(threads, mode, other);
          const rps = median(b.map((x, i) => x.requestsPerSec / a[i]!.requestsPerSec));
          const cpus = b.flatMap((x, i) => (x.cpuUsPerReq !== undefined && a[i]!.cpuUsPerReq !== undefined ? [x.cpuUsPerReq / a[i]!.cpuUsPerReq] : []));
          engineRatios.push(`${mode}, ${threads} thread(s): ${other} / ${base}: req/s ${rps.toFixed(3)}x, CPU us/req ${cpus.length ? median(cpus).toFixed(3) : '-'}x (median of ${a.length} paired rounds)`);
        }
      }
      for (const vip of systems.filter(isVip)) {
        // Service address against direct (and against the same engine's published port when it ran), per paired round.
        const v = roundsOf(threads, mode, vip);
        for (const ref of ['direct', `mesh-${vip.slice(4)}`] as System[]) {
          if (!systems.includes(ref)) continue;
          const d = roundsOf(threads, mode, ref);
          const rps = median(v.map((x, i) => x.requestsPerSec / d[i]!.requestsPerSec));
          const p50 = median(v.map((x, i) => x.p50 - d[i]!.p50));
          const p99 = median(v.map((x, i) => x.p99 - d[i]!.p99));
          // CPU against the published port only: direct's figure is nginx's, not a proxy's.
          const cpus = ref === 'direct' ? [] : v.flatMap((x, i) => (x.cpuUsPerReq !== undefined && d[i]!.cpuUsPerReq !== undefined ? [x.cpuUsPerReq / d[i]!.cpuUsPerReq] : []));
          const cpu = cpus.length ? median(cpus) : undefined;
          eastWestRatios.push(`${mode}, ${vip} / ${ref}: req/s ${rps.toFixed(3)}x, added p50 ${p50.toFixed(3)} ms, added p99 ${p99.toFixed(3)} ms${cpu === undefined ? '' : `, CPU us/req ${cpu.toFixed(3)}x`} (median of ${v.length} paired rounds)`);
          eastWestFigures.push({ threads, mode, system: vip, reference: ref, reqPerSecRatio: rps, addedP50Ms: p50, addedP99Ms: p99, cpuPerReqRatio: cpu, rounds: v.length });
        }
      }
    }
  }
  process.stdout.write(`\n${formatTable(table)}\n\n${targets.join('\n')}\n`);
  if (engineRatios.length) process.stdout.write(`\nmesh engines (and mesh-base: the --baseline build), same run, each against the first:\n${engineRatios.join('\n')}\n`);
  if (eastWestRatios.length) process.stdout.write(`\nservice address (${VIP}, allow list ${VIP_ALLOW.join(',')}, one mesh process) against direct, same run:\n${eastWestRatios.join('\n')}\n`);
  process.stdout.write(`\nwrk -t1 -c${connections} -d${durationS}s --latency, median of ${rounds} round(s); backends: nginx (1 worker) x3; HAProxy ${haproxyVersion()} mode tcp roundrobin\n`);
  process.stdout.write('CPU us/req: user+system CPU of the proxy processes (for direct: nginx) per request over the run, from /proc: less sensitive than req/s to other load on the machine\n');
  const warn = busyMachineWarning();
  if (warn) process.stdout.write(`${warn}\n`);
  const name = eastWest ? 'mesh-east-west' : 'mesh';
  const path = writeResults(outDir, name, {
    benchmark: name,
    started: started.toISOString(),
    settings: { durationS, rounds, connections, threadCounts, systems, engines, baseline: baselineScript, modes: MODES, haproxy: haproxyVersion(), backends: 'nginx worker_processes 1, 3 ports', serviceAddress: VIP, allowFrom: VIP_ALLOW },
    machine: machineInfo(),
    rows: rows.map(({ result: { raw: _raw, ...rest }, ...row }) => ({ ...row, result: rest })),
    targets,
    engineRatios,
    eastWest: eastWestFigures,
  }, started);
  process.stdout.write(`results: ${path}\n`);
  if (profDir) process.stdout.write(`profiles: ${profDir}\n`);
}

await main();
