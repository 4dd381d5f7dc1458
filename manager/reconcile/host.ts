// What the leader-only loops (orchestrators, scheduler) need of the manager they run on. The
// Manager satisfies store/propose structurally; the daemon adds now() and a logger. Tests pass
// a fake whose propose applies the batch to a bare ClusterStore, so no Raft is involved.
import type { Logger } from 'pino';
import type { ClusterStore, StoreActionT } from '../store/index.js';

export interface OrchestratorHost {
  readonly store: ClusterStore;
  /** One atomic batch through Raft; rejects with a BatonError (VERSION_CONFLICT: re-read, retry). */
  propose(actions: StoreActionT[]): Promise<unknown>;
  /** ms since the epoch; stamped on what the loops write and used for restart delays. */
  now(): number;
  logger: Logger;
  /** Told after each pass of a loop: its name, how long it took (reconcile and writes), writes made. */
  observePass?(loop: string, seconds: number, writes: number): void;
}

/** Timers behind restart delays and retry back-off; tests drive them with a fake clock. */
export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LoopOptions {
  /** Default: the global setTimeout/clearTimeout. */
  timers?: TimerApi;
  /** Most actions in one proposal; a pass with more is split (default 200). */
  maxBatch?: number;
  /** First back-off after a failed proposal, doubled per failure up to 5 s (default 100 ms). */
  retryMs?: number;
  /** Tasks a service loop's pass looks at before it leaves the rest to the next pass (default 20,000). */
  maxTasksPerPass?: number;
  /** How long a pass may hold the event loop before it leaves the rest to the next pass, in ms (default 50; loops that can stop part-way). */
  sliceMs?: number;
  /**
   * The monotonic clock (ms) a pass's time slice and stats.longestPassMs are read from
   * (default performance.now); a test steps it to end a slice where it wants, whatever the
   * machine's speed.
   */
  passClock?: () => number;
}

export const DEFAULT_MAX_BATCH = 200;

export const realTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A loop that runs only on the leader: started when this manager wins an election, stopped when it loses it. */
export interface LeaderLoop {
  start(): void;
  stop(): void;
}
