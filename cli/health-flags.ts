// The --health-* flags of `service create` (and `service update`), as Docker's: --health-cmd
// runs through the shell (["CMD-SHELL", cmd]), --no-healthcheck disables even the image's own
// HEALTHCHECK (["NONE"]), durations and retries of 0 mean Docker's defaults.
import { baton, BatonError } from '../client/index.js';
import { parseDuration } from './service-spec.js';
import { numeric } from './context.js';
import { durationText } from './output.js';

export interface HealthFlags {
  'health-cmd'?: string | undefined;
  'health-interval'?: string | undefined;
  'health-timeout'?: string | undefined;
  'health-retries'?: number | undefined;
  'health-start-period'?: string | undefined;
  /** false from `--no-healthcheck` (yargs reads a `--no-X` flag as X = false). */
  healthcheck?: boolean | undefined;
}

/** yargs options for the flags above: `.options(healthOptions)`. */
export const healthOptions = {
  'health-cmd': { type: 'string', requiresArg: true, describe: 'command run (through sh -c) to check health' },
  'health-interval': { type: 'string', requiresArg: true, describe: 'time between checks (default 30s)' },
  'health-timeout': { type: 'string', requiresArg: true, describe: 'longest a check may run (default 30s)' },
  'health-retries': { type: 'string', requiresArg: true, coerce: numeric('--health-retries'), describe: 'consecutive failures that make the task unhealthy (default 3)' },
  'health-start-period': { type: 'string', requiresArg: true, describe: 'failures during this time after the start do not count (default 0s)' },
  healthcheck: { type: 'boolean', describe: "--no-healthcheck disables any health check, the image's own HEALTHCHECK included" },
} as const;

const TIMING_FLAGS = ['health-interval', 'health-timeout', 'health-retries', 'health-start-period'] as const;

/**
 * The health check the flags describe, applied over `current` (what the service has, for an
 * update); undefined when no health flag was given. Bad values throw INVALID_ARGUMENT.
 */
export function healthFromFlags(f: HealthFlags, current?: baton.HealthConfig.$Properties | null): baton.HealthConfig.$Properties | undefined {
  const disabled = f.healthcheck === false;
  const given = f['health-cmd'] !== undefined || disabled || TIMING_FLAGS.some((k) => f[k] !== undefined);
  if (!given) return undefined;
  if (disabled) {
    if (f['health-cmd'] !== undefined || TIMING_FLAGS.some((k) => f[k] !== undefined)) {
      throw new BatonError('INVALID_ARGUMENT', '--no-healthcheck conflicts with the other --health-* options');
    }
    return { test: ['NONE'] };
  }
  const h: baton.HealthConfig.$Properties = { ...(current ?? {}) };
  // Timings alone over a disabled check would be meaningless: they then apply to the image's own.
  if (h.test?.[0] === 'NONE') h.test = [];
  const cmd = f['health-cmd'];
  if (cmd !== undefined) {
    if (cmd.trim() === '') throw new BatonError('INVALID_ARGUMENT', '--health-cmd must not be empty');
    h.test = ['CMD-SHELL', cmd];
  }
  if (f['health-interval'] !== undefined) h.intervalMs = positive(f['health-interval'], '--health-interval');
  if (f['health-timeout'] !== undefined) h.timeoutMs = positive(f['health-timeout'], '--health-timeout');
  if (f['health-start-period'] !== undefined) h.startPeriodMs = parseDuration(f['health-start-period'], '--health-start-period');
  const retries = f['health-retries'];
  if (retries !== undefined) {
    if (!Number.isInteger(retries) || retries < 0) throw new BatonError('INVALID_ARGUMENT', `bad --health-retries ${String(retries)} (want a whole number >= 0)`);
    h.retries = retries;
  }
  return h;
}

// Docker refuses an interval or timeout under 1 ms (other than 0, the default).
function positive(text: string, flag: string): number {
  const ms = parseDuration(text, flag);
  if (ms === 0 && !/^0+(\.0+)?(ms|s|m|h)$/.test(text.trim())) throw new BatonError('INVALID_ARGUMENT', `bad duration "${text}" for ${flag} (at least 1ms)`);
  return ms;
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
    ` Interval:\t${ms(h?.intervalMs, 30_000)}`,
    ` Timeout:\t${ms(h?.timeoutMs, 30_000)}`,
    ` Retries:\t${Number(h?.retries ?? 0) || 3}`,
    ` Start period:\t${ms(h?.startPeriodMs, 0)}`,
  ].join('\n');
}
