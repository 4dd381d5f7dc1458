// The process runtime's health checker on real probe processes: Docker's rules for interval,
// timeout, retries and the start period, and CMD vs CMD-SHELL.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ProcessHealthChecker, runProbe } from '../../worker/executor/process-health.js';
import type { HealthCheckSpec, TaskHealth } from '../../worker/executor/types.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const logger = pino({ enabled: false });

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-health-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a checker until `until` holds for the reported healths (or the bound passes), then stops it. */
async function healths(
  check: HealthCheckSpec,
  cwd: string,
  until: (seen: TaskHealth[]) => boolean,
  opts: { startedAt?: number; initial?: TaskHealth; boundMs?: number } = {},
): Promise<TaskHealth[]> {
  const seen: TaskHealth[] = [];
  let wake: (() => void) | undefined;
  const checker = new ProcessHealthChecker({
    check,
    cwd,
    env,
    startedAt: opts.startedAt ?? Date.now(),
    initial: opts.initial ?? 'starting',
    onHealth: (h) => {
      seen.push(h);
      wake?.();
    },
    logger,
  });
  checker.start();
  const deadline = Date.now() + (opts.boundMs ?? 15_000);
  try {
    while (!until(seen) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  } finally {
    checker.stop();
  }
  return seen;
}

const shell = (cmd: string, over: Partial<HealthCheckSpec> = {}): HealthCheckSpec => ({
  test: ['CMD-SHELL', cmd],
  intervalMs: 100,
  timeoutMs: 2_000,
  retries: 2,
  startPeriodMs: 0,
  ...over,
});

test('a passing check: starting, then healthy', async (t) => {
  const dir = await tempDir(t);
  const seen = await healths(shell('true'), dir, (s) => s.includes('healthy'));
  assert.deepEqual(seen, ['starting', 'healthy']);
});

test('CMD runs the program without a shell, in the working directory', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ok'), '');
  // A relative path: only true if the probe runs in the task's directory.
  const seen = await healths({ test: ['CMD', 'test', '-f', 'ok'], intervalMs: 100, timeoutMs: 2_000, retries: 1, startPeriodMs: 0 }, dir, (s) =>
    s.includes('healthy'),
  );
  assert.deepEqual(seen, ['starting', 'healthy']);
  const direct = await runProbe(['CMD', 'echo', '$HOME'], dir, env, 2_000);
  assert.equal(direct.exitCode, 0);
  assert.equal(direct.output.trim(), '$HOME', 'CMD must not go through a shell');
});

test('retries consecutive failures turn a healthy task unhealthy; a success resets the streak', async (t) => {
  const dir = await tempDir(t);
  const counter = join(dir, 'n');
  // Probe k (1-based) passes, fails, passes, then fails for good: the single failure in the
  // middle must not count towards 3 retries.
  const script = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -eq 1 ] || [ $n -eq 3 ]`;
  const seen = await healths(shell(script, { retries: 3 }), dir, (s) => s.includes('unhealthy'));
  assert.deepEqual(seen, ['starting', 'healthy', 'unhealthy']);
  const probesRun = Number(readFileSync(counter, 'utf8').trim());
  // healthy (1), fail (2), healthy (3), then three failures (4, 5, 6) make it unhealthy.
  assert.equal(probesRun, 6);
});

test('a probe that outlives its timeout is a failure', async (t) => {
  const dir = await tempDir(t);
  const result = await runProbe(['CMD-SHELL', 'sleep 30'], dir, env, 300);
  assert.equal(result.exitCode, -1);
  assert.match(result.output, /exceeded timeout/);
  const seen = await healths(shell('sleep 30', { timeoutMs: 200, retries: 1 }), dir, (s) => s.includes('unhealthy'));
  assert.deepEqual(seen, ['starting', 'unhealthy']);
});

test('a probe that cannot be spawned is a failure, not a crash', async (t) => {
  const dir = await tempDir(t);
  const result = await runProbe(['CMD', join(dir, 'no-such-program')], dir, env, 2_000);
  assert.equal(result.exitCode, -1);
  assert.match(result.output, /cannot run health check/);
});

test('failures during the start period do not count while starting', async (t) => {
  const dir = await tempDir(t);
  const flag = join(dir, 'ready');
  const started = Date.now();
  // Fails for the first ~800 ms (well within the 5 s start period), then passes: with one
  // retry, any counted failure would have made it unhealthy first.
  setTimeout(() => void writeFile(flag, ''), 800);
  const seen = await healths(shell(`test -f ${flag}`, { retries: 1, startPeriodMs: 5_000 }), dir, (s) => s.includes('healthy') || s.includes('unhealthy'), {
    startedAt: started,
  });
  assert.deepEqual(seen, ['starting', 'healthy']);
});

test('after the start period, failures count even if it never was healthy', async (t) => {
  const dir = await tempDir(t);
  // Started long ago: the 1 s start period is over.
  const seen = await healths(shell('false', { retries: 2, startPeriodMs: 1_000 }), dir, (s) => s.includes('unhealthy'), {
    startedAt: Date.now() - 60_000,
  });
  assert.deepEqual(seen, ['starting', 'unhealthy']);
});

test('the start period does not protect a task that was healthy once', async (t) => {
  const dir = await tempDir(t);
  // An agent restart resumes a healthy task inside its (long) start period: failures count.
  const seen = await healths(shell('false', { retries: 1, startPeriodMs: 60_000 }), dir, (s) => s.includes('unhealthy'), { initial: 'healthy' });
  assert.deepEqual(seen, ['healthy', 'unhealthy']);
});

test('stop() ends probing', async (t) => {
  const dir = await tempDir(t);
  const counter = join(dir, 'n');
  const seen: TaskHealth[] = [];
  const checker = new ProcessHealthChecker({
    check: shell(`echo x >> ${counter}`),
    cwd: dir,
    env,
    startedAt: Date.now(),
    initial: 'starting',
    onHealth: (h) => seen.push(h),
    logger,
  });
  checker.start();
  await new Promise((r) => setTimeout(r, 600));
  checker.stop();
  const after = readFileSync(counter, 'utf8').length;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(after > 0, 'the checker ran probes');
  // At most a probe already under way when stop() was called may still write.
  assert.ok(readFileSync(counter, 'utf8').length <= after + 2, 'no probe after stop()');
});
