// The rolling updater's pass is bounded in time as the orchestrators' are (the loop's slice,
// manager/reconcile/loop.ts): a new leader's first pass looks at every service, and at 30,000
// tasks, done in one go, it held the event loop for most of a second. Now the pass stops once
// its slice is over, leaves the services it did not reach marked, and the next pass goes on
// from there; what it decides is what one pass over them all decides. The slice's clock is
// stepped by the test (each read 100 ms later), so where a pass stops does not depend on the
// machine's speed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { Updater } from '../../manager/orchestrator/index.js';
import { started } from '../lib/local-cluster.js';

const S = baton.TaskState;
const U = baton.UpdateState;
const SERVICES = 6;
const REPLICAS = 4;

interface Outcome {
  /** Per service: its update state, and the slots whose task the update told to stop. */
  services: string[];
  passes: number;
  mostTasksRead: number;
}

/**
 * Six services of four running tasks; while no leader runs the loops each gets a new spec
 * (a stop-first rolling update, one task at a time); then a new leader's updater alone starts.
 */
async function newLeaderUpdater(opts: { sliceMs: number; passClock?: () => number }): Promise<Outcome> {
  const c = await started({}, ['n1', 'n2']);
  const ids = Array.from({ length: SERVICES }, (_, i) => `s${i}`);
  for (const id of ids) c.addService(id, id, { env: ['V=1'], replicas: REPLICAS, update: { parallelism: 1 } });
  await c.settle();
  for (const id of ids) c.runAll(id);
  await c.settle();
  c.stop();
  for (const id of ids) c.updateSpec(id, (spec) => (spec.task!.container!.env = ['V=2']));
  const updater = new Updater(c.host, { timers: c.clock, ...opts });
  c.loops = [updater];
  updater.start();
  await c.settle();
  const services = ids.map((id) => {
    const stopped = c
      .tasks(id)
      .filter((t) => t.desiredState === S.TASK_SHUTDOWN)
      .map((t) => t.slot)
      .sort((a, b) => a - b);
    return `${id}: state ${c.service(id).updateStatus?.state ?? U.UPDATE_NONE}, stopped slots [${stopped.join(',')}]`;
  });
  updater.stop();
  return { services, passes: updater.stats.passes, mostTasksRead: updater.stats.mostTasksRead };
}

test("a new leader's updater pass stops at its time slice and the passes after it decide what one pass decides", async () => {
  const whole = await newLeaderUpdater({ sliceMs: 3_600_000 });
  assert.equal(whole.mostTasksRead, SERVICES * REPLICAS, 'with a slice longer than any pass, one pass looks at every service');
  // The update's first batch on every service: its slot 1 told to stop, the update running.
  for (const [i, line] of whole.services.entries()) assert.equal(line, `s${i}: state ${U.UPDATING}, stopped slots [1]`);

  let now = 0;
  const sliced = await newLeaderUpdater({ sliceMs: 50, passClock: () => (now += 100) });
  // Each read of the clock is 100 ms on: a pass looks at one service, then its slice is over.
  assert.equal(sliced.mostTasksRead, REPLICAS, 'one service per pass');
  assert.ok(sliced.passes >= SERVICES, `passes: ${sliced.passes}`);
  assert.deepEqual(sliced.services, whole.services, 'the same decisions, service by service');
});

test('a service at rest (no update, every task current) is planned without a write, sliced or not', async () => {
  let now = 0;
  const c = await started({ sliceMs: 50, passClock: () => (now += 100) }, ['n1', 'n2']);
  c.addService('s', 's', { replicas: 3 });
  await c.settle();
  c.runAll('s');
  await c.settle();
  const writes = c.host.index;
  c.stop();
  c.start();
  await c.settle();
  assert.equal(c.host.index, writes, 'a new leader over a cluster at rest writes nothing');
  assert.equal(c.service('s').updateStatus?.state ?? U.UPDATE_NONE, U.UPDATE_NONE);
  c.stop();
});
