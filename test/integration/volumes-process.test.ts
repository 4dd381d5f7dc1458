// `baton volume ls|inspect|rm` through the real CLI on a two-node cluster with the process
// runtime: a global service's named volume shows on each node; removing it is refused while its
// tasks use it, naming them; after `service rm` it goes; a killed node is a warning of `ls`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BatonCluster, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

const IDLE = ['--', process.execPath, '-e', 'setInterval(() => {}, 1e9)'];

interface Inspected {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Scope: string;
  Labels: Record<string, string>;
  Node: { ID: string; Name: string };
}

test('volume ls/inspect/rm across the nodes (process runtime)', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(1, 1);
  const m1 = nodeIdOf(c.get('m1'));
  const w1 = nodeIdOf(c.get('w1'));
  const create = c.cli('m1', ['service', 'create', '--mode', 'global', '--runtime', 'process', '--name', 'keeper', '--mount', 'source=vdata,target=/data', ...IDLE]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('a task on each node', () => running(tasks(c, 'm1', 'keeper')).length === 2);

  // Both nodes have the volume: one row each, the node by id (the nodes share a hostname here).
  const ls = c.cli('m1', ['volume', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(ls.stderr, '');
  const rows = ls.stdout.trim().split('\n').map((l) => l.split(/\s{3,}/));
  assert.deepEqual(rows[0], ['DRIVER', 'VOLUME NAME', 'NODE']);
  assert.deepEqual(rows.slice(1).sort(), [['local', 'vdata', m1], ['local', 'vdata', w1]].sort());
  const onW1 = c.cli('m1', ['volume', 'ls', '-q', '--filter', `node=${w1}`, '--filter', 'name=vda']);
  assert.equal(onW1.stdout, 'vdata\n');
  assert.equal(c.cli('m1', ['volume', 'ls', '-q', '--filter', 'dangling=true']).stdout.trim(), '', 'both are in use');
  assert.equal(c.cli('m1', ['volume', 'ls', '-q', '--filter', `label=baton.node=${m1}`]).stdout, 'vdata\n');
  const badFilter = c.cli('m1', ['volume', 'ls', '--filter', 'colour=red', '--filter', 'dangling=maybe']);
  assert.equal(badFilter.code, 1);
  assert.equal(badFilter.stderr, "Error: invalid filter 'colour'; invalid filter 'dangling=maybe'\n");

  const inspect = c.cli('m1', ['volume', 'inspect', 'vdata']);
  assert.equal(inspect.code, 0, inspect.stderr);
  const entries = (JSON.parse(inspect.stdout) as Inspected[]).sort((a, b) => a.Node.ID.localeCompare(b.Node.ID));
  assert.deepEqual(entries.map((e) => e.Node.ID), [m1, w1].sort());
  for (const e of entries) {
    const name = e.Node.ID === m1 ? 'm1' : 'w1';
    assert.equal(e.Mountpoint, join(c.dataDir(name), 'volumes', 'vdata'));
    assert.deepEqual([e.Name, e.Driver, e.Scope, e.Labels['baton.node']], ['vdata', 'local', 'local', e.Node.ID]);
  }
  const onlyW1 = JSON.parse(c.cli('m1', ['volume', 'inspect', 'vdata', '--node', w1]).stdout) as Inspected[];
  assert.deepEqual(onlyW1.map((e) => e.Node.ID), [w1]);
  const missing = c.cli('m1', ['volume', 'inspect', 'vdata', 'nope']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error: no such volume: nope\n');
  assert.equal((JSON.parse(missing.stdout) as Inspected[]).length, 2, 'the volumes found are still printed');

  // In use: refused in one line naming the tasks, together with the other name's refusal.
  const taskNames = tasks(c, 'm1', 'keeper').map((x) => `${x.name}.${x.id}`);
  const refused = c.cli('m1', ['volume', 'rm', 'vdata', 'nope']);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^Error: remove vdata: volume is in use - \[[^\n]*\]; no such volume: nope\n$/);
  for (const n of taskNames) assert.ok(refused.stderr.includes(n), `${n} named in ${refused.stderr}`);
  assert.equal(c.cli('m1', ['volume', 'rm', '--force', 'nope']).code, 0, 'a missing volume is no error with --force');
  assert.ok(existsSync(join(c.dataDir('w1'), 'volumes', 'vdata')));

  assert.equal(c.cli('m1', ['service', 'rm', 'keeper']).code, 0);
  await waitFor('the volume can be removed once the tasks are gone', () => c.cli('m1', ['volume', 'rm', 'vdata']).code === 0);
  assert.equal(c.cli('m1', ['volume', 'ls', '-q']).stdout.trim(), '');
  for (const n of ['m1', 'w1']) assert.equal(existsSync(join(c.dataDir(n), 'volumes', 'vdata')), false);

  // A node killed: its volumes are a warning naming it, the others' are still listed.
  assert.equal(c.cli('m1', ['service', 'create', '--mode', 'global', '--runtime', 'process', '--name', 'again', '--mount', 'source=kept,target=/data', ...IDLE]).code, 0);
  await waitFor('the volume on each node', () => c.cli('m1', ['volume', 'ls', '-q', '--filter', 'name=kept']).stdout === 'kept\n' && c.cli('m1', ['volume', 'ls']).stdout.trim().split('\n').length === 3);
  await c.kill('w1', 'SIGKILL');
  const afterKill = c.cli('m1', ['volume', 'ls']);
  assert.equal(afterKill.code, 0, afterKill.stderr);
  assert.match(afterKill.stderr, new RegExp(`^Warning: node ${w1}: [^\\n]+\\n$`));
  assert.deepEqual(afterKill.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{3,}/)), [['local', 'kept', m1]]);
  assert.equal(c.cli('m1', ['service', 'rm', 'again']).code, 0);
});
