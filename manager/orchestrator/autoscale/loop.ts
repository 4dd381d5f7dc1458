// The leader-only autoscaler: every interval, for each replicated service with an autoscale
// spec, the rate of new mesh connections (from heartbeat counters, kept in memory: a new leader
// starts over) gives a recommendation, the stabiliser a replica count, and a change is written to
// the store as a replicas-only update with the decision in the service's autoscale status.
import { baton } from '../../../proto/gen/baton.js';
import { BatonError } from '../../../rpc/errors.js';
import { cloneObject, updateAction, type Stored } from '../../store/index.js';
import type { LeaderLoop, OrchestratorHost, TimerApi } from '../../reconcile/host.js';
import { realTimers } from '../../reconcile/host.js';
import { isReplicated } from '../service-loop.js';
import { specVersionOf } from '../../reconcile/tasks.js';
import { parseDuration } from '../../../spec/values.js';
import { ConnectionRates, Stabiliser, recommendReplicas, type AutoscaleBounds } from './decide.js';

export const DEFAULT_AUTOSCALE_INTERVAL_MS = 5_000;
/** Kubernetes HPA's default downscale stabilisation window. */
export const DEFAULT_AUTOSCALE_DOWN_WINDOW_MS = 60_000;
/** Rates are averaged over this long: a few heartbeats, so one late beat does not swing them. */
export const DEFAULT_AUTOSCALE_RATE_WINDOW_MS = 10_000;

export interface AutoscalerOptions {
  intervalMs?: number;
  downWindowMs?: number;
  rateWindowMs?: number;
  timers?: TimerApi;
}

export function boundsOf(service: Stored<'service'>): AutoscaleBounds | undefined {
  const a = service.spec?.autoscale;
  if (!a || !isReplicated(service)) return undefined;
  return { min: Number(a.min ?? 1), max: Number(a.max ?? 1), targetRps: Number(a.targetRps ?? 0) };
}

export class Autoscaler implements LeaderLoop {
  private rates: ConnectionRates;
  private stabiliser: Stabiliser;
  private timer: unknown;
  private running = false;
  private readonly intervalMs: number;
  private readonly downWindowMs: number;
  private readonly rateWindowMs: number;
  private readonly timers: TimerApi;

  constructor(private readonly host: OrchestratorHost, opts: AutoscalerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_AUTOSCALE_INTERVAL_MS;
    this.downWindowMs = opts.downWindowMs ?? DEFAULT_AUTOSCALE_DOWN_WINDOW_MS;
    this.rateWindowMs = opts.rateWindowMs ?? DEFAULT_AUTOSCALE_RATE_WINDOW_MS;
    this.timers = opts.timers ?? realTimers;
    this.rates = new ConnectionRates(this.rateWindowMs);
    this.stabiliser = new Stabiliser(this.downWindowMs);
  }

  /** A heartbeat's counters (the dispatcher calls this on the leader only). */
  record(nodeId: string, totals: Map<string, number>): void {
    if (this.running) this.rates.record(nodeId, this.host.now(), totals);
  }

  start(): void {
    this.running = true;
    this.rates = new ConnectionRates(this.rateWindowMs);
    this.stabiliser = new Stabiliser(this.downWindowMs);
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.timers.setTimeout(() => {
      this.pass().then(
        () => this.schedule(),
        (err: unknown) => {
          this.host.logger.warn({ err }, 'autoscaler pass failed; next pass retries');
          this.schedule();
        },
      );
    }, this.intervalMs);
  }

  /** One round over every autoscaled service (exported for tests through the class). */
  async pass(): Promise<void> {
    const store = this.host.store;
    const now = this.host.now();
    const seen = new Set<string>();
    for (const node of store.list('node')) if (node.status?.state === baton.NodeState.NODE_DOWN) this.rates.forget(node.meta.id);
    for (const service of store.list('service')) {
      const bounds = boundsOf(service);
      if (!bounds) continue;
      seen.add(service.meta.id);
      const name = service.spec?.annotations?.name ?? '';
      const rate = this.rates.rate(name, now);
      if (rate === undefined) continue;
      const current = Number(service.spec?.replicas ?? 0);
      const to = this.stabiliser.decide(service.meta.id, now, current, recommendReplicas(rate, bounds));
      if (to === current) continue;
      await this.write(service, current, to, `${rate.toFixed(1)} conn/s over ${current} task${current === 1 ? '' : 's'}`, now);
    }
    for (const id of this.stabiliser.services()) if (!seen.has(id)) this.stabiliser.forget(id);
  }

  private async write(service: Stored<'service'>, from: number, to: number, reason: string, now: number): Promise<void> {
    const next = cloneObject('service', service);
    next.meta = { ...next.meta, updatedAt: now };
    next.spec!.replicas = to;
    // A replicas-only change: tasks stay current, and `service rollback` still returns to the
    // user's previous spec (previous_spec is not touched).
    next.specVersion = specVersionOf(service);
    next.autoscaleStatus = { from, to, reason, at: now };
    try {
      await this.host.propose([updateAction('service', next)]);
      this.host.logger.info({ service: service.spec?.annotations?.name, from, to, reason }, 'autoscaled');
    } catch (err) {
      // A user's update won the version race: the next pass decides again on the new spec.
      if (!(err instanceof BatonError && err.code === 'VERSION_CONFLICT')) throw err;
    }
  }
}

/**
 * BATON_AUTOSCALE_DOWN_WINDOW and BATON_AUTOSCALE_INTERVAL (durations, e.g. 10s, 500ms) shorten
 * the down window and the pass interval, for tests and trials; a bad value is reported and the
 * default used.
 */
export function autoscalerOptionsFromEnv(env: NodeJS.ProcessEnv, warn: (line: string) => void): AutoscalerOptions {
  const opts: AutoscalerOptions = {};
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const parsed = parseDuration(text, name);
    if (parsed.ok && parsed.value > 0) return parsed.value;
    warn(parsed.ok ? `${name} must be more than 0; using the default` : `${parsed.problem}; using the default`);
    return undefined;
  };
  const down = read('BATON_AUTOSCALE_DOWN_WINDOW');
  const interval = read('BATON_AUTOSCALE_INTERVAL');
  if (down !== undefined) opts.downWindowMs = down;
  if (interval !== undefined) {
    opts.intervalMs = interval;
    // Rates over two passes at least, and never less than a few 1 s heartbeats.
    opts.rateWindowMs = Math.max(3_000, 2 * interval);
  }
  return opts;
}
