// The process executor (runtime `process`), the equivalent of Nomad's raw_exec: a task is a plain
// program run on the node, no isolation and no image (TaskRunSpec.image is ignored; the
// limits are not enforced either: there is no cgroup of its own). It is the default where no
// Docker engine runs, and what the multi-process tests use.
//
// A task runs detached in its own process group, writing straight into files under
// `<stateDir>/<taskId>/`, so it outlives a worker restart; task.json records its pid and
// kernel start time, so the next executor adopts it (list/inspect/wait/shutdown) without ever
// mistaking a recycled pid for it. Only the executor that spawned a process can learn its
// exit code; an adopted one that ends is reported with 'exit status unknown (adopted process)'.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import pino, { type Logger } from 'pino';
import { numericUser, signalNumber } from '../../spec/index.js';
import { fileLogs } from './process-logs.js';
import { DEFAULT_BIND_ADDRESS, allocatePorts, portEnv, withExposed } from './process-ports.js';
import { probes, validateHealthCheck } from './health-spec.js';
import { ProcessHealthChecker } from './process-health.js';
import { checkMountVariables, defaultTmpfsDir, mountPaths, mountVariable, prepareMounts, removeTaskMounts, type MountDirs } from './process-mounts.js';
import {
  STDERR_FILE,
  STDOUT_FILE,
  isSameProcess,
  processStart,
  readTaskFile,
  signalGroup,
  writeTaskFile,
  type TaskFile,
} from './process-state.js';
import {
  ExecutorError,
  errorMessage,
  taskName,
  validateCommon,
  type Executor,
  type HealthWatch,
  type LogChunk,
  type LogOptions,
  type TaskHealth,
  type TaskObservation,
  type TaskRunSpec,
} from './types.js';

export interface ProcessExecutorOptions {
  clusterId: string;
  nodeId: string;
  /** Where each task gets its directory (task.json, logs, default working directory). */
  stateDir: string;
  logger?: Logger;
  /** How often an adopted process (not our child, so no exit event) is checked. Default 250 ms. */
  pollMs?: number;
  /** The node's address: task ports are picked there, and tasks told it as BATON_HOST_IP. Default 127.0.0.1. */
  bindAddress?: string;
  /** Named volumes, a directory each, kept across tasks (process-mounts.ts). Default `<stateDir>/.volumes`. */
  volumesDir?: string;
  /** Per-task directories of tmpfs mounts. Default /dev/shm/baton-tmpfs (or `<stateDir>/.tmpfs` without /dev/shm). */
  tmpfsDir?: string;
}

export const ADOPTED_EXIT_UNKNOWN = 'exit status unknown (adopted process)';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Child {
  process: ChildProcess;
  /** Resolves once the exit is recorded in task.json. */
  exited: Promise<void>;
  /** wait() calls in progress; the child keeps the event loop alive only while someone waits. */
  waiters: number;
}

export function createProcessExecutor(opts: ProcessExecutorOptions): Executor {
  return new ProcessExecutor(opts);
}

class ProcessExecutor implements Executor {
  readonly runtime = 'process' as const;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly children = new Map<string, Child>();
  /** Per-task queue of task.json updates, so an exit is never overwritten by a slower start. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: ProcessExecutorOptions) {
    this.logger = (opts.logger ?? pino({ enabled: false })).child({ component: 'executor', runtime: 'process' });
    this.pollMs = opts.pollMs ?? 250;
  }

  private get bindAddress(): string {
    return this.opts.bindAddress ?? DEFAULT_BIND_ADDRESS;
  }

  async available(): Promise<boolean> {
    return true;
  }

  private get mountDirs(): MountDirs {
    // '.' names are never task directories (task ids start with a letter or digit).
    return {
      volumesDir: this.opts.volumesDir ?? join(this.opts.stateDir, '.volumes'),
      tmpfsDir: this.opts.tmpfsDir ?? defaultTmpfsDir(join(this.opts.stateDir, '.tmpfs')),
    };
  }

  private dir(taskId: string): string {
    return join(this.opts.stateDir, taskId);
  }

  private ours(f: TaskFile): boolean {
    return f.spec.clusterId === this.opts.clusterId && f.spec.nodeId === this.opts.nodeId;
  }

  /** This node's record of the task, or undefined. */
  private async read(taskId: string): Promise<TaskFile | undefined> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(taskId) || taskId.includes('..')) return undefined;
    const f = await readTaskFile(this.dir(taskId));
    return f && this.ours(f) ? f : undefined;
  }

  private async require(taskId: string): Promise<TaskFile> {
    const f = await this.read(taskId);
    if (!f) throw new ExecutorError('NOT_FOUND', `task ${taskId} is not on node ${this.opts.nodeId}`);
    return f;
  }

  /** Read-modify-write of task.json, queued per task; a task removed meanwhile is left removed. */
  private update(taskId: string, change: (f: TaskFile) => void): Promise<TaskFile | undefined> {
    const prev = this.queues.get(taskId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const f = await this.read(taskId);
      if (!f) return undefined;
      change(f);
      await writeTaskFile(this.dir(taskId), f).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
      return f;
    });
    const settled = next.catch(() => undefined);
    this.queues.set(taskId, settled);
    void settled.then(() => {
      if (this.queues.get(taskId) === settled) this.queues.delete(taskId);
    });
    return next;
  }

  async prepare(spec: TaskRunSpec): Promise<void> {
    validateCommon(spec);
    validateHealthCheck(spec.taskId, spec.healthcheck);
    const bad = (why: string): never => {
      throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: ${why}`);
    };
    if (spec.command.length === 0 || spec.command[0] === '') bad('the process runtime needs a command (command[0] is the program)');
    if (spec.dir !== '' && !isAbsolute(spec.dir)) bad(`working directory ${spec.dir} is not absolute`);
    checkMountVariables(spec);
    // The manager refuses the rest for this runtime (spec/container.ts); an agent must not
    // silently run a task without what it asked for.
    const unhonoured = Object.keys(spec.options ?? {}).filter((k) => k !== 'user' && k !== 'stopSignal' && k !== 'labels');
    if (unhonoured.length > 0) bad(`the process runtime cannot honour ${unhonoured.join(', ')}`);
    if (spec.options?.user && !numericUser(spec.options.user)) bad(`the process runtime takes a numeric user (UID[:GID]), not ${JSON.stringify(spec.options.user)}`);
    if (spec.clusterId !== this.opts.clusterId || spec.nodeId !== this.opts.nodeId) {
      bad(`it belongs to node ${spec.nodeId} of cluster ${spec.clusterId}, not to this one`);
    }
    const existing = await readTaskFile(this.dir(spec.taskId));
    if (existing) {
      if (!this.ours(existing)) bad(`${this.dir(spec.taskId)} belongs to another node`);
      return;
    }
    const { image: _image, runtime: _runtime, ...kept } = spec;
    await writeTaskFile(this.dir(spec.taskId), { version: 1, spec: kept, state: 'created', hostPorts: [] });
  }

  private environment(f: TaskFile, ports: TaskFile['hostPorts']): Record<string, string> {
    const s = f.spec;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? DEFAULT_PATH,
      HOME: process.env.HOME ?? this.dir(s.taskId),
      // What a container would learn from its hostname and labels, as Nomad's NOMAD_* variables.
      BATON_TASK_ID: s.taskId,
      BATON_TASK_NAME: taskName(s),
      BATON_TASK_SLOT: String(s.slot),
      BATON_SERVICE_ID: s.serviceId,
      BATON_SERVICE_NAME: s.serviceName,
      BATON_NODE_ID: s.nodeId,
    };
    for (const kv of s.env) {
      const eq = kv.indexOf('=');
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    // Where a container would have /run/secrets and its config files: memory-backed directories
    // the agent wrote (task.json records only these paths, never the data).
    if (s.secrets?.dir) env.BATON_SECRETS_DIR = s.secrets.dir;
    if (s.configs?.dir) env.BATON_CONFIGS_DIR = s.configs.dir;
    const paths = mountPaths(s, this.dir(s.taskId), this.mountDirs);
    for (const [i, m] of (s.mounts ?? []).entries()) env[mountVariable(m.target)] = paths[i]!;
    // Last: the ports are what the mesh will target, so the task must not be told otherwise.
    return { ...env, BATON_HOST_IP: this.bindAddress, ...portEnv(ports) };
  }

  private async cwd(f: TaskFile): Promise<string> {
    // Another user cannot reach the task's directory inside the node's private data dir: such a
    // task starts in /, as a container whose image sets no WORKDIR.
    if (f.spec.dir === '' && f.spec.options?.user) return '/';
    if (f.spec.dir === '') {
      const dir = join(this.dir(f.spec.taskId), 'work');
      await mkdir(dir, { recursive: true });
      return dir;
    }
    // spawn would blame the program ("spawn x ENOENT") for a missing working directory.
    const s = await stat(f.spec.dir).catch(() => undefined);
    if (!s?.isDirectory()) throw new ExecutorError('START_FAILED', `task ${f.spec.taskId}: working directory ${f.spec.dir} does not exist`);
    return f.spec.dir;
  }

  /** Starts in progress: a second start() of the same task joins the first instead of spawning twice. */
  private readonly starting = new Map<string, Promise<TaskObservation>>();

  start(taskId: string): Promise<TaskObservation> {
    const pending = this.starting.get(taskId);
    if (pending) return pending;
    const started = this.spawnTask(taskId).finally(() => this.starting.delete(taskId));
    this.starting.set(taskId, started);
    return started;
  }

  private async spawnTask(taskId: string): Promise<TaskObservation> {
    const f = await this.require(taskId);
    if (f.state !== 'created' || this.children.has(taskId)) return this.observe(f);
    await prepareMounts(f.spec, mountPaths(f.spec, this.dir(taskId), this.mountDirs));
    const ports = await allocatePorts(withExposed(f.spec), this.bindAddress);
    const cwd = await this.cwd(f);
    const [program, ...rest] = f.spec.command as [string, ...string[]];
    const dir = this.dir(taskId);
    const out = openSync(join(dir, STDOUT_FILE), 'a');
    const err = openSync(join(dir, STDERR_FILE), 'a');
    let child: ChildProcess;
    try {
      // detached: its own process group (shutdown signals the whole group) that a worker's
      // exit or Ctrl-C does not reach.
      child = spawn(program, [...rest, ...f.spec.args], { detached: true, stdio: ['ignore', out, err], env: this.environment(f, ports), cwd, ...processUser(f.spec) });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (e) {
      await this.update(taskId, (g) => {
        g.error = errorMessage(e);
      });
      throw new ExecutorError('START_FAILED', `task ${taskId}: cannot run ${program}: ${errorMessage(e)}`, { cause: e });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid as number;
    // Read now, while the process (or its zombie, which Node reaps only on a later turn) exists.
    const procStart = processStart(pid);
    child.unref();
    const record: Child = { process: child, exited: Promise.resolve(), waiters: 0 };
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    const started = this.update(taskId, (g) => {
      Object.assign(g, { state: 'running', pid, startedAt: Date.now(), hostPorts: ports });
      if (procStart !== undefined) g.procStart = procStart;
      delete g.error;
    });
    record.exited = exit.then(async ([code, signal]) => {
      // As a shell or Docker would say: 128 + the signal's number for a task a signal killed.
      const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      await started.catch(() => undefined);
      await this.update(taskId, (g) => {
        Object.assign(g, { state: 'exited', exitCode, finishedAt: Date.now() });
        delete g.error;
      }).catch((e: unknown) => this.logger.error({ task: taskId, err: e }, 'cannot record the exit'));
      this.logger.info({ task: taskId, pid, exitCode }, 'task exited');
    });
    this.children.set(taskId, record);
    const g = await started;
    this.logger.info({ task: taskId, pid }, 'task started');
    return g ? this.observe(g) : { taskId, runtimeId: String(pid), state: 'running', ports };
  }

  /** The task as it is now; an adopted pid that died is recorded as exited here. */
  private async observe(f: TaskFile): Promise<TaskObservation> {
    const taskId = f.spec.taskId;
    if (f.state === 'running' && f.pid !== undefined && !this.children.has(taskId) && !isSameProcess(f.pid, f.procStart)) {
      const g = await this.update(taskId, (h) => {
        // Whoever spawned it may have recorded the real exit meanwhile (in tests, the dropped executor).
        if (h.state === 'exited') return;
        Object.assign(h, { state: 'exited', finishedAt: Date.now(), error: ADOPTED_EXIT_UNKNOWN });
      });
      if (g) f = g;
    }
    const obs: TaskObservation = {
      taskId,
      runtimeId: f.pid !== undefined ? String(f.pid) : '',
      state: f.state,
      ports: f.state === 'running' ? f.hostPorts : [],
    };
    if (f.startedAt !== undefined) obs.startedAt = f.startedAt;
    if (f.state === 'exited') {
      if (f.exitCode !== undefined) obs.exitCode = f.exitCode;
      if (f.finishedAt !== undefined) obs.finishedAt = f.finishedAt;
    }
    if (f.error !== undefined) obs.error = f.error;
    return obs;
  }

  async inspect(taskId: string): Promise<TaskObservation | undefined> {
    const f = await this.read(taskId);
    return f && this.observe(f);
  }

  /** The observation once exited, or undefined if still running at the deadline. */
  private async waitUntil(taskId: string, deadline: number): Promise<TaskObservation | undefined> {
    for (;;) {
      const obs = await this.observe(await this.require(taskId));
      if (obs.state === 'exited') return obs;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      const child = this.children.get(taskId);
      if (!child || obs.state !== 'running') {
        await sleep(Math.min(this.pollMs, left));
        continue;
      }
      // Our own child: its exit event says when, but only if it keeps the event loop alive.
      if (child.waiters++ === 0) child.process.ref();
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = Number.isFinite(left) ? new Promise((resolve) => (timer = setTimeout(resolve, left))) : undefined;
        await Promise.race(timeout ? [child.exited, timeout] : [child.exited]);
      } finally {
        clearTimeout(timer);
        if (--child.waiters === 0) child.process.unref();
      }
    }
  }

  async wait(taskId: string): Promise<TaskObservation> {
    return (await this.waitUntil(taskId, Number.POSITIVE_INFINITY)) as TaskObservation;
  }

  /** The pid of the task if it is still the running process we started. */
  private async livePid(taskId: string): Promise<number | undefined> {
    const f = await this.read(taskId);
    if (!f || f.state !== 'running' || f.pid === undefined) return undefined;
    const child = this.children.get(taskId);
    const alive = child ? child.process.exitCode === null && child.process.signalCode === null : isSameProcess(f.pid, f.procStart);
    return alive ? f.pid : undefined;
  }

  async shutdown(taskId: string, graceMs: number): Promise<void> {
    const pid = await this.livePid(taskId);
    if (pid === undefined) return;
    signalGroup(pid, stopSignal(await this.read(taskId)));
    if (await this.waitUntil(taskId, Date.now() + graceMs)) {
      // The leader is gone; what it forked into its group goes too, as with a container.
      signalGroup(pid, 'SIGKILL');
      return;
    }
    this.logger.info({ task: taskId, graceMs }, 'task outlived its stop grace period, killing');
    signalGroup(pid, 'SIGKILL');
    await this.wait(taskId);
  }

  async remove(taskId: string): Promise<void> {
    const pid = await this.livePid(taskId);
    if (pid !== undefined) {
      signalGroup(pid, 'SIGKILL');
      await this.wait(taskId);
    }
    if (!(await this.read(taskId))) return;
    await this.queues.get(taskId);
    this.children.delete(taskId);
    await removeTaskMounts(taskId, this.mountDirs);
    await rm(this.dir(taskId), { recursive: true, force: true });
  }

  async list(): Promise<TaskObservation[]> {
    const names = await readdir(this.opts.stateDir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    });
    const out: TaskObservation[] = [];
    for (const name of names.sort()) {
      try {
        const f = await this.read(name);
        if (f) out.push(await this.observe(f));
      } catch (err) {
        // One unreadable record must not hide every other task from adoption.
        this.logger.warn({ dir: this.dir(name), err }, 'skipping unreadable task record');
      }
    }
    return out;
  }

  watchHealth(taskId: string, last: TaskHealth, onHealth: (health: TaskHealth) => void): HealthWatch {
    let checker: ProcessHealthChecker | undefined;
    let stopped = false;
    const begin = async (): Promise<void> => {
      const f = await this.read(taskId);
      if (stopped || !f || f.state !== 'running') return;
      const check = f.spec.healthcheck;
      if (!probes(check)) {
        onHealth('none');
        return;
      }
      const cwd = await this.cwd(f);
      if (stopped) return;
      const logger = this.logger.child({ task: taskId });
      checker = new ProcessHealthChecker({ check, cwd, env: this.environment(f, f.hostPorts), startedAt: f.startedAt ?? Date.now(), initial: last, onHealth, logger });
      checker.start();
    };
    begin().catch((err: unknown) => this.logger.warn({ task: taskId, err: errorMessage(err) }, 'cannot check the health of the task'));
    return {
      stop: () => {
        stopped = true;
        checker?.stop();
      },
    };
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogChunk> {
    await this.require(taskId);
    yield* fileLogs(this.dir(taskId), opts, async () => (await this.inspect(taskId))?.state !== 'exited');
  }
}

/**
 * `--user 1000[:1000]`: the process runs as that uid (and gid); without a gid, as the uid's own
 * number, the way a container's numeric user without a group gets gid 0 is no use to a process
 * of the node. Names are refused for this runtime (spec/container.ts).
 */
function processUser(spec: Pick<TaskRunSpec, 'options'>): { uid?: number; gid?: number } {
  const user = spec.options?.user ? numericUser(spec.options.user) : undefined;
  if (!user) return {};
  return { uid: user.uid, gid: user.gid ?? user.uid };
}

/** `--stop-signal`, as a number or SIGNAME process.kill takes; SIGTERM when not set. */
function stopSignal(f: TaskFile | undefined): NodeJS.Signals | number {
  const text = f?.spec.options?.stopSignal;
  const n = text ? signalNumber(text) : undefined;
  if (n === undefined) return 'SIGTERM';
  const name = Object.entries(osConstants.signals).find(([, num]) => num === n)?.[0];
  return (name as NodeJS.Signals | undefined) ?? n;
}
