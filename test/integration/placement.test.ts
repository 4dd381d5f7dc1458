// Docker's placement options with the real CLI on a real 3-node cluster (process runtime):
// --placement-pref spreads over a node label, --replicas-max-per-node leaves the task it cannot
// place pending with Docker's message (in `service ps`) until an update raises the limit, a
// compose-style `node.platform.os==linux` constraint schedules, and bad input is one line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, REFUSED_SERVICE, assertCreateRefused, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('placement preferences, max replicas per node and platform constraints, as a user runs them', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(1, 2);
  const ids = { m1: nodeIdOf(c.get('m1')), w1: nodeIdOf(c.get('w1')), w2: nodeIdOf(c.get('w2')) };
  // Zone a has two nodes, zone b one: a spread over zones is 3 and 3, not 2, 2 and 2.
  for (const [name, zone] of [['m1', 'a'], ['w1', 'a'], ['w2', 'b']] as const) {
    const r = c.cli('m1', ['node', 'update', '--label-add', `zone=${zone}`, ids[name]]);
    assert.equal(r.code, 0, r.stderr);
  }
  const create = (name: string, ...flags: string[]): void => {
    const r = c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', name, ...flags, '--', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  };

  create('spread', '--replicas', '6', '--placement-pref', 'spread=node.labels.zone');
  await waitFor('6 tasks of spread running', () => running(tasks(c, 'm1', 'spread')).length === 6);
  const on = (service: string, node: string): number => running(tasks(c, 'm1', service)).filter((x) => x.node === node).length;
  assert.equal(on('spread', ids.w2), 3, 'zone b (one node) holds half the tasks');
  assert.equal(on('spread', ids.m1) + on('spread', ids.w1), 3, 'zone a holds the other half');
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'spread']);
  assert.match(pretty.stdout, /\nPlacement:\s*\n Preferences:\s+\[Spread=node\.labels\.zone\]\n/);

  create('capped', '--replicas', '4', '--replicas-max-per-node', '1');
  await waitFor('3 tasks of capped running and one pending with its reason', () => {
    const ts = tasks(c, 'm1', 'capped');
    return running(ts).length === 3 && ts.some((x) => x.state === 'TASK_PENDING' && x.message === 'no suitable node (max replicas per node limit exceed)');
  });
  assert.deepEqual(running(tasks(c, 'm1', 'capped')).map((x) => x.node).sort(), Object.values(ids).sort(), 'one per node');
  const ps = c.cli('m1', ['service', 'ps', '--no-trunc', 'capped']);
  assert.match(ps.stdout, /Pending .*no suitable node \(max replicas per node limit exceed\)/);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'capped']).stdout, /\n Max Replicas Per Node:\s+1\n/);
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /capped\s+replicated\s+3\/4 \(max 1 per node\)/);
  // Raising the limit places the pending task.
  const update = c.cli('m1', ['service', 'update', '-d', '--replicas-max-per-node', '2', 'capped']);
  assert.equal(update.code, 0, update.stderr);
  await waitFor('4 tasks of capped running', () => running(tasks(c, 'm1', 'capped')).length === 4);

  // What real compose files say; the node describes itself as linux/<Node's arch>.
  create('linux', '--replicas', '2', '--constraint', 'node.platform.os==linux', '--constraint', 'node.role==worker');
  await waitFor('2 tasks of linux running on the workers', () => {
    const ts = running(tasks(c, 'm1', 'linux'));
    return ts.length === 2 && ts.every((x) => x.node !== ids.m1);
  });
  create('windows', '--constraint', 'node.platform.os==windows');
  await waitFor('the windows task pending with its reason', () =>
    tasks(c, 'm1', 'windows').some((x) => x.state === 'TASK_PENDING' && x.message === 'no suitable node (3 nodes do not match node.platform.os==windows)'),
  );

  // Bad input: every problem in one line, a non-zero exit, nothing created.
  assertCreateRefused(
    c,
    'm1',
    ['--placement-pref', 'foo=bar', '--replicas-max-per-node', '-1', '--constraint', 'node.platform==linux'],
    /^Error: 3 problems: bad --placement-pref "foo=bar": unsupported placement preference foo \(only spread is supported\); bad --replicas-max-per-node "-1": want a whole number from 0 to 10000; invalid constraint "node\.platform==linux" \(want [^)]+\)\n$/,
  );
  const bad = c.cli('m1', ['service', 'update', '-d', '--placement-pref-add', 'spread', '--replicas-max-per-node', 'x', 'capped']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: 2 problems: bad --placement-pref-add "spread": placement preference must be of the format "<strategy>=<arg>"; bad --replicas-max-per-node "x": [^\n]+\n$/);
  assert.equal(c.cli('m1', ['service', 'inspect', REFUSED_SERVICE]).code, 1, 'the refused service was not created');
});
