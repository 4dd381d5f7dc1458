// Docker's health check rules shared by both executors: the defaults behind zero values and
// the shape a check's `test` must have.
import { ExecutorError, type HealthCheckSpec } from './types.js';
import { DEFAULT_HEALTH_INTERVAL_MS, DEFAULT_HEALTH_RETRIES, DEFAULT_HEALTH_START_PERIOD_MS, DEFAULT_HEALTH_TIMEOUT_MS } from '../../spec/index.js';

/** Docker's defaults (moby daemon/health.go): probe every 30 s, 30 s timeout, 3 failures, no start period. */
export const HEALTH_DEFAULTS = {
  intervalMs: DEFAULT_HEALTH_INTERVAL_MS,
  timeoutMs: DEFAULT_HEALTH_TIMEOUT_MS,
  retries: DEFAULT_HEALTH_RETRIES,
  startPeriodMs: DEFAULT_HEALTH_START_PERIOD_MS,
} as const;

/** The check with every zero replaced by its default. */
export function withDefaults(h: HealthCheckSpec): HealthCheckSpec {
  return {
    test: h.test,
    intervalMs: h.intervalMs > 0 ? h.intervalMs : HEALTH_DEFAULTS.intervalMs,
    timeoutMs: h.timeoutMs > 0 ? h.timeoutMs : HEALTH_DEFAULTS.timeoutMs,
    retries: h.retries > 0 ? h.retries : HEALTH_DEFAULTS.retries,
    startPeriodMs: h.startPeriodMs > 0 ? h.startPeriodMs : HEALTH_DEFAULTS.startPeriodMs,
  };
}

/** Whether the check runs a probe at all (['NONE'] only disables the image's own). */
export function probes(h: HealthCheckSpec | undefined): h is HealthCheckSpec {
  return h !== undefined && h.test.length > 0 && h.test[0] !== 'NONE';
}

/** Throws INVALID_SPEC naming what is wrong with the check. */
export function validateHealthCheck(taskId: string, h: HealthCheckSpec | undefined): void {
  if (h === undefined) return;
  const bad = (why: string): never => {
    throw new ExecutorError('INVALID_SPEC', `task ${JSON.stringify(taskId)}: health check ${why}`);
  };
  const [kind, ...rest] = h.test;
  if (kind === 'NONE') {
    if (rest.length > 0) bad('["NONE"] takes no arguments');
  } else if (kind === 'CMD') {
    if (rest.length === 0 || rest[0] === '') bad('["CMD", ...] needs a program');
  } else if (kind === 'CMD-SHELL') {
    if (rest.length !== 1 || rest[0] === '') bad('["CMD-SHELL", cmd] needs exactly one command string');
  } else if (kind !== undefined) {
    bad(`test must start with CMD, CMD-SHELL or NONE, not ${JSON.stringify(kind)}`);
  }
  for (const [name, v] of Object.entries({ interval: h.intervalMs, timeout: h.timeoutMs, retries: h.retries, 'start period': h.startPeriodMs })) {
    if (!Number.isFinite(v) || v < 0) bad(`${name} must not be negative`);
  }
}
