// Separate hosts with a Docker engine each, on one machine: the hosts of netns.ts (a network
// namespace per node on 10.77.0.0/24 behind a hub bridge), each running a `dockerd` of its own
// inside its namespace, so that a node's containers, bridges, published ports and iptables
// rules are its host's alone, as on separate machines. The shared-engine tests put every node
// on one kernel and one loopback (127.0.0.x), where a task on another node is reached through
// Docker's userland docker-proxy; here it is reached at the other host's address, where that
// host's own kernel DNAT (Docker's DOCKER chain) takes it, as on a real cluster.
//
// Each engine: `nsenter --net=/run/netns/NS dockerd` (not `ip netns exec`: that remounts /sys
// for the namespace, which hides the cgroup mounts under /sys/fs/cgroup, and dockerd then stops
// with "Devices cgroup isn't mounted"), with its own --data-root (a temp dir), --exec-root,
// --pidfile and socket (/run/<tag>-N/), its own docker0 and its own containerd (started by the
// engine under its exec root: a containerd shared with the machine's engine would tie these
// engines' tasks to that engine's life). The userland proxy stays on, as users run it: it
// serves connections from the host itself only, those from other hosts go through the kernel
// DNAT. The test image is copied from the machine's engine (`docker save | docker load`; no
// registry is reachable here).
//
// remove() is synchronous (exit handlers cannot wait) and leaves nothing: containers
// force-removed, engines stopped (SIGKILL after a grace, with every process they started),
// mounts under their dirs undone, dirs removed, namespaces deleted. leftovers() says what is
// still there, for tests that must check.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { NetnsHosts, netnsUnavailable } from './netns.js';
import { waitFor } from './wait.js';

/** The image scripts/docker-up.sh imports into the machine's engine (test/lib/docker.ts's TEST_IMAGE). */
const IMAGE = 'local/busybox:1';
/** dockerd answers within seconds on a quiet machine; a loaded one (2 cores, several jobs) takes longer. */
const START_TIMEOUT_MS = 90_000;
/** How long remove() lets an engine stop by itself before killing it and what it started. */
const STOP_GRACE_MS = 10_000;

/** Why engines in namespaces cannot be run here, or undefined when they can. */
export function netnsEnginesUnavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why !== undefined) return why;
  for (const [cmd, args] of [['dockerd', ['--version']], ['nsenter', ['--version']], ['docker', ['image', 'inspect', IMAGE]]] as const) {
    const r = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: 20_000 });
    if (r.error || r.status !== 0) return `${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0]}`;
  }
  return undefined;
}

/** Fail (CI=true) or skip when engines in namespaces cannot be run; true when the test may go on. */
export function requireNetnsEngines(t: { skip(message?: string): void }): boolean {
  const why = netnsEnginesUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true: this test must run; scripts/docker-up.sh installs dockerd and imports ${IMAGE})`);
  t.skip(why);
  return false;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Engine {
  /** /run/<tag>-N: exec root, pid file and socket. */
  runDir: string;
  /** The temp dir of its data root and log. */
  dataDir: string;
  pid: number | undefined;
}

export class NetnsEngines {
  readonly hosts: NetnsHosts;
  private readonly engines: Engine[] = [];
  private removed = false;

  private constructor(private readonly tag: string, count: number) {
    this.hosts = new NetnsHosts(tag, count);
  }

  /**
   * `count` hosts named `<tag>-1`…, each with its engine up and the test image loaded. On a
   * failure everything made so far is removed and the error says which engine and why.
   * The tag must be short (interface and socket names are built from it).
   */
  static async start(tag: string, count: number): Promise<NetnsEngines> {
    const e = new NetnsEngines(tag, count);
    try {
      for (let i = 0; i < count; i++) e.launch(i);
      const image = spawnSync('docker', ['save', IMAGE], { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
      if (image.status !== 0) throw new Error(`docker save ${IMAGE}: ${image.stderr.toString().trim()}`);
      for (let i = 0; i < count; i++) {
        const docker = e.docker(i);
        await waitFor(`the engine in ${e.hosts.namespace(i)} answers`, async () => {
          const pid = e.engines[i]!.pid;
          if (pid !== undefined && !alive(pid)) throw new Error(`dockerd in ${e.hosts.namespace(i)} exited: ${e.logTail(i)}`);
          return docker.ping().then(() => true, () => false);
        }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 250 });
        const loaded = spawnSync('docker', ['load', '-q'], { input: image.stdout, env: { ...process.env, DOCKER_HOST: e.dockerHost(i) }, encoding: 'utf8', timeout: 60_000 });
        if (loaded.status !== 0) throw new Error(`docker load into ${e.hosts.namespace(i)}: ${loaded.stderr.trim()}`);
      }
    } catch (err) {
      e.remove();
      throw err;
    }
    return e;
  }

  get count(): number {
    return this.hosts.count;
  }

  private launch(i: number): void {
    const ns = this.hosts.namespace(i);
    const runDir = `/run/${ns}`;
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    const dataDir = mkdtempSync(join(tmpdir(), `${ns}-`));
    const engine: Engine = { runDir, dataDir, pid: undefined };
    this.engines.push(engine);
    const log = openSync(join(dataDir, 'dockerd.log'), 'a');
    const child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${ns}`,
        'dockerd',
        '--data-root', join(dataDir, 'data'),
        '--exec-root', join(runDir, 'exec'),
        '--pidfile', join(runDir, 'docker.pid'),
        '-H', `unix://${join(runDir, 'docker.sock')}`,
        // remove() force-removes the containers first; what is left must not hold the stop up.
        '--shutdown-timeout', '2',
        '--log-level', 'warn',
      ],
      // Its own process group, so a Ctrl-C of the test runner reaches it through remove() only.
      { detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child.unref();
    // nsenter without --fork execs dockerd in place: this pid is the engine's.
    engine.pid = child.pid;
  }

  private logTail(i: number): string {
    try {
      const lines = readFileSync(join(this.engines[i]!.dataDir, 'dockerd.log'), 'utf8').trim().split('\n');
      return lines.slice(-3).join(' | ');
    } catch {
      return 'no log';
    }
  }

  /** DOCKER_HOST of host i's engine. */
  dockerHost(i: number): string {
    return `unix://${join(this.engines[i]?.runDir ?? `/run/${this.hosts.namespace(i)}`, 'docker.sock')}`;
  }

  /** The pid of host i's engine: a process in its namespace (`nsenter -t PID -n` runs a program there). */
  enginePid(i: number): number {
    const pid = this.engines[i]?.pid;
    if (pid === undefined) throw new Error(`no engine on host ${i + 1}`);
    return pid;
  }

  /** A client of host i's engine. */
  docker(i: number): Docker {
    return new Docker({ socketPath: join(this.engines[i]!.runDir, 'docker.sock') });
  }

  /** The launcher's hostOf: the i-th node on the i-th host, talking to that host's engine (DOCKER_HOST). */
  readonly hostOf = (i: number): { host: string; port: number; runIn: string[] } => {
    const h = this.hosts.hostOf(i);
    return { ...h, runIn: [...h.runIn, 'env', `DOCKER_HOST=${this.dockerHost(i)}`] };
  };

  /** Runs a command in host i's namespace (iptables-save, sysctl, ...) to completion. */
  exec(i: number, command: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.hosts.namespace(i), command, ...args], { encoding: 'utf8', timeout: 20_000, ...(input !== undefined ? { input } : {}) });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
  }

  /** Processes whose command line names one of the engines' dirs (dockerd, its containerd, the shims). */
  private processes(): number[] {
    const marks = this.engines.flatMap((e) => [e.runDir + '/', e.dataDir + '/']);
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (marks.some((m) => cmd.includes(m))) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  /** Mount points under the engines' dirs (overlays, shm, netns files), deepest first. */
  private mounts(): string[] {
    const dirs = this.engines.flatMap((e) => [e.runDir, e.dataDir]);
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => dirs.some((d) => m === d || m.startsWith(`${d}/`)))
      .sort((a, b) => b.length - a.length);
  }

  /** What remains of the engines and hosts: namespaces, processes, mounts, dirs (empty when nothing). */
  leftovers(): string[] {
    const out: string[] = [];
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of listed.split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name === `${this.tag}-hub` || (name.startsWith(`${this.tag}-`) && /^\d+$/.test(name.slice(this.tag.length + 1)))) out.push(`namespace ${name}`);
    }
    for (const pid of this.processes()) out.push(`process ${pid}`);
    for (const m of this.mounts()) out.push(`mount ${m}`);
    for (const e of this.engines) for (const d of [e.runDir, e.dataDir]) if (existsSync(d)) out.push(`dir ${d}`);
    return out;
  }

  /** Removes every container, engine, mount, dir and namespace (synchronously). Safe to call twice. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.engines.forEach((e, i) => {
      if (e.pid === undefined || !alive(e.pid)) return;
      // busybox as PID 1 ignores SIGTERM: removed by force, a container does not make the engine wait.
      const env = { ...process.env, DOCKER_HOST: this.dockerHost(i) };
      const ids = (spawnSync('docker', ['ps', '-aq'], { encoding: 'utf8', env, timeout: 20_000 }).stdout ?? '').split('\n').filter(Boolean);
      if (ids.length > 0) spawnSync('docker', ['rm', '-f', ...ids], { env, stdio: 'ignore', timeout: 60_000 });
      process.kill(e.pid, 'SIGTERM');
    });
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.engines.some((e) => e.pid !== undefined && alive(e.pid)) && Date.now() < deadline) sleepSync(100);
    // What is still up (an engine stuck, its containerd or a shim orphaned): killed by pid.
    for (let round = 0; round < 3; round++) {
      const pids = this.processes();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      sleepSync(200);
    }
    for (const m of this.mounts()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    for (const e of this.engines) {
      rmSync(e.runDir, { recursive: true, force: true });
      rmSync(e.dataDir, { recursive: true, force: true });
    }
    this.hosts.remove();
  }
}
