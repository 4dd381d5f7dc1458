// The recent changes of cluster objects, as this manager's store applied them: what the Events
// call replays before it follows new ones. Every manager applies the same log, so any of them,
// leader or not, answers alike. Only the last `capacity` changes are kept, in memory: a
// manager restarted, or one that caught up from a snapshot, knows the changes it applied since.
import type { baton } from '../../proto/gen/baton.js';
import { nameOf } from '../store/kinds.js';
import type { ClusterStore, StoreChange, StoreEvent } from '../store/index.js';

/** One change as the Events call sends it (baton.Event without its `gap` notice). */
export interface EventT extends baton.Event.$Properties {
  kind: string;
  action: string;
  id: string;
  name: string;
  version: number;
  time: number;
}

/** About two million task updates' worth of bytes at most; a few minutes of a busy cluster. */
export const DEFAULT_EVENT_HISTORY = 20_000;

export type EventListener = (e: EventT) => void;

/**
 * A service write that starts or ends a rebalance (its update status, marked as one, changed
 * state): `baton events` shows it as action `rebalance`, so moves made by the leader on its own
 * are seen as such.
 */
function rebalanceStep(e: StoreChange): boolean {
  if (e.kind !== 'service' || e.action !== 'update') return false;
  const now = e.object.updateStatus;
  const before = e.old?.updateStatus;
  return now?.rebalance === true && (now.state !== before?.state || Number(now.startedAt ?? 0) !== Number(before?.startedAt ?? 0));
}

export class EventHistory {
  private events: EventT[] = [];
  private head = 0;
  /** Every change with a version above this is held; undefined right after a reset, until the next change. */
  private coveredFrom: number | undefined = 0;
  /** Held events are complete from this time (ms); 0: since the log began. */
  private coveredSince = 0;
  private readonly listeners = new Set<EventListener>();

  constructor(
    store: ClusterStore,
    readonly capacity = DEFAULT_EVENT_HISTORY,
    private readonly now: () => number = Date.now,
  ) {
    store.onChange((e) => this.record(e));
  }

  /** Calls `listener` with every new event; returns the unsubscribe. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The held events after version `since`, and whether some after it are no longer held. */
  afterVersion(since: number): { events: EventT[]; complete: boolean; oldest: number } {
    const held = this.held();
    const complete = this.coveredFrom !== undefined && since >= this.coveredFrom;
    return { events: held.filter((e) => e.version > since), complete, oldest: this.coveredFrom ?? this.lastVersion() };
  }

  /** The held events at or after `time` (ms), and whether some since then are no longer held. */
  sinceTime(time: number): { events: EventT[]; complete: boolean; oldest: number } {
    const held = this.held();
    return { events: held.filter((e) => e.time >= time), complete: this.coveredFrom === 0 || time >= this.coveredSince, oldest: this.coveredSince };
  }

  private held(): EventT[] {
    return this.events.slice(this.head);
  }

  private lastVersion(): number {
    return this.events[this.events.length - 1]?.version ?? 0;
  }

  private record(e: StoreEvent): void {
    if (e.action === 'reset') {
      // A snapshot replaced the store: the changes it folded in are not known one by one.
      this.events = [];
      this.head = 0;
      this.coveredFrom = undefined;
      this.coveredSince = this.now();
      return;
    }
    // Entries apply in order and one entry's changes all come together: everything from this
    // one's version on is held from here.
    if (this.coveredFrom === undefined) this.coveredFrom = e.index - 1;
    const deleted = e.action === 'delete';
    const event: EventT = {
      kind: e.kind,
      action: deleted ? 'remove' : rebalanceStep(e) ? 'rebalance' : e.action,
      id: e.object.meta.id,
      name: nameOf(e.kind, e.object),
      version: e.index,
      // When this manager applied it (not every change stamps meta.updated_at: task status
      // does not). Entries replayed at a manager's start get the start's time.
      time: this.now(),
    };
    this.events.push(event);
    this.evict();
    for (const l of [...this.listeners]) l(event);
  }

  /** Drops the oldest entries whole (all the changes of one version) until under capacity. */
  private evict(): void {
    while (this.events.length - this.head > this.capacity) {
      const version = this.events[this.head]!.version;
      while (this.head < this.events.length && this.events[this.head]!.version === version) this.coveredSince = this.events[this.head++]!.time;
      this.coveredFrom = version;
    }
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}
