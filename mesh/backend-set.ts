// The backends of one published port: which one a new connection goes to (round-robin or
// least-connections), which ones failed lately, and the per-backend counters the metrics show.
import { isIP } from 'node:net';
import { parseHostPort } from './address.js';

/** How long a backend that failed to connect is avoided by following connections. */
export const FAILED_BACKEND_AVOID_MS = 1500;
/** At most this many backends no longer in the table keep their counters (for monotonic metrics). */
const MAX_RETIRED = 256;

export class Backend {
  /** Connections (or UDP flows) using this backend now, connecting ones included. */
  open = 0;
  connectionsTotal = 0;
  failuresTotal = 0;
  bytesIn = 0; // client → backend
  bytesOut = 0; // backend → client
  datagramsIn = 0;
  datagramsOut = 0;
  /** Avoid until this time (ms since epoch) after a failed connect. */
  failedUntil = 0;
  /** False once the table no longer lists it (UDP flows on it are then moved). */
  active = true;
  /** 4 or 6 for an IP address, 0 for a name to resolve: parsed once, not on every connect. */
  readonly family: number;

  constructor(
    readonly addr: string,
    readonly host: string,
    readonly port: number,
  ) {
    this.family = isIP(host);
  }

  markFailed(now = Date.now()): void {
    this.failuresTotal++;
    this.failedUntil = now + FAILED_BACKEND_AVOID_MS;
  }
}

export class BackendSet {
  /** The table's current backends, in table order. */
  current: Backend[] = [];
  leastConnections = false;
  /** Every backend seen (current and recently retired), by addr: their counters. */
  readonly known = new Map<string, Backend>();
  private next = 0;

  /** Replaces the set in place; a backend that stays keeps its object (open count, counters). */
  replace(addrs: readonly string[], leastConnections: boolean): string[] {
    this.leastConnections = leastConnections;
    const bad: string[] = [];
    const seen = new Set<string>();
    const list: Backend[] = [];
    for (const addr of addrs) {
      if (seen.has(addr)) continue;
      seen.add(addr);
      let b = this.known.get(addr);
      if (!b) {
        const hp = parseHostPort(addr);
        if (!hp) {
          bad.push(addr);
          continue;
        }
        b = new Backend(addr, hp.host, hp.port);
        this.known.set(addr, b);
      }
      b.active = true;
      list.push(b);
    }
    for (const b of this.current) if (!seen.has(b.addr)) b.active = false;
    this.current = list;
    this.pruneRetired();
    return bad;
  }

  /**
   * The backend for a new connection, never one in `tried`; backends marked failed only when
   * every other one is, too. Undefined when none is left.
   */
  pick(tried?: readonly Backend[]): Backend | undefined {
    const list = this.current;
    const n = list.length;
    if (n === 0) return undefined;
    const now = Date.now();
    if (n === 1 && !tried) return list[0];
    let chosen: Backend | undefined;
    let fallback: Backend | undefined; // best among the recently failed
    const start = this.next;
    for (let i = 0; i < n; i++) {
      const b = list[(start + i) % n]!;
      if (tried && tried.includes(b)) continue;
      if (b.failedUntil > now) {
        if (!fallback || b.failedUntil < fallback.failedUntil) fallback = b;
        continue;
      }
      if (!this.leastConnections) {
        chosen = b;
        this.next = (start + i + 1) % n;
        break;
      }
      if (!chosen || b.open < chosen.open) chosen = b;
    }
    if (this.leastConnections) this.next = (start + 1) % n;
    return chosen ?? fallback;
  }

  private pruneRetired(): void {
    if (this.known.size <= this.current.length + MAX_RETIRED) return;
    for (const [addr, b] of this.known) {
      if (b.active || b.open > 0) continue;
      this.known.delete(addr);
      if (this.known.size <= this.current.length + MAX_RETIRED) return;
    }
  }
}
