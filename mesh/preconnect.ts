// Pre-opened backend connections: with a new client connection per request, connecting to the
// backend is half of the mesh's work and a full event-loop turn of latency. A small pool of
// idle connections per backend, refilled as soon as one is taken, lets a client's bytes go out
// at once. The pool only exists while connections keep coming (it refills on use and entries
// idle for POOL_IDLE_MS are closed), so an idle mesh holds nothing open on its backends.
// A pooled connection the backend closes or resets is dropped, never handed out.
import { connect, type Socket } from 'node:net';
import type { Backend } from './backend-set.js';

/** Idle pre-opened connections kept per backend while it is in use. */
export const POOL_SIZE = 8;
/** A pooled connection unused for this long is closed (and not replaced until the next use). */
export const POOL_IDLE_MS = 1000;

type PooledSocket = Socket & { pool: BackendPool; pooledAt: number };

export class BackendPool {
  readonly idle: PooledSocket[] = [];
  connecting = 0;
  closed = false;

  constructor(
    readonly backend: Backend,
    readonly size: number,
  ) {}

  /** An open idle connection to the backend (taken out of the pool), or undefined. */
  take(): Socket | undefined {
    let s: PooledSocket | undefined;
    while ((s = this.idle.pop())) {
      if (s.destroyed || s.readableEnded) continue;
      s.off('error', onPooledError);
      s.off('end', onPooledEnd);
      s.off('close', onPooledClose);
      this.refill();
      return s;
    }
    this.refill();
    return undefined;
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
      const s = connect({ host: this.backend.host, port: this.backend.port, allowHalfOpen: true, noDelay: true }) as PooledSocket;
      s.pool = this;
      s.pooledAt = 0;
      s.on('connect', onPooledConnect);
      s.on('error', onPooledError);
      s.on('end', onPooledEnd);
      s.on('close', onPooledClose);
    }
  }

  /** Closes idle connections older than POOL_IDLE_MS; all of them when `all`. */
  trim(now: number, all = false): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const s = this.idle[i]!;
      if (all || now - s.pooledAt > POOL_IDLE_MS) {
        this.idle.splice(i, 1);
        s.destroy();
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

function onPooledConnect(this: PooledSocket): void {
  const pool = this.pool;
  pool.connecting--;
  this.pooledAt = Date.now();
  if (pool.closed) {
    this.destroy();
    return;
  }
  pool.idle.push(this);
}

function onPooledError(this: PooledSocket): void {
  // A refused pre-connect says what a client connection would have learnt the hard way.
  const backend = this.pool.backend;
  if (this.pooledAt === 0 && backend.failedUntil <= Date.now()) backend.markFailed();
  this.destroy();
}

function onPooledEnd(this: PooledSocket): void {
  this.destroy();
}

function onPooledClose(this: PooledSocket): void {
  const pool = this.pool;
  if (this.pooledAt === 0) {
    pool.connecting--;
    return;
  }
  const i = pool.idle.indexOf(this);
  if (i >= 0) pool.idle.splice(i, 1);
}

/** What a port's registry needs of a pool, whichever relay engine owns its connections. */
export interface IdlePool {
  trim(now: number): void;
  close(): void;
  readonly empty: boolean;
}

/**
 * One port's pools, one per backend in use, trimmed on a single timer that runs only while
 * any pool exists. Shared by both TCP relay engines (tcp-port.ts, raw-tcp-port.ts).
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
