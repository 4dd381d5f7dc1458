// `service create|update --autoscale-min N --autoscale-max M --autoscale-rps R`: the leader's
// autoscaler keeps replicas within [min, max] at about R new mesh connections per second per
// task. On update the flags given change the current bounds; `--autoscale-rps 0` turns it off.
import type { Argv } from 'yargs';
import type { baton } from '../client/index.js';
import type { FlagProblems } from './flag-problems.js';
import { MAX_REPLICAS, parseCount } from '../spec/index.js';

export interface AutoscaleFlags {
  'autoscale-min'?: string | number | undefined;
  'autoscale-max'?: string | number | undefined;
  'autoscale-rps'?: string | number | undefined;
}

export function autoscaleOptions<T>(y: Argv<T>): Argv<T & AutoscaleFlags> {
  return y
    .option('autoscale-min', { type: 'string', requiresArg: true, describe: 'autoscale: fewest replicas (default 1)' })
    .option('autoscale-max', { type: 'string', requiresArg: true, describe: 'autoscale: most replicas' })
    .option('autoscale-rps', { type: 'string', requiresArg: true, describe: 'autoscale: new connections per second per task through the routing mesh (update: 0 turns autoscaling off)' });
}

function given(f: AutoscaleFlags): boolean {
  return f['autoscale-min'] !== undefined || f['autoscale-max'] !== undefined || f['autoscale-rps'] !== undefined;
}

/**
 * The autoscale part of a spec from the flags, over `current` (update) or nothing (create):
 * undefined when autoscaling is (or is turned) off, `current` when no flag was given.
 */
export function autoscaleFromFlags(f: AutoscaleFlags, p: FlagProblems, current?: baton.IAutoscale | null): baton.IAutoscale | undefined {
  if (!given(f)) return current ?? undefined;
  const count = (flag: 'autoscale-min' | 'autoscale-max', fallback: number): number => {
    const text = f[flag];
    return text === undefined ? fallback : p.take(parseCount(text, `--${flag}`, { min: 1, max: MAX_REPLICAS, limit: 'replicas per service' }), fallback);
  };
  const rpsText = f['autoscale-rps'];
  let rps = rpsText === undefined ? Number(current?.targetRps ?? NaN) : Number(rpsText);
  if (rpsText !== undefined && current && rps === 0) return undefined;
  // A bad value is reported here; the value put in its place (1) keeps the spec's own check
  // (min <= max and the rest: validateServiceSpec, run next) from reporting it a second time.
  if (!(Number.isFinite(rps) && rps > 0)) {
    p.add(rpsText === undefined ? '--autoscale-rps is required with --autoscale-min or --autoscale-max' : `bad --autoscale-rps "${rpsText}" (want a positive number of connections per second per task)`);
    rps = 1;
  }
  const min = count('autoscale-min', Number(current?.min ?? 1));
  if (f['autoscale-max'] === undefined && !current) p.add('--autoscale-max is required with --autoscale-rps');
  const max = count('autoscale-max', Number(current?.max ?? min));
  return { min, max, targetRps: rps };
}

/** `service scale` of an autoscaled service: done, with a word that it may not last. */
export function autoscaleScaleNote(name: string, a: baton.IAutoscale | null | undefined): string | undefined {
  if (!a) return undefined;
  return `note: ${name} is autoscaled (min ${Number(a.min ?? 0)}, max ${Number(a.max ?? 0)}, ${Number(a.targetRps ?? 0)} conn/s per task): the autoscaler may change its replicas`;
}

/** `service inspect --pretty`'s Autoscale value, with the last decision; undefined when off. */
export function autoscalePretty(spec: baton.IAutoscale | null | undefined, status: baton.IAutoscaleStatus | null | undefined): string | undefined {
  if (!spec) return undefined;
  const bounds = `min ${Number(spec.min ?? 0)}, max ${Number(spec.max ?? 0)}, ${Number(spec.targetRps ?? 0)} conn/s per task`;
  if (!status || Number(status.at ?? 0) <= 0) return bounds;
  return `${bounds}; last: ${Number(status.from ?? 0)} → ${Number(status.to ?? 0)} at ${new Date(Number(status.at)).toISOString()}: ${status.reason ?? ''}`;
}
