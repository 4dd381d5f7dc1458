// The engine every leader-only loop shares: store changes mark work, a burst of changes is
// reconciled once (on the next turn of the event loop), the writes of one pass go out as one
// proposal (split beyond maxBatch), and a failed write is retried after a back-off against a
// fresh read. Loops keep no state that the store does not hold, apart from timers, so a new
// leader converges from a full pass on start.
import type { Logger } from 'pino';
import type { StoreActionT, StoreChange, StoreEvent } from '../store/index.js';
import { DEFAULT_MAX_BATCH, realTimers, type LeaderLoop, type LoopOptions, type OrchestratorHost, type TimerApi } from './host.js';

/** Longest back-off between retries of a failing proposal. */
const MAX_RETRY_MS = 5_000;
/** setTimeout's limit (about 24.8 days); a later wake is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * How long one pass may hold the event loop, about (loops that can stop part-way check
 * sliceOver()). Raft's ticks and messages, heartbeats and sessions wait behind a pass: the
 * default election timeout is 500 ms to 1 s, and a leader whose pass held its loop longer lost
 * its office to it.
 */
export const DEFAULT_SLICE_MS = 50;

export abstract class ReconcileLoop implements LeaderLoop {
  protected readonly logger: Logger;
  private readonly timers: TimerApi;
  /** Most actions in one proposal; loops that create objects also create at most this many per pass. */
  protected readonly maxBatch: number;
  private readonly retryMs: number;
  private readonly sliceMs: number;
  private readonly passClock: () => number;
  /** passClock() when the running pass started. */
  private passStarted = 0;
  private started = false;
  /** Bumped by start() and stop(): a pass that outlives its term of office must not act. */
  private epoch = 0;
  private unsubscribe: (() => void) | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private again = false;
  private failures = 0;
  private retryTimer: unknown;
  /** Keys (e.g. service ids) to look at again at a given time: delayed restarts. */
  private readonly wakes = new Map<string, number>();
  private wakeTimer: unknown;
  private wakeTimerAt = Infinity;
  private idleWaiters: (() => void)[] = [];
  /**
   * Passes run, the most writes one pass returned, the most tasks one pass read (loops that
   * count them) and the longest time one pass held the event loop (its synchronous part, ms):
   * tests and benchmarks, is a pass bounded? instancesVisited: slots the replicated
   * orchestrator's passes looked at (its work beside the tasks read).
   */
  readonly stats = { passes: 0, largestPass: 0, mostTasksRead: 0, instancesVisited: 0, longestPassMs: 0 };

  protected constructor(
    protected readonly host: OrchestratorHost,
    readonly name: string,
    opts: LoopOptions = {},
  ) {
    this.logger = host.logger.child({ loop: name });
    this.timers = opts.timers ?? realTimers;
    this.maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
    this.retryMs = Math.max(1, opts.retryMs ?? 100);
    this.sliceMs = Math.max(1, opts.sliceMs ?? DEFAULT_SLICE_MS);
    this.passClock = opts.passClock ?? (() => performance.now());
  }

  /** Everything is dirty: on start, after a snapshot restore, after a failed write. */
  protected abstract markAll(): void;
  /** Marks what `change` makes worth another look; true if a pass is needed. */
  protected abstract onChange(change: StoreChange): boolean;
  /** Reads the store and returns the writes that move it toward the desired state. */
  protected abstract reconcile(): StoreActionT[];
  /** A wake set with wakeAt(key) is due. */
  protected onWake(_key: string): void {}
  /**
   * The store may hold anything (a new term of office, a snapshot restored): a loop that keeps
   * a view of the store rebuilds it here. Called before markAll() on start and on a reset.
   */
  protected resync(): void {}
  /** Stopped: a loop that keeps a view of the store drops it (a follower needs none). */
  protected release(): void {}

  /**
   * The running pass has held the event loop for its time slice: a loop that can stop
   * part-way marks what is left and returns (the next pass goes on after a turn of the loop).
   */
  protected sliceOver(): boolean {
    return this.passClock() - this.passStarted >= this.sliceMs;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.epoch++;
    this.unsubscribe = this.host.store.onChange((e: StoreEvent) => {
      if (e.action === 'reset') {
        this.resync();
        this.markAll();
      } else if (!this.onChange(e)) return;
      this.kick();
    });
    this.resync();
    this.markAll();
    this.kick();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.epoch++;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.clearRetry();
    if (this.wakeTimer !== undefined) this.timers.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeTimerAt = Infinity;
    this.wakes.clear();
    this.running = false;
    this.again = false;
    this.failures = 0;
    this.release();
    this.resolveIdle();
  }

  /** Resolves once no pass is queued, running or waiting to retry (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.started || (!this.running && this.immediate === undefined && this.retryTimer === undefined);
  }

  private resolveIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Queues a pass for the next turn; changes arriving meanwhile join it (coalescing). */
  protected kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    const epoch = this.epoch;
    this.running = true;
    this.again = false;
    this.clearRetry();
    let retryIn: number | undefined;
    const started = performance.now();
    this.passStarted = this.passClock();
    try {
      const actions = this.reconcile();
      this.stats.longestPassMs = Math.max(this.stats.longestPassMs, this.passClock() - this.passStarted);
      this.stats.passes++;
      this.stats.largestPass = Math.max(this.stats.largestPass, actions.length);
      for (let i = 0; i < actions.length; i += this.maxBatch) {
        await this.host.propose(actions.slice(i, i + this.maxBatch));
        if (epoch !== this.epoch) return;
      }
      this.failures = 0;
      this.host.observePass?.(this.name, (performance.now() - started) / 1000, actions.length);
    } catch (err) {
      if (epoch !== this.epoch) return;
      retryIn = this.failed(err);
    }
    this.running = false;
    if (retryIn === undefined) {
      if (this.again) this.kick();
    } else if (retryIn === 0) {
      this.kick();
    } else {
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, retryIn);
    }
    this.resolveIdle();
  }

  /**
   * A conflict is routine (someone wrote first): re-read and retry at once, a few times; any
   * other failure, or conflicts that keep coming, back off. Returns the delay before the retry.
   */
  private failed(err: unknown): number {
    this.failures++;
    const code = (err as { code?: unknown } | null)?.code;
    const conflict = code === 'VERSION_CONFLICT';
    const delay = conflict && this.failures <= 3 ? 0 : Math.min(MAX_RETRY_MS, this.retryMs * 2 ** Math.min(this.failures - 1, 16));
    const log = { err: err instanceof Error ? err.message : String(err), code, failures: this.failures, retryInMs: delay };
    if (conflict) this.logger.debug(log, 'write conflicted; retrying with a fresh read');
    else this.logger.warn(log, 'reconcile failed; retrying');
    this.markAll();
    this.again = false;
    return delay;
  }

  private clearRetry(): void {
    if (this.retryTimer === undefined) return;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Calls onWake(key) and runs a pass at time `at` (host clock); replaces an earlier wake of key. */
  protected wakeAt(key: string, at: number): void {
    if (!this.started) return;
    this.wakes.set(key, at);
    this.armWake();
  }

  /** wakeAt, unless `key` already wakes sooner. */
  protected wakeBy(key: string, at: number): void {
    const set = this.wakes.get(key);
    if (set === undefined || at < set) this.wakeAt(key, at);
  }

  protected clearWake(key: string): void {
    this.wakes.delete(key);
  }

  private armWake(): void {
    let next = Infinity;
    for (const at of this.wakes.values()) next = Math.min(next, at);
    if (next >= this.wakeTimerAt) return;
    if (this.wakeTimer !== undefined) this.timers.clearTimeout(this.wakeTimer);
    this.wakeTimerAt = next;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.host.now()));
    this.wakeTimer = this.timers.setTimeout(() => this.fireWakes(), delay);
  }

  private fireWakes(): void {
    this.wakeTimer = undefined;
    this.wakeTimerAt = Infinity;
    if (!this.started) return;
    const now = this.host.now();
    let due = false;
    for (const [key, at] of [...this.wakes]) {
      if (at > now) continue;
      this.wakes.delete(key);
      this.onWake(key);
      due = true;
    }
    if (due) this.kick();
    // A timer that fired early (a clock step) or a wake beyond the timer limit: wait again.
    if (this.wakes.size > 0) this.armWake();
  }
}
