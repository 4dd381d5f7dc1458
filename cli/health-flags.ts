// The --health-* flags of `service create` (and `service update`), as Docker's: --health-cmd
// runs through the shell (["CMD-SHELL", cmd]), --no-healthcheck disables even the image's own
// HEALTHCHECK (["NONE"]), durations and retries of 0 mean Docker's defaults.
import { baton } from '../client/index.js';
import {
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEALTH_RETRIES,
  DEFAULT_HEALTH_START_PERIOD_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  parseCount,
  parseDuration,
} from '../spec/index.js';
import { FlagProblems } from './flag-problems.js';
import { durationText } from './output.js';

export interface HealthFlags {
  'health-cmd'?: string | undefined;
  'health-interval'?: string | undefined;
  'health-timeout'?: string | undefined;
  'health-retries'?: string | number | undefined;
  'health-start-period'?: string | undefined;
  /** false from `--no-healthcheck` (yargs reads a `--no-X` flag as X = false). */
  healthcheck?: boolean | undefined;
}

/** yargs options for the flags above: `.options(healthOptions)`. */
export const healthOptions = {
  'health-cmd': { type: 'string', requiresArg: true, describe: 'command run (through sh -c) to check health' },
  'health-interval': { type: 'string', requiresArg: true, describe: 'time between checks (default 30s)' },
  'health-timeout': { type: 'string', requiresArg: true, describe: 'longest a check may run (default 30s)' },
  'health-retries': { type: 'string', requiresArg: true, describe: 'consecutive failures that make the task unhealthy (default 3)' },
  'health-start-period': { type: 'string', requiresArg: true, describe: 'failures during this time after the start do not count (default 0s)' },
  healthcheck: { type: 'boolean', describe: "--no-healthcheck disables any health check, the image's own HEALTHCHECK included" },
} as const;

const TIMING_FLAGS = ['health-interval', 'health-timeout', 'health-retries', 'health-start-period'] as const;

/**
 * The health check the flags describe, applied over `current` (what the service has, for an
 * update); undefined when no health flag was given. Bad values go to `problems`; without one
 * given, they are thrown here (INVALID_ARGUMENT), all at once.
 */
export function healthFromFlags(f: HealthFlags, current?: baton.HealthConfig.$Properties | null, problems?: FlagProblems): baton.HealthConfig.$Properties | undefined {
  const p = problems ?? new FlagProblems();
  const h = healthOf(f, current, p);
  if (problems === undefined) p.check();
  return h;
}

function healthOf(f: HealthFlags, current: baton.HealthConfig.$Properties | null | undefined, p: FlagProblems): baton.HealthConfig.$Properties | undefined {
  const disabled = f.healthcheck === false;
  const given = f['health-cmd'] !== undefined || disabled || TIMING_FLAGS.some((k) => f[k] !== undefined);
  if (!given) return undefined;
  if (disabled) {
    if (f['health-cmd'] !== undefined || TIMING_FLAGS.some((k) => f[k] !== undefined)) p.add('--no-healthcheck conflicts with the other --health-* options');
    return { test: ['NONE'] };
  }
  const h: baton.HealthConfig.$Properties = { ...(current ?? {}) };
  // Timings alone over a disabled check would be meaningless: they then apply to the image's own.
  if (h.test?.[0] === 'NONE') h.test = [];
  const cmd = f['health-cmd'];
  if (cmd !== undefined) {
    if (cmd.trim() === '') p.add('--health-cmd must not be empty');
    else h.test = ['CMD-SHELL', cmd];
  }
  // A duration under 1 ms rounds up to 1 ms (spec/values.ts), so Docker's "at least 1ms" for
  // the interval and timeout holds for anything but 0, which means the default.
  const timings = [['health-interval', 'intervalMs'], ['health-timeout', 'timeoutMs'], ['health-start-period', 'startPeriodMs']] as const;
  for (const [flag, key] of timings) {
    const text = f[flag];
    if (text !== undefined) h[key] = p.take(parseDuration(text, `--${flag}`), 0);
  }
  const retries = f['health-retries'];
  if (retries !== undefined) h.retries = p.take(parseCount(retries, '--health-retries'), h.retries ?? 0);
  return h;
}

/** `service inspect --pretty`: the health check as set, with Docker's defaults where unset. */
export function healthText(h: baton.HealthConfig.$Properties | null | undefined, runtime: string): string {
  const test = h?.test ?? [];
  if (test.length === 0) return runtime === 'process' ? 'none' : "the image's own HEALTHCHECK, if any";
  if (test[0] === 'NONE') return 'none (--no-healthcheck)';
  const ms = (v: unknown, fallback: number): string => durationText(Number(v ?? 0) || fallback);
  return [
    '',
    ` Test:\t${test[0] === 'CMD-SHELL' ? test.slice(1).join(' ') : JSON.stringify(test.slice(1))}`,
    ` Interval:\t${ms(h?.intervalMs, DEFAULT_HEALTH_INTERVAL_MS)}`,
    ` Timeout:\t${ms(h?.timeoutMs, DEFAULT_HEALTH_TIMEOUT_MS)}`,
    ` Retries:\t${Number(h?.retries ?? 0) || DEFAULT_HEALTH_RETRIES}`,
    ` Start period:\t${ms(h?.startPeriodMs, DEFAULT_HEALTH_START_PERIOD_MS)}`,
  ].join('\n');
}
