// `baton volume create|prune` through the real CLI on a two-node cluster, process runtime (a
// volume is a directory of the node): create makes it on every node (or the one --node names),
// with its labels; bad flags all in one line; prune asks first (no: nothing removed), then removes
// on every node what no task uses (a label filter narrows it), printing Docker's `Deleted
// Volumes:` and the bytes freed; a volume in use is kept; a killed node is a warning.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatonCluster, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

const IDLE = ['--', process.execPath, '-e', 'setInterval(() => {}, 1e9)'];

interface Inspected {
  Name: string;
  Driver: string;
  Labels: Record<string, string>;
  Node: { ID: string };
}

test('volume create and prune across the nodes (process runtime)', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(1, 1);
  const m1 = nodeIdOf(c.get('m1'));
  const w1 = nodeIdOf(c.get('w1'));
  const dir = (node: string, name: string): string => join(c.dataDir(node), 'volumes', name);

  // Every bad flag at once, nothing made.
  const bad = c.cli('m1', ['volume', 'create', '--runtime', 'process', '--opt', 'novalue', '--label', '=x', 'bad/name']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: [^\n]*bad\/name[^\n]*novalue[^\n]*"=x"[^\n]*\n$/);
  const badDriver = c.cli('m1', ['volume', 'create', '--runtime', 'process', '--driver', 'nfs', 'x1']);
  assert.equal(badDriver.code, 1);
  assert.match(badDriver.stderr, /^Error: --runtime process makes a directory: --driver and --opt do not apply\n$/);

  // No --node: made on every node, printed once, as Docker prints the name.
  const made = c.cli('m1', ['volume', 'create', '--runtime', 'process', '--label', 'team=db', '--label', 'tier', 'shared']);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout, 'shared\n');
  assert.equal(made.stderr, '');
  for (const n of ['m1', 'w1']) assert.ok(existsSync(dir(n, 'shared')), `made on ${n}`);
  const inspected = JSON.parse(c.cli('m1', ['volume', 'inspect', 'shared']).stdout) as Inspected[];
  assert.deepEqual(inspected.map((v) => v.Node.ID).sort(), [m1, w1].sort());
  for (const v of inspected) {
    assert.equal(v.Driver, 'local');
    assert.deepEqual([v.Labels.team, v.Labels.tier, v.Labels['baton.node']], ['db', '', v.Node.ID]);
  }
  // Again: no error (Docker's create of an existing local volume).
  assert.equal(c.cli('m1', ['volume', 'create', '--runtime', 'process', 'shared']).code, 0);

  // --node: that node only.
  const one = c.cli('m1', ['volume', 'create', '--runtime', 'process', '--node', w1, '--label', 'team=web', 'onlyw1']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual([existsSync(dir('m1', 'onlyw1')), existsSync(dir('w1', 'onlyw1'))], [false, true]);
  const unknownNode = c.cli('m1', ['volume', 'create', '--runtime', 'process', '--node', 'nosuchnode', 'x2']);
  assert.equal(unknownNode.code, 1);
  assert.match(unknownNode.stderr, /nosuchnode/);

  // A third volume, used by a global service's tasks: prune must keep it.
  assert.equal(c.cli('m1', ['service', 'create', '--mode', 'global', '--runtime', 'process', '--name', 'keeper', '--mount', 'source=inuse,target=/data', ...IDLE]).code, 0);
  await waitFor('a task on each node', () => running(tasks(c, 'm1', 'keeper')).length === 2);
  writeFileSync(join(dir('w1', 'shared'), 'blob'), Buffer.alloc(1500));

  // Asked first: "n" (or no answer) removes nothing.
  const declined = c.cli('m1', ['volume', 'prune'], { input: 'n\n' });
  assert.equal(declined.code, 0, declined.stderr);
  assert.match(declined.stdout, /^WARNING! This will remove all local volumes not used by at least one container, on every node of the cluster\.\nAre you sure you want to continue\? \[y\/N\] $/);
  assert.ok(existsSync(dir('m1', 'shared')));

  // label filter: only team=web goes (on w1); label!= keeps team=db out.
  const narrowed = c.cli('m1', ['volume', 'prune', '-f', '--filter', 'label=team', '--filter', 'label!=team=db']);
  assert.equal(narrowed.code, 0, narrowed.stderr);
  assert.equal(narrowed.stdout, 'Deleted Volumes:\nonlyw1\n\nTotal reclaimed space: 0B\n');
  assert.equal(existsSync(dir('w1', 'onlyw1')), false);
  const badFilter = c.cli('m1', ['volume', 'prune', '-f', '--filter', 'until=1h', '--filter', 'dangling=true']);
  assert.equal(badFilter.code, 1);
  assert.match(badFilter.stderr, /^Error: [^\n]*until=1h[^\n]*dangling=true[^\n]*\n$/);

  // "y": every unused one, on both nodes, once by name; the file written counted; in use kept.
  const pruned = c.cli('m1', ['volume', 'prune'], { input: 'y\n' });
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.ok(pruned.stdout.endsWith('Deleted Volumes:\nshared\n\nTotal reclaimed space: 1.5kB\n'), pruned.stdout);
  for (const n of ['m1', 'w1']) {
    assert.equal(existsSync(dir(n, 'shared')), false);
    assert.ok(existsSync(dir(n, 'inuse')), `the volume in use is kept on ${n}`);
  }
  const nothing = c.cli('m1', ['volume', 'prune', '-f']);
  assert.equal(nothing.stdout, 'Total reclaimed space: 0B\n');

  // A killed node: a warning naming it, made on the other.
  await c.kill('w1', 'SIGKILL');
  await waitFor('w1 down', () => c.cli('m1', ['node', 'ls']).stdout.includes('Down'));
  const partial = c.cli('m1', ['volume', 'create', '--runtime', 'process', 'late']);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stderr, new RegExp(`^Warning: node ${w1}: [^\\n]+; not made there\\n$`));
  assert.ok(existsSync(dir('m1', 'late')));
  assert.equal(c.cli('m1', ['service', 'rm', 'keeper']).code, 0);
});
