// The pure Raft core (etcd-io/raft's shape): driven by tick/step/propose, it never touches a
// clock, a socket or a disk. Everything the outside world must do comes out of ready().
import { RaftLog } from './log.js';
import { Membership, bootstrapState, decodeConfChange, encodeConfChange } from './membership.js';
import { Progress } from './progress.js';
import { ReadOnlyQueue } from './read-only.js';
import {
  EMPTY,
  EntryType,
  MessageType,
  NO_NODE,
  message,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type PersistedState,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
  type StateRole,
} from './types.js';

export { bootstrapState };

export interface RaftConfig {
  id: string;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [n, 2n). */
  electionTick: number;
  /** Ticks between leader heartbeats. */
  heartbeatTick: number;
  /** Unacknowledged MSG_APP messages per follower before the leader stops sending (pipelining window). */
  maxInflightMsgs: number;
  /** Entries per MSG_APP. */
  maxEntriesPerMsg: number;
  /** Entry data bytes per MSG_APP (at least one entry is always sent). Unlimited when absent. */
  maxBytesPerMsg?: number;
  /** Bytes per InstallSnapshot chunk. */
  snapshotChunkSize: number;
  /**
   * Snapshot chunks sent to one follower and not yet acknowledged (a window, as etcd and
   * SwarmKit stream a snapshot rather than sending a chunk per round trip). Default 4.
   */
  snapshotChunksInFlight?: number;
  /**
   * Ticks without an acknowledgement that moved a snapshot transfer before its first
   * unacknowledged chunk is sent again (a lost chunk or answer). Default: electionTick.
   */
  snapshotResendTicks?: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Seeded source of randomness in [0, 1): the core never uses Math.random. */
  random: () => number;
  /** Entries kept in memory before a snapshot's index, so slightly lagging followers avoid a snapshot. */
  keepEntriesAfterCompaction?: number;
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; reason: 'not-leader' | 'transferring' | 'conf-change-pending' | 'invalid'; leader: string };

export interface Status {
  id: string;
  term: number;
  role: StateRole;
  leader: string;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  conf: ConfState;
  /** Leader only: match index per peer. */
  progress: Record<string, { match: number; next: number }>;
}

/** What the snapshot transfers of this node cost: chunks sent (of which sent again), received, ignored. */
export interface SnapshotChunkCounters {
  sent: number;
  resent: number;
  received: number;
  ignored: number;
}

const DEFAULT_SNAPSHOT_CHUNKS_IN_FLIGHT = 4;

/** Context that marks a campaign started by leadership transfer: it may disturb a live leader. */
const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

interface HandedOut {
  lastEntry?: { index: number; term: number };
  /** The term and vote of the Ready's hard state, when it changed them. */
  termVote?: { term: number; vote: string };
  committed: Entry[];
  snapshotIndex: number;
}

export class RawNode {
  readonly id: string;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;
  private membership: Membership;
  private term: number;
  private vote: string;
  private role: StateRole = 'follower';
  private leader = NO_NODE;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<string, boolean>();
  private readonly progress = new Map<string, Progress>();
  private leadTransferee = NO_NODE;
  /** Conf changes above this index are not yet applied: no new one may be proposed. */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** Read requests that arrived before this leader committed an entry of its own term. */
  private pendingReadRequests: Message[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  /** Proposals appended since the last broadcast: sent together at ready() time (batching). */
  private broadcastPending = false;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private handedOut: HandedOut | undefined;
  /**
   * A snapshot being received in chunks: from which leader in which term (two members'
   * snapshots at one index hold the same state but need not be the same bytes, so a transfer
   * never continues with another leader's chunks), and the bytes received in order so far.
   */
  private incomingSnapshot:
    | { from: string; term: number; meta: Snapshot['meta']; chunks: Uint8Array[]; received: number }
    | undefined;
  readonly snapshotChunks: SnapshotChunkCounters = { sent: 0, resent: 0, received: 0, ignored: 0 };

  constructor(config: RaftConfig, state: PersistedState) {
    this.id = config.id;
    this.cfg = config;
    this.log = new RaftLog(state.snapshot, state.entries, state.hardState.commit);
    this.membership = new Membership(state.snapshot.meta.conf);
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    this.prevHardState = { ...state.hardState };
    this.prevSoftState = { leader: NO_NODE, role: 'follower' };
    this.resetRandomizedElectionTimeout();
  }

  // ---- inputs -------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_PRE_VOTE) {
        const forced = equalBytes(m.context, TRANSFER_CONTEXT);
        const inLease = this.cfg.checkQuorum && this.leader !== NO_NODE && this.electionElapsed < this.cfg.electionTick;
        // A node that heard from a live leader recently ignores campaigns: this keeps a
        // partitioned or removed node from deposing a healthy leader.
        if (!forced && inLease) return;
      }
      if (m.type === MessageType.MSG_PRE_VOTE) {
        // A pre-vote does not change our term.
      } else if (m.type === MessageType.MSG_PRE_VOTE_RESP && !m.reject) {
        // The grant of our own pre-vote carries the term we would campaign in.
      } else {
        const isFromLeader =
          m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_SNAP;
        this.becomeFollower(m.term, isFromLeader ? m.from : NO_NODE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_APP)) {
        // Tell a stale leader about the newer term so it steps down instead of retrying forever.
        this.send(message({ type: MessageType.MSG_APP_RESP, from: this.id, to: m.from, term: this.term }));
      } else if (m.type === MessageType.MSG_PRE_VOTE) {
        this.send(message({ type: MessageType.MSG_PRE_VOTE_RESP, from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_PRE_VOTE) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  propose(data: Uint8Array): ProposeResult {
    return this.appendProposal(EntryType.ENTRY_NORMAL, data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role === 'leader' && this.pendingConfIndex > this.log.applied) {
      return { ok: false, reason: 'conf-change-pending', leader: this.leader };
    }
    if (!cc.nodeId) return { ok: false, reason: 'invalid', leader: this.leader };
    const result = this.appendProposal(EntryType.ENTRY_CONF_CHANGE, encodeConfChange(cc));
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  /** Ask for a linearizable read point; a ReadState with this context comes out of a later Ready. */
  readIndex(context: Uint8Array): boolean {
    if (this.role === 'leader') {
      this.handleReadIndex(message({ type: MessageType.MSG_READ_INDEX, from: this.id, to: this.id, term: this.term, context }));
      return true;
    }
    if (this.leader === NO_NODE) return false;
    this.send(message({ type: MessageType.MSG_READ_INDEX, from: this.id, to: this.leader, term: this.term, context }));
    return true;
  }

  transferLeadership(to: string): boolean {
    if (this.role !== 'leader' || to === this.id || !this.membership.voters.has(to)) return false;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
    return true;
  }

  /** Start an election now (used by tests and by a single-node bootstrap). */
  /**
   * The driver saw its connection to `peer` break (reset, refused) while that peer is the leader
   * this node follows. The leader is taken as gone: the lease in which this node ignores
   * campaigns ends now, and it campaigns within one randomized election timeout's spread
   * instead of a whole timeout. Liveness only: a campaign still needs a quorum's pre-votes and
   * votes, and nodes that still hear from a live leader refuse them, so one broken connection
   * does not depose a healthy leader.
   */
  leaderLost(peer: string): void {
    if (this.role !== 'follower' || peer === NO_NODE || peer !== this.leader) return;
    this.electionElapsed = Math.max(this.electionElapsed, this.cfg.electionTick);
  }

  campaign(): void {
    if (this.promotable()) this.startCampaign(false);
  }

  // ---- outputs ------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.broadcastPending) return true;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.pendingSnapshot) return true;
    if (this.log.hasUnstable() || this.log.hasNextCommitted()) return true;
    if (!sameHardState(this.hardState(), this.prevHardState)) return true;
    const soft = this.softState();
    return soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role;
  }

  ready(): Ready {
    if (this.broadcastPending) {
      this.broadcastPending = false;
      this.broadcastAppend(false);
    }
    const entries = this.log.unstableEntries();
    const snapshot = this.log.pendingSnapshot;
    const committed = this.log.nextCommitted();
    const hs = this.hardState();
    const hardStateChanged = !sameHardState(hs, this.prevHardState);
    // A new term or vote must be durable before anything of this Ready goes out.
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of this.msgs) (!termOrVoteChanged && sendableBeforePersist(m) ? early : late).push(m);
    const rd: Ready = {
      entries,
      earlyMessages: early,
      messages: late,
      committedEntries: committed,
      readStates: this.readStates,
    };
    if (snapshot) rd.snapshot = snapshot;
    if (hardStateChanged) rd.hardState = hs;
    const soft = this.softState();
    if (soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role) rd.softState = soft;
    this.msgs = [];
    this.readStates = [];
    const last = entries[entries.length - 1];
    this.handedOut = {
      ...(last ? { lastEntry: { index: last.index, term: last.term } } : {}),
      ...(termOrVoteChanged ? { termVote: { term: hs.term, vote: hs.vote } } : {}),
      committed,
      snapshotIndex: snapshot?.meta.index ?? 0,
    };
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.softState) this.prevSoftState = rd.softState;
    return rd;
  }

  /** The driver has persisted, sent and applied the last Ready. */
  advance(): void {
    const done = this.handedOut;
    if (!done) return;
    this.handedOut = undefined;
    if (done.snapshotIndex > 0) {
      // The driver installed that snapshot, even when a newer one arrived while it was being
      // written (messages are stepped meanwhile): the newer one stays pending, to be handed out next.
      if (this.log.pendingSnapshot?.meta.index === done.snapshotIndex) this.log.pendingSnapshot = undefined;
      this.log.appliedTo(done.snapshotIndex);
    }
    if (done.lastEntry) this.log.stableTo(done.lastEntry.index, done.lastEntry.term);
    for (const e of done.committed) {
      if (e.type === EntryType.ENTRY_CONF_CHANGE) this.applyConfChange(decodeConfChange(e.data));
      this.log.appliedTo(e.index);
    }
    this.selfDurable(done);
  }

  /**
   * What this node wrote of itself became durable; only now does it count for itself (etcd's
   * async storage writes deliver a node's vote for itself and its own append acknowledgement
   * the same way, as messages to itself after the write).
   *
   * Its vote: a candidate counts its own vote only once the hard state naming it is on disk. A
   * lone voter otherwise became leader, took a proposal at (index, term) and answered its
   * (index, term), then crashed before the term was durable, came back in the older term, won the
   * same term again and put another entry at the same (index, term): a proposer waiting on that
   * pair would be told its write was applied (the simulator's seed 2979). With other voters the
   * vote requests wait for the write anyway; with none, only this rule makes it wait.
   *
   * Its entries: a leader counts itself as holding them only once durable (its appends went out
   * before or while they were written, thesis §10.2.1). A crash before this point can lose them
   * on the leader, so no commit may have relied on its copy.
   */
  private selfDurable(done: HandedOut): void {
    const tv = done.termVote;
    if (tv && this.role === 'candidate' && tv.term === this.term && tv.vote === this.id) {
      if (this.recordVote(this.id, true)) return;
    }
    if (!done.lastEntry || this.role !== 'leader') return;
    const self = this.progress.get(this.id);
    if (!self || !self.maybeUpdate(this.log.stabled)) return;
    if (this.maybeCommit()) this.broadcastAppend(true);
  }

  /** The state machine has a snapshot of everything applied up to `index`; compact the log. */
  compact(index: number, data: Uint8Array): Snapshot {
    const snapshot = this.compactWith({ meta: this.snapshotMeta(index), data });
    if (!snapshot) throw new Error(`raft: cannot snapshot at ${index}: the log is already compacted that far`);
    return snapshot;
  }

  /**
   * The meta of a snapshot at the applied index (its term and the configuration applied there),
   * for a state machine that captures its state now and encodes it later: compactWith() takes
   * both once the data is ready, however many Readies later.
   */
  snapshotMeta(index: number = this.log.applied): SnapshotMeta {
    if (index > this.log.applied) throw new Error(`raft: cannot snapshot at ${index}, applied is ${this.log.applied}`);
    if (index !== this.log.applied) throw new Error(`raft: snapshot must be taken at the applied index ${this.log.applied}`);
    const term = this.log.term(index);
    if (term === undefined) throw new Error(`raft: no term for index ${index}`);
    return { index, term, conf: this.membership.toConfState() };
  }

  /**
   * Compacts the log with a snapshot whose meta snapshotMeta() gave, possibly several Readies
   * ago (entries applied since stay in the log). Returns undefined, changing nothing, when the
   * log no longer holds that point: a newer snapshot (a local one, or the leader's) replaced it.
   */
  compactWith(snapshot: Snapshot): Snapshot | undefined {
    const { index, term } = snapshot.meta;
    if (index <= this.log.snapshot.meta.index || index > this.log.applied || this.log.term(index) !== term) return undefined;
    this.log.compact(snapshot, this.cfg.keepEntriesAfterCompaction ?? 0);
    return snapshot;
  }

  status(): Status {
    const progress: Status['progress'] = {};
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) progress[id] = { match: pr.match, next: pr.next };
    }
    return {
      id: this.id,
      term: this.term,
      role: this.role,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      conf: this.membership.toConfState(),
      progress,
    };
  }

  // ---- roles --------------------------------------------------------------------------

  private becomeFollower(term: number, leader: string): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
    // A transfer from another leader or term never continues: drop its bytes now rather than
    // hold them until a snapshot that may never come.
    const incoming = this.incomingSnapshot;
    if (incoming && (incoming.term !== term || incoming.from !== leader)) this.incomingSnapshot = undefined;
  }

  private becomePreCandidate(): void {
    // Term and vote stay as they are: a pre-vote must not disturb anyone.
    this.votes.clear();
    this.role = 'pre-candidate';
    this.leader = NO_NODE;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    const last = this.log.lastIndex();
    for (const id of this.membership.members()) {
      const pr = new Progress(last + 1, this.membership.learners.has(id));
      if (id === this.id) {
        // Only what is on disk counts towards a commit; advance() moves it as writes complete.
        pr.match = this.log.stabled;
        pr.becomeReplicate();
      }
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
    // No conf change until everything before this term is applied (Ongaro's single-server fix).
    this.pendingConfIndex = last;
    // An empty entry of the new term lets the leader commit entries of earlier terms.
    this.appendEntries([{ term: this.term, index: 0, type: EntryType.ENTRY_NORMAL, data: EMPTY }]);
    this.broadcastAppend(false);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.leader = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = NO_NODE;
    this.readOnly.clear();
    this.pendingReadRequests = [];
    this.broadcastPending = false;
  }

  private promotable(): boolean {
    return this.membership.voters.has(this.id);
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
  }

  // ---- ticks --------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startCampaign(this.cfg.preVote);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        const active = (id: string) => id === this.id || this.progress.get(id)?.recentActive === true;
        if (!this.membership.hasQuorum(active)) {
          this.becomeFollower(this.term, NO_NODE);
          return;
        }
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      }
      this.leadTransferee = NO_NODE;
      // A removed leader retries its hand-over until a successor takes over.
      this.handOverAfterRemoval();
    }
    if (this.role !== 'leader') return;
    this.tickSnapshotTransfers();
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.readOnly.lastContext() ?? EMPTY);
    }
  }

  // ---- elections ----------------------------------------------------------------------

  private startCampaign(preVote: boolean, transfer = false): void {
    if (preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const type = preVote ? MessageType.MSG_PRE_VOTE : MessageType.MSG_VOTE;
    const term = preVote ? this.term + 1 : this.term;
    // A pre-vote changes no durable state: it counts for itself at once. A real vote counts
    // once the hard state holding it is durable (selfDurable, from advance()).
    if (preVote && this.recordVote(this.id, true)) return;
    for (const id of this.membership.voters) {
      if (id === this.id) continue;
      this.send(
        message({
          type,
          from: this.id,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: transfer ? TRANSFER_CONTEXT : EMPTY,
        }),
      );
    }
  }

  /** Count a vote; returns true when the election was decided by it. */
  private recordVote(from: string, granted: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.membership.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    if (yes >= this.membership.quorum()) {
      if (this.role === 'pre-candidate') this.startCampaign(false);
      else this.becomeLeader();
      return true;
    }
    if (no >= this.membership.quorum()) {
      this.becomeFollower(this.term, NO_NODE);
      return true;
    }
    return false;
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.MSG_PRE_VOTE;
    const respType = pre ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
    const canVote =
      this.vote === m.from || (this.vote === NO_NODE && this.leader === NO_NODE) || (pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A pre-vote grant answers in the term the candidate would campaign in.
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      // The refusal carries how far we know the log is committed (see learnCommit).
      const commit = this.log.committed;
      const logTerm = this.log.term(commit) ?? 0;
      this.send(message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true, commit, logTerm }));
    }
  }

  /**
   * A voter that refused us said index m.commit (of term m.logTerm) is committed: if our log
   * holds that entry, everything up to it is committed here too (log matching). This is how
   * a survivor learns that its removed leader's removal committed, when the removed node has
   * the longer log (so refuses it) and the survivor, not knowing, still needs its vote.
   */
  private learnCommit(m: Message): void {
    if (m.commit > this.log.committed && this.log.matchTerm(m.commit, m.logTerm)) this.log.commitTo(m.commit);
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === 'pre-candidate' ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
    switch (m.type) {
      case MessageType.MSG_APP:
      case MessageType.MSG_HEARTBEAT:
      case MessageType.MSG_SNAP:
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        break;
      case myResp:
        if (m.reject) this.learnCommit(m);
        this.recordVote(m.from, !m.reject);
        break;
      case MessageType.MSG_TIMEOUT_NOW:
        break;
      default:
        break;
    }
  }

  // ---- follower -----------------------------------------------------------------------

  /** A message only the leader sends: it is alive (the election timer restarts) and it leads. */
  private heardFromLeader(leader: string): void {
    this.electionElapsed = 0;
    this.leader = leader;
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MSG_APP:
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        break;
      case MessageType.MSG_HEARTBEAT:
        this.heardFromLeader(m.from);
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send(
          message({
            type: MessageType.MSG_HEARTBEAT_RESP,
            from: this.id,
            to: m.from,
            term: this.term,
            index: this.log.lastIndex(),
            context: m.context,
          }),
        );
        break;
      case MessageType.MSG_SNAP:
        this.heardFromLeader(m.from);
        this.handleSnapshotChunk(m);
        break;
      case MessageType.MSG_TIMEOUT_NOW:
        if (this.promotable()) this.startCampaign(false, true);
        break;
      case MessageType.MSG_READ_INDEX_RESP:
        this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: MessageType.MSG_APP_RESP, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.MSG_APP_RESP, from: this.id, to: m.from, term: this.term, index: lastNew }));
      return;
    }
    // Tell the leader where our log might match so it can skip a whole term of entries at once.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      message({
        type: MessageType.MSG_APP_RESP,
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        reject: true,
        rejectHint: hint,
        rejectHintTerm: this.log.term(hint) ?? 0,
      }),
    );
  }

  /**
   * One chunk of a leader's snapshot. Chunks are taken strictly in order from offset 0, and only
   * from the transfer under way (the same leader, term and snapshot); every answer says how many
   * bytes of it we hold, so the leader's window slides on it. A chunk behind that (sent again
   * after a timeout) is a duplicate: ignored, answered with where we are. A chunk ahead of it (one
   * before it was lost) or of a transfer we are not receiving (we restarted, or its start was
   * lost) is ignored and rejected with the offset we need. Only a complete snapshot is installed.
   */
  private handleSnapshotChunk(m: Message): void {
    const meta = m.snapshot;
    if (!meta) return;
    this.snapshotChunks.received++;
    const ack = (fields: Partial<Message>) =>
      this.send(message({ type: MessageType.MSG_SNAP_RESP, from: this.id, to: m.from, term: this.term, ...fields }));
    let incoming = this.incomingSnapshot;
    if (meta.index <= this.log.committed) {
      // Nothing to install: we already have everything it holds (its last chunk arrived again,
      // or the answer that said so was lost).
      if (incoming && incoming.meta.index <= this.log.committed) this.incomingSnapshot = undefined;
      ack({ index: this.log.committed, snapDone: true });
      return;
    }
    const sameTransfer =
      incoming !== undefined &&
      incoming.from === m.from &&
      incoming.term === m.term &&
      incoming.meta.index === meta.index &&
      incoming.meta.term === meta.term;
    if (!sameTransfer) {
      if (incoming && incoming.from === m.from && incoming.term === m.term && meta.index < incoming.meta.index) {
        // The tail of an older snapshot this leader replaced with the one we are receiving.
        this.snapshotChunks.ignored++;
        return;
      }
      if (m.snapOffset !== 0) {
        this.snapshotChunks.ignored++;
        ack({ index: meta.index, snapOffset: 0, reject: true });
        return;
      }
      incoming = { from: m.from, term: m.term, meta, chunks: [], received: 0 };
      this.incomingSnapshot = incoming;
    }
    if (!incoming) return;
    if (m.snapOffset !== incoming.received) {
      this.snapshotChunks.ignored++;
      ack({ index: meta.index, snapOffset: incoming.received, reject: m.snapOffset > incoming.received });
      return;
    }
    incoming.chunks.push(m.snapChunk);
    incoming.received += m.snapChunk.length;
    if (!m.snapDone) {
      ack({ index: meta.index, snapOffset: incoming.received });
      return;
    }
    this.incomingSnapshot = undefined;
    const data = concat(incoming.chunks, incoming.received);
    const restored = this.restoreSnapshot({ meta, data });
    // After a fast-forward our tail past the snapshot may be a stale term's: vouch only for what
    // is committed.
    ack({ index: restored ? this.log.lastIndex() : this.log.committed, snapDone: true });
  }

  /** Returns false when the log already held the snapshot's last entry (commit just moved). */
  private restoreSnapshot(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.membership = new Membership(snapshot.meta.conf);
    return true;
  }

  // ---- leader -------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    if (m.type === MessageType.MSG_READ_INDEX) {
      this.handleReadIndex(m);
      return;
    }
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.MSG_APP_RESP:
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.MSG_HEARTBEAT_RESP:
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.MSG_SNAP_RESP:
        pr.recentActive = true;
        this.handleSnapshotResponse(m, pr);
        break;
      default:
        break;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.rejectHintTerm > 0) probe = this.log.findConflictByTerm(m.rejectHint, m.rejectHintTerm);
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused(this.cfg.maxInflightMsgs);
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex) pr.becomeProbe();
      if (this.maybeCommit()) this.broadcastAppend(true);
      else if (wasPaused) this.sendAppend(m.from);
      // Keep the pipeline full.
      while (pr.state === 'replicate' && pr.next <= this.log.lastIndex() && !pr.isPaused(this.cfg.maxInflightMsgs)) {
        if (!this.sendAppend(m.from)) break;
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    } else if (pr.state === 'probe' && !pr.probeSent) {
      this.sendAppend(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.match < this.log.lastIndex() && pr.match === pr.matchAtLastHeartbeat && pr.inflights.length > 0) {
      // The pipeline made no progress for a whole heartbeat with appends outstanding: an append
      // or its acknowledgement was lost (the follower's last index cannot tell which: it may
      // hold what we sent, or a stale tail). Fall back to probing from what it acknowledged.
      pr.becomeProbe();
    }
    pr.matchAtLastHeartbeat = pr.match;
    // A snapshot transfer is not pushed by heartbeats: its chunks in flight are not sent again
    // (that is the resend timeout's job), and a free slot in its window is filled here only if
    // nothing else filled it.
    if (pr.state === 'snapshot') this.sendSnapshotChunks(m.from, pr);
    else if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context.length > 0) {
      const acks = this.readOnly.ack(m.context, m.from);
      if (acks && this.membership.hasQuorum((id) => acks.has(id))) {
        for (const read of this.readOnly.releaseThrough(m.context)) this.answerRead(read.from, read.index, read.context);
      }
    }
  }

  private handleSnapshotResponse(m: Message, pr: Progress): void {
    if (pr.state !== 'snapshot') return;
    if (m.snapDone) {
      pr.maybeUpdate(m.index);
      pr.becomeProbe();
      this.sendAppend(m.from);
      return;
    }
    // An answer about another snapshot (one this leader replaced) moves nothing.
    if (m.index !== pr.snapshotIndex) return;
    const held = Math.floor(m.snapOffset / this.snapshotChunkSize());
    if (m.reject) {
      // The follower holds `held` chunks and needs the next: one was lost, or its receiving
      // started over. Go back to it once; the chunks already in flight behind the lost one are
      // rejected the same way, and must not each restart the window (if the resent chunk is
      // lost too, the resend timeout sends it again).
      if (held !== pr.snapshotResentFrom && held < pr.snapshotNextChunk) {
        pr.snapshotAckedChunks = held;
        pr.snapshotNextChunk = held;
        pr.snapshotResentFrom = held;
        pr.snapshotIdleTicks = 0;
      }
    } else if (held > pr.snapshotAckedChunks) {
      pr.snapshotAckedChunks = held;
      pr.snapshotIdleTicks = 0;
      if (pr.snapshotNextChunk < held) pr.snapshotNextChunk = held;
      if (pr.snapshotResentFrom >= 0 && held > pr.snapshotResentFrom) pr.snapshotResentFrom = -1;
    }
    this.sendSnapshotChunks(m.from, pr);
  }

  private maybeCommit(): boolean {
    const index = this.membership.committedIndex((id) => this.progress.get(id)?.match ?? 0);
    // Only entries of the current term are committed by counting replicas (Raft paper 5.4.2).
    if (index > this.log.committed && this.log.term(index) === this.term) {
      this.log.commitTo(index);
      this.releasePendingReads();
      return true;
    }
    return false;
  }

  private appendProposal(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    if (this.leadTransferee !== NO_NODE) return { ok: false, reason: 'transferring', leader: this.leader };
    const [entry] = this.appendEntries([{ term: this.term, index: 0, type, data }]);
    this.broadcastPending = true;
    return { ok: true, index: entry!.index, term: this.term };
  }

  private appendEntries(entries: Entry[]): Entry[] {
    let index = this.log.lastIndex();
    const stamped = entries.map((e) => ({ ...e, term: this.term, index: ++index }));
    // The leader's own progress moves when advance() reports these durable, not here.
    this.log.append(stamped);
    return stamped;
  }

  private broadcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.sendAppend(id, sendIfEmpty);
    }
  }

  private broadcastHeartbeat(context: Uint8Array): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(
        message({
          type: MessageType.MSG_HEARTBEAT,
          from: this.id,
          to: id,
          term: this.term,
          commit: Math.min(pr.match, this.log.committed),
          context,
        }),
      );
    }
  }

  /** Send the next entries to `to` if its progress allows; returns whether a message went out. */
  private sendAppend(to: string, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused(this.cfg.maxInflightMsgs)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex() || this.snapshotIsLighter(pr)) {
      pr.becomeSnapshot(this.log.snapshot.meta.index);
      this.sendSnapshotChunks(to, pr);
      return true;
    }
    const last = Math.min(this.log.lastIndex(), prevIndex + this.cfg.maxEntriesPerMsg);
    const entries = limitBytes(this.log.slice(pr.next, last), this.cfg.maxBytesPerMsg ?? Infinity);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: MessageType.MSG_APP,
        from: this.id,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    if (entries.length > 0) pr.sentEntries(entries[entries.length - 1]!.index);
    else if (pr.state === 'probe') pr.probeSent = true;
    return true;
  }

  /**
   * Whether the follower should get the snapshot rather than the entries it lacks up to it,
   * although the log still holds them (entries are kept behind a snapshot for followers that lag
   * a little): when they weigh more than the snapshot. Entries carry every intermediate version
   * of what the state holds once: a manager joining a store of 100,000 tasks would otherwise
   * replay ~90 MB of log, each task written five times, instead of installing ~23 MB of state
   * (etcd sends MsgSnap only when the entries are gone; here also when they cost more).
   */
  private snapshotIsLighter(pr: Progress): boolean {
    const snapshot = this.log.snapshot;
    // Only for a follower that has acknowledged nothing to this leader yet (a new member, or
    // one whose log this leader has not matched): one already fed entries goes on getting them
    // while the log holds them. Otherwise a leader that takes snapshots faster than one goes
    // out would send snapshot after snapshot to a follower that never catches up (the
    // simulator found that livelock).
    if (snapshot.meta.index === 0 || pr.next > snapshot.meta.index || pr.match > 0) return false;
    let bytes = 0;
    for (const e of this.log.slice(pr.next, snapshot.meta.index)) {
      bytes += e.data.length;
      if (bytes > snapshot.data.length) return true;
    }
    return false;
  }

  private snapshotChunkSize(): number {
    return Math.max(1, this.cfg.snapshotChunkSize);
  }

  /**
   * Sends the snapshot's next chunks while fewer than snapshotChunksInFlight are unacknowledged.
   * Chunk k is the bytes at k × chunk size; the last one says done (an empty snapshot is one
   * empty chunk).
   */
  private sendSnapshotChunks(to: string, pr: Progress): void {
    const snapshot = this.log.snapshot;
    // A newer snapshot replaced the one being sent: the transfer starts over with it.
    if (snapshot.meta.index !== pr.snapshotIndex) pr.becomeSnapshot(snapshot.meta.index);
    const count = Math.max(1, Math.ceil(snapshot.data.length / this.snapshotChunkSize()));
    const window = Math.max(1, this.cfg.snapshotChunksInFlight ?? DEFAULT_SNAPSHOT_CHUNKS_IN_FLIGHT);
    while (pr.snapshotNextChunk < count && pr.snapshotNextChunk - pr.snapshotAckedChunks < window) {
      this.sendSnapshotChunk(to, pr, pr.snapshotNextChunk++, count);
    }
  }

  private sendSnapshotChunk(to: string, pr: Progress, k: number, count: number): void {
    const snapshot = this.log.snapshot;
    const size = this.snapshotChunkSize();
    this.snapshotChunks.sent++;
    if (k < pr.snapshotSentChunks) this.snapshotChunks.resent++;
    else pr.snapshotSentChunks = k + 1;
    this.send(
      message({
        type: MessageType.MSG_SNAP,
        from: this.id,
        to,
        term: this.term,
        snapshot: snapshot.meta,
        snapOffset: k * size,
        snapChunk: snapshot.data.subarray(k * size, (k + 1) * size),
        snapDone: k === count - 1,
      }),
    );
  }

  /**
   * A transfer with no acknowledgement that moved it for snapshotResendTicks: its first
   * unacknowledged chunk (or its answer) was lost, or the follower is slow (persisting the
   * whole snapshot before it answers the last chunk). Send that one chunk again, not the
   * window: the follower's answer to it says what else it lacks.
   */
  private tickSnapshotTransfers(): void {
    const timeout = Math.max(1, this.cfg.snapshotResendTicks ?? this.cfg.electionTick);
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.state !== 'snapshot' || pr.snapshotNextChunk === 0) continue;
      if (++pr.snapshotIdleTicks < timeout) continue;
      pr.snapshotIdleTicks = 0;
      if (this.log.snapshot.meta.index !== pr.snapshotIndex) {
        this.sendSnapshotChunks(id, pr);
        continue;
      }
      const count = Math.max(1, Math.ceil(this.log.snapshot.data.length / this.snapshotChunkSize()));
      this.sendSnapshotChunk(id, pr, Math.min(pr.snapshotAckedChunks, count - 1), count);
    }
  }

  private sendTimeoutNow(to: string): void {
    this.send(message({ type: MessageType.MSG_TIMEOUT_NOW, from: this.id, to, term: this.term }));
  }

  // ---- reads --------------------------------------------------------------------------

  private handleReadIndex(m: Message): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of this term commits we do not know the true commit index.
      this.pendingReadRequests.push(m);
      return;
    }
    const index = this.log.committed;
    if (this.membership.voters.size === 1 && this.membership.voters.has(this.id)) {
      this.answerRead(m.from, index, m.context);
      return;
    }
    this.readOnly.add(m.context, index, m.from, this.id);
    this.broadcastHeartbeat(m.context);
  }

  private releasePendingReads(): void {
    if (this.pendingReadRequests.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const pending = this.pendingReadRequests;
    this.pendingReadRequests = [];
    for (const m of pending) this.handleReadIndex(m);
  }

  private answerRead(to: string, index: number, context: Uint8Array): void {
    if (to === this.id) this.readStates.push({ index, context });
    else this.send(message({ type: MessageType.MSG_READ_INDEX_RESP, from: this.id, to, term: this.term, index, context }));
  }

  // ---- membership ---------------------------------------------------------------------

  private applyConfChange(cc: ConfChange): void {
    this.membership.apply(cc);
    if (this.role !== 'leader') return;
    for (const id of this.membership.members()) {
      const existing = this.progress.get(id);
      const isLearner = this.membership.learners.has(id);
      if (!existing || existing.isLearner !== isLearner) {
        const pr = new Progress(this.log.lastIndex() + 1, isLearner);
        if (existing) {
          pr.match = existing.match;
          pr.next = existing.next;
        }
        pr.recentActive = true;
        this.progress.set(id, pr);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!this.membership.has(id)) this.progress.delete(id);
    }
    if (!this.membership.voters.has(this.id)) {
      // A leader that removed itself hands over by transferring leadership to the most
      // caught-up voter, and keeps leading (counting only the voters) until that one takes
      // over. Stepping down at once could strand a survivor that is behind the removed node:
      // the removed node never campaigns and refuses a less up-to-date candidate.
      this.handOverAfterRemoval();
    }
    if (this.leadTransferee !== NO_NODE && !this.membership.voters.has(this.leadTransferee)) this.leadTransferee = NO_NODE;
    if (this.maybeCommit()) this.broadcastAppend(true);
    else this.broadcastAppend(false);
  }

  private handOverAfterRemoval(): void {
    if (this.role !== 'leader' || this.membership.voters.has(this.id) || this.leadTransferee !== NO_NODE) return;
    let best = NO_NODE;
    let bestMatch = -1;
    for (const id of this.membership.voters) {
      const match = this.progress.get(id)?.match ?? -1;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== NO_NODE) this.transferLeadership(best);
  }

  // ---- helpers ------------------------------------------------------------------------

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }
}

/**
 * Messages only a leader sends, carrying nothing that depends on its own disk: the entries it
 * appends are counted for it only once durable, and the commit index it announces was reached
 * by durable copies. (The Ready also holds them back when it changes the term or vote.)
 */
function sendableBeforePersist(m: Message): boolean {
  return m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_SNAP;
}

/** The longest prefix within `max` bytes of entry data, but never empty. */
function limitBytes(entries: Entry[], max: number): Entry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += entries[i]!.data.length;
    if (bytes > max && i > 0) return entries.slice(0, i);
  }
  return entries;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
