// A simulated cluster: nodes, the network between them and a clock, driven one time unit at a
// time. Every input to a node (a tick, a message, a proposal...) is followed by processing its
// Readies the way a real driver does — a leader's appends, then apply committed entries while
// persisting, then the other messages, then advance — with an optional crash between those stages, and then by
// the invariant checks. A persist may take time (persistUnits): meanwhile the node keeps
// stepping what arrives, as the real driver does while its disk write is under way, and a crash
// loses the write.
import { bootstrapState, type ProposeResult, type Status } from '../../raft/core/raw-node.js';
import { persistPlan } from '../../raft/core/persist-plan.js';
import {
  ConfChangeType,
  EMPTY,
  type ConfChange,
  type Entry,
  type Message,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
} from '../../raft/core/types.js';
import { Invariants, InvariantViolation, violation, confString } from './invariants.js';
import { Network, type NetworkConfig } from './network.js';
import { Rng } from './rng.js';
import { SimNode, type CoreParams } from './sim-node.js';
import { Trace, describeMessage } from './trace.js';

export interface ClusterOptions {
  seed: number;
  /** Initial voters (bootstrapped together). */
  size: number;
  core: CoreParams;
  /** Simulated time units per Raft tick. */
  tickUnits: number;
  net: NetworkConfig;
  /** Probability, per Ready, that the node crashes partway through handling it. */
  readyCrashChance: number;
  /** Time units one Ready's disk write takes, drawn per write in [lo, hi]; absent: none. */
  persistUnits?: [number, number];
  traceCapacity: number;
}

export const DEFAULT_CORE: CoreParams = {
  electionTick: 10,
  heartbeatTick: 2,
  maxInflightMsgs: 8,
  maxEntriesPerMsg: 16,
  snapshotChunkSize: 64,
  preVote: true,
  checkQuorum: true,
};

export type ApplyListener = (node: SimNode, e: Entry) => void;
export type ReadListener = (node: SimNode, rs: ReadState) => void;
export type CrashListener = (node: SimNode) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Freeze what a Ready hands out, so a core that mutates it after the fact throws at once. */
function freezeReady(rd: Ready): void {
  const freezeEntry = (e: Entry) => Object.freeze(e);
  for (const e of rd.entries) freezeEntry(e);
  for (const e of rd.committedEntries) freezeEntry(e);
  for (const m of rd.messages) {
    for (const e of m.entries) freezeEntry(e);
    if (m.snapshot) Object.freeze(m.snapshot);
    Object.freeze(m);
  }
  if (rd.snapshot) Object.freeze(rd.snapshot);
}

export class Cluster {
  readonly nodes = new Map<string, SimNode>();
  readonly net: Network;
  readonly inv = new Invariants();
  readonly trace: Trace;
  readonly rng: Rng;
  now = 0;
  private nextId = 1;
  private readonly root: Rng;
  private readonly readyRng: Rng;
  private readonly outboxRng: Rng;
  private readonly persistRng: Rng;
  private readonly readRequests = new Map<string, { node: string; required: number; at: number }>();
  private readSeq = 0;
  readonly applyListeners: ApplyListener[] = [];
  readonly readListeners: ReadListener[] = [];
  readonly crashListeners: CrashListener[] = [];
  /** Told of a Ready's soft state (role or leader changed) after its entries were applied, as the driver does. */
  readonly softStateListeners: ((n: SimNode, soft: SoftState, term: number) => void)[] = [];
  /** Messages delivered, by type. */
  readonly delivered = new Map<number, number>();
  /** Stop crashing inside Readies (the healing phase). */
  readyCrashes = true;
  private deferredCompactions: { node: SimNode; incarnation: number; snapshot: Snapshot; dueAt: number }[] = [];
  readonly counters = { ticks: 0, readies: 0, crashes: 0, restarts: 0, readyCrashes: 0, snapshotsInstalled: 0, compactions: 0, elections: 0 };

  constructor(readonly opts: ClusterOptions) {
    this.root = new Rng(opts.seed);
    this.rng = this.root.fork('scheduler');
    this.readyRng = this.root.fork('ready-crash');
    this.outboxRng = this.root.fork('outbox');
    this.persistRng = this.root.fork('persist');
    this.net = new Network(this.root.fork('network'), opts.net);
    this.trace = new Trace(opts.traceCapacity);
    const ids: string[] = [];
    for (let i = 0; i < opts.size; i++) ids.push(`n${this.nextId++}`);
    for (const id of ids) this.createNode(id, bootstrapState(ids));
  }

  // ---- node lifecycle ----------------------------------------------------------------------

  private createNode(id: string, initial: ReturnType<typeof bootstrapState>): SimNode {
    const n = new SimNode(id, initial);
    n.tickPhase = this.rng.int(this.opts.tickUnits);
    this.nodes.set(id, n);
    this.bootNode(n);
    return n;
  }

  private bootNode(n: SimNode): void {
    const random = this.root.fork(`${n.id}#${n.incarnation + 1}`).asFunction();
    n.boot(this.opts.core, random);
    const d = n.storage;
    this.trace.add(this.now, n.id, 'boot', `incarnation ${n.incarnation} term=${d.hardState.term} vote=${d.hardState.vote || '-'} commit=${d.hardState.commit} snap=${d.snapIndex} last=${d.lastIndex()}`);
    this.afterInput(n);
  }

  /** A brand-new node with empty storage (to be added to the cluster by a conf change). */
  addEmptyNode(id: string = this.reserveId()): SimNode {
    const n = this.createNode(id, {
      hardState: { term: 0, vote: '', commit: 0 },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: EMPTY },
      entries: [],
    });
    this.trace.add(this.now, id, 'created (empty)');
    return n;
  }

  /** A fresh node id (ids are never reused). */
  reserveId(): string {
    return `n${this.nextId++}`;
  }

  crash(id: string, why = 'crash'): void {
    const n = this.node(id);
    if (!n.up) return;
    n.crash();
    // Half the time what it sent but was not delivered dies with it (socket buffers).
    const outgoing = this.outboxRng.chance(0.5);
    this.net.crashed(id, outgoing);
    this.counters.crashes++;
    this.trace.add(this.now, id, why, outgoing ? 'its undelivered messages are lost' : 'its sent messages stay in flight');
    for (const l of this.crashListeners) l(n);
  }

  restart(id: string): void {
    const n = this.node(id);
    if (n.state !== 'down') return;
    this.counters.restarts++;
    this.bootNode(n);
  }

  /** Decommission for good (after removal from the cluster). */
  stop(id: string): void {
    const n = this.node(id);
    if (n.state === 'stopped') return;
    const wasUp = n.up;
    n.stop();
    this.net.crashed(id);
    this.trace.add(this.now, id, 'stopped');
    if (wasUp) for (const l of this.crashListeners) l(n);
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  /** Ids of every node not stopped (up or crashed). */
  liveIds(): string[] {
    return [...this.nodes.values()].filter((n) => n.state !== 'stopped').map((n) => n.id);
  }

  // ---- time ----------------------------------------------------------------------------------

  /** Advance the clock one unit: deliver what is due, then tick the nodes whose tick falls now. */
  step(): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (n.up && n.persisting && n.persisting.doneAt <= this.now) {
        this.finishReady(n);
        this.afterInput(n);
      }
    }
    this.finishDeferredCompactions();
    for (const m of this.net.takeDue(this.now)) this.deliver(m);
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      if ((this.now + n.tickPhase) % this.opts.tickUnits !== 0) continue;
      this.counters.ticks++;
      n.core.tick();
      this.afterInput(n);
    }
  }

  run(units: number, each?: () => void): void {
    for (let i = 0; i < units; i++) {
      this.step();
      each?.();
    }
  }

  /** Step until `pred` holds (checked after each unit); false if `limit` units pass first. */
  runUntil(pred: () => boolean, limit: number, each?: () => void): boolean {
    for (let i = 0; i < limit; i++) {
      if (pred()) return true;
      this.step();
      each?.();
    }
    return pred();
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n || !n.up) return;
    this.delivered.set(m.type, (this.delivered.get(m.type) ?? 0) + 1);
    this.trace.add(this.now, m.to, 'recv', () => describeMessage(m));
    n.core.step(m);
    this.afterInput(n);
  }

  // ---- inputs ----------------------------------------------------------------------------------

  propose(n: SimNode, data: Uint8Array): ProposeResult {
    const r = n.core.propose(data);
    this.trace.add(this.now, n.id, 'propose', () => (r.ok ? `-> ${r.index}/${r.term} ${dec.decode(data)}` : `rejected ${r.reason} leader=${r.leader || '-'}`));
    this.afterInput(n);
    return r;
  }

  proposeConfChange(n: SimNode, type: ConfChangeType, nodeId: string): ProposeResult {
    const cc: ConfChange = { type, nodeId, context: EMPTY };
    const r = n.core.proposeConfChange(cc);
    this.trace.add(this.now, n.id, 'conf change', () => `${confChangeName(type)} ${nodeId} ${r.ok ? `-> ${r.index}/${r.term}` : `rejected ${r.reason}`}`);
    this.afterInput(n);
    return r;
  }

  /**
   * Ask `n` for a read point; returns the context, or undefined when the core refused.
   * `register` sees the context first: a single voter answers within this very call.
   */
  readIndex(n: SimNode, register?: (ctx: string) => void): string | undefined {
    const ctx = `r${++this.readSeq}@${n.id}`;
    register?.(ctx);
    this.readRequests.set(ctx, { node: n.id, required: this.inv.maxApplied, at: this.now });
    const ok = n.core.readIndex(enc.encode(ctx));
    if (!ok) this.readRequests.delete(ctx);
    this.trace.add(this.now, n.id, 'read index', `${ctx} ${ok ? 'asked' : 'refused'}`);
    this.afterInput(n);
    return ok ? ctx : undefined;
  }

  transferLeadership(n: SimNode, to: string): boolean {
    const ok = n.core.transferLeadership(to);
    this.trace.add(this.now, n.id, 'transfer leadership', `to ${to} ${ok ? 'started' : 'refused'}`);
    this.afterInput(n);
    return ok;
  }

  campaign(n: SimNode): void {
    n.core.campaign();
    this.trace.add(this.now, n.id, 'campaign');
    this.afterInput(n);
  }

  /** Compact `n`'s log at its applied index with its state machine's snapshot. */
  compact(n: SimNode): Snapshot | undefined {
    const index = n.applied;
    // The real storage queues a compaction behind the write under way; here it simply waits.
    if (index <= n.storage.snapIndex || n.persisting) return undefined;
    const data = n.sm.snapshot();
    const snap = n.core.compact(index, data);
    this.counters.compactions++;
    this.trace.add(this.now, n.id, 'compact', `at ${index} (term ${snap.meta.term})`);
    if (snap.meta.index !== index) violation('compaction', `${n.id} compacted at ${index} but the snapshot is at ${snap.meta.index}`);
    const before = { ...n.storage.hardState };
    n.storage.compactTo(snap);
    this.inv.checkSnapshot(n, snap);
    this.inv.checkDurable(n, before, n.storage.hardState, []);
    this.afterInput(n);
    return snap;
  }

  /**
   * Compaction as a node whose state machine encodes its snapshot later does it (RaftNode with
   * snapshotLater): the state and the snapshot's meta are captured now, at the applied index,
   * and the log is compacted `units` later, while the node keeps replicating and applying, unless
   * a newer snapshot (the leader's, say) got there first, or the node crashed meanwhile.
   */
  compactLater(n: SimNode, units: number): boolean {
    const index = n.applied;
    if (index <= n.storage.snapIndex || n.persisting) return false;
    const meta = n.core.snapshotMeta(index);
    this.deferredCompactions.push({ node: n, incarnation: n.incarnation, snapshot: { meta, data: n.sm.snapshot() }, dueAt: this.now + units });
    this.trace.add(this.now, n.id, 'compact-later', `captured at ${index}, compacts at t=${this.now + units}`);
    return true;
  }

  private finishDeferredCompactions(): void {
    if (this.deferredCompactions.length === 0) return;
    const waiting: typeof this.deferredCompactions = [];
    for (const d of this.deferredCompactions) {
      const n = d.node;
      if (!n.up || n.incarnation !== d.incarnation) continue;
      // The real storage queues the snapshot's write behind the write under way.
      if (d.dueAt > this.now || n.persisting) {
        waiting.push(d);
        continue;
      }
      const snap = n.core.compactWith(d.snapshot);
      this.trace.add(this.now, n.id, 'compact-later', snap ? `compacted at ${d.snapshot.meta.index}` : `dropped at ${d.snapshot.meta.index} (log moved past it)`);
      if (!snap) continue;
      this.counters.compactions++;
      const before = { ...n.storage.hardState };
      n.storage.compactTo(snap);
      this.inv.checkSnapshot(n, snap);
      this.inv.checkDurable(n, before, n.storage.hardState, []);
      this.afterInput(n);
    }
    this.deferredCompactions = waiting;
  }

  // ---- the driver ----------------------------------------------------------------------------

  private readyCrash(n: SimNode, stage: string): boolean {
    if (!this.readyCrashes || !this.readyRng.chance(this.opts.readyCrashChance)) return false;
    this.counters.readyCrashes++;
    this.crash(n.id, `crash ${stage}`);
    return true;
  }

  /** Process every Ready of `n`, then check the invariants. */
  afterInput(n: SimNode): void {
    let rounds = 0;
    while (n.up && !n.persisting && n.core.hasReady()) {
      if (++rounds > 1000) violation('ready loop', `${n.id} still has a Ready after 1000 rounds`);
      this.handleReady(n);
    }
    if (n.up) this.observe(n);
  }

  private handleReady(n: SimNode): void {
    const core = n.core;
    const rd = core.ready();
    this.counters.readies++;
    freezeReady(rd);
    this.trace.add(this.now, n.id, 'ready', () => describeReady(rd));

    // 1. A leader's appends go out before its own write.
    for (const m of rd.earlyMessages) this.sendMessage(n, m);
    if (rd.earlyMessages.length > 0 && this.readyCrash(n, 'after sending appends, before persist')) return;

    // 2. Committed entries are on disk on a quorum already: applied while this Ready is written
    // (after it, with the snapshot they follow, when it brings one).
    if (!rd.snapshot) this.applyCommitted(n, rd);

    // 3. Persist, in one write, which may take a while, what persistPlan says (the driver's
    // rule): nothing for a Ready that only moves the commit index, which then rides along with
    // the next write.
    const [lo, hi] = this.opts.persistUnits ?? [0, 0];
    if (rd.hardState) n.latestHardState = { ...rd.hardState };
    const plan = persistPlan(rd, n.latestHardState, n.storage.hardState);
    const units = hi > 0 && plan ? this.persistRng.range(lo, hi) : 0;
    n.persisting = { rd, plan, doneAt: this.now + units };
    if (units === 0) this.finishReady(n);
    else this.trace.add(this.now, n.id, 'persisting', `until t=${this.now + units}`);
  }

  private finishReady(n: SimNode): void {
    const core = n.core;
    const { rd, plan } = n.persisting!;
    n.persisting = undefined;
    const before = { ...n.storage.hardState };
    if (plan?.hardState) n.storage.hardState = { ...plan.hardState };
    if (rd.snapshot) n.storage.writeSnapshot(rd.snapshot);
    n.storage.writeEntries(n.id, rd.entries);
    this.inv.checkDurable(n, before, n.storage.hardState, rd.entries);
    if (rd.snapshot) this.inv.checkSnapshot(n, rd.snapshot);
    if (this.readyCrash(n, 'after persist, before send')) return;

    // 4. Send the rest.
    for (const m of rd.messages) this.sendMessage(n, m);
    if (this.readyCrash(n, 'after send, before apply')) return;

    // 5. Install a snapshot from the leader, and apply what follows it.
    if (rd.snapshot) {
      const s = rd.snapshot;
      if (s.meta.index <= n.applied) {
        violation('snapshot', `${n.id} was handed a snapshot at ${s.meta.index} but has applied ${n.applied}`);
      }
      n.sm.restore(s.data, s.meta.index);
      n.applied = s.meta.index;
      this.counters.snapshotsInstalled++;
      this.inv.observeSnapshotInstall(n.id, s, n.sm.chain);
    }
    if (rd.snapshot) this.applyCommitted(n, rd);
    for (const rs of rd.readStates) {
      const ctx = dec.decode(rs.context);
      const req = this.readRequests.get(ctx);
      if (req && req.node === n.id) {
        if (rs.index < req.required) {
          violation('read index', `${n.id} got read point ${rs.index} for ${ctx}, but index ${req.required} was applied before the read was asked (t=${req.at})`);
        }
        n.pendingReads.push(rs);
      }
      // A context we did not ask in this life (a duplicate, or from before a crash) is ignored.
    }
    if (this.readyCrash(n, 'after apply, before advance')) return;
    core.advance();
    if (rd.softState) for (const l of this.softStateListeners) l(n, rd.softState, core.status().term);

    // 6. Serve reads whose point is applied.
    if (n.pendingReads.length > 0) {
      const ready = n.pendingReads.filter((r) => r.index <= n.applied);
      if (ready.length > 0) {
        n.pendingReads = n.pendingReads.filter((r) => r.index > n.applied);
        for (const rs of ready) {
          this.readRequests.delete(dec.decode(rs.context));
          for (const l of this.readListeners) l(n, rs);
        }
      }
    }
  }

  private applyCommitted(n: SimNode, rd: Ready): void {
    // Committed: what the core knew when it handed the entries out (its durable copy of that
    // commit index may still be being written).
    const commit = Math.max(n.storage.hardState.commit, rd.hardState?.commit ?? 0);
    for (const e of rd.committedEntries) {
      if (e.index !== n.applied + 1) {
        violation('apply order', `${n.id} was handed entry ${e.index} to apply after ${n.applied}`);
      }
      n.sm.apply(e);
      n.applied = e.index;
      this.inv.observeApply(n.id, e, n.sm.chain, commit);
      for (const l of this.applyListeners) l(n, e);
    }
  }

  private sendMessage(n: SimNode, m: Message): void {
    if (m.from !== n.id) violation('message', `${n.id} sent a message from ${m.from}`);
    this.net.send(m, this.now);
  }

  private readonly roles = new Map<string, string>();
  private readonly confChecked = new Map<string, number>();

  private observe(n: SimNode): void {
    const s: Status = n.core.status();
    const key = `${s.role}/${s.term}`;
    if (this.roles.get(n.id) !== key) {
      this.roles.set(n.id, key);
      if (s.role === 'leader') this.counters.elections++;
      this.trace.add(this.now, n.id, 'state', () => `${s.role} term=${s.term} leader=${s.leader || '-'} commit=${s.commit} last=${s.lastIndex}`);
    }
    this.inv.observeStatus(n, s, (id) => this.nodes.get(id));
    if (s.commit < n.lastCommit) {
      violation('commit monotonic', `${n.id} commit went from ${n.lastCommit} to ${s.commit} without a crash`);
    }
    n.lastCommit = s.commit;
    if (!n.persisting && s.applied !== n.applied) {
      violation('applied index', `${n.id} core says applied ${s.applied}, the driver applied ${n.applied}`);
    }
    if (s.commit < n.applied) violation('applied index', `${n.id} applied ${n.applied} past its commit ${s.commit}`);
    if (!n.persisting && s.lastIndex !== n.storage.lastIndex()) {
      violation('durable log', `${n.id} core's last index ${s.lastIndex} differs from the durable ${n.storage.lastIndex()} with no Ready pending`);
    }
    // A snapshot received while a write was under way already rules the core (its log starts
    // after it) though the driver has not installed it yet: the core acts on its configuration.
    // While a write is under way the driver may have applied entries the core has not yet
    // been told of (advance() comes after the write); the core acts on what it was told.
    const confIndex = Math.max(n.persisting ? s.applied : n.applied, s.firstIndex - 1);
    const checked = this.confChecked.get(n.id);
    const stamp = confIndex * 64 + n.incarnation;
    if (checked !== stamp) {
      this.confChecked.set(n.id, stamp);
      this.inv.checkConf(n.id, confIndex, s.conf);
    }
  }

  // ---- views -----------------------------------------------------------------------------------

  status(n: SimNode): Status {
    return n.core.status();
  }

  /** Up nodes that believe they lead, highest term first. */
  leaders(): SimNode[] {
    return this.upNodes()
      .map((n) => ({ n, s: n.core.status() }))
      .filter((x) => x.s.role === 'leader')
      .sort((a, b) => b.s.term - a.s.term)
      .map((x) => x.n);
  }

  leader(): SimNode | undefined {
    return this.leaders()[0];
  }

  /** One line per node, for failure reports. */
  describe(): string[] {
    const lines: string[] = [];
    for (const n of this.nodes.values()) {
      const d = n.storage;
      let line = `${n.id} ${n.state.padEnd(7)} durable term=${d.hardState.term} vote=${d.hardState.vote || '-'} commit=${d.hardState.commit} snap=${d.snapIndex}/${d.snapshot.meta.term} last=${d.lastIndex()}`;
      if (n.up) {
        const s = n.core.status();
        line += ` | ${s.role} term=${s.term} leader=${s.leader || '-'} commit=${s.commit} applied=${s.applied} ${confString(s.conf)}`;
      }
      lines.push(line);
    }
    lines.push(`committed conf: ${confString(this.inv.latestConf())}; max applied ${this.inv.maxApplied}; cut links: ${this.net.describeCuts() || 'none'}; in flight ${this.net.inFlight}`);
    return lines;
  }
}

export function confChangeName(t: ConfChangeType): string {
  return t === ConfChangeType.ADD_VOTER ? 'ADD_VOTER' : t === ConfChangeType.ADD_LEARNER ? 'ADD_LEARNER' : t === ConfChangeType.REMOVE_NODE ? 'REMOVE_NODE' : `type${String(t)}`;
}

function describeReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState) parts.push(`soft=${rd.softState.role}/${rd.softState.leader || '-'}`);
  if (rd.hardState) parts.push(`hs=${rd.hardState.term}/${rd.hardState.vote || '-'}/${rd.hardState.commit}`);
  if (rd.entries.length > 0) parts.push(`persist=[${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}]`);
  if (rd.snapshot) parts.push(`snapshot=${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
  if (rd.messages.length > 0) parts.push(`msgs=${rd.messages.length}`);
  if (rd.committedEntries.length > 0) parts.push(`apply=[${rd.committedEntries[0]!.index}..${rd.committedEntries[rd.committedEntries.length - 1]!.index}]`);
  if (rd.readStates.length > 0) parts.push(`reads=${rd.readStates.map((r) => r.index).join(',')}`);
  return parts.join(' ');
}

export { InvariantViolation };
