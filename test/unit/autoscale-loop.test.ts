// The autoscaler loop over a real store (LocalHost applies proposals to a ClusterStore): it
// writes replicas and its decision, leaves the user's previous spec and the tasks' spec version
// alone, does nothing without counters, and starts over (no scale-down) after a leadership change.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Autoscaler } from '../../manager/orchestrator/autoscale/index.js';
import { Cluster } from '../lib/local-cluster.js';

const totals = (n: number): Map<string, number> => new Map([['web', n]]);

test('the loop scales up at once, down after the window, and records each decision', async () => {
  const c = new Cluster();
  c.addService('s1', 'web', { replicas: 1 });
  c.updateService('s1', (s) => {
    s.spec!.autoscale = { min: 1, max: 4, targetRps: 5 };
    s.previousSpec = { ...s.spec!, replicas: 7 };
  });
  const before = c.service('s1');
  // A pass interval no test reaches: passes are run by hand, between clock moves.
  const a = new Autoscaler(c.host, { timers: c.clock, intervalMs: 1e9, downWindowMs: 5_000, rateWindowMs: 4_000 });
  a.start();
  await a.pass();
  assert.equal(Number(c.service('s1').spec?.replicas), 1, 'no counters: no change');

  a.record('n1', totals(100));
  c.clock.advance(1_000);
  a.record('n1', totals(118)); // 18 conn/s: 4 tasks at 5 each
  await a.pass();
  const up = c.service('s1');
  assert.equal(Number(up.spec?.replicas), 4);
  assert.deepEqual({ from: Number(up.autoscaleStatus?.from), to: Number(up.autoscaleStatus?.to), reason: up.autoscaleStatus?.reason }, { from: 1, to: 4, reason: '18.0 conn/s over 1 task' });
  assert.equal(Number(up.previousSpec?.replicas), 7, 'rollback still goes to the user\'s previous spec');
  assert.equal(Number(up.specVersion), before.meta.version, 'tasks stay current: same spec version');

  // Quiet from now on: nothing before the 5 s window is over, then down to the minimum.
  for (let t = 0; t < 4; t++) {
    c.clock.advance(1_000);
    a.record('n1', totals(118));
    await a.pass();
    assert.equal(Number(c.service('s1').spec?.replicas), 4, `still 4 after ${t + 1} quiet s`);
  }
  for (let t = 0; t < 5; t++) {
    c.clock.advance(1_000);
    a.record('n1', totals(118));
    await a.pass();
  }
  assert.equal(Number(c.service('s1').spec?.replicas), 1);

  // A new term: counters and history start over, so a quiet service is not scaled down at once.
  c.updateService('s1', (s) => void (s.spec!.replicas = 3));
  a.stop();
  a.start();
  a.record('n1', totals(118));
  c.clock.advance(1_000);
  a.record('n1', totals(118));
  await a.pass();
  assert.equal(Number(c.service('s1').spec?.replicas), 3);
  a.stop();
});
