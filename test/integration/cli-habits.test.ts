// The CLI as Docker users type it, through the real `baton` against a real cluster (process
// runtime): --hostname, service ps's columns, --filter, --format templates, node ps, info,
// service logs --timestamps/--since.
import test from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { baton, BatonCluster, nodeIdOf } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('CLI habits: hostnames, ps columns, filters, templates, node ps, info, logs', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--hostname', 'manager-1']);
  await c.join('w1', 'worker', 'm1', ['--hostname', 'worker-1']);
  const m1 = nodeIdOf(c.get('m1'));
  const cli = (args: string[]): string => {
    const r = c.cli('m1', args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const refused = (args: string[]): string => {
    const r = c.cli('m1', args);
    assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: [^\n]*\n$/, 'one line');
    return r.stderr.trim();
  };
  await waitFor('two nodes ready', () => cli(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']).trim().split('\n').sort().join(',') === 'manager-1 Ready,worker-1 Ready');

  // --hostname is the node's name everywhere.
  assert.equal(cli(['node', 'inspect', '--format', '{{.Description.Hostname}}', 'self']).trim(), 'manager-1');
  assert.equal(cli(['node', 'inspect', '--format', '{{.ID}}', 'worker-1']).trim(), nodeIdOf(c.get('w1')));
  assert.equal((JSON.parse(cli(['node', 'inspect', '--format', 'json', 'self'])) as { meta: { id: string } }[])[0]!.meta.id, m1);
  const badName = baton(['init', '--hostname', 'bad name', '--data-dir', '/nonexistent/never']);
  assert.equal(badName.code, 1);
  assert.match(badName.stderr, /^Error: bad --hostname "bad name" \(want letters, digits, '\.', '-' or '_', at most 63\)\n$/);

  cli(['service', 'create', '--runtime', 'process', '--name', 'talk', '--replicas', '2', '--', '/bin/sh', '-c', 'echo hello from $$; exec sleep 1000']);
  cli(['service', 'create', '--runtime', 'process', '--name', 'quiet', '--mode', 'global', '--', '/bin/sleep', '1000']);

  // service ps: Docker's columns, ids of 12, node hostnames.
  const ps = cli(['service', 'ps', 'talk']).split('\n');
  assert.match(ps[0]!, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
  assert.match(ps[1]!, /^\w{12}\s+talk\.1\s+\(process\) \/bin\/sh -c .*\s+(manager-1|worker-1)\s+Running\s+Running (less than a second|\d+ seconds?|about a minute|\d+ minutes) ago/);
  const full = cli(['service', 'ps', '--no-trunc', '-q', 'talk']).trim().split('\n')[0]!;
  assert.ok(full.length > 12);
  assert.equal(cli(['service', 'ps', '--no-trunc', '--format', '{{.ID}}', '--filter', `id=${full}`, 'talk']).trim(), full);

  // Filters: by node (hostname and self), desired state, name; unknown keys in one line.
  const onWorker = cli(['service', 'ps', '--filter', 'node=worker-1', '--format', '{{.Node}}', 'talk']).trim().split('\n');
  assert.deepEqual([...new Set(onWorker)], ['worker-1']);
  assert.equal(cli(['service', 'ps', '--filter', 'desired-state=shutdown', 'talk']).trim().split('\n').length, 1, 'only the header');
  assert.equal(cli(['service', 'ps', '--filter', 'name=talk.2', '--format', '{{.Name}}', 'talk']).trim(), 'talk.2');
  assert.equal(refused(['service', 'ps', '--filter', 'foo=1', '--filter', 'desired-state=asleep', 'talk']), "Error: invalid filter 'foo'; invalid filter 'desired-state=asleep'");
  assert.equal(cli(['service', 'ls', '--filter', 'mode=global', '--format', '{{.Name}}']).trim(), 'quiet');
  assert.equal(cli(['service', 'ls', '--filter', 'mode=global', '--format', '{{.Name}} {{.Mode}}']).trim(), 'quiet global');
  assert.equal(cli(['service', 'ls', '--filter', 'label=tier', '--format', '{{.Name}}']), '', 'no service has the label');
  assert.equal(cli(['service', 'ls', '--filter', 'name=ta', '-q']).trim().split('\n').length, 1);
  assert.equal(refused(['service', 'ls', '--filter', 'colour=red']), "Error: invalid filter 'colour'");
  assert.equal(cli(['node', 'ls', '--filter', 'role=worker', '--format', '{{.Hostname}}']).trim(), 'worker-1');
  assert.equal(refused(['node', 'ls', '--filter', 'role=boss']), "Error: invalid filter 'role=boss'");

  // Templates: table with Docker's headers, json of a row, inspect paths; bad ones in one line.
  await waitFor('2/2 talk and quiet on both nodes', () => cli(['service', 'ls', '--format', '{{.Replicas}}']).split('\n').filter((l) => l === '2/2').length === 2);
  const tableOut = cli(['service', 'ls', '--format', 'table {{.Name}}\\t{{.Replicas}}']).trim().split('\n');
  assert.match(tableOut[0]!, /^NAME\s+REPLICAS$/);
  assert.match(tableOut[1]!, /^quiet\s+2\/2$/);
  assert.equal((JSON.parse(cli(['service', 'ls', '--filter', 'name=talk', '--format', '{{json .}}'])) as { Name: string }).Name, 'talk');
  assert.equal(cli(['service', 'inspect', '--format', '{{.Spec.Name}} {{.Spec.Replicas}}', 'talk']).trim(), 'talk 2');
  assert.equal(refused(['service', 'ls', '--format', '{{nope .Name}}']), 'Error: template parsing error: template: :1: function "nope" not defined');
  assert.match(refused(['service', 'ls', '--format', '{{.Nope}}']), /can't evaluate field Nope/);

  // network/secret/config ls take templates too.
  cli(['network', 'create', 'backnet']);
  assert.equal(cli(['network', 'ls', '--filter', 'name=backnet', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']).trim(), 'backnet overlay swarm');
  assert.match(cli(['network', 'ls', '--filter', 'name=backnet', '--format', 'table {{.ID}}\\t{{.Name}}']).split('\n')[0]!, /^NETWORK ID\s+NAME$/);
  assert.equal(cli(['config', 'ls', '--format', '{{.Name}}']), '', 'no configs: nothing printed');

  // node ps: self by default, or named nodes; service ps's columns and filters.
  const selfTasks = cli(['node', 'ps', '--format', '{{.Name}} {{.Node}}']).trim().split('\n').sort();
  assert.ok(selfTasks.length >= 2 && selfTasks.every((l) => l.endsWith(' manager-1')), selfTasks.join('|'));
  assert.match(cli(['node', 'ps', 'worker-1']).split('\n')[0]!, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE/);
  assert.deepEqual(cli(['node', 'ps', '--filter', 'name=quiet', '--format', '{{.Node}}', 'manager-1', 'worker-1']).trim().split('\n').sort(), ['manager-1', 'worker-1']);

  // info: Docker's shape (a one-word command: the cluster's cli() puts its flags after two words).
  const infoCli = (args: string[]): string => {
    const r = baton(['info', '--data-dir', c.dataDir('m1'), ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const info = infoCli([]);
  assert.match(info, /\n Swarm: active\n  NodeID: \w+\n  Is Manager: true\n  ClusterID: \w+\n  Managers: 1\n  Nodes: 2\n/);
  assert.match(info, /\n  Dispatcher:\n   Heartbeat Period: 1 second\n   Heartbeat Grace: 3 periods\n[^]*\n  Node Address: [\d.]+\n  Manager Addresses:\n   \S+:\d+\n/);
  assert.match(info, /\n CPUs: \d+\n Total Memory: [\d.]+\wiB\n Name: manager-1\n/);
  assert.match(info, /\n {2}Raft:\n {3}Snapshot Interval: \d+\n {3}Heartbeat Tick: \d+\n {3}Election Tick: \d+\n {3}Tick: \d+ ms\n {2}Dispatcher:\n/);
  assert.ok(Number(infoCli(['--format', '{{.Swarm.Cluster.Spec.Raft.ElectionTick}}'])) > 0);
  assert.equal(infoCli(['--format', '{{.Swarm.NodeID}} {{.Swarm.Nodes}}']).trim(), `${m1} 2`);
  assert.equal((JSON.parse(infoCli(['--format', 'json'])) as { Swarm: { ControlAvailable: boolean } }).Swarm.ControlAvailable, true);

  // logs --timestamps and --since.
  await waitFor('both replicas said hello', () => cli(['service', 'logs', 'talk']).split('\n').filter((l) => l.includes('hello from')).length === 2);
  const stamped = cli(['service', 'logs', '--timestamps', 'talk']).trim().split('\n');
  assert.equal(stamped.length, 2);
  for (const line of stamped) {
    const [stamp] = line.split(' ');
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z talk\.\d\.\w+@(manager-1|worker-1) \| hello from \d+$/);
    assert.ok(Math.abs(Date.parse(stamp!) - Date.now()) < 10 * 60_000, 'a time of this run');
  }
  assert.equal(cli(['service', 'logs', '--since', '10m', 'talk']).trim().split('\n').length, 2);
  assert.equal(cli(['service', 'logs', '--since', new Date(Date.now() + 60_000).toISOString(), 'talk']), '');
  assert.match(refused(['service', 'logs', '--since', 'yesterday', 'talk']), /bad --since "yesterday"/);

  // A daemon started again without --hostname keeps the name its data dir holds.
  const w1 = c.get('w1');
  const w1Id = nodeIdOf(w1);
  const stateOf = (): string => cli(['node', 'inspect', '--format', '{{.Status.State}}', w1Id]).trim();
  await c.kill('w1', 'SIGKILL');
  // Down first, so that Ready again is the restarted daemon's own report (a quick restart within
  // the heartbeat grace would change nothing in the store, whatever it said).
  await waitFor('the killed worker to be seen down', () => stateOf() === 'NODE_DOWN', { timeoutMs: 60_000, intervalMs: 500 });
  await c.start('w1', 'worker', w1.addr, w1.args.filter((a, i, all) => a !== '--hostname' && all[i - 1] !== '--hostname'));
  assert.equal((JSON.parse(readFileSync(join(c.dataDir('w1'), 'node.json'), 'utf8')) as { hostname?: string }).hostname, 'worker-1');
  await waitFor('the restarted worker described itself again', () => stateOf() === 'NODE_READY');
  assert.equal(cli(['node', 'inspect', '--format', '{{.Description.Hostname}}', w1Id]).trim(), 'worker-1');
});
