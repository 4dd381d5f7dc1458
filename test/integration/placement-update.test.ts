// An update that changes only the placement, with the real CLI on a real 3-node cluster (process
// runtime): as Swarm, tasks on nodes that still satisfy the new constraints keep running where
// they are (same task ids, same processes), and only the task on the node that no longer fits
// is replaced.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('service update --constraint-add moves only the tasks that no longer fit', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(1, 2);
  const zoneOf = new Map<string, string>();
  for (const [name, zone] of [['m1', 'a'], ['w1', 'b'], ['w2', 'c']] as const) {
    const id = nodeIdOf(c.get(name));
    zoneOf.set(id, zone);
    const r = c.cli('m1', ['node', 'update', '--label-add', `zone=${zone}`, id]);
    assert.equal(r.code, 0, r.stderr);
  }
  const create = c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'zoned', '--replicas', '3', '--update-parallelism', '1', '--update-monitor', '300ms', '--', 'sleep', '300']);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('3 tasks of zoned running, one a zone', () => {
    const ts = running(tasks(c, 'm1', 'zoned'));
    return ts.length === 3 && new Set(ts.map((x) => zoneOf.get(x.node))).size === 3;
  });
  const before = running(tasks(c, 'm1', 'zoned'));
  const stay = before.filter((x) => zoneOf.get(x.node) !== 'c');
  const moved = before.find((x) => zoneOf.get(x.node) === 'c')!;

  // Followed to the end, as a user runs it.
  const update = c.cli('m1', ['service', 'update', '--constraint-add', 'node.labels.zone!=c', 'zoned']);
  assert.equal(update.code, 0, update.stderr + update.stdout);
  assert.match(update.stdout, /verify: Service converged/);
  await waitFor('3 tasks running, nothing left on zone c', () => {
    const ts = running(tasks(c, 'm1', 'zoned'));
    return ts.length === 3 && ts.every((x) => zoneOf.get(x.node) !== 'c');
  });
  const status = JSON.parse(c.cli('m1', ['service', 'inspect', 'zoned']).stdout) as { updateStatus?: { state?: string } }[];
  assert.equal(status[0]?.updateStatus?.state, 'UPDATE_COMPLETED');
  const after = running(tasks(c, 'm1', 'zoned'));
  for (const x of stay) {
    const same = after.find((y) => y.id === x.id);
    assert.ok(same, `task ${x.id} on zone ${zoneOf.get(x.node)} still runs`);
    assert.equal(same.node, x.node);
    assert.equal(same.containerId, x.containerId, 'the same process: not restarted');
  }
  assert.ok(!after.some((y) => y.id === moved.id), 'the task on zone c was replaced');
  const all = tasks(c, 'm1', 'zoned');
  assert.equal(all.length, 4, 'one replacement task made, no other');
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'zoned']).stdout, /node\.labels\.zone!=c/);
});
