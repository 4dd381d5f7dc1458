// Task assignment: each node keeps one Session stream open to the leader, which
// pushes the node's full set of tasks and then only what changes, straight from store changes.
// Status updates come back in batches; the leader writes every node's batches that arrive while
// its previous write is in flight in one Raft entry (a group commit).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';
import type { Handlers } from '../rpc/define.js';
import type { DispatcherService } from '../rpc/services.js';
import type { Caller, Guard } from '../rpc/caller.js';
import { deleteAction, isFinished, updateAction, type StoreActionT, type StoreEvent } from '../manager/store/index.js';
import type { DispatcherHost } from './heartbeats.js';
import { MeshTableCache, affectsMeshTable } from './mesh-table.js';
import { SessionSecrets, type Unseal } from './session-secrets.js';

type SessionCall = grpc.ServerWritableStream<baton.internal.SessionRequest.$Properties, baton.internal.SessionMessage.$Properties>;

/** One node's UpdateTaskStatus call, waiting for the write that carries it. */
interface StatusCall {
  nodeId: string;
  updates: baton.internal.TaskStatusUpdate.$Properties[];
  done: (err?: Error) => void;
}

/**
 * Most status updates in one Raft entry (a task is ~0.5 KiB in it); the calls past it go in the
 * next write. A node's own call is never split (at most 500 updates, worker/agent/reporter.ts).
 */
const MAX_STATUS_UPDATES_PER_WRITE = 2000;

function asError(err: unknown): Error {
  return err instanceof Error ? err : new BatonError('INTERNAL', String(err));
}

/** Who keeps the nodes' liveness (./heartbeats.ts): a session's start and end say something of it. */
export interface SessionLiveness {
  sessionOpened(nodeId: string): void;
  /** The node's last session with this leader ended, by the node's side or its connection. */
  sessionEnded(nodeId: string): void;
}

export interface SessionDeps {
  host: DispatcherHost;
  liveness?: SessionLiveness;
  guard: Guard;
  logger: Logger;
  forwardStatus: (req: baton.internal.UpdateTaskStatusRequest.$Properties, caller: Caller) => Promise<baton.Empty.$Properties>;
  /** Opens sealed secret data for the nodes whose tasks use it (the managers' key stays with the caller). */
  unseal: Unseal;
  now?: () => number;
}

/** What one open session is told of store changes (Sessions routes them; see route()). */
interface Attached {
  readonly nodeId: string;
  /** A change of a task that is, or was, on this session's node. */
  task(event: Extract<StoreEvent, { kind: 'task' }>): void;
  /** The mesh table may have changed: send it now if it did (with whatever else is pending). */
  mesh(): void;
  /** The store was replaced by a snapshot. */
  reset(): void;
}

export class Sessions {
  /** Each open session's close; `byNode` false when this leader ends it (stepping down). */
  private readonly open = new Set<(byNode: boolean) => void>();
  /**
   * Open sessions by node. One store listener routes each change to the sessions it concerns:
   * a listener per session would run every session's closure for every change (1,000 nodes
   * and 100,000 tasks: hundreds of millions of calls to learn that a task is not theirs).
   */
  private readonly attached = new Map<string, Set<Attached>>();
  private readonly everyone = new Set<Attached>();
  private unsubscribeStore: (() => void) | undefined;
  private readonly now: () => number;
  /** Set once this leader's store has caught up (leader loops start after a read barrier). */
  private ready = false;
  /** The routing mesh's table, the same for every node (./mesh-table.ts). */
  private readonly mesh: MeshTableCache;
  /** A check of the mesh table is scheduled (one per event-loop turn, not one per session). */
  private meshCheck = false;
  /** Status calls waiting for the next write, and whether one is in flight. */
  private statusQueue: StatusCall[] = [];
  private statusWriting = false;

  constructor(private readonly deps: SessionDeps) {
    this.now = deps.now ?? Date.now;
    this.mesh = new MeshTableCache(deps.host.store);
  }

  /** Nodes with an open session to this manager (metrics). */
  get count(): number {
    return this.open.size;
  }

  /**
   * A leader loop, started after the new leader's read barrier: before that its store may lack
   * recent tasks, and a full set sent from it would make nodes stop tasks they should run.
   */
  start(): void {
    this.ready = true;
  }

  /** Leadership lost: end every session so nodes reconnect to the new leader. */
  stop(): void {
    this.ready = false;
    for (const close of [...this.open]) close(false);
  }

  session(call: SessionCall): void {
    let caller: Caller;
    try {
      caller = this.deps.guard(call, ['manager', 'worker']);
      if (!this.deps.host.isLeader()) throw new BatonError('UNAVAILABLE', 'this manager is not the leader; open the session with the leader');
      if (!this.ready) throw new BatonError('UNAVAILABLE', 'the new leader is catching up; retry');
      if (!this.deps.host.store.get('node', caller.nodeId)) throw new BatonError('PERMISSION_DENIED', `node ${caller.nodeId} is not part of the cluster`);
    } catch (err) {
      call.emit('error', (err instanceof BatonError ? err : new BatonError('INTERNAL', String(err))).toStatus());
      return;
    }
    const nodeId = caller.nodeId;
    const store = this.deps.host.store;
    const changed = new Map<string, baton.Task.$Properties>();
    const removed = new Set<string>();
    let flushing = false;
    const schedule = (): void => {
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    };
    // The mesh table rides in the same message as the task changes, ahead of them: a node drops
    // a task from its mesh before it stops it.
    let meshSent = '';
    const meshUpdate = (): Pick<baton.internal.SessionMessage.$Properties, 'meshSet' | 'mesh' | 'networks'> => {
      const { table, networks, key } = this.mesh.current();
      if (key === meshSent) return {};
      meshSent = key;
      return { meshSet: true, mesh: table, networks };
    };
    const secrets = new SessionSecrets(store, nodeId, this.deps.unseal, (msg, secretId) => this.deps.logger.warn({ node: nodeId, secretId }, msg));
    // A node that reads slowly (or not at all: a stopped process, a congested link) must not
    // make the leader queue message after message for it. While its stream is full, changes
    // only accumulate in `changed`/`removed` (one entry per task, the latest), and go out as
    // one message when it drains: what the leader holds per node is bounded by its tasks.
    let full = false;
    let fullResend = false;
    const write = (msg: baton.internal.SessionMessage.$Properties): void => {
      if (call.write(msg)) return;
      full = true;
      call.once('drain', () => {
        full = false;
        if (fullResend) sendFull();
        else flush();
      });
    };
    const sendFull = (): void => {
      changed.clear();
      removed.clear();
      if (full) {
        fullResend = true;
        return;
      }
      fullResend = false;
      const tasks = store.list('task', { nodeIds: [nodeId] });
      write({ full: true, tasks: tasks as baton.Task[], ...meshUpdate(), ...secrets.full(tasks) });
    };
    const flush = (): void => {
      flushing = false;
      if (full) return;
      const mesh = meshUpdate();
      if (changed.size === 0 && removed.size === 0 && !mesh.meshSet && !secrets.pending()) return;
      const msg = { full: false, tasks: [...changed.values()], removed: [...removed], ...mesh, ...secrets.flush() };
      changed.clear();
      removed.clear();
      write(msg);
    };
    const unsubscribe = this.attach({
      nodeId,
      reset: sendFull,
      mesh: flush,
      task: (event) => {
        const task = event.object;
        const previous = event.old;
        // The node's own status reports come back as updates: nothing in them is news to it.
        if (event.action === 'update' && previous?.nodeId === nodeId && task.nodeId === nodeId && previous.desiredState === task.desiredState) return;
        const wasHere = previous?.nodeId === nodeId;
        if (task.nodeId === nodeId && event.action !== 'delete') {
          removed.delete(task.meta.id);
          changed.set(task.meta.id, task as baton.Task);
        } else if (task.nodeId === nodeId || wasHere) {
          changed.delete(task.meta.id);
          removed.add(task.meta.id);
        } else return;
        secrets.track(task, event.action === 'delete');
        schedule();
      },
    });
    const close = (byNode: boolean): void => {
      if (!this.open.delete(close)) return;
      unsubscribe();
      call.end();
      // A node that already opened its next session (a reconnection whose old stream ended
      // late) is not gone.
      if (byNode && !this.attached.has(nodeId)) this.deps.liveness?.sessionEnded(nodeId);
    };
    const closedByNode = (): void => close(true);
    this.open.add(close);
    call.on('cancelled', closedByNode);
    call.on('close', closedByNode);
    call.on('error', closedByNode);
    this.deps.logger.debug({ node: nodeId }, 'session opened');
    this.deps.liveness?.sessionOpened(nodeId);
    sendFull();
  }

  private attach(a: Attached): () => void {
    this.unsubscribeStore ??= this.deps.host.store.onChange((event) => this.route(event));
    let mine = this.attached.get(a.nodeId);
    if (!mine) this.attached.set(a.nodeId, (mine = new Set()));
    mine.add(a);
    this.everyone.add(a);
    return () => {
      this.everyone.delete(a);
      mine.delete(a);
      if (mine.size === 0 && this.attached.get(a.nodeId) === mine) this.attached.delete(a.nodeId);
    };
  }

  /** One store change to the sessions it concerns, in the order the store emits them. */
  private route(event: StoreEvent): void {
    if (event.action === 'reset') {
      for (const a of [...this.everyone]) a.reset();
      return;
    }
    if (affectsMeshTable(event)) this.meshMayHaveChanged();
    if (event.kind !== 'task') return;
    const now = event.object.nodeId;
    const before = event.old?.nodeId;
    if (now) for (const a of this.attached.get(now) ?? []) a.task(event);
    if (before && before !== now) for (const a of this.attached.get(before) ?? []) a.task(event);
  }

  /**
   * Once per turn after changes that may alter the mesh table, every session sends it if it
   * differs from what its node last got (the table is computed once, by the first). One timer
   * for all sessions, not one each: a node joining or going down, in a cluster of 1,000 nodes,
   * would otherwise queue 1,000 callbacks to find, most often, nothing to send.
   */
  private meshMayHaveChanged(): void {
    if (this.meshCheck) return;
    this.meshCheck = true;
    setImmediate(() => {
      this.meshCheck = false;
      for (const a of [...this.everyone]) a.mesh();
    });
  }

  handlers(): Pick<Handlers<DispatcherService>, 'UpdateTaskStatus'> {
    return {
      UpdateTaskStatus: async (req, call) => {
        const caller = this.deps.guard(call, ['manager', 'worker']);
        if (!this.deps.host.isLeader()) return this.deps.forwardStatus(req, caller);
        // An update for a task a stale store does not know yet would be dropped, yet acknowledged.
        if (!this.ready) throw new BatonError('UNAVAILABLE', 'the new leader is catching up; retry');
        await this.applyStatus(caller.nodeId, req.updates ?? []);
        return {};
      },
    };
  }

  /**
   * Resolves once the call's statuses are applied to the leader's store. Calls of every node
   * share writes: those that arrive while one write is in flight go together in the next. A
   * thousand nodes reporting at once cost a few Raft entries, not a thousand (each one logged,
   * replicated, applied and acknowledged on its own).
   */
  private applyStatus(nodeId: string, updates: baton.internal.TaskStatusUpdate.$Properties[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.statusQueue.push({ nodeId, updates, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.statusWriting) return;
      this.statusWriting = true;
      // After this turn's other calls have queued.
      setImmediate(() => void this.writeStatuses());
    });
  }

  private async writeStatuses(): Promise<void> {
    while (this.statusQueue.length > 0) {
      let size = 0;
      let n = 0;
      while (n < this.statusQueue.length && (n === 0 || size + this.statusQueue[n]!.updates.length <= MAX_STATUS_UPDATES_PER_WRITE)) size += this.statusQueue[n++]!.updates.length;
      const calls = this.statusQueue.splice(0, n);
      try {
        // A node's calls merged (a retried call may meet its own first attempt): one action per task.
        const byNode = new Map<string, baton.internal.TaskStatusUpdate.$Properties[]>();
        for (const c of calls) byNode.set(c.nodeId, [...(byNode.get(c.nodeId) ?? []), ...c.updates]);
        const actions = [...byNode].flatMap(([nodeId, updates]) => this.statusActions(nodeId, updates));
        if (actions.length > 0) await this.deps.host.propose(actions);
        for (const c of calls) c.done();
      } catch (err) {
        // A task changed under the shared write (a version race) fails it whole: each call is
        // then written on its own, retried against fresh reads.
        if (!(err instanceof BatonError && err.code === 'VERSION_CONFLICT')) {
          for (const c of calls) c.done(asError(err));
          continue;
        }
        await Promise.all(calls.map((c) => this.applyOne(c.nodeId, c.updates).then(() => c.done(), (e: unknown) => c.done(asError(e)))));
      }
    }
    this.statusWriting = false;
  }

  /** One proposal for one call's updates; a version race is retried against fresh reads. */
  private async applyOne(nodeId: string, updates: baton.internal.TaskStatusUpdate.$Properties[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const actions = this.statusActions(nodeId, updates);
      if (actions.length === 0) return;
      try {
        await this.deps.host.propose(actions);
        return;
      } catch (err) {
        if (!(err instanceof BatonError && err.code === 'VERSION_CONFLICT') || attempt >= 3) throw err;
      }
    }
  }

  private statusActions(nodeId: string, updates: baton.internal.TaskStatusUpdate.$Properties[]): StoreActionT[] {
    const store = this.deps.host.store;
    const latest = new Map<string, baton.TaskStatus.$Properties>();
    for (const u of updates) if (u.taskId && u.status) latest.set(u.taskId, u.status);
    const actions: StoreActionT[] = [];
    for (const [taskId, status] of latest) {
      const task = store.get('task', taskId);
      // A node only speaks for its own tasks; a task may have moved or been removed meanwhile.
      if (!task || task.nodeId !== nodeId) continue;
      const current = task.status?.state ?? baton.TaskState.TASK_NEW;
      const next = status.state ?? baton.TaskState.TASK_NEW;
      if (next < current || isFinished(current)) continue;
      if (task.desiredState === baton.TaskState.TASK_REMOVE && isFinished(next)) {
        actions.push(deleteAction('task', task));
        continue;
      }
      actions.push(updateAction('task', { ...(task as baton.Task), status: { ...status, timestamp: status.timestamp || this.now() } }));
    }
    return actions;
  }
}
