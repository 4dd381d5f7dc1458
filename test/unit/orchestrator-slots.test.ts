// The replicated orchestrator looks at the slots that changed, not every slot of the service:
// at 100,000 tasks each task's Preparing, Starting and Running reports started a pass over all
// 10,000 slots of its service. What must still hold: a failed task's slot is refilled, a
// deleted one's too, a delayed restart of another slot is not forgotten, a scale looks at all.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { deleteAction } from '../../manager/store/index.js';
import { started } from '../lib/local-cluster.js';

const S = baton.TaskState;

function orchestrator(c: Awaited<ReturnType<typeof started>>): { instancesVisited: number } {
  const l = c.loops.find((x) => x.name === 'replicated-orchestrator');
  assert.ok(l, 'the replicated orchestrator runs');
  return l.stats;
}

test("one task's reports make passes over its slot, not the service's 200; a failed task is replaced in its slot", async () => {
  const c = await started({}, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 200 });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  const stats = orchestrator(c);
  const task = c.wanted('s1').find((t) => t.slot === 17)!;
  const before = stats.instancesVisited;
  c.report(task.meta.id, S.TASK_FAILED, { err: 'exit 1' });
  await c.settle();
  const visited = stats.instancesVisited - before;
  assert.ok(visited >= 1 && visited < 10, `slots looked at for one task's failure: ${visited} (a whole pass is 200)`);
  // The restart delay (5 s by default, as Docker's) wakes the service: then its slot is refilled.
  await c.elapse(10_000);
  const slot17 = c.wanted('s1').filter((t) => t.slot === 17);
  assert.equal(slot17.length, 1, 'slot 17 has one wanted task again');
  assert.notEqual(slot17[0]!.meta.id, task.meta.id, 'a new task');
  assert.equal(c.wanted('s1').length, 200);
  c.stop();
});

test('a deleted task leaves its slot to refill; a scale looks at every slot', async () => {
  const c = await started({}, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 20 });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  const gone = c.wanted('s1').find((t) => t.slot === 5)!;
  c.host.apply([deleteAction('task', gone)]);
  await c.settle();
  assert.equal(c.wanted('s1').filter((t) => t.slot === 5).length, 1, 'slot 5 refilled');
  const stats = orchestrator(c);
  const before = stats.instancesVisited;
  c.scale('s1', 25);
  await c.settle();
  assert.ok(stats.instancesVisited - before >= 25, `a scale looks at every slot (${stats.instancesVisited - before})`);
  assert.equal(c.wanted('s1').length, 25);
  c.stop();
});

test("a pass over one slot keeps another slot's delayed restart", async () => {
  const c = await started({}, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 3, restart: { delayMs: 5_000 } });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  const [first, second] = c.wanted('s1');
  c.report(first!.meta.id, S.TASK_FAILED, { err: 'exit 1' });
  await c.settle();
  // Slot 1 waits for its restart delay; a change of slot 2 meanwhile must not drop that wake.
  await c.elapse(1_000);
  c.report(second!.meta.id, S.TASK_FAILED, { err: 'exit 1' });
  await c.settle();
  await c.elapse(4_500);
  assert.equal(c.wanted('s1').filter((t) => t.slot === first!.slot && t.status?.state !== S.TASK_FAILED).length, 1, 'slot of the first failure restarted after its delay');
  c.stop();
});
