// npm run bench:mesh -- --east-west-path: a task calling another service by name, as a user's
// task does, beside the same call without the mesh, same run, same client.
//
// A real 2-node cluster (baton init on 127.0.0.1, a worker joined on 127.0.0.2, docker runtime),
// `network create`, a service `api` (busybox httpd on 8080, --expose 8080, 1 replica on the
// worker), `api-local` (the same, on the manager) and a `client` (sleep, on the manager), all on
// the network. The load (wrk, and the open loop) runs in the client task's network namespace
// (`nsenter -t <pid> -n`: the host's program with the container's addresses and routes, so its
// packets go container → bridge → the node's NAT rules or mesh → the task as the client's own
// would), against the addresses the client's resolver gives for the names (`docker exec
// <client> nslookup api`: the VIPs).
//
// The systems:
//   vip         client netns → api's VIP:8080 → manager's NAT rules (else its mesh) → 127.0.0.2:<host port> → api (worker)
//   node-port   host netns → 127.0.0.2:<host port> → api: what the mesh itself dials. The reference
//               for the cross-node path, because from the client's namespace there is no direct
//               path to the api task at all: its container address is on the worker's bridge and
//               Docker drops traffic between bridges (DOCKER-ISOLATION), and 127.0.0.2 is the
//               container's own loopback (checked at start and printed)
//   task-host   host netns → api's container IP:8080 (the worker's bridge, no docker-proxy)
//   vip-local   client netns → api-local's VIP:8080 → manager's NAT rules (else its mesh) → api-local's address
//   task-local  client netns → api-local's container IP:8080: the same bridge, the direct path
//               a container has to a task on its own node without the mesh
//
// Two measurements, both per system, the systems taking turns with the order rotating every round:
// - saturation (closed loop): wrk, `--connections` connections, with HTTP keep-alive and with
//   `Connection: close` (busybox httpd answers one request per connection and closes it, so both
//   open a connection per request; both are kept because the mesh handles them differently should
//   the backend keep connections open). req/s is the figure here; its p99 is mostly the queue in
//   front of httpd (a fork per connection), tens of ms that move by several between rounds.
// - open loop (bench/lib/open-loop.ts, the latency figure): `--rate` requests per second on a
//   fixed schedule, well under saturation so that nothing queues, a connection per request,
//   each measured from its intended send time (wrk2's correction for coordinated omission), from
//   the same namespace as wrk. p50/p90/p99/p99.9 pooled over the rounds, and per paired round
//   what a system adds to its reference (median and range over the rounds). The references run
//   twice in each round (task-host-2, task-local-2): what a path differs from itself by is the
//   noise floor, printed, which an added p99 must stand above to be the path's.
//
// --hosts netns: the same on separate hosts (test/lib/netns-engines.ts): the manager in a
// network namespace of its own (10.77.0.1) with a Docker engine of its own, the worker likewise
// (10.77.0.2), the namespaces joined by veths to a hub bridge. The client and api-local run on
// host 1's engine, api on host 2's; api's host port is published by host 2's engine on
// 10.77.0.2, where host 2's kernel DNAT (Docker's DOCKER chain) takes connections from other
// hosts (docker-proxy serves a host's own connections only). The cross-node systems then are:
//   vip         client netns → api's VIP → host 1's bridge → host 1's NAT rules (DNAT to
//               10.77.0.2:<host port>, MASQUERADE) → host 1's eth0 → hub bridge → host 2's eth0
//               → host 2's DOCKER DNAT → host 2's bridge → api
//   node-port   client netns → 10.77.0.2:<host port> → host 1's bridge → Docker's MASQUERADE on
//               host 1 → the same veths, hub and host 2's DNAT → api: the task's address as
//               another host reaches it, from the caller itself. The direct reference: vip's
//               path without our DNAT rule (the caller's bridge, host 1's forwarding and
//               masquerade, the veths and host 2's DNAT are on both); its noise floor is
//               node-port-2, the same path run twice per round
//   task-host   host 1's own namespace (not a container) → 10.77.0.2:<host port> → host 2's DNAT
//               → api: without the caller's bridge and host 1's NAT (node-port − task-host is
//               that part, Docker's)
//   vip-local, task-local: as above, on host 1
// JSON: bench/results/mesh-east-west-path-netns-*.json.
//
// Flags: --quick (1 round of 3 s each), --duration S (5: a wrk run), --rounds N (3: wrk rounds),
// --connections N (10), --rate R (req/s; default a quarter of the run's lowest saturation req/s,
// 150 without a saturation run), --open-duration S (8), --open-rounds N (5),
// --only vip,node-port,task-host,vip-local,task-local, --modes keep-alive,close,open-loop,
// --hosts loopback|netns (loopback: both nodes on this machine's 127.0.0.1/.2 and one engine),
// --max-time S (900: the whole run, cluster start included, then everything is cleaned up and
// it exits 1), --out DIR, --keep (the daemons' data dirs and logs), --cpu-prof (the manager
// daemon, whose mesh relays the VIPs, profiled into <out>/profiles-<timestamp>/).
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import Docker from 'dockerode';
import { count, num, projectRoot, timedArgs } from './lib/args.js';
import { execFile } from 'node:child_process';
import { BatonDaemonCluster, runCli, type BatonDaemon } from './lib/baton-daemons.js';
import { cleanupLabel, cleanupNetworkLabel, removeContainers } from './lib/docker-engine.js';
import { cleanupNow, cpuTimeMs, freePort, installCleanupHandlers, keepTempDirs, makeTempDir, sleep, waitFor } from './lib/proc.js';
import { busyMachineWarning, cell, fileTimestamp, formatTable, machineInfo, writeRun } from './lib/results.js';
import { median } from './lib/stats.js';
import { ensureDebianTools, runWrk, type WrkResult } from './lib/wrk.js';
import { pooled, runOpenLoop, type OpenLoopResult } from './lib/open-loop.js';
import { resolveIn, shIn } from '../test/lib/docker.js';
import { NetnsEngines, netnsEnginesUnavailable } from '../test/lib/netns-engines.js';


const SYSTEMS = ['vip', 'node-port', 'task-host', 'vip-local', 'task-local'] as const;
type System = (typeof SYSTEMS)[number];
/** The open loop's systems: the same, and each direct reference a second time (the noise floor). */
type OpenSystem = System | 'task-host-2' | 'task-local-2' | 'node-port-2';
const HOSTS = ['loopback', 'netns'] as const;
type Hosts = (typeof HOSTS)[number];
const MODES_ALL = ['keep-alive', 'close', 'open-loop'] as const;
type Mode = Exclude<(typeof MODES_ALL)[number], 'open-loop'>;
/** Each service-address system and the references it is compared with, per paired round. */
const PAIRS: readonly (readonly [System, System])[] = [
  ['vip', 'node-port'],
  ['vip', 'task-host'],
  ['vip-local', 'task-local'],
];
/**
 * The open loop's pairs: the same, docker-proxy's own share of the cross-node path (node-port
 * against task-host: vip - task-host is vip - node-port plus it), and each reference against
 * itself run a second time in the same round: what two runs of one path differ by, the noise
 * floor an added figure must stand above to mean anything.
 */
const OPEN_PAIRS_LOOPBACK: readonly (readonly [OpenSystem, OpenSystem, string])[] = [
  ['vip', 'node-port', 'our NAT rules and the bridge crossing (same last hop: docker-proxy)'],
  ['vip', 'task-host', 'the whole cross-node path against the task direct'],
  ['node-port', 'task-host', "Docker's docker-proxy on the host port (not ours)"],
  ['vip-local', 'task-local', 'our NAT rules, same node, same namespace'],
  ['task-host-2', 'task-host', 'noise floor: task-host against itself'],
  ['task-local-2', 'task-local', 'noise floor: task-local against itself'],
];
/** --hosts netns: node-port (from the caller's namespace) is the cross-node reference. */
const OPEN_PAIRS_NETNS: readonly (readonly [OpenSystem, OpenSystem, string])[] = [
  ['vip', 'node-port', 'our DNAT rule alone: the same bridges, veths, hub and host 2 DNAT on both'],
  ['vip', 'task-host', "the whole cross-node path against host 1's own namespace calling host 2"],
  ['node-port', 'task-host', "the caller's bridge and Docker's masquerade on host 1 (not ours)"],
  ['vip-local', 'task-local', 'our NAT rules, same node, same namespace'],
  ['node-port-2', 'node-port', 'noise floor: node-port against itself'],
  ['task-local-2', 'task-local', 'noise floor: task-local against itself'],
];
const IMAGE = 'local/busybox:1';
/** Of each open-loop run, sent on the schedule first and not counted (the generator's JIT, the path's first connections). */
const OPEN_WARMUP_S = 1;
/** The open loop's rate when no saturation run gives one and no --rate is set (about a quarter of a quiet run's saturation). */
const DEFAULT_OPEN_RATE = 150;
const PORT = 8080;
const NETWORK = 'benchnet';

/**
 * A wrk run, with the CPU the manager's daemon (where the client's mesh runs) spent per request,
 * and the connects its mesh counted as failed (refused, unreachable, timed out) during the run.
 */
type Run = Omit<WrkResult, 'raw'> & { meshCpuUsPerReq: number | undefined; meshBackendFailures: number | undefined; load1: number };
/** An open-loop run, with the manager daemon's CPU per request sent and the load average at its start. */
type OpenRun = OpenLoopResult & { meshCpuUsPerReq: number | undefined; load1: number };

const PATHS: Record<Hosts, Record<OpenSystem, string>> = {
  loopback: {
    vip: 'client ns -> VIP (kernel NAT to worker addr:host port, else mesh) -> worker task',
    'node-port': 'host ns -> worker addr:host port (docker-proxy) -> task',
    'node-port-2': 'node-port again, same round (noise floor)',
    'task-host': 'host ns -> task IP (worker bridge)',
    'task-host-2': 'task-host again, same round (noise floor)',
    'vip-local': 'client ns -> VIP (kernel NAT, else mesh) -> local task',
    'task-local': 'client ns -> task IP (same bridge)',
    'task-local-2': 'task-local again, same round (noise floor)',
  },
  netns: {
    vip: 'client ns -> VIP -> host 1 NAT rules -> veth/hub -> host 2 DOCKER DNAT -> task',
    'node-port': 'client ns -> host 2 addr:host port -> host 1 masquerade -> veth/hub -> host 2 DOCKER DNAT -> task',
    'node-port-2': 'node-port again, same round (noise floor)',
    'task-host': 'host 1 ns -> host 2 addr:host port -> veth/hub -> host 2 DOCKER DNAT -> task',
    'task-host-2': 'task-host again, same round (noise floor)',
    'vip-local': 'client ns -> VIP (kernel NAT, else mesh) -> local task',
    'task-local': 'client ns -> task IP (same bridge)',
    'task-local-2': 'task-local again, same round (noise floor)',
  },
};

/** "median [min..max]" of a series, in ms. */
function spread(values: readonly number[], digits = 2): string {
  return `${median(values).toFixed(digits)} [${Math.min(...values).toFixed(digits)}..${Math.max(...values).toFixed(digits)}]`;
}

/**
 * The open loop's report: per system, the percentiles pooled over its rounds (every answered
 * request of every round) beside the per-round medians of the service time and the send lag;
 * per pair, what the system adds to its reference round by round (median and range over the
 * rounds) and pooled, and the noise floor: the largest |added p99| of a reference against itself.
 */
function openLoopReport(open: ReadonlyMap<OpenSystem, OpenRun[]>, rate: number, hosts: Hosts): { text: string; json: Record<string, unknown> } {
  const PATH = PATHS[hosts];
  const OPEN_PAIRS = hosts === 'netns' ? OPEN_PAIRS_NETNS : OPEN_PAIRS_LOOPBACK;
  const table: string[][] = [['system', 'path', 'sent', 'answered', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'connect p50', 'connect p99', 'service p99', 'lag p99', 'mgr CPU us/req', 'load']];
  const rows: Record<string, unknown>[] = [];
  for (const [s, list] of open) {
    const all = pooled(list);
    const sent = list.reduce((n, r) => n + r.sent, 0);
    const ok = list.reduce((n, r) => n + r.ok, 0);
    const cpu = list.map((r) => r.meshCpuUsPerReq).filter((v): v is number => v !== undefined);
    table.push([s, PATH[s], String(sent), String(ok), String(sent - ok), cell(all.p50, 2), cell(all.p90, 2), cell(all.p99, 2), cell(all.p999, 2), cell(all.max, 2), cell(median(list.map((r) => r.connectMs.p50)), 3), cell(median(list.map((r) => r.connectMs.p99)), 3), cell(median(list.map((r) => r.serviceMs.p99)), 2), cell(median(list.map((r) => r.lagMs.p99)), 2), cell(cpu.length ? median(cpu) : undefined, 1), median(list.map((r) => r.load1)).toFixed(2)]);
    rows.push({ system: s, pooled: all, sent, answered: ok, rounds: list.map(({ samples: _samples, ...r }) => r) });
  }
  const lines: string[] = [];
  const pairs: Record<string, unknown>[] = [];
  let noise = 0;
  for (const [sys, ref, what] of OPEN_PAIRS) {
    const v = open.get(sys);
    const d = open.get(ref);
    if (!v || !d) continue;
    const added = (f: (r: OpenRun) => number): number[] => v.map((x, i) => f(x) - f(d[i]!));
    const p50 = added((r) => r.latencyMs.p50);
    const p99 = added((r) => r.latencyMs.p99);
    const p999 = added((r) => r.latencyMs.p999);
    const connectP50 = added((r) => r.connectMs.p50);
    const connectP99 = added((r) => r.connectMs.p99);
    const pooledP99 = pooled(v).p99 - pooled(d).p99;
    const pooledP999 = pooled(v).p999 - pooled(d).p999;
    const isNoise = sys.endsWith('-2');
    if (isNoise) noise = Math.max(noise, ...p99.map(Math.abs));
    const verdict = isNoise ? '' : ` — added p99 target < 1 ms: ${median(p99) < 1 ? 'MET' : 'NOT MET'}`;
    lines.push(`${sys} / ${ref} (${what}): added p50 ${spread(p50)}, p99 ${spread(p99)}, p99.9 ${spread(p999)} ms, median [range] of ${v.length} paired rounds; pooled: p99 ${pooledP99.toFixed(2)}, p99.9 ${pooledP999.toFixed(2)} ms; the handshake alone: p50 ${spread(connectP50, 3)}, p99 ${spread(connectP99, 3)} ms${verdict}`);
    pairs.push({ system: sys, reference: ref, what, addedP50Ms: p50, addedP99Ms: p99, addedP999Ms: p999, addedConnectP50Ms: connectP50, addedConnectP99Ms: connectP99, medianAddedP99Ms: median(p99), pooledAddedP99Ms: pooledP99, pooledAddedP999Ms: pooledP999, noiseFloor: isNoise, ...(isNoise ? {} : { addedP99TargetMet: median(p99) < 1 }) });
  }
  const noiseLine = open.has('task-host-2') || open.has('task-local-2') || open.has('node-port-2') ? `noise floor: a reference against itself differed by up to ${noise.toFixed(2)} ms p99 in a round; an added p99 within that is not shown to be the path\n` : '';
  const text = `\nopen loop: ${rate} req/s on a fixed schedule, a connection per request, latency from each request's intended send time (pooled over the rounds):\n${formatTable(table)}\n\nadded latency per paired round (open loop):\n${lines.join('\n')}\n${noiseLine}`;
  return { text, json: { rows, pairs, noiseFloorP99Ms: noise } };
}

/** GET /metrics of the manager, from its namespace when it has one (`nsenter -t <a process there> -n`). */
async function metricsText(metricsAddr: string, netnsPid: number | undefined): Promise<string> {
  if (netnsPid === undefined) return (await fetch(`http://${metricsAddr}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
  const script = `fetch('http://${metricsAddr}/metrics',{signal:AbortSignal.timeout(3000)}).then((r)=>r.text()).then((t)=>process.stdout.write(t),()=>process.exit(1))`;
  return new Promise((resolveText, reject) => {
    execFile('nsenter', ['-t', String(netnsPid), '-n', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => (err ? reject(new Error(`metrics from host 1: ${err.message}`)) : resolveText(stdout)));
  });
}

/** The sum of one family (default baton_mesh_backend_failures_total) over every port of the manager's mesh; undefined when unreadable. */
async function meshFailures(metrics: { addr: string; netnsPid: number | undefined }, family = 'baton_mesh_backend_failures_total', label = ''): Promise<number | undefined> {
  try {
    const text = await metricsText(metrics.addr, metrics.netnsPid);
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${family}{`) && l.includes(label))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  } catch {
    return undefined;
  }
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

function pickList<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T[] {
  if (text === undefined) return [...allowed];
  const items = text.split(',').filter((x) => x !== '');
  const bad = items.filter((x) => !(allowed as readonly string[]).includes(x));
  if (bad.length > 0 || items.length === 0) throw new Error(`${flag}: ${bad.length ? `unknown ${bad.join(', ')}; ` : ''}expected a list of ${allowed.join(', ')}`);
  return items as T[];
}

/** An engine and its DOCKER_HOST (undefined: the machine's own, from the environment). */
interface Engine {
  docker: Docker;
  host: string | undefined;
}

/** Whether GET / through host:port answers 200 from inside the container (busybox nc, 2 s). */
async function answersFrom(engine: Engine, container: string, host: string, port: number): Promise<boolean> {
  const r = await shIn(container, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} ${port}`, 8_000, engine.host);
  return r.ok && /^HTTP\/1\.[01] 200/.test(r.out);
}

/** The running container of a service (by the label our daemons put on task containers). */
async function containerOf(engine: Engine, serviceId: string): Promise<string> {
  return waitFor(
    `a running container of service ${serviceId}`,
    async () => (await engine.docker.listContainers({ filters: { label: [`baton.service=${serviceId}`], status: ['running'] } }))[0]?.Id,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

interface Task {
  container: string;
  pid: number;
  /** Its address on its node's bridge for the network. */
  ip: string;
  /** Where its node publishes PORT: "ip:port" ('' when not published). */
  hostPort: string;
}

/** `nodeHost`: the node's address, for a port published on every address (0.0.0.0). */
async function inspectTask(engine: Engine, container: string, nodeHost: string): Promise<Task> {
  const info = await engine.docker.getContainer(container).inspect();
  const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress;
  if (!info.State.Pid || !ip) throw new Error(`cannot read pid and address of ${container}`);
  const b = info.NetworkSettings.Ports?.[`${PORT}/tcp`]?.[0];
  const hostPort = b?.HostPort ? `${b.HostIp && b.HostIp !== '0.0.0.0' ? b.HostIp : nodeHost}:${b.HostPort}` : '';
  return { container, pid: info.State.Pid, ip, hostPort };
}

async function cli(node: BatonDaemon, args: string[]): Promise<string> {
  // Right after the command words, as LocalCluster.cli does: at the end it would join the task's command.
  const full = [...args.slice(0, 2), '--data-dir', node.dataDir, ...args.slice(2)];
  const r = await runCli(full, 120_000);
  if (r.code !== 0) throw new Error(`baton ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()} ${r.stdout.trim()}`);
  return r.stdout;
}

/** `service create` (waits until converged); returns the service's ID, its first line. */
async function createService(manager: BatonDaemon, name: string, constraint: string, expose: boolean, command: string[]): Promise<string> {
  const out = await cli(manager, ['service', 'create', '--name', name, '--network', NETWORK, ...(expose ? ['--expose', String(PORT)] : []), '--constraint', constraint, IMAGE, ...command]);
  const id = out.trim().split('\n')[0]?.trim();
  if (!id || !/^[a-z0-9]{25}$/.test(id)) throw new Error(`service create ${name}: no ID in ${out}`);
  return id;
}

export async function main(): Promise<never> {
  let settings: ReturnType<typeof readSettings>;
  try {
    settings = readSettings();
  } catch (err) {
    process.stderr.write(`bench:mesh --east-west-path: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    process.exit(2);
  }
  let code = 0;
  try {
    await measure(settings);
  } catch (err) {
    process.stderr.write(`bench:mesh --east-west-path failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = 1;
  }
  // Daemons killed, containers and networks removed (proc.ts and docker-engine.ts exit handlers).
  cleanupNow();
  process.exit(code);
}

/** The command line, read and checked before anything starts (a bad flag: one line, exit 2). */
function readSettings() {
  const args = timedArgs(['rounds', 'connections', 'only', 'modes', 'max-time', 'rate', 'open-duration', 'open-rounds', 'hosts'], ['east-west-path']);
  const quick = args.quick;
  const durationS = num(args.duration, process.env.BENCH_DURATION, quick ? 3 : 5);
  const rounds = count(args.rounds ?? process.env.BENCH_ROUNDS, quick ? 1 : 3);
  // A handful of concurrent callers. busybox httpd forks a process per connection, on a 2-core
  // machine shared with the mesh and wrk: at 50, p99 straight to the task was already 250 ms.
  const connections = count(args.connections, 10);
  // Open loop: well under busybox httpd's saturation, so that no queue forms in front of it.
  // Saturation moves with the machine's load (~500-700 req/s at 10 connections when quiet, ~120
  // at a load average of 13), so by default the rate is a quarter of this run's own lowest
  // saturation figure; --rate fixes it (compare runs at equal rates).
  const fixedRate = args.rate === undefined ? undefined : num(args.rate, undefined, 0);
  const openDurationS = num(args['open-duration'], undefined, quick ? 3 : 8);
  const openRounds = count(args['open-rounds'], quick ? 1 : 5);
  const maxTimeS = num(args['max-time'], undefined, 900);
  const systems = pickList('--only', args.only, SYSTEMS);
  const allModes = pickList('--modes', args.modes, MODES_ALL);
  const modes = allModes.filter((m): m is Mode => m !== 'open-loop');
  const openLoopWanted = allModes.includes('open-loop');
  const [hosts] = pickList('--hosts', args.hosts ?? 'loopback', HOSTS);
  if (args.hosts?.includes(',')) throw new Error(`--hosts: one of ${HOSTS.join(', ')}`);
  if (hosts === 'netns') {
    const why = netnsEnginesUnavailable();
    if (why !== undefined) throw new Error(`--hosts netns: ${why}`);
  }
  if (fixedRate === 0 || openDurationS <= 0) throw new Error('--rate and --open-duration: positive numbers');
  const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
  return { args, durationS, rounds, connections, fixedRate, openDurationS, openRounds, maxTimeS, systems, modes, openLoopWanted, outDir, hosts: hosts! };
}

async function measure(settings: ReturnType<typeof readSettings>): Promise<void> {
  const { args, durationS, rounds, connections, fixedRate, openDurationS, openRounds, maxTimeS, systems, modes, openLoopWanted, outDir, hosts } = settings;
  const PATH = PATHS[hosts];
  const started = new Date();

  installCleanupHandlers();
  keepTempDirs(args.keep);
  // The cap covers everything; the exit handlers then stop the daemons and remove what they made.
  setTimeout(() => {
    process.stderr.write(`bench:mesh --east-west-path: over --max-time ${maxTimeS} s, stopping and cleaning up\n`);
    cleanupNow();
    process.exit(1);
  }, maxTimeS * 1000).unref();
  ensureDebianTools([{ command: 'wrk', pkg: 'wrk' }]);
  const docker = new Docker();
  await docker.ping();
  await docker.getImage(IMAGE).inspect().catch((err: unknown) => {
    throw new Error(`image ${IMAGE} missing (scripts/docker-up.sh imports it): ${String(err)}`);
  });
  // Names the daemons' DNS servers do not know go to the node's resolver: point them at a port
  // on loopback where nothing listens, so that no query leaves the machine.
  process.env.BATON_DNS_UPSTREAM ??= `127.0.0.1:${await freePort()}`;

  const root = makeTempDir('bench-ew');
  if (args.keep) log(`data dirs and logs kept in ${root}`);
  // --hosts netns: two hosts with an engine each; removed on any exit (after proc.ts's handler
  // has killed the daemons: exit handlers run in the order they were added).
  let engines: NetnsEngines | undefined;
  if (hosts === 'netns') {
    log('starting 2 hosts (network namespaces) with a Docker engine each');
    engines = await NetnsEngines.start(`bm${process.pid % 100000}`, 2);
    const made = engines;
    process.on('exit', () => made.remove());
    log(`hosts up: ${made.hosts.host(0)} (${made.dockerHost(0)}), ${made.hosts.host(1)} (${made.dockerHost(1)})`);
  }
  // Where each node's tasks run, and a process in host 1's namespace (its engine) to run loads from there.
  const engineOf = (i: number): Engine => (engines ? { docker: engines.docker(i), host: engines.dockerHost(i) } : { docker, host: undefined });
  const host1Pid = engines?.enginePid(0);
  const profDir = args['cpu-prof'] ? join(outDir, `profiles-${fileTimestamp(started)}`) : undefined;
  const cluster = new BatonDaemonCluster(root, { ...(engines ? { hostOf: engines.hostOf } : { addressPerNode: true }), managerNodeFlags: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
  // The manager's mesh counters (GET /metrics): its failed backend connects per run tell a
  // slow connect the mesh retried (1 s connect deadline) from a delay elsewhere on the path.
  // (With --hosts netns, 127.0.0.1 is host 1's own loopback: read from there.)
  const metrics = { addr: `127.0.0.1:${await freePort()}`, netnsPid: host1Pid };
  const manager = await cluster.init('m1', ['--http-addr', metrics.addr]);
  if (!engines) {
    for (const id of cluster.clusterIds) {
      cleanupLabel(`baton.cluster=${id}`);
      cleanupNetworkLabel(`baton.cluster=${id}`);
    }
  }
  const worker = await cluster.join('w1', 'worker');
  await cluster.waitUntilFormed();
  log(`cluster up: manager ${manager.addr}, worker ${worker.addr}`);

  try {
    await cli(manager, ['network', 'create', NETWORK]);
    const apiId = await createService(manager, 'api', 'node.role==worker', true, ['httpd', '-f', '-p', String(PORT), '-h', '/www']);
    const localId = await createService(manager, 'api-local', 'node.role==manager', true, ['httpd', '-f', '-p', String(PORT), '-h', '/www']);
    const clientId = await createService(manager, 'client', 'node.role==manager', false, ['sleep', '100000']);
    const [e1, e2] = [engineOf(0), engineOf(1)];
    const [api, local, client] = await Promise.all([
      containerOf(e2, apiId).then((c) => inspectTask(e2, c, worker.host)),
      containerOf(e1, localId).then((c) => inspectTask(e1, c, manager.host)),
      containerOf(e1, clientId).then((c) => inspectTask(e1, c, manager.host)),
    ]);
    const apiHostPort = api.hostPort;
    if (!apiHostPort) throw new Error(`api's port ${PORT} is not published on the worker`);
    const resolveOne = (name: string): Promise<string> =>
      waitFor(`${name} resolves in the client`, async () => {
        const a = await resolveIn(client.container, name, e1.host);
        return a.length === 1 ? a[0] : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
    const vip = await resolveOne('api');
    const vipLocal = await resolveOne('api-local');
    for (const [what, addr] of [['api', vip], ['api-local', vipLocal]] as const) {
      await waitFor(`${what} answers at ${addr}:${PORT} from the client`, () => answersFrom(e1, client.container, addr, PORT), { timeoutMs: 30_000, intervalMs: 250 });
    }
    const nodePortHost = apiHostPort.replace(/:\d+$/, '');
    const nodePort = Number(apiHostPort.replace(/^.*:/, ''));
    // Which direct paths exist from the client's namespace (see the header): printed and in the JSON.
    const reach = {
      apiTaskIpFromClient: await answersFrom(e1, client.container, api.ip, PORT),
      apiNodePortFromClient: await answersFrom(e1, client.container, nodePortHost, nodePort),
      localTaskIpFromClient: await answersFrom(e1, client.container, local.ip, PORT),
    };
    log(`api: VIP ${vip}, task ${api.ip} on the worker's bridge, ${apiHostPort} on the worker's address; api-local: VIP ${vipLocal}, task ${local.ip}; client ${client.ip}`);
    log(`from the client's namespace: api's task address ${reach.apiTaskIpFromClient ? 'answers' : 'does not answer'}, ${apiHostPort} ${reach.apiNodePortFromClient ? 'answers' : 'does not answer'}, api-local's task address ${reach.localTaskIpFromClient ? 'answers' : 'does not answer'}`);
    if (systems.includes('task-local') && !reach.localTaskIpFromClient) throw new Error(`api-local's task ${local.ip} does not answer from the client on the same bridge`);
    if (engines && systems.includes('node-port') && !reach.apiNodePortFromClient) throw new Error(`${apiHostPort} (host 2's published port) does not answer from the client on host 1`);

    // Separate hosts: every load runs on host 1, the references from the caller's namespace
    // (node-port) and host 1's own (task-host, through its engine's process); host 2's task
    // address is not routed between hosts (each host's bridges are its own), its host port is.
    const hostRef = engines ? { host: nodePortHost, port: nodePort, netnsPid: host1Pid } : { host: api.ip, port: PORT, netnsPid: undefined };
    const nodePortRef = { host: nodePortHost, port: nodePort, netnsPid: engines ? client.pid : undefined };
    const where: Record<OpenSystem, { host: string; port: number; netnsPid: number | undefined }> = {
      vip: { host: vip, port: PORT, netnsPid: client.pid },
      'node-port': nodePortRef,
      'node-port-2': nodePortRef,
      'task-host': hostRef,
      'task-host-2': hostRef,
      'vip-local': { host: vipLocal, port: PORT, netnsPid: client.pid },
      'task-local': { host: local.ip, port: PORT, netnsPid: client.pid },
      'task-local-2': { host: local.ip, port: PORT, netnsPid: client.pid },
    };
    const target = (s: OpenSystem): { url: string; netnsPid: number | undefined } => ({ url: `http://${where[s].host}:${where[s].port}/`, netnsPid: where[s].netnsPid });
    const meshPid = manager.proc.pid!;
    const runs = new Map<string, Run[]>();
    const key = (mode: Mode, s: System): string => `${mode}/${s}`;
    for (const mode of modes) {
      const headers = mode === 'close' ? ['Connection: close'] : [];
      for (const s of systems) await runWrk({ ...target(s), threads: 1, connections, durationS: 1, headers });
      for (let r = 0; r < rounds; r++) {
        // Take turns, rotating the order each round, so drift in the machine's load is shared.
        for (const s of systems.map((_, i) => systems[(i + r) % systems.length]!)) {
          await sleep(300);
          const load1 = loadavg()[0] ?? 0;
          const fail0 = await meshFailures(metrics);
          const cpu0 = cpuTimeMs([meshPid]);
          const { raw: _raw, ...w } = await runWrk({ ...target(s), threads: 1, connections, durationS, headers });
          const cpu1 = cpuTimeMs([meshPid]);
          const fail1 = await meshFailures(metrics);
          const meshCpuUsPerReq = cpu0 !== undefined && cpu1 !== undefined && w.requests > 0 ? ((cpu1 - cpu0) * 1000) / w.requests : undefined;
          const meshBackendFailures = fail0 !== undefined && fail1 !== undefined ? fail1 - fail0 : undefined;
          log(`${mode} ${s}: ${w.requestsPerSec.toFixed(0)} req/s p50 ${w.p50.toFixed(2)} ms p90 ${w.p90.toFixed(2)} ms p99 ${w.p99.toFixed(2)} ms, manager daemon CPU ${cell(meshCpuUsPerReq, 1)} us/req, mesh backend failures ${meshBackendFailures ?? '-'}, load ${load1.toFixed(2)}${w.errors ? ` errors ${w.errors}` : ''}`);
          const list = runs.get(key(mode, s)) ?? [];
          list.push({ ...w, meshCpuUsPerReq, meshBackendFailures, load1 });
          runs.set(key(mode, s), list);
        }
      }
    }

    // Open loop (bench/lib/open-loop.ts): a fixed rate well under saturation, a connection per
    // request, latency from each request's intended send time, from the same namespaces as wrk.
    const saturation = [...runs.values()].map((list) => median(list.map((r) => r.requestsPerSec)));
    const lowestSaturation = saturation.length > 0 ? Math.min(...saturation) : undefined;
    const rate = fixedRate ?? (lowestSaturation === undefined ? DEFAULT_OPEN_RATE : Math.max(10, Math.floor(lowestSaturation / 4 / 10) * 10));
    const openSystems: OpenSystem[] = !openLoopWanted
      ? []
      : [
          ...systems,
          // The cross-node reference run twice per round: task-host on one loopback, node-port (from the caller) on separate hosts.
          ...(engines ? (systems.includes('node-port') ? (['node-port-2'] as const) : []) : systems.includes('task-host') ? (['task-host-2'] as const) : []),
          ...(systems.includes('task-local') ? (['task-local-2'] as const) : []),
        ];
    const open = new Map<OpenSystem, OpenRun[]>();
    if (openSystems.length > 0) {
      for (let r = 0; r < openRounds; r++) {
        for (const s of openSystems.map((_, i) => openSystems[(i + r) % openSystems.length]!)) {
          await sleep(300);
          const load1 = loadavg()[0] ?? 0;
          const cpu0 = cpuTimeMs([meshPid]);
          const o = await runOpenLoop({ ...where[s], rate, durationS: openDurationS, warmupS: OPEN_WARMUP_S });
          const cpu1 = cpuTimeMs([meshPid]);
          const meshCpuUsPerReq = cpu0 !== undefined && cpu1 !== undefined && o.sent > 0 ? ((cpu1 - cpu0) * 1000) / o.sent : undefined;
          const failed = Object.entries(o.errors).map(([why, n]) => `${why} ${n}`).join(', ');
          log(
            `open-loop ${s}: ${o.ok}/${o.sent} answered at ${rate} req/s, p50 ${o.latencyMs.p50.toFixed(2)} p99 ${o.latencyMs.p99.toFixed(2)} p99.9 ${o.latencyMs.p999.toFixed(2)} max ${o.latencyMs.max.toFixed(2)} ms; service p99 ${o.serviceMs.p99.toFixed(2)} ms, send lag p99 ${o.lagMs.p99.toFixed(2)} ms, manager daemon CPU ${cell(meshCpuUsPerReq, 1)} us/req, load ${load1.toFixed(2)}${failed ? `, failed: ${failed}` : ''}`,
          );
          open.set(s, [...(open.get(s) ?? []), { ...o, meshCpuUsPerReq, load1 }]);
        }
      }
    }

    // Report: the median round by req/s per system, then the per-round paired ratios.
    const table: string[][] = [['mode', 'system', 'path', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'mgr CPU us/req', 'mesh fails', 'load', 'errors']];
    const medians: Record<string, Run> = {};
    for (const mode of modes) {
      for (const s of systems) {
        const list = runs.get(key(mode, s))!;
        const med = median(list.map((x) => x.requestsPerSec));
        const chosen = list.reduce((best, x) => (Math.abs(x.requestsPerSec - med) < Math.abs(best.requestsPerSec - med) ? x : best));
        medians[key(mode, s)] = chosen;
        table.push([mode, s, PATH[s], cell(chosen.requestsPerSec, 0), cell(chosen.p50, 2), cell(chosen.p90, 2), cell(chosen.p99, 2), cell(chosen.meshCpuUsPerReq, 1), cell(chosen.meshBackendFailures, 0), chosen.load1.toFixed(2), String(chosen.errors)]);
      }
    }
    const ratios: Record<string, unknown>[] = [];
    const lines: string[] = [];
    for (const mode of modes) {
      for (const [sys, ref] of PAIRS) {
        if (!systems.includes(sys) || !systems.includes(ref)) continue;
        const v = runs.get(key(mode, sys))!;
        const d = runs.get(key(mode, ref))!;
        const rps = median(v.map((x, i) => x.requestsPerSec / d[i]!.requestsPerSec));
        const p50 = median(v.map((x, i) => x.p50 - d[i]!.p50));
        const p99 = median(v.map((x, i) => x.p99 - d[i]!.p99));
        const verdict = `req/s target >= 0.8x: ${rps >= 0.8 ? 'MET' : 'NOT MET'}; added p99 target < 1 ms: ${p99 < 1 ? 'MET' : 'NOT MET'}`;
        lines.push(`${mode}, ${sys} / ${ref}: req/s ${rps.toFixed(3)}x, added p50 ${p50.toFixed(3)} ms, added p99 ${p99.toFixed(3)} ms (median of ${v.length} paired rounds) — ${verdict}`);
        ratios.push({ mode, system: sys, reference: ref, reqPerSecRatio: rps, addedP50Ms: p50, addedP99Ms: p99, rounds: v.length, reqPerSecTargetMet: rps >= 0.8, addedP99TargetMet: p99 < 1 });
      }
    }
    // Which path the VIPs took: connections the manager's NAT rules sent to a task (worker/network/vip-nat.ts; read every 2 s).
    await sleep(2_500);
    const kernelConnections = await meshFailures(metrics, 'baton_mesh_kernel_connections_total');
    // Per VIP, against the requests wrk sent it (busybox httpd: one connection per request).
    const kernelOf: Partial<Record<System, { connections: number | undefined; requests: number }>> = {};
    for (const [s, addr] of [['vip', vip], ['vip-local', vipLocal]] as const) {
      if (!systems.includes(s)) continue;
      const requests = modes.reduce((n, mode) => n + (runs.get(key(mode, s)) ?? []).reduce((m, r) => m + r.requests, 0), 0) + (open.get(s) ?? []).reduce((n, r) => n + r.sent + Math.round(rate * OPEN_WARMUP_S), 0);
      kernelOf[s] = { connections: await meshFailures(metrics, 'baton_mesh_kernel_connections_total', `address="${addr}"`), requests };
    }
    if (modes.length > 0) process.stdout.write(`\nsaturation (wrk, closed loop):\n${formatTable(table)}\n\nservice address against direct, same run, per paired round (saturation: the p99 is mostly queueing in front of httpd):\n${lines.join('\n')}\n`);
    const openReport = open.size > 0 ? openLoopReport(open, rate, hosts) : undefined;
    if (openReport) {
      process.stdout.write(openReport.text);
      // How far under saturation, by this run's own figures.
      if (lowestSaturation !== undefined) process.stdout.write(`the open loop's rate (${fixedRate === undefined ? 'a quarter of it, by default' : '--rate'}) is ${((rate / lowestSaturation) * 100).toFixed(0)}% of the lowest saturation req/s of this run (${lowestSaturation.toFixed(0)})\n`);
    }
    if (engines) {
      process.stdout.write(
        `\nseparate hosts (--hosts netns): manager on ${manager.host}, worker on ${worker.host}, each in a network namespace with its own Docker engine; api published by host 2 at ${apiHostPort}; from the client's namespace it ${reach.apiNodePortFromClient ? 'answers' : 'does not answer'} (node-port), api's task address ${api.ip} ${reach.apiTaskIpFromClient ? 'answers (a bridge of host 1 has that subnet too)' : 'does not answer (not routed between hosts)'}\n`,
      );
    } else process.stdout.write(
      `\nreference for the cross-node path: from the client's namespace the api task's address ${reach.apiTaskIpFromClient ? 'answers' : 'does not answer (Docker isolates bridges)'} and ${apiHostPort} ${reach.apiNodePortFromClient ? 'answers' : "does not answer (127.0.0.2 is the container's own loopback)"}, so node-port and task-host run from the host's namespace\n`,
    );
    process.stdout.write(
      `VIP kernel path (${process.env.BATON_VIP_NAT === 'off' ? 'BATON_VIP_NAT=off' : 'on unless unavailable'}): ${kernelConnections ?? '-'} connections taken by the manager's NAT rules in the run (baton_mesh_kernel_connections_total); the rest were relayed by the mesh\n` +
        Object.entries(kernelOf)
          .map(([s, k]) => `  ${s}: ${k.connections ?? '-'} by the NAT rules of ${k.requests} requests sent (wrk's warm-ups and unfinished connections, and the checks, add some)\n`)
          .join(''),
    );
    if (open.size > 0) process.stdout.write(`open loop: bench/lib/open-loop.ts, ${rate} req/s for ${openDurationS} s per run, ${openRounds} round(s), run in the same namespace as wrk; connect: the TCP handshake (kernels and the listening socket only, median of the rounds); service p99: from the connect actually started (without the generator's send lag); lag p99: how late sends left against the schedule (median of the rounds)\n`);
    if (modes.length > 0) process.stdout.write(`wrk -t1 -c${connections} -d${durationS}s --latency, median of ${rounds} round(s); backends: busybox httpd (a process per connection, closes after each response); mgr CPU: the manager daemon (its mesh relays the VIPs) per request, from /proc; mesh fails: connects the manager's mesh counted failed during the run (baton_mesh_backend_failures_total)\n`);
    const warn = busyMachineWarning();
    if (warn) process.stdout.write(`${warn}\n`);
    const path = writeRun(outDir, engines ? 'mesh-east-west-path-netns' : 'mesh-east-west-path', started, machineInfo(), loadavg(), {
      settings: { hosts, paths: PATH, durationS, rounds, connections, systems, modes, openLoop: openLoopWanted ? { rate, durationS: openDurationS, rounds: openRounds } : undefined, image: IMAGE, port: PORT, nodes: { manager: manager.addr, worker: worker.addr } },
      addresses: { vip, vipLocal, apiTask: api.ip, apiNodePort: apiHostPort, localTask: local.ip, client: client.ip },
      reachableFromClient: reach,
      vipNat: { env: process.env.BATON_VIP_NAT ?? '', kernelConnections, perSystem: kernelOf },
      rows: Object.entries(medians).map(([k, r]) => ({ mode: k.split('/')[0], system: k.split('/')[1], result: r, rounds: runs.get(k) })),
      ratios,
      openLoop: openReport?.json,
    });
    process.stdout.write(`results: ${path}\n`);
    if (profDir) process.stdout.write(`manager daemon CPU profile (written when it stops): ${profDir}\n`);
  } finally {
    await cluster.stop();
    // Separate hosts: their engines go with everything on them.
    if (engines) engines.remove();
    else for (const id of cluster.clusterIds) await removeContainers(docker, [`baton.cluster=${id}`], 60_000).catch(() => undefined);
    // The bridges go with the exit handler (cleanupNetworkLabel) once no container is on them.
  }
}
