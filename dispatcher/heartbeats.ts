// Node liveness: every node heartbeats the leader each period; the leader keeps the
// times in memory and writes to the store only when a node's state changes (ready <-> down), so
// a heartbeat costs no Raft write. The leader tells each node its period in every reply: the
// cluster's, or longer in a cluster big enough that the leader would get more than
// max_heartbeats_per_second (the leader's load stays bounded whatever the node count). A node
// silent past its period plus the grace is marked down; time the leader itself was not serving
// (its event loop held) does not count as anyone's silence. A node whose session with the leader
// ends is given only the shortest allowance from then on (see sessionEnded): a hundred nodes
// killed together are found together, whatever point of their long periods each one was at.
import type { Logger } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';
import type { Handlers } from '../rpc/define.js';
import type { DispatcherService } from '../rpc/services.js';
import type { Caller, Guard } from '../rpc/caller.js';
import { updateAction, type ClusterStore, type StoreActionT, type Stored } from '../manager/store/index.js';

/** What the dispatcher needs of the manager it runs on. */
export interface DispatcherHost {
  readonly store: ClusterStore;
  isLeader(): boolean;
  propose(actions: StoreActionT[]): Promise<unknown>;
}

export interface HeartbeatDeps {
  host: DispatcherHost;
  guard: Guard;
  logger: Logger;
  /** Managers (leader first), for workers to reconnect to. */
  managers: () => baton.ManagerPeer.$Properties[];
  /** Sends a heartbeat to the leader on behalf of `caller` (when this manager is a follower). */
  forward: (req: baton.internal.HeartbeatRequest.$Properties, caller: Caller) => Promise<baton.internal.HeartbeatResponse.$Properties>;
  now?: () => number;
  /** The jitter's source (tests give a fixed one). */
  random?: () => number;
  /** Leader only: each heartbeat's connection totals per service (the autoscaler's input). */
  onConnections?: (nodeId: string, totals: Map<string, number>) => void;
}

export const DEFAULT_HEARTBEAT_PERIOD_MS = 1000;
export const DEFAULT_HEARTBEAT_GRACE = 3;
/**
 * The most heartbeats per second the leader asks for, whatever the number of nodes (Nomad's
 * max_heartbeats_per_second): past DEFAULT_MAX_HEARTBEATS_PER_SECOND x period nodes, each node is
 * told a longer period. 200/s is Swarm's load at 1,000 nodes (its period is 5 s at every size).
 */
export const DEFAULT_MAX_HEARTBEATS_PER_SECOND = 200;
/** Each period told is the scaled one plus up to this fraction, so that nodes drift apart. */
export const HEARTBEAT_JITTER = 0.1;

/** The liveness settings in force: the cluster's spec, else the defaults. */
export interface HeartbeatSettings {
  /** The shortest period, the one every node of a small cluster is told. */
  periodMs: number;
  grace: number;
  maxPerSecond: number;
}

/**
 * The period a cluster of `nodes` is told before jitter: the configured one, or longer when
 * `nodes` heartbeats per period would exceed `maxPerSecond` (as Nomad scales its TTL).
 */
export function scaledPeriodMs(s: HeartbeatSettings, nodes: number): number {
  return Math.max(s.periodMs, Math.ceil((nodes / s.maxPerSecond) * 1000));
}

/**
 * How long a node may stay silent after a heartbeat: the period it was told, plus grace - 1 of
 * the configured (shortest) period for late or lost ones. A small cluster's node is down after
 * grace x period (3 s by default), as before; a node told 5 s in a cluster of 1,000 after 7 s,
 * not 15: a longer period spreads the leader's load, it does not have to slow detection as much.
 */
export function silenceAllowedMs(s: HeartbeatSettings, toldMs: number): number {
  return toldMs + Math.max(0, s.grace - 1) * s.periodMs;
}

/** What a leader keeps of one node's liveness, on the serving clock (see Heartbeats.served()). */
interface Liveness {
  /** When it must have heartbeated again: its last heartbeat plus silenceAllowedMs of the period it was told then. */
  due: number;
  /** Its last heartbeat and the period it was told then, for the log of a mark-down (none until this leader hears one). */
  lastBeat: { at: number; toldMs: number } | undefined;
  /** Whether `due` is the short allowance of sessionEnded (the log of a mark-down says which rule found it). */
  shortened: boolean;
  /**
   * When its last session ended with no other open (serving clock), until its next one opens:
   * the log says how long a live node took to come back, and how long a node marked down by the
   * 'session ended' rule had been without one (a 5,000-node run's live nodes came back too late).
   */
  sessionEndedAt?: number | undefined;
}

export class Heartbeats {
  /** Per node, since this leader was elected (or heard of the node). */
  private readonly liveness = new Map<string, Liveness>();
  /** Per node: the raw description it last sent that matched the stored node at `version`. */
  private readonly described = new Map<string, { raw: string; version: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  /**
   * Time this leader was not serving: how late its own timers fired (an event loop held by a
   * long pass, a snapshot, a starved process). Heartbeats that arrive in such a stretch wait in
   * the leader's queues, not on the nodes: silence is counted on now() - paused.
   */
  private paused = 0;
  /** When the check timer should fire (now() time), to measure how late it did. */
  private expectedAt = 0;

  constructor(private readonly deps: HeartbeatDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /** The serving clock: now() less the stretches this leader was not serving. */
  private served(): number {
    return this.now() - this.paused;
  }

  settings(): HeartbeatSettings {
    const spec = this.deps.host.store.list('cluster')[0]?.spec;
    return {
      periodMs: Number(spec?.heartbeatPeriodMs ?? 0) || DEFAULT_HEARTBEAT_PERIOD_MS,
      grace: Number(spec?.heartbeatGrace ?? 0) || DEFAULT_HEARTBEAT_GRACE,
      maxPerSecond: Number(spec?.maxHeartbeatsPerSecond ?? 0) || DEFAULT_MAX_HEARTBEATS_PER_SECOND,
    };
  }

  handlers(): Pick<Handlers<DispatcherService>, 'Heartbeat'> {
    return {
      Heartbeat: async (req, call) => {
        const caller = this.deps.guard(call, ['manager', 'worker']);
        if (!this.deps.host.isLeader()) return this.deps.forward(req, caller);
        return this.beat(caller.nodeId, req);
      },
    };
  }

  /** Leader only: record a heartbeat and mark the node ready if it was not. */
  async beat(nodeId: string, req: baton.internal.HeartbeatRequest.$Properties): Promise<baton.internal.HeartbeatResponse.$Properties> {
    const store = this.deps.host.store;
    const node = store.get('node', nodeId);
    if (!node) throw new BatonError('PERMISSION_DENIED', `node ${nodeId} is not part of the cluster (removed, or not yet recorded)`);
    const settings = this.settings();
    // Jittered, so that nodes which started (or reconnected) together do not stay in step.
    const periodMs = Math.round(scaledPeriodMs(settings, store.count('node')) * (1 + HEARTBEAT_JITTER * this.random()));
    const at = this.served();
    // A heartbeat does not end the wait for a new session: its time is still logged when it opens.
    const sessionEndedAt = this.liveness.get(nodeId)?.sessionEndedAt;
    this.liveness.set(nodeId, { due: at + silenceAllowedMs(settings, periodMs), lastBeat: { at, toldMs: periodMs }, shortened: false, sessionEndedAt });
    this.deps.onConnections?.(nodeId, new Map((req.serviceConnections ?? []).map((c) => [c.service ?? '', Number(c.total ?? 0)])));
    const addr = req.addr || node.status?.addr || '';
    if (node.status?.state !== baton.NodeState.NODE_READY || node.status?.addr !== addr || this.describesAnew(node, req.description)) {
      await this.setState(node, baton.NodeState.NODE_READY, '', addr, req.description ?? undefined);
    }
    return {
      periodMs,
      managers: this.deps.managers(),
      desiredRole: node.spec?.desiredRole ?? baton.NodeRole.WORKER,
    };
  }

  /**
   * Whether a heartbeat's description differs from the stored one. Nodes send theirs in every
   * heartbeat and it almost never changes: the normalized comparison (two protobuf round trips
   * and JSON encodings) runs only when the raw description differs from the one this node sent
   * last, or the stored node changed since; otherwise the answer is the last one, "no".
   */
  private describesAnew(node: Stored<'node'>, description: baton.NodeDescription.$Properties | null | undefined): boolean {
    if (!description) return false;
    const raw = JSON.stringify(description);
    const last = this.described.get(node.meta.id);
    if (last !== undefined && last.raw === raw && last.version === node.meta.version) return false;
    const normalized = (d: object): string => JSON.stringify(baton.NodeDescription.toObject(baton.NodeDescription.fromObject(d)));
    const differs = normalized(description) !== normalized(node.description ?? {});
    if (differs) this.described.delete(node.meta.id);
    else this.described.set(node.meta.id, { raw, version: node.meta.version });
    return differs;
  }

  /**
   * The node's session with this leader ended (not by the leader's own stepping down), and the
   * node has no other one open. Most often the node is gone: a killed process or a lost machine
   * resets its connections, and its session ends at once. A live node opens a new session
   * within a second or so (the node retries after 100 ms, moving through the managers), or
   * heartbeats. So from here the node must show life within the allowance of the shortest
   * period (grace x period: 3 s by default), not the long period it was told in a big cluster:
   * nodes lost together are then marked down in one check and one write, 3 s after the loss,
   * instead of one by one over their 5 s periods (a 1,000-node cluster's) plus the grace.
   */
  sessionEnded(nodeId: string): void {
    const settings = this.settings();
    const soon = this.served() + silenceAllowedMs(settings, settings.periodMs);
    const known = this.liveness.get(nodeId);
    if (known === undefined) this.liveness.set(nodeId, { due: soon, lastBeat: undefined, shortened: true, sessionEndedAt: this.served() });
    else {
      known.sessionEndedAt = this.served();
      if (soon < known.due) {
        known.due = soon;
        known.shortened = true;
      }
    }
  }

  /** A session opened: the node is alive now, as a heartbeat would say (its state is the heartbeat's to set). */
  sessionOpened(nodeId: string): void {
    const settings = this.settings();
    const allowed = this.served() + silenceAllowedMs(settings, Math.ceil(scaledPeriodMs(settings, this.deps.host.store.count('node')) * (1 + HEARTBEAT_JITTER)));
    const known = this.liveness.get(nodeId);
    if (known === undefined) return;
    if (known.sessionEndedAt !== undefined) {
      this.deps.logger.info({ node: nodeId, afterMs: this.served() - known.sessionEndedAt, shortened: known.shortened }, 'node opened a session again after its last one ended');
      known.sessionEndedAt = undefined;
    }
    if (known.due < allowed) {
      known.due = allowed;
      known.shortened = false;
    }
  }

  /** Leadership gained: everyone gets a fresh grace period, then silence counts. */
  start(): void {
    this.liveness.clear();
    this.paused = 0;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.liveness.clear();
    this.described.clear();
  }

  private schedule(): void {
    // Checked at half the shortest period, whatever the period told: a small cluster's dead
    // node is found within grace x period plus half a period.
    const interval = Math.max(50, this.settings().periodMs / 2);
    this.expectedAt = this.now() + interval;
    this.timer = setTimeout(() => {
      this.noteLateness();
      this.check().then(
        () => this.timer && this.schedule(),
        (err: unknown) => {
          this.deps.logger.warn({ err }, 'marking silent nodes down failed; will retry');
          if (this.timer) this.schedule();
        },
      );
    }, interval);
  }

  /**
   * The check timer fired later than asked: for that long this leader ran nothing, heartbeats
   * included (they queue in its sockets), so that long does not count as any node's silence.
   */
  private noteLateness(): void {
    const late = this.now() - this.expectedAt;
    if (late <= 0) return;
    this.paused += late;
    if (late >= 1000) this.deps.logger.info({ lateMs: late }, 'the leader was not serving: the nodes\' silence in that time does not count');
  }

  /**
   * Marks down every Ready node silent past what it was allowed (one proposal). A node this
   * leader has not heard from yet (just elected, or the node just joined) gets what it would
   * be allowed at the longest period told at this size, counted from now.
   */
  async check(): Promise<void> {
    if (!this.deps.host.isLeader()) return;
    const settings = this.settings();
    const now = this.served();
    const fresh = now + silenceAllowedMs(settings, Math.ceil(scaledPeriodMs(settings, this.deps.host.store.count('node')) * (1 + HEARTBEAT_JITTER)));
    const silent: Stored<'node'>[] = [];
    for (const node of this.deps.host.store.scan('node')) {
      let known = this.liveness.get(node.meta.id);
      if (known === undefined) this.liveness.set(node.meta.id, (known = { due: fresh, lastBeat: undefined, shortened: false }));
      if (now > known.due && node.status?.state === baton.NodeState.NODE_READY) {
        // Which rule found it, and how long since its last heartbeat against the period it was
        // told: what tells a lost node from a live one found by a rule it could not meet.
        const last = known.lastBeat;
        this.deps.logger.info(
          {
            node: node.meta.id,
            lateMs: now - known.due,
            rule: known.shortened ? 'session ended' : 'silence',
            ...(last ? { sinceHeartbeatMs: now - last.at, toldMs: last.toldMs } : {}),
            ...(known.sessionEndedAt !== undefined ? { sinceSessionEndMs: now - known.sessionEndedAt } : {}),
          },
          'node missed its heartbeats: marking it down',
        );
        silent.push(node);
      }
    }
    // One proposal for every node found silent: a hundred nodes lost at once (a rack, a
    // partition) are down after one Raft round, not a hundred in a row, and the orchestrators
    // see them in one batch.
    if (silent.length > 0) await this.propose(silent.map((node) => this.withState(node, baton.NodeState.NODE_DOWN, 'heartbeat failure', node.status?.addr ?? '')));
  }

  private async setState(
    node: Stored<'node'>,
    state: baton.NodeState,
    message: string,
    addr: string,
    description?: baton.NodeDescription.$Properties,
  ): Promise<void> {
    await this.propose([this.withState(node, state, message, addr, description)]);
  }

  private withState(node: Stored<'node'>, state: baton.NodeState, message: string, addr: string, description?: baton.NodeDescription.$Properties): StoreActionT {
    return updateAction('node', {
      ...node,
      meta: { ...node.meta, updatedAt: this.now() },
      status: { state, message, addr, lastHeartbeat: this.now() },
      ...(description ? { description } : {}),
    });
  }

  private async propose(actions: StoreActionT[]): Promise<void> {
    try {
      await this.deps.host.propose(actions);
    } catch (err) {
      // A concurrent `node update` won the version race; the next heartbeat or check retries.
      if (!(err instanceof BatonError && err.code === 'VERSION_CONFLICT')) throw err;
    }
  }
}
