// One task's convergence, Swarm's way (swarmkit agent/exec.Do): each step compares the desired
// state with the last status and takes one action: accept, prepare, start, wait, shut down,
// remove. Steps of one task run one at a time; tasks run side by side. Each new status is on
// disk before the action it announces, so a restarted agent knows what it may have done.
import type { Logger } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { ExecutorError, errorMessage, type Executor, type HealthWatch, type TaskObservation, type TaskRunSpec } from '../executor/types.js';
import { AgentClosedError } from './task-db.js';
import type { Limiter } from './limiter.js';
import { healthState, portStatus, runtimeOf, specProbes, stopGraceMs, taskHealth, toRunSpec } from './run-spec.js';
import { S, intentOf, isTerminal, mayFollow, stateName, type TaskState } from './states.js';
import { withShortTexts } from './reporter.js';

const H = baton.HealthState;
/** What Swarm reports for a task its health check condemned; the restart policy replaces it. */
export const UNHEALTHY_ERR = 'unhealthy container';

/** What a task's networks give its executor (worker/network/manager.ts TaskAttachment). */
export interface NetworkAttachment {
  networks: { dockerNetwork: string }[];
  dns: string[];
  env: string[];
}

export type AttachNetworks = (task: baton.Task.$Properties) => Promise<NetworkAttachment>;

export interface ControllerHost {
  readonly nodeId: string;
  readonly clusterId: string;
  /** The runtime's executor; with `available`, only when it answered available() last time. */
  executor(runtime: string, available: boolean): Executor | undefined;
  readonly limiter: Limiter;
  /** Writes the task record (its `status` is `status`) and marks the status unacknowledged. */
  saveStatus(record: baton.Task.$Properties, status: baton.TaskStatus.$Properties): Promise<void>;
  report(taskId: string, status: baton.TaskStatus.$Properties): void;
  /** Resolves once the managers acknowledged every status reported for the task. */
  whenReported?(taskId: string): Promise<void>;
  /** The task is terminal and its runtime object removed: forget it once the managers know. */
  forget(taskId: string): void;
  /** Writes the task's secrets and configs (memory-backed) for the executor; throws if one is missing. */
  writeFiles(task: baton.Task.$Properties): Promise<Pick<TaskRunSpec, 'secrets' | 'configs'>>;
  /** The task has ended: its secret and config files go. Never throws. */
  removeFiles(taskId: string): Promise<void>;
  /** The task's networks made ready on this node; throws a one-line Error when they cannot be. */
  attachNetworks: AttachNetworks;
  readonly logger: Logger;
  now(): number;
}

export interface Found {
  /** What the executor showed for this task when the agent opened, if anything. */
  observation?: TaskObservation;
  /** Whether the executor could be listed at all (no observation then means "no such object"). */
  listed: boolean;
  /** Loaded from the DB: wait for the managers' word before starting anything new. */
  held: boolean;
}

/** An executor call failed in a way worth retrying (the engine is down, say). */
class RetryLater extends Error {}

// How long an unhealthy task keeps running while its new health reaches the managers, so the
// routing mesh drops it before it stops (connections still open on it are not cut at once).
const UNHEALTHY_REPORT_WAIT_MS = 2_000;

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export class TaskController {
  readonly id: string;
  /** The assignment steps act on. */
  task: baton.Task.$Properties;
  /** The last status on disk and reported. */
  status: baton.TaskStatus.$Properties;
  /** The last status handed to the DB (ahead of `status` while its write is under way). */
  private issued: baton.TaskStatus.$Properties;
  private incoming: baton.Task.$Properties | undefined;
  private held: boolean;
  /** A running object found on open, to adopt instead of starting. */
  private adopt: TaskObservation | undefined;
  private exit: TaskObservation | undefined;
  private waitError: unknown;
  /** The status is RUNNING but the executor has no such object any more. */
  private lost: boolean;
  private runtimeMayExist: boolean;
  private prepared = false;
  /** What start() answered, kept so a failed status write is retried without a second start. */
  private started: TaskObservation | undefined;
  private waiting = false;
  private removed = false;
  private filesRemoved = false;
  private closed = false;
  private driving = false;
  private again = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Follows the running task's health (the runtime's checks) while it runs. */
  private healthWatch: HealthWatch | undefined;
  /** The health the runtime last reported, ahead of the status until a step records it. */
  private observedHealth: baton.HealthState | undefined;

  constructor(
    private readonly host: ControllerHost,
    task: baton.Task.$Properties,
    status: baton.TaskStatus.$Properties,
    found: Found,
  ) {
    this.id = task.meta?.id ?? '';
    this.task = task;
    this.status = status;
    this.issued = status;
    this.held = found.held;
    const obs = found.observation;
    const state = this.state;
    this.runtimeMayExist = obs ? true : !found.listed && state >= S.TASK_PREPARING;
    this.lost = !obs && found.listed && state === S.TASK_RUNNING;
    if (obs?.state === 'running' && !isTerminal(state)) this.adopt = obs;
    if (obs?.state === 'exited') this.exit = obs;
  }

  get state(): TaskState {
    return this.status.state ?? S.TASK_NEW;
  }

  get runtime(): string {
    return runtimeOf(this.task);
  }

  /**
   * A new assignment, on its way to disk: steps go on with the old one until commit(), while
   * any status written meanwhile already carries the new one (records never go back).
   */
  assign(task: baton.Task.$Properties): void {
    this.incoming = task;
  }

  /** The assignment given to assign() is on disk: act on it. */
  commit(): void {
    if (this.incoming) this.task = this.incoming;
    this.incoming = undefined;
    this.kick();
  }

  /** What the DB should hold for this task: the newest assignment and the newest status. */
  record(): baton.Task.$Properties {
    // Object.assign, not a spread: an assignment is assignmentOf()'s rest object, and Node 20's
    // V8 copies such an object by spread about 10× slower (~5 µs against ~0.5), at every status.
    return Object.assign({}, this.incoming ?? this.task, { status: this.issued });
  }

  /** The managers confirmed the assignment: new work may start. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.stopHealthWatch();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  kick(): void {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.driving) {
      this.again = true;
      return;
    }
    void this.drive();
  }

  private async drive(): Promise<void> {
    this.driving = true;
    try {
      for (;;) {
        this.again = false;
        let more: boolean;
        try {
          more = await this.step();
          this.failures = 0;
        } catch (err) {
          this.retry(err);
          return;
        }
        if (this.closed || (!more && !this.again)) return;
      }
    } finally {
      this.driving = false;
    }
  }

  private retry(err: unknown): void {
    if (this.closed || err instanceof AgentClosedError) return;
    this.failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    this.host.logger.warn({ taskId: this.id, err: errorMessage(err), retryInMs: delay }, 'task action failed, will retry');
    this.retryTimer = setTimeout(() => this.kick(), delay);
    this.retryTimer.unref();
  }

  /** One action towards the desired state; true when another may follow at once. */
  private async step(): Promise<boolean> {
    const state = this.state;
    const intent = intentOf(this.task.desiredState ?? S.TASK_NEW);
    if (isTerminal(state)) {
      if (!this.filesRemoved) {
        this.filesRemoved = true;
        await this.host.removeFiles(this.id);
      }
      if (intent === 'remove' && !this.removed) {
        await this.removeRuntime();
        this.removed = true;
        this.host.forget(this.id);
      }
      return false;
    }
    // Desired shutdown wins over anything observed meanwhile, as in Swarm.
    if (intent === 'shutdown' || intent === 'remove') return this.shutdown();
    if (this.adopt) return this.adoptRunning(this.adopt);
    // Before the exit: stopping an unhealthy task makes it exit, and the reason is its health.
    if (state === S.TASK_RUNNING && this.status.health === H.HEALTH_UNHEALTHY) return this.failUnhealthy();
    if (this.exit) return this.finish(this.exit);
    if (this.waitError !== undefined) return this.setStatus({ state: S.TASK_FAILED, message: 'failed', err: errorMessage(this.waitError) });
    if (this.lost) {
      return this.setStatus({ state: S.TASK_FAILED, message: 'failed', err: 'the task is gone from its runtime (lost while the agent was down)' });
    }
    if (state === S.TASK_RUNNING) {
      const health = this.observedHealth;
      if (health !== undefined && health !== (this.status.health ?? H.HEALTH_NONE)) return this.setHealth(health);
      return this.watch();
    }
    // Loaded from disk: adoption and exits above go on; new work waits for the managers.
    if (this.held) return false;
    if (intent === 'hold') return state < S.TASK_ACCEPTED && this.accept();
    if (state < S.TASK_ACCEPTED) return this.accept();
    if (state === S.TASK_ACCEPTED) return this.setStatus({ state: S.TASK_PREPARING, message: 'preparing' });
    if (state === S.TASK_PREPARING) return this.prepare();
    return this.start();
  }

  private accept(): Promise<boolean> {
    const runtime = this.runtime;
    if (!this.host.executor(runtime, true)) {
      return this.setStatus({ state: S.TASK_REJECTED, message: 'rejected', err: `runtime ${JSON.stringify(runtime)} is not available on this node` });
    }
    return this.setStatus({ state: S.TASK_ACCEPTED, message: 'accepted' });
  }

  /** Errors before the task starts reject it, later ones fail it (swarmkit's `fatal`). */
  private fatal(err: unknown): Promise<boolean> {
    const state = this.state < S.TASK_STARTING ? S.TASK_REJECTED : S.TASK_FAILED;
    return this.setStatus({ state, message: state === S.TASK_REJECTED ? 'rejected' : 'failed', err: errorMessage(err) });
  }

  private available(): Executor {
    const executor = this.host.executor(this.runtime, true);
    if (!executor) throw new ExecutorError('RUNTIME_UNAVAILABLE', `runtime ${JSON.stringify(this.runtime)} is not available on this node`);
    return executor;
  }

  private async prepare(): Promise<boolean> {
    try {
      await this.doPrepare(this.available());
    } catch (err) {
      return this.fatal(err);
    }
    if (this.closed) return false;
    return this.setStatus({ state: S.TASK_STARTING, message: 'starting' });
  }

  private async doPrepare(executor: Executor): Promise<void> {
    this.runtimeMayExist = true;
    const spec = toRunSpec(this.task, this.host.clusterId, this.host.nodeId, await this.host.writeFiles(this.task));
    const attached = await this.host.attachNetworks(this.task).catch((err: unknown) => {
      // A process shares the node's network and can run without being told where services
      // are (a stack puts every service on a network); a container cannot be created without.
      if (spec.runtime !== 'process') throw err;
      this.host.logger.warn({ task: this.id, err: errorMessage(err) }, 'process task runs without its networks');
      return { networks: [], dns: [], env: [] };
    });
    if (attached.networks.length > 0) {
      spec.networks = attached.networks;
      spec.dns = attached.dns;
      // A process shares the node's network: it is told where the resolver and services are.
      if (spec.runtime === 'process') spec.env = [...spec.env, ...attached.env];
    }
    await this.host.limiter.run(() => executor.prepare(spec));
    this.prepared = true;
  }

  private async start(): Promise<boolean> {
    let obs = this.started;
    if (!obs) {
      try {
        const executor = this.available();
        // After a restart the prepared object may be gone; prepare is idempotent.
        if (!this.prepared) await this.doPrepare(executor);
        if (this.closed) return false;
        obs = await this.host.limiter.run(() => executor.start(this.id), true);
      } catch (err) {
        return this.fatal(err);
      }
      this.started = obs;
    }
    if (obs.state === 'exited') this.exit = obs;
    return this.setRunning(obs, 'started');
  }

  private adoptRunning(obs: TaskObservation): Promise<boolean> {
    this.adopt = undefined;
    if (this.state === S.TASK_RUNNING) return Promise.resolve(true);
    return this.setRunning(obs, 'started (adopted after an agent restart)');
  }

  private setRunning(obs: TaskObservation, message: string): Promise<boolean> {
    // The engine knows at once whether a container has a check (its image may bring one); a
    // process has one only if the spec says so.
    const health = obs.health !== undefined ? healthState(obs.health) : specProbes(this.task) ? H.HEALTH_STARTING : H.HEALTH_NONE;
    return this.setStatus({ state: S.TASK_RUNNING, message, containerId: obs.runtimeId, ports: portStatus(obs.ports), health });
  }

  /** Running: follow the task's health through its runtime; each change kicks a step. */
  private startHealthWatch(executor: Executor): void {
    if (this.healthWatch || !executor.watchHealth) return;
    this.healthWatch = executor.watchHealth(this.id, taskHealth(this.status.health), (h) => {
      const health = healthState(h);
      if (this.observedHealth === health) return;
      this.observedHealth = health;
      this.kick();
    });
  }

  private stopHealthWatch(): void {
    this.healthWatch?.stop();
    this.healthWatch = undefined;
  }

  /** A new health for the running task; the timestamp stays the start's ("Running 5 minutes ago"). */
  private async setHealth(health: baton.HealthState): Promise<boolean> {
    if (this.closed) return false;
    this.host.logger.info({ taskId: this.id, health: H[health] }, 'task health');
    await this.persist({ ...this.status, health });
    return true;
  }

  /** Swarm's way: an unhealthy task is stopped and fails, and the restart policy replaces it. */
  private async failUnhealthy(): Promise<boolean> {
    this.stopHealthWatch();
    await this.reported(UNHEALTHY_REPORT_WAIT_MS);
    if (this.closed) return false;
    const executor = this.host.executor(this.runtime, false);
    let exitCode: number | undefined;
    if (executor) {
      try {
        await executor.shutdown(this.id, stopGraceMs(this.task));
        exitCode = (await executor.inspect(this.id))?.exitCode;
      } catch (err) {
        if (!(err instanceof ExecutorError && err.code === 'NOT_FOUND')) throw new RetryLater(errorMessage(err));
      }
    }
    return this.setStatus({ state: S.TASK_FAILED, message: 'failed', err: UNHEALTHY_ERR, health: H.HEALTH_UNHEALTHY, ...(exitCode !== undefined ? { exitCode } : {}) });
  }

  /** Running: wait for the exit in the background; it kicks the next step. */
  private watch(): boolean {
    if (this.waiting) return false;
    const executor = this.host.executor(this.runtime, false);
    if (!executor) {
      this.waitError = new ExecutorError('RUNTIME_UNAVAILABLE', `runtime ${JSON.stringify(this.runtime)} is not configured on this node`);
      return true;
    }
    this.startHealthWatch(executor);
    this.waiting = true;
    executor.wait(this.id).then(
      (obs) => {
        this.waiting = false;
        this.exit = obs;
        this.kick();
      },
      (err: unknown) => {
        this.waiting = false;
        // An engine that is down says nothing about the task: ask again later.
        if (err instanceof ExecutorError && err.code === 'RUNTIME_UNAVAILABLE') this.retry(err);
        else {
          this.waitError = err;
          this.kick();
        }
      },
    );
    return false;
  }

  private finish(obs: TaskObservation): Promise<boolean> {
    const code = obs.exitCode;
    const containerId = obs.runtimeId || this.status.containerId || '';
    if (code === 0) return this.setStatus({ state: S.TASK_COMPLETE, message: 'finished', exitCode: 0, containerId });
    const err = code === undefined ? (obs.error ?? 'task exited with an unknown code') : `task exited with code ${code}`;
    return this.setStatus({ state: S.TASK_FAILED, message: obs.error ?? 'failed', err, exitCode: code ?? 0, containerId });
  }

  private async shutdown(): Promise<boolean> {
    const executor = this.host.executor(this.runtime, false);
    if (this.runtimeMayExist && executor) {
      try {
        await executor.shutdown(this.id, stopGraceMs(this.task));
      } catch (err) {
        if (!(err instanceof ExecutorError && err.code === 'NOT_FOUND')) throw new RetryLater(errorMessage(err));
      }
    }
    return this.setStatus({ state: S.TASK_SHUTDOWN, message: 'shutdown' });
  }

  private async removeRuntime(): Promise<void> {
    const executor = this.host.executor(this.runtime, false);
    if (!this.runtimeMayExist || !executor) return;
    try {
      await executor.remove(this.id);
    } catch (err) {
      if (!(err instanceof ExecutorError && err.code === 'NOT_FOUND')) throw new RetryLater(errorMessage(err));
    }
  }

  /** Waits (at most ms) until the managers acknowledged the task's statuses. */
  private async reported(ms: number): Promise<void> {
    const acked = this.host.whenReported?.(this.id);
    if (!acked) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** On disk first, then reported (texts cut first: the disk and the report hold the same object). */
  private async persist(full: baton.TaskStatus.$Properties): Promise<void> {
    const status = withShortTexts(full);
    this.issued = status;
    await this.host.saveStatus(this.record(), status);
    this.status = status;
    this.host.report(this.id, status);
  }

  /** Records, then reports, a new status; refuses (and logs) a step backwards. */
  private async setStatus(next: baton.TaskStatus.$Properties): Promise<boolean> {
    const state = next.state ?? S.TASK_NEW;
    if (this.closed) return false;
    if (!mayFollow(this.state, state)) {
      this.host.logger.warn({ taskId: this.id, from: stateName(this.state), to: stateName(state) }, 'refusing a task state that does not move forward');
      return false;
    }
    const status: baton.TaskStatus.$Properties = { containerId: this.status.containerId ?? '', ...next, timestamp: this.host.now() };
    if (state !== S.TASK_RUNNING) this.stopHealthWatch();
    await this.persist(status);
    const fields = { taskId: this.id, state: stateName(state), err: status.err || undefined, exitCode: status.exitCode };
    if (state >= S.TASK_RUNNING) this.host.logger.info(fields, 'task state');
    else this.host.logger.debug(fields, 'task state');
    return true;
  }
}
