// Node liveness: every node heartbeats the leader each period; the leader keeps the
// times in memory and writes to the store only when a node's state changes (ready <-> down), so
// a heartbeat costs no Raft write. A node silent for grace x period is marked down.
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
  /** Leader only: each heartbeat's connection totals per service (the autoscaler's input). */
  onConnections?: (nodeId: string, totals: Map<string, number>) => void;
}

export const DEFAULT_HEARTBEAT_PERIOD_MS = 1000;
export const DEFAULT_HEARTBEAT_GRACE = 3;

export class Heartbeats {
  private readonly lastSeen = new Map<string, number>();
  /** Per node: the raw description it last sent that matched the stored node at `version`. */
  private readonly described = new Map<string, { raw: string; version: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: HeartbeatDeps) {
    this.now = deps.now ?? Date.now;
  }

  period(): { periodMs: number; grace: number } {
    const spec = this.deps.host.store.list('cluster')[0]?.spec;
    return {
      periodMs: Number(spec?.heartbeatPeriodMs ?? 0) || DEFAULT_HEARTBEAT_PERIOD_MS,
      grace: Number(spec?.heartbeatGrace ?? 0) || DEFAULT_HEARTBEAT_GRACE,
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
    this.lastSeen.set(nodeId, this.now());
    this.deps.onConnections?.(nodeId, new Map((req.serviceConnections ?? []).map((c) => [c.service ?? '', Number(c.total ?? 0)])));
    const addr = req.addr || node.status?.addr || '';
    if (node.status?.state !== baton.NodeState.NODE_READY || node.status?.addr !== addr || this.describesAnew(node, req.description)) {
      await this.setState(node, baton.NodeState.NODE_READY, '', addr, req.description ?? undefined);
    }
    return {
      periodMs: this.period().periodMs,
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

  /** Leadership gained: everyone gets a fresh grace period, then silence counts. */
  start(): void {
    const t = this.now();
    for (const node of this.deps.host.store.list('node')) this.lastSeen.set(node.meta.id, t);
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSeen.clear();
    this.described.clear();
  }

  private schedule(): void {
    const { periodMs } = this.period();
    this.timer = setTimeout(() => {
      this.checkSilent().then(
        () => this.timer && this.schedule(),
        (err: unknown) => {
          this.deps.logger.warn({ err }, 'marking silent nodes down failed; will retry');
          if (this.timer) this.schedule();
        },
      );
    }, Math.max(50, periodMs / 2));
  }

  private async checkSilent(): Promise<void> {
    if (!this.deps.host.isLeader()) return;
    const { periodMs, grace } = this.period();
    const deadline = this.now() - periodMs * grace;
    const silent: Stored<'node'>[] = [];
    for (const node of this.deps.host.store.list('node')) {
      const seen = this.lastSeen.get(node.meta.id) ?? this.now();
      if (!this.lastSeen.has(node.meta.id)) this.lastSeen.set(node.meta.id, seen);
      if (seen < deadline && node.status?.state === baton.NodeState.NODE_READY) {
        this.deps.logger.info({ node: node.meta.id, silentMs: this.now() - seen }, 'node missed its heartbeats: marking it down');
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
