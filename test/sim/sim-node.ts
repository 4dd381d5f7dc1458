// One simulated node: its durable storage (exactly what its Readies persisted), and, while it
// is up, a RawNode and the KV state machine built from that storage. A crash throws away the
// RawNode, the state machine and any read waiting to be served; a restart rebuilds them from
// storage alone.
import { RawNode, type RaftConfig } from '../../raft/core/raw-node.js';
import type { PersistPlan } from '../../raft/core/persist-plan.js';
import type { Entry, HardState, PersistedState, ReadState, Ready, Snapshot } from '../../raft/core/types.js';
import { KvStateMachine } from './kv.js';
import { violation, type NodeView } from './invariants.js';

export type NodeState = 'up' | 'down' | 'stopped';

/** RaftConfig without id and random, which the simulator fills in per node and incarnation. */
export type CoreParams = Omit<RaftConfig, 'id' | 'random'>;

export class DurableStorage {
  hardState: HardState;
  snapshot: Snapshot;
  /** Entries after snapshot.meta.index, contiguous. */
  entries: Entry[];

  constructor(initial: PersistedState) {
    this.hardState = { ...initial.hardState };
    this.snapshot = initial.snapshot;
    this.entries = initial.entries.filter((e) => e.index > initial.snapshot.meta.index);
  }

  get snapIndex(): number {
    return this.snapshot.meta.index;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapshot.meta.term;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1]!.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1];
  }

  /** Write entries from entries[0].index on, replacing whatever tail was there. */
  writeEntries(node: string, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.snapIndex) {
      violation('ready entries', `${node} was asked to persist entry ${first} at or below its snapshot ${this.snapIndex}`);
    }
    if (first > this.lastIndex() + 1) {
      violation('ready entries', `${node} was asked to persist entry ${first} after last index ${this.lastIndex()} (gap)`);
    }
    this.entries.length = first - this.snapIndex - 1;
    let expect = first;
    for (const e of entries) {
      if (e.index !== expect) violation('ready entries', `${node} got non-contiguous entries to persist: ${e.index} where ${expect} was due`);
      const prevTerm = this.termAt(e.index - 1);
      if (prevTerm !== undefined && e.term < prevTerm) {
        violation('log terms', `${node} would store entry ${e.index} of term ${e.term} after one of term ${prevTerm}`);
      }
      this.entries.push(e);
      expect++;
    }
  }

  /** Install a snapshot: it replaces the whole log. */
  writeSnapshot(snap: Snapshot): void {
    this.snapshot = snap;
    this.entries = [];
  }

  /** Compact: a snapshot of our own applied state; entries after it stay. */
  compactTo(snap: Snapshot): void {
    const i = snap.meta.index;
    this.entries = this.entries.filter((e) => e.index > i);
    this.snapshot = snap;
  }

  /** What a restart reads back. */
  load(): PersistedState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}

export class SimNode implements NodeView {
  state: NodeState = 'up';
  raw: RawNode | undefined;
  sm = new KvStateMachine();
  /** Index of the last entry applied to `sm` (volatile). */
  applied = 0;
  /** Volatile commit index last seen on the core, to check it never goes back within a life. */
  lastCommit = 0;
  incarnation = 0;
  /** The newest hard state the core handed out in this life (volatile; see persistPlan). */
  latestHardState: HardState = { term: 0, vote: '', commit: 0 };
  /** The Ready whose disk write is under way (lost in a crash); no other is handled meanwhile. */
  persisting: { rd: Ready; plan: PersistPlan | undefined; doneAt: number } | undefined;
  /** ReadStates waiting for `applied` to reach their index. */
  pendingReads: ReadState[] = [];
  /** Time (in the simulator's clock) it crashed, or when it should restart. */
  restartAt = 0;
  /** Offset of this node's ticks within the tick period (clocks are not aligned). */
  tickPhase = 0;
  readonly storage: DurableStorage;

  constructor(
    readonly id: string,
    initial: PersistedState,
  ) {
    this.storage = new DurableStorage(initial);
  }

  get up(): boolean {
    return this.state === 'up';
  }

  get durableSnapshot(): Snapshot {
    return this.storage.snapshot;
  }

  durableTermAt(index: number): number | undefined {
    return this.storage.termAt(index);
  }

  durableEntryAt(index: number): Entry | undefined {
    return this.storage.entryAt(index);
  }

  durableLastIndex(): number {
    return this.storage.lastIndex();
  }

  /** Start (or restart) from durable storage. */
  boot(params: CoreParams, random: () => number): void {
    this.incarnation++;
    const persisted = this.storage.load();
    this.raw = new RawNode({ ...params, id: this.id, random }, persisted);
    this.sm = new KvStateMachine();
    this.sm.restore(persisted.snapshot.data, persisted.snapshot.meta.index);
    this.applied = persisted.snapshot.meta.index;
    this.lastCommit = persisted.hardState.commit;
    this.latestHardState = { ...persisted.hardState };
    this.pendingReads = [];
    this.state = 'up';
  }

  crash(): void {
    this.raw = undefined;
    this.persisting = undefined;
    this.pendingReads = [];
    this.state = 'down';
  }

  stop(): void {
    this.raw = undefined;
    this.persisting = undefined;
    this.pendingReads = [];
    this.state = 'stopped';
  }

  /** The running core; throws if the node is down. */
  get core(): RawNode {
    if (!this.raw) throw new Error(`${this.id} is not running`);
    return this.raw;
  }
}
