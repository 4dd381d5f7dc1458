// The driver: wires the pure core to LevelDB storage, the gRPC transport and a real clock.
// One loop turns Readies into effects in the order Raft requires: a leader's appends, persist,
// the other messages, apply, advance.
import { AsyncResource } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { ChannelCredentials, ChannelOptions, ServerCredentials } from '@grpc/grpc-js';
import { RawNode, bootstrapState, type RaftConfig, type SnapshotChunkCounters, type Status } from './core/raw-node.js';
import { decodeConfChange } from './core/membership.js';
import { ConfChangeType, EntryType, NO_NODE, type ConfChange, type Entry, type HardState, type Message, type Ready, type Snapshot, type SnapshotMeta, type SoftState } from './core/types.js';
import { RaftStorage } from './storage/index.js';
import { GrpcTransport, type StreamAuthenticator } from './transport/index.js';
import type { Server } from '@grpc/grpc-js';
import { RaftError } from './errors.js';
import { PendingProposals } from './pending.js';
import { persistPlan } from './core/persist-plan.js';

/** The replicated application. apply() must be deterministic; its result goes to the proposer. */
export interface StateMachine<R = unknown> {
  apply(entry: Entry): R;
  snapshot(): Uint8Array;
  /**
   * Optional, for a large state: capture the state as it is at the call, synchronously and
   * cheaply (say, references to immutable records), and encode it afterwards, yielding to the
   * event loop as it goes; resolve with the bytes snapshot() would have returned at the call.
   * The node then keeps replicating while a snapshot is encoded, instead of stopping for the
   * whole encoding (tens to hundreds of ms for tens of MB, on every member at the same index).
   */
  snapshotLater?(): Promise<Uint8Array>;
  restore(data: Uint8Array): void;
}

export interface RaftNodeOptions<R> {
  id: string;
  dataDir: string;
  /** Where peers reach this node (host:port, port 0 for an ephemeral one). */
  listen: string;
  /** Peers known at start: id → raft address. Later members arrive through conf changes. */
  peers: Record<string, string>;
  /** Initial voters of a brand-new cluster (ignored when dataDir already holds state; empty to join one). */
  bootstrap: string[];
  stateMachine: StateMachine<R>;
  logger: Logger;
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Take a snapshot and compact the log every this many applied entries. */
  snapshotEntries?: number;
  /**
   * Also take one once the entries applied since the last weigh this many bytes, or the last
   * snapshot's size if that is more (see maybeSnapshot).
   */
  snapshotBytes?: number;
  /** Entries kept in memory behind a snapshot, so a slightly lagging follower avoids a snapshot transfer. */
  keepEntriesAfterCompaction?: number;
  proposalTimeoutMs?: number;
  serverCredentials?: ServerCredentials;
  channelCredentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
  /** Serve the Raft stream on this existing server (the node's one port) instead of listening itself. */
  server?: Server;
  /** Proves who opened an inbound Raft stream (mTLS); see raft/transport. */
  authenticate?: StreamAuthenticator;
  /** Called after a Ready that changed this node's role or its view of the leader. */
  onRoleChange?: (role: SoftState) => void;
  /** The node stopped because it could not keep its promises (a failed fsync): fail-stop. */
  onFatal?: (err: Error) => void;
  random?: () => number;
}

export const RAFT_DEFAULTS = {
  tickMs: 100,
  electionTicks: 5,
  heartbeatTicks: 1,
  snapshotEntries: 10_000,
  snapshotBytes: 16 * 1024 * 1024,
  proposalTimeoutMs: 10_000,
  maxInflightMsgs: 256,
  maxEntriesPerMsg: 512,
  maxBytesPerMsg: 1024 * 1024,
  // A snapshot streams as a window of chunks (each answer slides it): 4 chunks of 4 MiB in
  // flight keep the connection busy across a round trip, well below the transport's 64 MiB
  // message limit, and bound what a transfer holds in the send queue.
  snapshotChunkSize: 4 * 1024 * 1024,
  snapshotChunksInFlight: 4,
  keepEntriesAfterCompaction: 1_000,
} as const;

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class RaftNode<R = unknown> {
  private readonly core: RawNode;
  private readonly proposals = new PendingProposals<R>();
  private readonly reads = new Map<string, Waiter<void>>();
  /** Reads confirmed by the core, served once apply catches up with their index. */
  private readonly readyReads: { index: number; key: string }[] = [];
  private readCounter = 0;
  private processing = false;
  /**
   * The loop runs in the async context the node started in, not in that of whichever caller
   * scheduled it (a proposer's request context must not leak into what the loop's appliers do).
   */
  private readonly loopScope = new AsyncResource('RaftLoop');
  private again = false;
  private stopped = false;
  private appliedSinceSnapshot = 0;
  /** Bytes of the entries applied since the last snapshot, and that snapshot's own size. */
  private bytesSinceSnapshot = 0;
  private lastSnapshotBytes = 0;
  private ticker: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private readonly counters = { snapshotsInstalled: 0, snapshotsTaken: 0 };
  private snapshotting: Promise<void> | undefined;
  /** The hard state on disk, and the newest one the core handed out (see persistPlan). */
  private durableHardState: HardState;
  private latestHardState: HardState;
  /** The leader that pending reads were asked of. */
  private readLeader: string = NO_NODE;

  private constructor(
    private readonly opts: RaftNodeOptions<R>,
    private readonly storage: RaftStorage,
    private readonly transport: GrpcTransport,
    core: RawNode,
    persisted: HardState,
    readonly raftPort: number,
  ) {
    this.core = core;
    this.durableHardState = persisted;
    this.latestHardState = persisted;
  }

  static async start<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const storage = await RaftStorage.open(opts.dataDir);
    let state = storage.load();
    const fresh = state.hardState.term === 0 && state.entries.length === 0 && state.snapshot.meta.index === 0;
    if (fresh && opts.bootstrap.length > 0) {
      state = bootstrapState(opts.bootstrap);
      await storage.save({ hardState: state.hardState, entries: state.entries });
    }
    if (state.snapshot.meta.index > 0) opts.stateMachine.restore(state.snapshot.data);
    const cfg: RaftConfig = {
      id: opts.id,
      electionTick: opts.electionTicks ?? RAFT_DEFAULTS.electionTicks,
      heartbeatTick: opts.heartbeatTicks ?? RAFT_DEFAULTS.heartbeatTicks,
      maxInflightMsgs: RAFT_DEFAULTS.maxInflightMsgs,
      maxEntriesPerMsg: RAFT_DEFAULTS.maxEntriesPerMsg,
      maxBytesPerMsg: RAFT_DEFAULTS.maxBytesPerMsg,
      snapshotChunkSize: RAFT_DEFAULTS.snapshotChunkSize,
      snapshotChunksInFlight: RAFT_DEFAULTS.snapshotChunksInFlight,
      keepEntriesAfterCompaction: opts.keepEntriesAfterCompaction ?? RAFT_DEFAULTS.keepEntriesAfterCompaction,
      preVote: true,
      checkQuorum: true,
      random: opts.random ?? Math.random,
    };
    const core = new RawNode(cfg, state);
    let node: RaftNode<R> | undefined;
    const transport = new GrpcTransport({
      id: opts.id,
      listen: opts.listen,
      logger: opts.logger,
      onMessages: (_from: string, msgs: Message[]) => node?.receive(msgs),
      // A SIGKILLed leader's connections reset at once: campaign now rather than after a
      // whole election timeout of silence (the core decides whether it was the leader).
      onPeerLost: (peer: string) => node?.peerLost(peer),
      ...(opts.serverCredentials ? { serverCredentials: opts.serverCredentials } : {}),
      ...(opts.channelCredentials ? { channelCredentials: opts.channelCredentials } : {}),
      ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
      ...(opts.server ? { server: opts.server } : {}),
      ...(opts.authenticate ? { authenticate: opts.authenticate } : {}),
    });
    let port: number;
    try {
      port = await transport.start();
    } catch (err) {
      await storage.close();
      throw err;
    }
    for (const [id, addr] of Object.entries(opts.peers)) if (id !== opts.id) transport.addPeer(id, addr);
    node = new RaftNode(opts, storage, transport, core, state.hardState, port);
    node.lastSnapshotBytes = state.snapshot.data.length;
    node.ticker = setInterval(() => node?.onTick(), opts.tickMs ?? RAFT_DEFAULTS.tickMs);
    node.schedule();
    return node;
  }

  /** Replicate `data`; resolves with the state machine's result once applied here. */
  propose(data: Uint8Array): Promise<R> {
    this.assertRunning();
    return this.track(this.core.propose(data));
  }

  /** Resolves once every write acknowledged before this call is applied on this node. */
  readBarrier(): Promise<void> {
    this.assertRunning();
    const key = `${this.opts.id}:${++this.readCounter}`;
    if (!this.core.readIndex(new TextEncoder().encode(key))) {
      return Promise.reject(new RaftError('NOT_LEADER', 'no leader known: cannot serve a linearizable read', ''));
    }
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(key);
        reject(new RaftError('TIMEOUT', 'read index not confirmed in time', this.core.status().leader));
      }, this.opts.proposalTimeoutMs ?? RAFT_DEFAULTS.proposalTimeoutMs);
      this.reads.set(key, { resolve, reject, timer });
    });
  }

  /** Membership change; `address` is where the node's raft transport listens. */
  changeMembership(type: ConfChangeType, nodeId: string, address = ''): Promise<R> {
    this.assertRunning();
    const cc: ConfChange = { type, nodeId, context: new TextEncoder().encode(address) };
    return this.track(this.core.proposeConfChange(cc));
  }

  /** Where to reach a peer; membership itself only changes through the log. */
  setPeerAddress(id: string, address: string): void {
    if (id !== this.opts.id && address) this.transport.addPeer(id, address);
  }

  /** New credentials for connections to peers (after a certificate renewal). */
  setChannelCredentials(credentials: ChannelCredentials): void {
    this.transport.setChannelCredentials(credentials);
  }

  /** Campaign now instead of waiting out an election timeout (a node that knows it is alone). */
  /** The transport saw `peer`'s stream end; if it was the leader, the election starts early. */
  peerLost(peer: string): void {
    if (this.stopped) return;
    this.core.leaderLost(peer);
    this.schedule();
  }

  campaign(): void {
    this.core.campaign();
    this.schedule();
  }

  transferLeadership(to: string): boolean {
    const ok = this.core.transferLeadership(to);
    this.schedule();
    return ok;
  }

  /** A stopped node leads nothing and knows no leader, whatever its frozen core last said. */
  status(): Status {
    const status = this.core.status();
    return this.stopped ? { ...status, role: 'follower', leader: NO_NODE } : status;
  }

  stats(): { snapshotsInstalled: number; snapshotsTaken: number; snapshotChunks: SnapshotChunkCounters; transport: ReturnType<GrpcTransport['stats']> } {
    return { ...this.counters, snapshotChunks: { ...this.core.snapshotChunks }, transport: this.transport.stats() };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    const stopped = new RaftError('STOPPED', 'raft node stopped');
    this.proposals.failAll(stopped);
    for (const w of this.reads.values()) settle(w, stopped);
    this.reads.clear();
    while (this.processing) await new Promise((r) => setTimeout(r, 5));
    await this.snapshotting;
    // A clean stop leaves the newest commit index on disk (persistPlan skips commit-only
    // writes), so that a restart applies at once everything this node knew committed.
    if (!this.failure && this.latestHardState.commit !== this.durableHardState.commit) {
      await this.storage.save({ hardState: this.latestHardState, entries: [] }).catch(() => undefined);
    }
    await this.transport.stop();
    await this.storage.close();
  }

  // ---- loop ---------------------------------------------------------------------------

  private receive(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) this.core.step(m);
    this.schedule();
  }

  private onTick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.processing) {
      this.again = true;
      return;
    }
    this.processing = true;
    setImmediate(() =>
      this.loopScope.runInAsyncScope(() => {
        this.run().catch((err: unknown) => this.fail(err));
      }),
    );
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped && this.core.hasReady()) await this.handle(this.core.ready());
      } while (this.again && !this.stopped);
    } finally {
      this.processing = false;
    }
  }

  private async handle(rd: Ready): Promise<void> {
    // A leader's appends go out first, so followers write them while this node does (thesis
    // §10.2.1); the core counts this node's own copy only after advance() below. When this
    // Ready writes entries, they are handed to the streams now, not on the next turn: that turn
    // runs this node's own write's setup. Otherwise (a commit announced, heartbeats) they keep
    // the transport's batching: at 64 clients the Readies that write nothing follow each other
    // within one turn, and writing each one's messages at once cost 0.62x -> 0.38x etcd's writes/s.
    if (rd.earlyMessages.length > 0) this.transport.send(rd.earlyMessages, rd.entries.length > 0);
    const saving = this.persist(rd);
    // Committed entries are already on disk on a quorum, whatever this Ready writes: apply them
    // (and answer their proposers) while the write is under way, as etcd does. A snapshot from
    // the leader is installed only after it is durable, and the entries after it with it.
    const applyEarly = !rd.snapshot;
    if (applyEarly) {
      // Whatever apply throws, the write's own failure must not go unobserved.
      saving.catch(() => undefined);
      for (const e of rd.committedEntries) this.apply(e);
    }
    await saving;
    // Guarded: the fields object would otherwise be built on every Ready for nothing.
    if (this.opts.logger.isLevelEnabled('trace')) {
      this.opts.logger.trace(
        { entries: rd.entries.length, committed: rd.committedEntries.length, early: rd.earlyMessages.length, messages: rd.messages.length },
        'ready',
      );
    }
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot) {
      const restore0 = performance.now();
      this.opts.stateMachine.restore(rd.snapshot.data);
      // How long the state machine took, apart from the transfer and the write before it.
      const restoreMs = Math.round(performance.now() - restore0);
      this.appliedSinceSnapshot = 0;
      this.bytesSinceSnapshot = 0;
      this.lastSnapshotBytes = rd.snapshot.data.length;
      this.counters.snapshotsInstalled++;
      this.opts.logger.info({ index: rd.snapshot.meta.index, bytes: rd.snapshot.data.length, restoreMs }, 'installed a snapshot from the leader');
    }
    if (!applyEarly) for (const e of rd.committedEntries) this.apply(e);
    if (rd.softState) {
      this.opts.logger.info({ term: this.core.status().term, role: rd.softState.role, leader: rd.softState.leader }, 'raft role');
    }
    for (const r of rd.readStates) this.readyReads.push({ index: r.index, key: new TextDecoder().decode(r.context) });
    this.core.advance();
    if (rd.softState) {
      // After this Ready's entries were applied: a proposal that committed in it is answered.
      this.proposals.leadershipChanged(rd.softState, this.core.status().term);
      this.failReadsOnLeaderChange(rd.softState);
      this.opts.onRoleChange?.(rd.softState);
    }
    this.serveReads();
    this.maybeSnapshot();
  }

  /** This Ready's durable part, as persistPlan says: nothing for a Ready that only moves the commit index. */
  private async persist(rd: Ready): Promise<void> {
    if (rd.hardState) this.latestHardState = rd.hardState;
    const plan = persistPlan(rd, this.latestHardState, this.durableHardState);
    if (!plan) return;
    await this.storage.save({
      ...(plan.hardState ? { hardState: plan.hardState } : {}),
      entries: rd.entries,
      ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
    });
    if (plan.hardState) this.durableHardState = plan.hardState;
  }

  private apply(e: Entry): void {
    let result: R | undefined;
    if (e.type === EntryType.ENTRY_CONF_CHANGE) this.applyConfChange(decodeConfChange(e.data));
    else if (e.data.length > 0) result = this.opts.stateMachine.apply(e);
    this.appliedSinceSnapshot++;
    this.bytesSinceSnapshot += e.data.length;
    this.proposals.applied(e, result as R);
  }

  /**
   * A read waits for a read index from the leader this node knew when it asked; when that
   * leader is gone the request is lost with it. Tell the callers now (retryable) rather than at
   * their deadline.
   */
  private failReadsOnLeaderChange(state: SoftState): void {
    if (state.leader === this.readLeader) return;
    this.readLeader = state.leader;
    if (this.reads.size === 0) return;
    const lost = new RaftError('NOT_LEADER', 'the leader changed before the read was confirmed; retry', state.leader);
    for (const w of this.reads.values()) settle(w, lost);
    this.reads.clear();
    this.readyReads.length = 0;
  }

  private applyConfChange(cc: ConfChange): void {
    if (cc.nodeId === this.opts.id) return;
    if (cc.type === ConfChangeType.REMOVE_NODE) {
      this.transport.removePeer(cc.nodeId);
      return;
    }
    const address = new TextDecoder().decode(cc.context);
    if (address) this.transport.addPeer(cc.nodeId, address);
  }

  private serveReads(): void {
    // status() builds arrays and maps: not worth it on every Ready when no read waits.
    if (this.readyReads.length === 0) return;
    const applied = this.core.status().applied;
    for (let i = this.readyReads.length - 1; i >= 0; i--) {
      const r = this.readyReads[i]!;
      if (r.index > applied) continue;
      this.readyReads.splice(i, 1);
      const w = this.reads.get(r.key);
      if (!w) continue;
      this.reads.delete(r.key);
      settle(w);
    }
  }

  /**
   * Every snapshotEntries applied entries, or once the entries applied since the last snapshot
   * weigh snapshotBytes or that snapshot's size, whichever is more: snapshot the state machine
   * at this exact applied index, compact the log and persist the snapshot in the background, so
   * the loop keeps replicating while the file is written. One at a time. A state machine with
   * snapshotLater() captures its state here and encodes it while the loop goes on; the log is
   * compacted (at the index of the capture) once the bytes are ready, unless a newer snapshot
   * got there first.
   *
   * Why bytes as well: a state machine whose writes are batched (the manager's store commits
   * every status report that arrives during a write in one entry) makes few, large entries, and
   * 100,000 tasks took ~3,100 entries (~87 MB): the count alone never came, and a manager that
   * joined replayed the whole log from index 1. Why the last snapshot's size: once the log since
   * the last snapshot weighs as much as the state, a new snapshot is what a joining follower
   * should get (see the leader's choice in raft/core), and taking one costs about what writing
   * those entries did: the snapshots' cost stays proportional to the writes.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting) return;
    const byCount = this.appliedSinceSnapshot >= (this.opts.snapshotEntries ?? RAFT_DEFAULTS.snapshotEntries);
    const byBytes = this.bytesSinceSnapshot >= Math.max(this.opts.snapshotBytes ?? RAFT_DEFAULTS.snapshotBytes, this.lastSnapshotBytes);
    if (!byCount && !byBytes) return;
    const { applied, firstIndex } = this.core.status();
    // A leader's snapshot stepped in while this Ready was persisted can have moved the log past
    // what was just applied; the next Ready applies it and a later pass snapshots.
    if (applied < firstIndex - 1) return;
    this.appliedSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    const sm = this.opts.stateMachine;
    const taken = sm.snapshotLater
      ? this.encodeThenCompact(this.core.snapshotMeta(applied), sm.snapshotLater())
      : this.saveSnapshot(this.core.compact(applied, sm.snapshot())).then(() => true);
    this.snapshotting = taken.then(
      (saved) => {
        if (saved) this.counters.snapshotsTaken++;
        this.snapshotting = undefined;
      },
      (err: unknown) => this.fail(err),
    );
  }

  /** Resolves false when the snapshot was not kept (the node stopped, or a newer snapshot won). */
  private async encodeThenCompact(meta: SnapshotMeta, encoding: Promise<Uint8Array>): Promise<boolean> {
    const data = await encoding;
    if (this.stopped) return false;
    const snapshot = this.core.compactWith({ meta, data });
    if (!snapshot) return false;
    await this.saveSnapshot(snapshot);
    return true;
  }

  private saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.lastSnapshotBytes = snapshot.data.length;
    return this.storage.saveSnapshot(snapshot);
  }

  private track(result: ReturnType<RawNode['propose']>): Promise<R> {
    if (!result.ok) {
      const code = result.reason === 'conf-change-pending' ? 'CONF_CHANGE_PENDING' : result.reason === 'invalid' ? 'INVALID' : 'NOT_LEADER';
      return Promise.reject(new RaftError(code, `proposal refused: ${result.reason}`, result.leader));
    }
    this.schedule();
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.remove(result.index);
        reject(new RaftError('TIMEOUT', `proposal at index ${result.index} not applied in time; it may still commit`, this.core.status().leader));
      }, this.opts.proposalTimeoutMs ?? RAFT_DEFAULTS.proposalTimeoutMs);
      this.proposals.add(result.index, result.term, { resolve, reject, cancel: () => clearTimeout(timer) });
    });
  }

  private assertRunning(): void {
    if (this.failure) throw this.failure;
    if (this.stopped) throw new RaftError('STOPPED', 'raft node stopped');
  }

  /** A persist failure leaves the node unable to keep its promises: stop taking work. */
  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.opts.logger.error({ err: this.failure }, 'raft loop failed; node stopping');
    // Whoever acts on leadership must stop now: this node will not commit or apply anything more.
    this.opts.onRoleChange?.({ role: 'follower', leader: NO_NODE });
    this.opts.onFatal?.(this.failure);
    void this.stop();
  }
}

function settle<T>(w: Waiter<T>, err?: Error, value?: T): void {
  clearTimeout(w.timer);
  if (err) w.reject(err);
  else w.resolve(value as T);
}
