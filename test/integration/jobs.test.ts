// Jobs (--mode replicated-job|global-job) end to end, as a user runs them: the real CLI against
// a real cluster of three nodes with the process runtime. Each task records its start in a
// directory the test reads, and how many of the job's tasks were running when it started.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonCluster, assertCreateRefused, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

// Marks itself running, notes how many were, works a moment, unmarks itself and exits 0.
const WORK = `const fs = require('fs'), p = require('path'), d = process.env.DIR, me = p.join(d, 'running-' + process.pid);
fs.writeFileSync(me, '');
const now = fs.readdirSync(d).filter((f) => f.startsWith('running-')).length;
fs.appendFileSync(p.join(d, 'starts'), now + '\\n');
setTimeout(() => { fs.rmSync(me); process.exit(0); }, 400);`;

function starts(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

test('jobs: a replicated job of 5 completions, 2 at a time; a global job once per node; --force runs them again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-jobs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = BatonCluster.forTest(t);
  await c.form(1, 2);

  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'batch', '--mode', 'replicated-job', '--replicas', '5', '--max-concurrent', '2',
    '--env', `DIR=${dir}`, '--', process.execPath, '-e', WORK,
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.match(create.stdout, /job progress: 0 out of 5 complete/);
  assert.match(create.stdout, /job progress: 5 out of 5 complete[^\n]*\njob complete\n$/);
  const done = tasks(c, 'm1', 'batch');
  assert.equal(done.filter((x) => x.state === 'TASK_COMPLETE').length, 5, JSON.stringify(done));
  assert.equal(done.length, 5, 'no task beyond the five completions');
  assert.deepEqual(done.map((x) => x.name).sort(), ['batch.1', 'batch.2', 'batch.3', 'batch.4', 'batch.5']);
  assert.equal(starts(dir).length, 5);
  assert.ok(starts(dir).every((n) => n >= 1 && n <= 2), `at most 2 at once: ${starts(dir).join(',')}`);
  await sleep(1500);
  assert.equal(starts(dir).length, 5, 'a completed job starts nothing more');
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('running-')), []);
  // Swarm's word for a job task that did its work: desired Complete, not Shutdown.
  let psText = '';
  await waitFor('the done tasks desired Complete', () => {
    psText = c.cli('m1', ['service', 'ps', 'batch']).stdout;
    // The command spans lines in the IMAGE column: the states are counted, not the lines.
    return (psText.match(/\sComplete\s+Complete \d/g) ?? []).length === 5 && !/\sShutdown\s/.test(psText);
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}:\n${psText}`);
  });

  const ls = c.cli('m1', ['service', 'ls']);
  assert.match(ls.stdout, /batch\s+replicated job\s+0\/2 \(5\/5 completed\)/, ls.stdout);
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'batch']);
  assert.match(pretty.stdout, /Mode:\tReplicated job\n Max concurrent:\t2\n Total completions:\t5\n Job iteration:\t0/);
  assert.match(pretty.stdout, /Restart policy:\ton-failure/, 'on-failure by default, as Docker does for jobs');
  assert.doesNotMatch(pretty.stdout, /UpdateConfig|RollbackConfig/, 'a job has neither, as Docker shows');

  // --force: the next iteration runs the five completions again.
  const force = c.cli('m1', ['service', 'update', '--force', 'batch']);
  assert.equal(force.code, 0, force.stderr + force.stdout);
  assert.match(force.stdout, /job complete\n$/);
  assert.equal(starts(dir).length, 10);
  assert.equal(tasks(c, 'm1', 'batch').filter((x) => x.state === 'TASK_COMPLETE').length, 10);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'batch']).stdout, /Job iteration:\t1/);

  // A global job: one completion per node (three), then nothing more.
  rmSync(join(dir, 'starts'));
  const global = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'sweep', '--mode', 'global-job', '--env', `DIR=${dir}`, '--', process.execPath, '-e', WORK]);
  assert.equal(global.code, 0, global.stderr + global.stdout);
  assert.match(global.stdout, /job progress: 3 out of 3 complete[^\n]*\njob complete\n$/);
  const swept = tasks(c, 'm1', 'sweep');
  assert.equal(swept.length, 3);
  assert.ok(swept.every((x) => x.state === 'TASK_COMPLETE'));
  assert.equal(new Set(swept.map((x) => x.node)).size, 3, 'one per node');
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /sweep\s+global job\s+0\/0 \(3\/3 completed\)/);
  const again = c.cli('m1', ['service', 'update', '--force', 'sweep']);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  assert.equal(tasks(c, 'm1', 'sweep').filter((x) => x.state === 'TASK_COMPLETE').length, 6);
  assert.equal(starts(dir).length, 6);

  // What Docker refuses for jobs, every problem in one line.
  const scale = c.cli('m1', ['service', 'scale', 'sweep=2']);
  assert.equal(scale.code, 1);
  assert.match(scale.stderr, /^Error: sweep: scale can only be used with replicated or replicated-job mode\n$/);
  assertCreateRefused(c, 'm1', ['--mode', 'replicated-job', '--update-delay', '1s', '--max-concurrent', 'x'], /update and rollback configuration is not supported for jobs \(--update-delay\).*--max-concurrent/);
  assertCreateRefused(c, 'm1', ['--mode', 'global-job', '--replicas', '2'], /--replicas can only be used with replicated or replicated-job mode/);
  assertCreateRefused(c, 'm1', ['--max-concurrent', '2'], /--max-concurrent can only be used with replicated-job mode/);
  assertCreateRefused(c, 'm1', ['--mode', 'cron'], /bad --mode "cron" \(want replicated, global, replicated-job or global-job\)/);

  // A job scaled: its total completions (Docker's), run again as a new iteration.
  rmSync(join(dir, 'starts'));
  const scaled = c.cli('m1', ['service', 'scale', 'batch=3']);
  assert.equal(scaled.code, 0, scaled.stderr + scaled.stdout);
  assert.equal(starts(dir).length, 3);
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /batch\s+replicated job\s+0\/2 \(3\/3 completed\)/);
});

test('jobs: a job whose task fails for good fails `service create` with the error; --detach returns at once', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(1, 0);
  const r = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'bad', '--mode', 'replicated-job', '--restart-condition', 'none', '--', process.execPath, '-e', 'process.exit(3)']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^Error: job bad failed: task bad\.1: [^\n]*3[^\n]*\n$/);
  const d = c.cli('m1', ['service', 'create', '--detach', '--runtime', 'process', '--name', 'later', '--mode', 'replicated-job', '--', 'sleep', '30']);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^[0-9a-z]{25}\n$/);
});
