// The small parts behind GET /metrics: the executor proxy that times calls, and the test
// reader of Prometheus text (which must refuse what a scraper would refuse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timedExecutor } from '../../worker/executor/timed.js';
import type { Executor } from '../../worker/executor/index.js';
import { parsePrometheus, sampleValue } from '../lib/prometheus.js';

class Fake {
  readonly runtime = 'process' as const;
  calls: string[] = [];
  async available(): Promise<boolean> {
    return true;
  }
  async start(taskId: string): Promise<{ taskId: string }> {
    this.calls.push(`start ${taskId}`);
    return { taskId };
  }
  async remove(taskId: string): Promise<void> {
    this.calls.push(`remove ${taskId}`);
    throw new Error('gone');
  }
  /** Not part of Executor: must pass through untouched. */
  extra(): string {
    return `extra on ${this.runtime}`;
  }
}

test('timedExecutor times the bounded calls, passes the others through, keeps errors', async () => {
  const inner = new Fake();
  const seen: [string, boolean][] = [];
  const e = timedExecutor(inner as unknown as Executor & Fake, (call, seconds, ok) => {
    assert.ok(seconds >= 0);
    seen.push([call, ok]);
  });
  assert.equal(e.runtime, 'process');
  assert.deepEqual(await e.start('t1'), { taskId: 't1' });
  await assert.rejects(e.remove('t1'), /gone/);
  assert.equal(await e.available(), true);
  assert.equal(e.extra(), 'extra on process');
  assert.deepEqual(inner.calls, ['start t1', 'remove t1']);
  assert.deepEqual(seen, [['start', true], ['remove', false]], 'available() is not timed; outcomes recorded');
});

test('parsePrometheus reads families and samples, refuses untyped or malformed lines', () => {
  const text = [
    '# HELP a_total A counter.',
    '# TYPE a_total counter',
    'a_total{kind="x",why="say \\"hi\\""} 3',
    'a_total{kind="y"} 4',
    '# TYPE h histogram',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.5',
    'h_count 2',
    '',
  ].join('\n');
  const s = parsePrometheus(text);
  assert.equal(s.types.get('a_total'), 'counter');
  assert.equal(sampleValue(s, 'a_total'), 7);
  assert.equal(sampleValue(s, 'a_total', { why: 'say "hi"' }), 3);
  assert.equal(sampleValue(s, 'h_count'), 2);
  assert.equal(sampleValue(s, 'missing'), undefined);
  assert.throws(() => parsePrometheus('b 1\n'), /no # TYPE/);
  assert.throws(() => parsePrometheus('# TYPE b gauge\nb{x=1} 1\n'), /malformed labels/);
  assert.throws(() => parsePrometheus('# TYPE b gauge\nb one\n'), /bad value/);
});
