// A manager: the replicated store driven by Raft, and the loops that run only while this
// manager leads (started on winning an election, stopped on losing it, as in SwarmKit).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ConfChangeType, RaftError, RaftNode, RAFT_DEFAULTS, type SoftState, type StreamAuthenticator } from '../raft/index.js';
import { ClusterStore, encodeBatch, StoreError, type ApplyResult, type StoreActionT, type StoreObjectT } from './store/index.js';
import { BatonError } from '../rpc/errors.js';
import { EventHistory } from './events/history.js';
import { nextBatchId } from './request-scope.js';
import { randomUUID } from 'node:crypto';
import type { LeaderLoop } from './reconcile/host.js';
export type { LeaderLoop } from './reconcile/host.js';

export interface ManagerOptions {
  nodeId: string;
  raftDir: string;
  /** The node's one gRPC server: the Raft stream is served there. */
  server: grpc.Server;
  channelCredentials: grpc.ChannelCredentials;
  /** For the Raft channels to the other managers (the TLS name their certificates carry). */
  channelOptions?: grpc.ChannelOptions;
  authenticate: StreamAuthenticator;
  /** Raft peers known at start (id → address); the store's manager nodes add the rest. */
  peers: Record<string, string>;
  /** Bootstrap a new single-manager cluster (init); false to join or resume. */
  bootstrap: boolean;
  logger: Logger;
  snapshotEntries?: number;
  tickMs?: number;
  /** Ticks without a word from the leader before a follower stands (randomized up to twice that). */
  electionTicks?: number;
  /** The Raft log can no longer be written: the manager must not go on (see RaftNodeOptions). */
  onFatal?: (err: Error) => void;
}

/** applied; rejected by the store (a conflict, a broken rule); failed in Raft (no leader, timeout). */
export type ProposalOutcome = 'applied' | 'rejected' | 'failed';

export class Manager {
  readonly store = new ClusterStore();
  /** Subscribed before Raft replays the log, so a restarted manager holds the changes it replays. */
  readonly events = new EventHistory(this.store);
  private raft!: RaftNode<ApplyResult>;
  private readonly loops: LeaderLoop[] = [];
  private leading = false;
  /**
   * This leader's first read barrier of its term passed: its store holds every write committed
   * before its term, and each one of its term is applied here before it is acknowledged to
   * anyone (a follower learns of a commit from this leader after this leader applied it).
   */
  private caughtUp = false;
  private requestCounter = 0;
  /** Makes this run's own batch ids unlike those of its earlier runs (the counter restarts). */
  private readonly runId = randomUUID().slice(0, 8);

  private constructor(private readonly opts: ManagerOptions) {}

  /** The Raft settings this manager runs with (`baton info` shows them, as Docker's Raft section). */
  raftSettings(): { tickMs: number; heartbeatTick: number; electionTick: number; snapshotInterval: number } {
    return {
      tickMs: this.opts.tickMs || RAFT_DEFAULTS.tickMs,
      heartbeatTick: RAFT_DEFAULTS.heartbeatTicks,
      electionTick: this.opts.electionTicks || RAFT_DEFAULTS.electionTicks,
      snapshotInterval: this.opts.snapshotEntries || RAFT_DEFAULTS.snapshotEntries,
    };
  }

  static async start(opts: ManagerOptions): Promise<Manager> {
    const m = new Manager(opts);
    m.raft = await RaftNode.start<ApplyResult>({
      id: opts.nodeId,
      dataDir: opts.raftDir,
      listen: '',
      server: opts.server,
      authenticate: opts.authenticate,
      channelCredentials: opts.channelCredentials,
      ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
      peers: opts.peers,
      bootstrap: opts.bootstrap ? [opts.nodeId] : [],
      stateMachine: m.store,
      logger: opts.logger.child({ component: 'raft' }),
      onRoleChange: (s) => m.onRoleChange(s),
      ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
      ...(opts.snapshotEntries
        ? // Keep a tenth of an interval behind each snapshot, as a lagging follower's margin.
          { snapshotEntries: opts.snapshotEntries, keepEntriesAfterCompaction: Math.min(1000, Math.floor(opts.snapshotEntries / 10)) }
        : {}),
      ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
      ...(opts.electionTicks ? { electionTicks: opts.electionTicks } : {}),
    });
    if (opts.bootstrap) {
      // A brand-new single-manager cluster has nobody to wait for: lead at once (init < 1 s).
      for (let i = 0; i < 100 && !m.raft.status().conf.voters.includes(opts.nodeId); i++) await new Promise((r) => setTimeout(r, 5));
      m.raft.campaign();
    }
    // Peer addresses live in the store (manager nodes); keep the transport in step with it.
    for (const node of m.store.list('node')) m.learnPeer(node);
    m.store.onChange((event) => {
      if (event.action === 'reset') for (const node of m.store.list('node')) m.learnPeer(node);
      else if (event.kind === 'node' && event.action !== 'delete') m.learnPeer(event.object);
    });
    return m;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  isLeader(): boolean {
    return this.raft.status().role === 'leader';
  }

  /**
   * Leader, with a store that holds every acknowledged write (see caughtUp). Not a linearizable
   * read point by itself: a deposed leader says so until it hears of the new term. A write that
   * commits in this leader's term, after a check made on its store, is one (see caapi's Join).
   */
  leaderCaughtUp(): boolean {
    return this.caughtUp && this.isLeader();
  }

  leaderId(): string {
    return this.raft.status().leader;
  }

  raftStatus(): ReturnType<RaftNode['status']> {
    return this.raft.status();
  }

  /** Register a loop to run while this manager leads. */
  addLeaderLoop(loop: LeaderLoop): void {
    this.loops.push(loop);
    if (this.leading && this.isLeader()) loop.start();
  }

  /** Apply a batch of store actions through Raft; resolves with the objects as stored. */
  async propose(actions: StoreActionT[]): Promise<StoreObjectT[]> {
    // A client call's batches carry its request id (a retry of the call applies once); the
    // leader's own loops get ids of their own.
    const data = encodeBatch(actions, nextBatchId() ?? `${this.opts.nodeId}-${this.runId}-${++this.requestCounter}`);
    const started = performance.now();
    let result: ApplyResult;
    try {
      result = await this.raft.propose(data);
    } catch (err) {
      this.onProposal?.((performance.now() - started) / 1000, 'failed');
      throw raftToBaton(err);
    }
    this.onProposal?.((performance.now() - started) / 1000, result.ok ? 'applied' : 'rejected');
    if (!result.ok) throw storeToBaton(result.error);
    return result.objects;
  }

  /** Told of every proposal's duration and outcome (the metrics' histogram). */
  onProposal: ((seconds: number, outcome: ProposalOutcome) => void) | undefined;

  /** Raft's counters (snapshots taken and installed, transport), for metrics. */
  raftStats(): ReturnType<RaftNode<ApplyResult>['stats']> {
    return this.raft.stats();
  }

  /** Linearizable read point: afterwards the local store holds every acknowledged write. */
  async readBarrier(): Promise<void> {
    try {
      await this.raft.readBarrier();
    } catch (err) {
      throw raftToBaton(err);
    }
  }

  async addVoter(nodeId: string, address: string): Promise<void> {
    try {
      await this.raft.changeMembership(ConfChangeType.ADD_VOTER, nodeId, address);
    } catch (err) {
      throw raftToBaton(err);
    }
  }

  async removeMember(nodeId: string): Promise<void> {
    try {
      await this.raft.changeMembership(ConfChangeType.REMOVE_NODE, nodeId);
    } catch (err) {
      throw raftToBaton(err);
    }
  }

  /** A renewed certificate: use it for Raft connections from now on. */
  setChannelCredentials(credentials: grpc.ChannelCredentials): void {
    this.raft.setChannelCredentials(credentials);
  }

  /** Hand leadership to `to` and wait (bounded) until someone else leads. */
  async transferLeadership(to: string, timeoutMs = 5_000): Promise<void> {
    if (!this.raft.transferLeadership(to)) throw new BatonError('FAILED_PRECONDITION', `cannot transfer leadership to ${to}`);
    const deadline = Date.now() + timeoutMs;
    while (this.isLeader() || !this.leaderId()) {
      if (Date.now() > deadline) throw new BatonError('UNAVAILABLE', 'leadership transfer did not finish in time; retry');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.setLeading(false);
    await this.raft.stop();
  }

  private onRoleChange(s: SoftState): void {
    this.opts.logger.info({ role: s.role, leader: s.leader }, 'raft role changed');
    this.setLeading(s.role === 'leader');
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.caughtUp = false;
    if (!leading) {
      for (const loop of this.loops) loop.stop();
      return;
    }
    // A new leader may not have applied everything committed before its term: the read barrier
    // waits for that, so the loops never act on a stale store.
    const term = this.raft.status().term;
    const startLoops = (): void => {
      this.readBarrier().then(
        () => {
          if (!this.leading || this.raft.status().term !== term) return;
          this.caughtUp = true;
          for (const loop of this.loops) loop.start();
        },
        (err: unknown) => {
          this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'read barrier before leader loops failed; retrying');
          if (this.leading && this.raft.status().term === term) setTimeout(startLoops, 500);
        },
      );
    };
    startLoops();
  }


  private learnPeer(object: StoreObjectT['object']): void {
    const node = object as { meta?: { id?: string | null } | null; managerStatus?: { addr?: string | null } | null };
    const id = node.meta?.id;
    const addr = node.managerStatus?.addr;
    if (id && addr) this.raft.setPeerAddress(id, addr);
  }
}

export function raftToBaton(err: unknown): BatonError {
  if (err instanceof BatonError) return err;
  if (err instanceof RaftError) {
    switch (err.code) {
      case 'NOT_LEADER':
      case 'STOPPED':
      case 'PROPOSAL_DROPPED':
      case 'LEADERSHIP_LOST':
        return new BatonError('UNAVAILABLE', `${err.message}; retry`);
      case 'TIMEOUT':
        return new BatonError('DEADLINE_EXCEEDED', err.message);
      case 'CONF_CHANGE_PENDING':
        return new BatonError('FAILED_PRECONDITION', 'another membership change is in progress; retry');
      case 'INVALID':
        return new BatonError('INVALID_ARGUMENT', err.message);
    }
  }
  return new BatonError('INTERNAL', err instanceof Error ? err.message : String(err));
}

export function storeToBaton(err: StoreError): BatonError {
  switch (err.code) {
    case 'NOT_FOUND':
      return new BatonError('NOT_FOUND', err.message);
    case 'ALREADY_EXISTS':
      return new BatonError('ALREADY_EXISTS', err.message);
    case 'VERSION_CONFLICT':
      return new BatonError('VERSION_CONFLICT', err.message);
    case 'INVALID':
      return new BatonError('INVALID_ARGUMENT', err.message);
  }
}
