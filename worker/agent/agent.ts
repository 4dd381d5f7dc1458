// The worker agent: converges what the executors run to the assignments the
// dispatcher's session pushes, reports every status change, and keeps enough in its own
// LevelDB that a restarted agent reconciles rather than forgets: it adopts what still runs,
// reports what exited meanwhile, and removes leftovers only once a full assignment set says
// they are not wanted (a manager failover, a missing session, is never an empty set).
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { ExecutorError, errorMessage, type Executor, type LogChunk, type LogOptions, type TaskObservation } from '../executor/types.js';
import { assignmentOf, mergeAssignment, removal } from './assignments.js';
import { Limiter } from './limiter.js';
import { Reporter } from './reporter.js';
import { DEFAULT_STOP_GRACE_MS, runtimeOf } from './run-spec.js';
import { TaskController, type AttachNetworks, type ControllerHost, type NetworkAttachment } from './task-controller.js';
import { DEFAULT_FILES_DIR, TaskFiles } from './task-files.js';
import { AgentClosedError, TaskDb, type AgentStore, type Loaded } from './task-db.js';

export type Runtime = 'docker' | 'process';
const RUNTIMES: Runtime[] = ['docker', 'process'];

export interface AgentOptions {
  nodeId: string;
  clusterId: string;
  /** The agent's LevelDB lives in stateDir/agent-db. */
  stateDir: string;
  /**
   * Opens the agent's store in place of that LevelDB (the scale simulation keeps thousands of
   * nodes' records in memory); absent: the LevelDB.
   */
  openStore?: () => Promise<AgentStore>;
  executors: Partial<Record<Runtime, Executor>>;
  /** Send status updates to the managers; resolves when acknowledged, rejects to be retried. */
  report: (updates: baton.internal.TaskStatusUpdate.$Properties[]) => Promise<void>;
  logger: Logger;
  /**
   * Makes a task's networks ready on this node (worker/network) and says what its executor
   * needs; absent: tasks on networks fail with a line saying this node has no networking.
   */
  attachNetworks?: AttachNetworks;
  /** A memory-backed directory for the tasks' secret and config files (default /dev/shm). */
  filesDir?: string;
  now?: () => number;
}

async function noNetworks(task: baton.Task.$Properties): Promise<NetworkAttachment> {
  if ((task.spec?.networks?.length ?? 0) > 0) throw new Error('this node cannot attach tasks to networks (no Docker engine)');
  return { networks: [], dns: [], env: [] };
}

/** How many tasks prepare or start at once. */
const CONCURRENCY = 8;
/** How often executors are asked whether they are available (an engine may come and go). */
const AVAILABILITY_PERIOD_MS = 10_000;

interface Orphan {
  runtime: Runtime;
  observation: TaskObservation;
}

export class Agent {
  private readonly controllers = new Map<string, TaskController>();
  /** Executor objects of this node no DB record explains, until a full set decides. */
  private orphans = new Map<string, Orphan>();
  private readonly availableRuntimes = new Set<Runtime>();
  /** Runtimes whose executor listed its objects on open, so "not listed" means "not there". */
  private readonly listed = new Set<Runtime>();
  private readonly reporter: Reporter;
  /** Secrets and configs: in memory, and as files for the tasks that use them. */
  private readonly files: TaskFiles;
  private readonly host: ControllerHost;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  private sawFull = false;
  private closed = false;
  private availabilityTimer: NodeJS.Timeout | undefined;
  private refreshing = false;

  private constructor(
    private readonly opts: AgentOptions,
    private readonly db: AgentStore,
  ) {
    // The composition root names the component (src/daemon/tasks.ts).
    this.log = opts.logger;
    const now = opts.now ?? Date.now;
    this.reporter = new Reporter({ send: opts.report, onAcked: (acked) => db.acked(acked), logger: this.log });
    this.files = new TaskFiles(opts.filesDir ?? DEFAULT_FILES_DIR, opts.nodeId, this.log);
    this.host = {
      nodeId: opts.nodeId,
      clusterId: opts.clusterId,
      limiter: new Limiter(CONCURRENCY),
      logger: this.log,
      now,
      executor: (runtime, available) => this.executor(runtime, available),
      saveStatus: (record, status) => db.saveStatus(record, status),
      report: (taskId, status) => this.reporter.push(taskId, status),
      whenReported: (taskId) => this.reporter.whenAcked(taskId),
      forget: (taskId) => this.forget(taskId),
      writeFiles: (task) => this.files.write(task),
      removeFiles: (taskId) => this.files.remove(taskId),
      attachNetworks: opts.attachNetworks ?? noNetworks,
    };
  }

  /** Loads the DB and adopts what the executors show; tasks already running are never restarted. */
  static async open(opts: AgentOptions): Promise<Agent> {
    const db = opts.openStore ? await opts.openStore() : await TaskDb.open(join(opts.stateDir, 'agent-db'));
    try {
      const loaded = await db.load();
      const agent = new Agent(opts, db);
      await agent.init(loaded);
      return agent;
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  /** A session message: the full set (msg.full) or changes. Never throws; messages apply in order. */
  apply(msg: baton.internal.SessionMessage): void {
    if (this.closed) return;
    this.chain = this.chain
      .then(() => this.applyNow(msg))
      .catch((err: unknown) => {
        if (err instanceof AgentClosedError) return;
        this.log.error({ err: errorMessage(err) }, 'could not apply a session message');
      });
  }

  /** The state of every task this node knows (metrics). */
  taskStates(): baton.TaskState[] {
    return [...this.controllers.values()].map((c) => c.state);
  }

  /** The tasks this node holds, running or not yet removed (what a volume removal must not pull from under). */
  tasks(): baton.Task.$Properties[] {
    return [...this.controllers.values()].map((c) => c.task);
  }

  /** Runtimes whose executor answered available() last time it was asked. */
  runtimes(): string[] {
    return RUNTIMES.filter((r) => this.availableRuntimes.has(r));
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogChunk> {
    const ctl = this.controllers.get(taskId);
    const executor = ctl ? this.executor(ctl.runtime, false) : undefined;
    if (!executor) throw new ExecutorError('NOT_FOUND', `task ${taskId} is not on this node`);
    yield* executor.logs(taskId, opts);
  }

  /** Stops reporting and watching. Tasks keep running: the next agent on this stateDir adopts them. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.availabilityTimer) clearInterval(this.availabilityTimer);
    this.reporter.stop();
    for (const ctl of this.controllers.values()) ctl.close();
    await this.chain;
    await this.db.close();
  }

  private executor(runtime: string, available: boolean): Executor | undefined {
    const r = RUNTIMES.find((x) => x === runtime);
    if (!r || (available && !this.availableRuntimes.has(r))) return undefined;
    return this.opts.executors[r];
  }

  private async init(loaded: Loaded): Promise<void> {
    await this.refreshAvailability();
    const observed = await this.listExecutors();
    for (const record of loaded.tasks) {
      const id = record.meta?.id;
      if (!id) continue;
      const runtime = runtimeOf(record);
      const found = observed.get(id);
      // An object of another runtime under this ID is not this task's: it stays a leftover.
      const observation = found?.runtime === runtime ? found.observation : undefined;
      if (observation) observed.delete(id);
      const listed = RUNTIMES.some((r) => r === runtime && this.listed.has(r));
      const ctl = new TaskController(this.host, assignmentOf(record), record.status ?? {}, { observation, listed, held: true });
      this.controllers.set(id, ctl);
    }
    this.orphans = observed;
    // Files of tasks this agent no longer has (removed while it was down, or a wiped DB).
    await this.files.sweep(new Set(this.controllers.keys()));
    for (const [id, status] of loaded.unacked) this.reporter.push(id, status);
    this.log.info({ tasks: this.controllers.size, unknownObjects: this.orphans.size, unacked: loaded.unacked.size, runtimes: this.runtimes() }, 'agent opened');
    for (const ctl of this.controllers.values()) ctl.kick();
    this.availabilityTimer = setInterval(() => void this.refreshAvailability(), AVAILABILITY_PERIOD_MS);
    this.availabilityTimer.unref();
  }

  private async refreshAvailability(): Promise<void> {
    // An engine that hangs on a ping must not pile up checks.
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      for (const r of RUNTIMES) {
        const executor = this.opts.executors[r];
        const ok = executor ? await executor.available().catch(() => false) : false;
        if (ok) this.availableRuntimes.add(r);
        else this.availableRuntimes.delete(r);
      }
    } finally {
      this.refreshing = false;
    }
  }

  private async listExecutors(): Promise<Map<string, Orphan>> {
    const observed = new Map<string, Orphan>();
    for (const runtime of RUNTIMES) {
      const executor = this.opts.executors[runtime];
      if (!executor || !this.availableRuntimes.has(runtime)) continue;
      try {
        for (const observation of await executor.list()) observed.set(observation.taskId, { runtime, observation });
        this.listed.add(runtime);
      } catch (err) {
        this.log.warn({ runtime, err: errorMessage(err) }, 'could not list the executor\'s tasks; none is taken for gone');
      }
    }
    return observed;
  }

  private async applyNow(msg: baton.internal.SessionMessage): Promise<void> {
    if (this.closed) return;
    // Before the tasks: a task in this message may need a secret that comes with it.
    this.files.apply(msg);
    const seen = new Set<string>();
    const touched: TaskController[] = [];
    const created: TaskController[] = [];
    for (const task of msg.tasks) {
      const id = task.meta?.id;
      if (!id) continue;
      if (task.nodeId && task.nodeId !== this.opts.nodeId) {
        this.log.warn({ taskId: id, nodeId: task.nodeId }, 'ignoring a task assigned to another node');
        continue;
      }
      seen.add(id);
      const ctl = this.controllers.get(id);
      if (!ctl) {
        created.push(this.newController(task));
        continue;
      }
      const merged = mergeAssignment(ctl.record(), task);
      if (merged) {
        ctl.assign(merged);
        touched.push(ctl);
      }
    }
    // A full set names every assignment; `removed` names the ones to forget.
    const gone = msg.full ? [...this.controllers.keys()].filter((id) => !seen.has(id)) : msg.removed;
    for (const id of gone) {
      const ctl = this.controllers.get(id);
      const next = ctl && removal(ctl.record());
      if (!ctl || !next) continue;
      ctl.assign(next);
      touched.push(ctl);
    }
    const records = [...touched, ...created].map((c) => c.record());
    if (records.length > 0) await this.db.saveTasks(records);
    if (this.closed) return;
    for (const ctl of created) this.controllers.set(ctl.id, ctl);
    for (const ctl of [...touched, ...created]) ctl.commit();
    if (msg.full) this.confirmed();
  }

  /** A task the agent has no record of; the manager's status says how far it got. */
  private newController(task: baton.Task.$Properties): TaskController {
    const id = task.meta?.id ?? '';
    const runtime = runtimeOf(task);
    const orphan = this.orphans.get(id);
    const observation = orphan?.runtime === runtime ? orphan.observation : undefined;
    if (observation) this.orphans.delete(id);
    const listed = RUNTIMES.some((r) => r === runtime && this.listed.has(r));
    const ctl = new TaskController(this.host, assignmentOf(task), task.status ?? {}, { observation, listed, held: false });
    ctl.assign(ctl.task);
    if (observation) this.log.info({ taskId: id, runtimeId: observation.runtimeId }, 'adopting an executor object the DB did not know');
    return ctl;
  }

  /** A full set arrived: held tasks may proceed, and leftovers nobody assigned can go. */
  private confirmed(): void {
    if (this.sawFull) return;
    this.sawFull = true;
    for (const ctl of this.controllers.values()) ctl.release();
    const orphans = this.orphans;
    this.orphans = new Map();
    for (const [id, orphan] of orphans) void this.removeOrphan(id, orphan);
  }

  private async removeOrphan(id: string, { runtime, observation }: Orphan): Promise<void> {
    const executor = this.opts.executors[runtime];
    if (!executor || this.closed) return;
    this.log.info({ taskId: id, runtimeId: observation.runtimeId }, 'removing an executor object no assignment explains');
    try {
      await executor.shutdown(id, DEFAULT_STOP_GRACE_MS);
      await executor.remove(id);
    } catch (err) {
      this.log.warn({ taskId: id, err: errorMessage(err) }, 'could not remove an unassigned executor object');
    }
  }

  /** Deletes the task's record once its last status is acknowledged. */
  private forget(taskId: string): void {
    void this.reporter
      .whenAcked(taskId)
      .then(async () => {
        if (this.closed || !this.controllers.has(taskId)) return;
        await this.db.forget(taskId);
        this.controllers.get(taskId)?.close();
        this.controllers.delete(taskId);
        this.log.debug({ taskId }, 'task forgotten');
      })
      .catch((err: unknown) => {
        if (!(err instanceof AgentClosedError)) this.log.warn({ taskId, err: errorMessage(err) }, 'could not forget a task');
      });
  }
}
