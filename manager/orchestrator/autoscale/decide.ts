// The autoscaler's arithmetic, free of the store and of time sources so it is tested alone:
// per-service connection rates from the cumulative counters nodes send in heartbeats, and the
// replica count to ask for with Kubernetes HPA's stabilisation (up at once, down only when every
// recommendation of the last window is lower, to the highest of them).

export interface AutoscaleBounds {
  min: number;
  max: number;
  /** New connections per second one task is meant to take. */
  targetRps: number;
}

interface Sample {
  at: number;
  total: number;
}

/**
 * Cumulative connection counts per node and service, kept in the leader's memory only: a new
 * leader starts empty and needs two heartbeats per node before it has a rate (so it does nothing
 * until then, rather than act on a guess).
 */
export class ConnectionRates {
  private readonly samples = new Map<string, Map<string, Sample[]>>();

  constructor(private readonly windowMs: number) {}

  /** One node's heartbeat: its totals per service (by name), at `at` (ms). */
  record(nodeId: string, at: number, totals: ReadonlyMap<string, number>): void {
    let byService = this.samples.get(nodeId);
    if (!byService) this.samples.set(nodeId, (byService = new Map<string, Sample[]>()));
    for (const [serviceId, total] of totals) {
      let list = byService.get(serviceId);
      if (!list) byService.set(serviceId, (list = []));
      list.push({ at, total });
      // Keep one sample older than the window, so the window's first delta has a start.
      while (list.length > 2 && list[1]!.at <= at - this.windowMs) list.shift();
    }
    for (const serviceId of [...byService.keys()]) if (!totals.has(serviceId)) byService.delete(serviceId);
  }

  /** A node left the cluster: its counters no longer count. */
  forget(nodeId: string): void {
    this.samples.delete(nodeId);
  }

  /**
   * New connections per second to a service over the window, summed over nodes; undefined when
   * no node has reported it twice (no counters: no decision).
   */
  rate(serviceId: string, now: number): number | undefined {
    let sum = 0;
    let known = false;
    for (const byService of this.samples.values()) {
      const list = byService.get(serviceId);
      if (!list || list.length < 2) continue;
      const from = Math.max(list[0]!.at, now - this.windowMs);
      let count = 0;
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const cur = list[i]!;
        if (cur.at <= now - this.windowMs) continue;
        // A smaller total means the node's mesh restarted (or dropped a retired backend's
        // counter): that sample is a new baseline, never a negative delta nor a spike.
        if (cur.total >= prev.total) count += cur.total - prev.total;
      }
      const seconds = (list[list.length - 1]!.at - from) / 1000;
      if (seconds <= 0) continue;
      known = true;
      sum += count / seconds;
    }
    return known ? sum : undefined;
  }
}

/** ceil(rate / target) within [min, max]. */
export function recommendReplicas(rate: number, bounds: AutoscaleBounds): number {
  const want = Math.ceil(rate / bounds.targetRps - 1e-9);
  return Math.min(bounds.max, Math.max(bounds.min, want));
}

/** Per service: the recommendations of the last window, and what to set replicas to. */
export class Stabiliser {
  private readonly history = new Map<string, { at: number; replicas: number }[]>();
  private readonly since = new Map<string, number>();

  constructor(private readonly downWindowMs: number) {}

  /**
   * The replicas to set given the current count and this round's recommendation: more at once;
   * fewer only once the window is full and every recommendation in it is below the current
   * count, to the highest of them.
   */
  decide(serviceId: string, now: number, current: number, recommended: number): number {
    let list = this.history.get(serviceId);
    if (!list) {
      this.history.set(serviceId, (list = []));
      this.since.set(serviceId, now);
    }
    list.push({ at: now, replicas: recommended });
    while (list.length > 0 && list[0]!.at < now - this.downWindowMs) list.shift();
    if (recommended > current) return recommended;
    if (now - this.since.get(serviceId)! < this.downWindowMs) return current;
    const highest = Math.max(...list.map((r) => r.replicas));
    return Math.min(current, highest);
  }

  /** The service was removed, or is no longer autoscaled. */
  forget(serviceId: string): void {
    this.history.delete(serviceId);
    this.since.delete(serviceId);
  }

  services(): string[] {
    return [...this.history.keys()];
  }
}
