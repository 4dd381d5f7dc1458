// The autoscaler's decision: rates from cumulative per-node counters, replicas from rates, and
// the stabilisation (up at once, down only after a full window of lower recommendations).
import test from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRates, Stabiliser, recommendReplicas } from '../../manager/orchestrator/autoscale/decide.js';
import { validateServiceSpec } from '../../spec/index.js';

const totals = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

test('rates sum deltas over nodes; none until a node reported twice', () => {
  const r = new ConnectionRates(10_000);
  assert.equal(r.rate('s', 0), undefined);
  r.record('n1', 0, totals({ s: 100 }));
  assert.equal(r.rate('s', 0), undefined, 'one sample is no rate');
  r.record('n1', 5_000, totals({ s: 150 }));
  r.record('n2', 0, totals({ s: 7 }));
  r.record('n2', 5_000, totals({ s: 32 }));
  assert.equal(r.rate('s', 5_000), 10 + 5);
  assert.equal(r.rate('other', 5_000), undefined);
});

test('a node whose counter went back (mesh restarted) starts a new baseline: no negative rate, no spike', () => {
  const r = new ConnectionRates(10_000);
  r.record('n1', 0, totals({ s: 1000 }));
  r.record('n1', 2_000, totals({ s: 4 }));
  assert.equal(r.rate('s', 2_000), 0);
  r.record('n1', 4_000, totals({ s: 10 }));
  assert.equal(r.rate('s', 4_000), 1.5, '6 connections over 4 s');
});

test('old samples leave the window, a quiet service falls to 0, a forgotten node stops counting', () => {
  const r = new ConnectionRates(10_000);
  r.record('n1', 0, totals({ s: 0 }));
  r.record('n1', 5_000, totals({ s: 500 }));
  for (let t = 10_000; t <= 30_000; t += 5_000) r.record('n1', t, totals({ s: 500 }));
  assert.equal(r.rate('s', 30_000), 0);
  r.forget('n1');
  assert.equal(r.rate('s', 30_000), undefined);
});

test('recommendation is ceil(rate / target) within [min, max]', () => {
  const b = { min: 1, max: 5, targetRps: 10 };
  assert.equal(recommendReplicas(0, b), 1);
  assert.equal(recommendReplicas(10, b), 1);
  assert.equal(recommendReplicas(27, b), 3);
  assert.equal(recommendReplicas(30, b), 3);
  assert.equal(recommendReplicas(30.1, b), 4);
  assert.equal(recommendReplicas(1e6, b), 5);
  assert.equal(recommendReplicas(0, { min: 2, max: 5, targetRps: 10 }), 2);
});

test('up at once; down only when every recommendation of the window is lower, to the highest', () => {
  const s = new Stabiliser(60_000);
  assert.equal(s.decide('s', 0, 1, 3), 3, 'up at once, even on the first round');
  assert.equal(s.decide('s', 5_000, 3, 1), 3, 'down waits for the window');
  assert.equal(s.decide('s', 30_000, 3, 2), 3);
  assert.equal(s.decide('s', 59_000, 3, 1), 3, 'the window is not full yet');
  // At 61 s the recommendation of 3 (at 0 s) left the window: the highest left is 2.
  assert.equal(s.decide('s', 61_000, 3, 1), 2);
  assert.equal(s.decide('s', 91_000, 2, 1), 1, 'the 2 (at 30 s) is out of the window');
  assert.equal(s.decide('s', 95_000, 1, 4), 4, 'up again at once');
  assert.equal(s.decide('s', 100_000, 4, 1), 4);
});

test('a new leader (empty history) does not scale down before a whole window of its own', () => {
  const s = new Stabiliser(60_000);
  for (let t = 0; t < 60_000; t += 5_000) assert.equal(s.decide('s', t, 5, 1), 5);
  assert.equal(s.decide('s', 60_000, 5, 1), 1);
  s.forget('s');
  assert.equal(s.decide('s', 65_000, 5, 1), 5);
});

test('validation: every autoscale problem at once', () => {
  const spec = { annotations: { name: 'web' }, replicas: 1, task: { runtime: 'process', container: { command: ['sleep', '1'] } } };
  assert.deepEqual(validateServiceSpec({ ...spec, autoscale: { min: 1, max: 3, targetRps: 0.5 } }), []);
  const problems = validateServiceSpec({ ...spec, autoscale: { min: 4, max: 2, targetRps: 0 } });
  assert.deepEqual(problems, ['autoscale min 4 is more than autoscale max 2', 'autoscale rps must be a positive number of connections per second per task, not 0']);
  const more = validateServiceSpec({ ...spec, global: true, replicas: 0, autoscale: { min: 0, max: 1e9, targetRps: -1 } });
  assert.equal(more.length, 4, more.join('; '));
});
