// An in-memory executor (worker/executor/types.ts) for agent tests and, later, scale simulation
// (thousands of simulated nodes in one process): no processes, no timers unless asked for.
// Its objects outlive any agent that uses it, as containers outlive a restarted worker, and
// tests steer it: hold an operation at a gate, fail a prepare, make a task exit.
import {
  ExecutorError,
  validateCommon,
  type Executor,
  type LogChunk,
  type LogOptions,
  type TaskObservation,
  type TaskRunSpec,
} from '../../worker/executor/types.js';

export type FakeOp = 'prepare' | 'start' | 'wait' | 'shutdown' | 'remove' | 'list';

interface FakeTask {
  spec: TaskRunSpec | undefined;
  obs: TaskObservation;
  waiters: ((obs: TaskObservation) => void)[];
  logs: LogChunk[];
}

interface Gate {
  op: FakeOp;
  taskId: string | undefined;
  reached: () => void;
  opened: Promise<void>;
}

export interface HeldCall {
  /** Resolves when the executor is called with this operation (the call then waits). */
  reached: Promise<void>;
  release: () => void;
}

export class FakeExecutor implements Executor {
  /** Every call, in order, as `op:taskId` (list as `list`). */
  readonly calls: string[] = [];
  /** What available() answers. */
  up = true;
  /** Images prepare fails on with IMAGE_NOT_FOUND. */
  readonly missingImages = new Set<string>();
  /** A failing report of list(), say an engine that is down. */
  listError: Error | undefined;
  /** Exit code of a task stopped by shutdown() (SIGTERM's 128 + 15). */
  shutdownExitCode = 143;
  /** How long each prepare or start takes (a timer only when non-zero). */
  delayMs = 0;
  /** Most prepare and start calls ever under way at once. */
  maxInFlight = 0;
  private inFlight = 0;
  private readonly tasks = new Map<string, FakeTask>();
  private gates: Gate[] = [];
  private nextPort = 40_000;
  private nextRuntimeId = 1;

  constructor(
    readonly runtime: 'docker' | 'process' = 'process',
    private readonly now: () => number = Date.now,
  ) {}

  /** Holds the next call of `op` (for `taskId`, or any task) until released. */
  hold(op: FakeOp, taskId?: string): HeldCall {
    let reached!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const opened = new Promise<void>((r) => (release = r));
    this.gates.push({ op, taskId, reached, opened });
    return { reached: reachedP, release };
  }

  count(op: FakeOp, taskId?: string): number {
    const key = taskId === undefined ? op : `${op}:${taskId}`;
    return this.calls.filter((c) => (taskId === undefined ? c.split(':')[0] === key : c === key)).length;
  }

  /** The task's process ends on its own with this exit code. */
  exit(taskId: string, exitCode: number, error?: string): void {
    const t = this.tasks.get(taskId);
    if (!t || t.obs.state !== 'running') throw new Error(`fake: task ${taskId} is not running`);
    this.finish(t, exitCode, error);
  }

  /** An object this executor holds without any agent having asked for it (a leftover). */
  inject(taskId: string, state: TaskObservation['state'] = 'running', exitCode?: number): void {
    const obs: TaskObservation = { taskId, runtimeId: `fake-${this.nextRuntimeId++}`, state, ports: [] };
    if (state !== 'created') obs.startedAt = this.now();
    if (state === 'exited') Object.assign(obs, { exitCode: exitCode ?? 0, finishedAt: this.now() });
    this.tasks.set(taskId, { spec: undefined, obs, waiters: [], logs: [] });
  }

  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  state(taskId: string): TaskObservation['state'] | undefined {
    return this.tasks.get(taskId)?.obs.state;
  }

  writeLog(taskId: string, text: string, stream: LogChunk['stream'] = 'stdout'): void {
    this.tasks.get(taskId)?.logs.push({ stream, data: new TextEncoder().encode(text), timestamp: this.now() });
  }

  async available(): Promise<boolean> {
    return this.up;
  }

  async prepare(spec: TaskRunSpec): Promise<void> {
    await this.enter('prepare', spec.taskId);
    await this.busy();
    validateCommon(spec);
    if (spec.runtime !== this.runtime) throw new ExecutorError('INVALID_SPEC', `runtime ${spec.runtime} given to the ${this.runtime} executor`);
    if (this.missingImages.has(spec.image)) throw new ExecutorError('IMAGE_NOT_FOUND', `image ${spec.image} not found`);
    const existing = this.tasks.get(spec.taskId);
    if (existing) {
      existing.spec ??= spec;
      return;
    }
    const obs: TaskObservation = { taskId: spec.taskId, runtimeId: `fake-${this.nextRuntimeId++}`, state: 'created', ports: [] };
    this.tasks.set(spec.taskId, { spec, obs, waiters: [], logs: [] });
  }

  async start(taskId: string): Promise<TaskObservation> {
    await this.enter('start', taskId);
    await this.busy();
    const t = this.get(taskId);
    // A second start is the bug the agent must never have: make it loud.
    if (t.obs.state !== 'created') throw new ExecutorError('START_FAILED', `task ${taskId} was already started`);
    const ports = (t.spec?.ports ?? []).map((p) => ({ ...p, hostPort: this.nextPort++ }));
    t.obs = { ...t.obs, state: 'running', startedAt: this.now(), ports };
    return { ...t.obs };
  }

  async wait(taskId: string): Promise<TaskObservation> {
    await this.enter('wait', taskId);
    const t = this.get(taskId);
    if (t.obs.state === 'exited') return { ...t.obs };
    return new Promise((resolve) => t.waiters.push(resolve));
  }

  async inspect(taskId: string): Promise<TaskObservation | undefined> {
    const t = this.tasks.get(taskId);
    return t && { ...t.obs };
  }

  async shutdown(taskId: string, _graceMs: number): Promise<void> {
    await this.enter('shutdown', taskId);
    const t = this.tasks.get(taskId);
    if (t?.obs.state === 'running') this.finish(t, this.shutdownExitCode);
  }

  async remove(taskId: string): Promise<void> {
    await this.enter('remove', taskId);
    const t = this.tasks.get(taskId);
    if (!t) return;
    if (t.obs.state === 'running') this.finish(t, 137);
    this.tasks.delete(taskId);
  }

  async list(): Promise<TaskObservation[]> {
    await this.enter('list', undefined);
    if (this.listError) throw this.listError;
    return [...this.tasks.values()].map((t) => ({ ...t.obs }));
  }

  async *logs(taskId: string, _opts: LogOptions): AsyncIterable<LogChunk> {
    yield* this.get(taskId).logs;
  }

  private get(taskId: string): FakeTask {
    const t = this.tasks.get(taskId);
    if (!t) throw new ExecutorError('NOT_FOUND', `no task ${taskId}`);
    return t;
  }

  private async busy(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      else await Promise.resolve();
    } finally {
      this.inFlight--;
    }
  }

  private finish(t: FakeTask, exitCode: number, error?: string): void {
    t.obs = { ...t.obs, state: 'exited', exitCode, finishedAt: this.now(), ports: [] };
    if (error !== undefined) t.obs.error = error;
    const waiters = t.waiters;
    t.waiters = [];
    for (const w of waiters) w({ ...t.obs });
  }

  private async enter(op: FakeOp, taskId: string | undefined): Promise<void> {
    this.calls.push(taskId === undefined ? op : `${op}:${taskId}`);
    const i = this.gates.findIndex((g) => g.op === op && (g.taskId === undefined || g.taskId === taskId));
    if (i < 0) return;
    const [gate] = this.gates.splice(i, 1);
    gate!.reached();
    await gate!.opened;
  }
}
