// An OrchestratorHost without Raft: each proposal is applied straight to a local store as the
// next log entry, with the store's own atomicity and version checks. The loops run on it
// unchanged; unit tests, the scale benchmark and simulations use it with a ManualClock.
import { pino, type Logger } from 'pino';
import { BatonError, type ErrorCode } from '../../rpc/errors.js';
import { EntryType } from '../../raft/index.js';
import { ClusterStore, encodeBatch, type StoreActionT, type StoreErrorCode, type StoreObjectT } from '../store/index.js';
import type { OrchestratorHost, TimerApi } from './host.js';

const CODES: Record<StoreErrorCode, ErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  INVALID: 'INVALID_ARGUMENT',
};

export class LocalHost implements OrchestratorHost {
  readonly store: ClusterStore;
  readonly logger: Logger;
  /** Index of the last applied entry. */
  index = 0;
  /** Proposals made through propose() (not apply()). */
  proposals = 0;
  private readonly clock: { now(): number };

  constructor(opts: { store?: ClusterStore; clock?: { now(): number }; logger?: Logger } = {}) {
    this.store = opts.store ?? new ClusterStore();
    this.clock = opts.clock ?? Date;
    this.logger = opts.logger ?? pino({ level: 'silent' });
  }

  now(): number {
    return this.clock.now();
  }

  async propose(actions: StoreActionT[]): Promise<StoreObjectT[]> {
    this.proposals++;
    return this.apply(actions);
  }

  /** Applies a batch now, as the next entry; a failed batch throws its BatonError. */
  apply(actions: StoreActionT[]): StoreObjectT[] {
    const result = this.store.apply({ term: 1, index: ++this.index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions) });
    if (!result.ok) throw new BatonError(CODES[result.error.code], result.error.message);
    return result.objects;
  }
}

/** A clock and timers that move only when told to (advance). */
export class ManualClock implements TimerApi {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(private t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, firing every timer that comes due, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }
}
