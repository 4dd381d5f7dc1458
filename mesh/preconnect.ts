// Pre-opened backend connections: with a new client connection per request, connecting to the
// backend is half of the mesh's work and a full event-loop turn of latency. A small pool of
// idle connections per backend, refilled as soon as one is taken, lets a client's bytes go out
// at once. The pool only exists while connections keep coming (it refills on use and entries
// idle for POOL_IDLE_MS are closed), so an idle mesh holds nothing open on its backends.
// A pooled connection the backend closes or resets is dropped, never handed out.
import type { Backend } from './backend-set.js';

/** Idle pre-opened connections kept per backend while it is in use. */
export const POOL_SIZE = 8;
/** A pooled connection unused for this long is closed (and not replaced until the next use). */
export const POOL_IDLE_MS = 1000;

/**
 * What a pool needs of the engine's connections. `open` starts a connect to the pool's backend
 * and reports with pool.opened(c) or pool.openFailed(); an idle connection the backend closes
 * or resets is reported with pool.lost(c). Data a backend sends on an idle connection is kept
 * by the engine and relayed first once the connection is taken.
 */
export interface PoolOps<C> {
  open(pool: BackendPool<C>): void;
  /** False for a connection that has ended or broken since it went idle. */
  usable(c: C): boolean;
  /** Stops watching an idle connection: it is taken by a relay. */
  detach(c: C): void;
  close(c: C): void;
}

export class BackendPool<C> {
  private readonly idle: { c: C; at: number }[] = [];
  connecting = 0;
  closed = false;

  constructor(
    readonly backend: Backend,
    readonly size: number,
    private readonly ops: PoolOps<C>,
  ) {}

  /** An open idle connection to the backend (taken out of the pool), or undefined. */
  take(): C | undefined {
    let entry = this.idle.pop();
    while (entry && !this.ops.usable(entry.c)) {
      this.ops.close(entry.c);
      entry = this.idle.pop();
    }
    if (entry) this.ops.detach(entry.c);
    this.refill();
    return entry?.c;
  }

  /**
   * After a take: opens up to two connections (one to replace the taken one, one to grow) while
   * the pool with those on their way is below its size, so it grows with the connection rate.
   */
  refill(): void {
    if (this.closed || !this.backend.active || this.backend.failedUntil > Date.now()) return;
    const want = Math.min(this.size, this.idle.length + this.connecting + 2);
    for (let n = this.idle.length + this.connecting; n < want; n++) {
      this.connecting++;
      this.ops.open(this);
    }
  }

  opened(c: C): void {
    this.connecting--;
    if (this.closed) {
      this.ops.close(c);
      return;
    }
    this.idle.push({ c, at: Date.now() });
  }

  openFailed(): void {
    this.connecting--;
    // A refused pre-connect says what a client connection would have learnt the hard way.
    if (this.backend.failedUntil <= Date.now()) this.backend.markFailed();
  }

  /** An idle connection closed or broke: never handed out. */
  lost(c: C): void {
    const i = this.idle.findIndex((e) => e.c === c);
    if (i >= 0) this.idle.splice(i, 1);
    this.ops.close(c);
  }

  /** Closes idle connections older than POOL_IDLE_MS; all of them when `all`. */
  trim(now: number, all = false): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const e = this.idle[i]!;
      if (all || now - e.at > POOL_IDLE_MS) {
        this.idle.splice(i, 1);
        this.ops.close(e.c);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.trim(0, true);
  }

  get empty(): boolean {
    return this.idle.length === 0 && this.connecting === 0;
  }
}

/** What a port's registry needs of a pool, whichever relay engine owns its connections. */
export interface IdlePool {
  trim(now: number): void;
  close(): void;
  readonly empty: boolean;
}

/**
 * One port's pools, one per backend in use, trimmed on a single timer that runs only while
 * any pool exists.
 */
export class PoolRegistry<P extends IdlePool> {
  private readonly pools = new Map<Backend, P>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly create: (backend: Backend) => P) {}

  for(backend: Backend): P {
    let pool = this.pools.get(backend);
    if (!pool) {
      pool = this.create(backend);
      this.pools.set(backend, pool);
      if (!this.timer) {
        this.timer = setInterval(() => this.trim(), POOL_IDLE_MS / 2);
        this.timer.unref();
      }
    }
    return pool;
  }

  /** After the backend set changed: pools of backends no longer listed are closed. */
  dropInactive(): void {
    for (const [b, pool] of this.pools) {
      if (b.active) continue;
      pool.close();
      this.pools.delete(b);
    }
  }

  closeAll(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.stopTimer();
  }

  private trim(): void {
    const now = Date.now();
    for (const [b, pool] of this.pools) {
      pool.trim(now);
      if (pool.empty) this.pools.delete(b);
    }
    if (this.pools.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
