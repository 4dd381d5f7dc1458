// Change notification. Listeners run synchronously right after a batch is applied, in log
// order, so a listener that reads the store sees the state the batch produced. The async
// iterator buffers for a slow consumer, but only up to a limit: an orchestrator that cannot
// keep up must re-list, not make the manager hold every change since it stalled.
import { WatchOverflowError } from './errors.js';
import { type ListFilter, matches } from './filter.js';
import type { Kind, Stored } from './kinds.js';

export type ChangeAction = 'create' | 'update' | 'delete';

/**
 * One object changed by the batch at Raft index `index`. `object` is the object after the
 * change (for a delete, as it was when deleted); `old` is the replaced object of an update.
 */
export type StoreChange = {
  [K in Kind]: { kind: K; action: ChangeAction; object: Stored<K>; old?: Stored<K>; index: number };
}[Kind];

/** The store was replaced by a snapshot: everything a watcher knew is void, re-list. */
export interface StoreReset {
  action: 'reset';
}

export type StoreEvent = StoreChange | StoreReset;

/** A reset always passes: no filter can tell what changed. */
export interface WatchFilter extends ListFilter {
  kinds?: readonly Kind[];
  actions?: readonly ChangeAction[];
}

export type ChangeListener = (event: StoreEvent) => void;

export function eventMatches(e: StoreEvent, f: WatchFilter | undefined): boolean {
  if (f === undefined || e.action === 'reset') return true;
  if (f.kinds !== undefined && !f.kinds.includes(e.kind)) return false;
  if (f.actions !== undefined && !f.actions.includes(e.action)) return false;
  // An update that moves an object out of the filter (a task leaving a node) still concerns
  // whoever watched it there.
  return matches(e.kind, e.object, f) || (e.old !== undefined && matches(e.kind, e.old, f));
}

export const DEFAULT_WATCH_BUFFER = 10_000;

/** An async iterator over store events; `close()` (or breaking out of for-await) unsubscribes. */
export class StoreWatch implements AsyncIterableIterator<StoreEvent> {
  private buffer: StoreEvent[] = [];
  private head = 0;
  private waiter: { resolve(r: IteratorResult<StoreEvent>): void; reject(e: Error): void } | undefined;
  private failure: Error | undefined;
  private done = false;
  private unsubscribe: () => void = () => undefined;

  constructor(readonly limit: number = DEFAULT_WATCH_BUFFER) {}

  /** @internal the store wires the subscription in after construction */
  attach(unsubscribe: () => void): void {
    this.unsubscribe = unsubscribe;
  }

  /** @internal */
  push(e: StoreEvent): void {
    if (this.done) return;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: e, done: false });
      return;
    }
    if (this.buffer.length - this.head >= this.limit) {
      this.fail(new WatchOverflowError(this.limit));
      return;
    }
    this.buffer.push(e);
  }

  /** Events waiting for the consumer. */
  get pending(): number {
    return this.buffer.length - this.head;
  }

  next(): Promise<IteratorResult<StoreEvent>> {
    if (this.head < this.buffer.length) {
      const value = this.buffer[this.head++] as StoreEvent;
      if (this.head === this.buffer.length) this.compact();
      // A consumer that keeps up only partly never empties the buffer: drop what it has read.
      else if (this.head >= 1024 && this.head * 2 >= this.buffer.length) this.dropRead();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) {
      const e = this.failure;
      this.failure = undefined;
      return Promise.reject(e);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<StoreEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StoreEvent> {
    return this;
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
    this.compact();
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  private fail(e: Error): void {
    this.close();
    this.failure = e;
  }

  private dropRead(): void {
    this.buffer = this.buffer.slice(this.head);
    this.head = 0;
  }

  private compact(): void {
    this.buffer = [];
    this.head = 0;
  }
}
