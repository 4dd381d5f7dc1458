// Every ls/ps `--format json` through the real `baton` on a process-runtime cluster, in Docker's
// shape: one flat JSON object per line whose keys are the listing's template fields (docker/cli
// cli/command/*/formatter.go; https://docs.docker.com/reference/cli/docker/node/ls/ shows node
// ls's), `{{json .}}` the same object; label filters that must all match; network ls's type= and
// dangling=; volume ls templates; and `baton inspect` for the whole object behind a row.
import test from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { BatonCluster, nodeIdOf } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('ls/ps --format json in Docker\'s shape, label filters, network and volume listings', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--hostname', 'manager-1']);
  const m1 = nodeIdOf(c.get('m1'));
  const cli = (args: string[]): string => {
    const r = c.cli('m1', args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The objects `--format json` printed: one a line, nothing else. */
  const rows = (args: string[]): Record<string, unknown>[] =>
    cli([...args, '--format', 'json'])
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const keys = (row: Record<string, unknown> | undefined): string[] => Object.keys(row ?? {});
  await waitFor('the node ready', () => cli(['node', 'ls', '--format', '{{.Status}}']).trim() === 'Ready');

  // node ls: Docker's keys (and baton's Address), Self a JSON bool; {{json .}} the same text.
  const [self] = rows(['node', 'ls']);
  assert.deepEqual(keys(self), ['Address', 'Availability', 'EngineVersion', 'Hostname', 'ID', 'ManagerStatus', 'Self', 'Status', 'TLSStatus']);
  assert.equal(self!.ID, m1);
  assert.equal(self!.Self, true);
  assert.equal(self!.Hostname, 'manager-1');
  assert.equal(self!.ManagerStatus, 'Leader');
  assert.equal(cli(['node', 'ls', '--format', '{{json .}}']), cli(['node', 'ls', '--format', 'json']));
  cli(['node', 'update', '--label-add', 'disk=ssd', '--label-add', 'rack=r1', 'self']);
  assert.equal(cli(['node', 'ls', '--filter', 'node.label=disk=ssd', '--filter', 'node.label=rack', '-q']).trim(), m1);
  assert.equal(cli(['node', 'ls', '--filter', 'node.label=disk=ssd', '--filter', 'node.label=rack=r2', '-q']), '', 'every node.label must match');

  // service ls and service ps.
  cli(['service', 'create', '--runtime', 'process', '--name', 'web', '--label', 'tier=front', '--label', 'team=a', '--replicas', '2', '--', '/bin/sleep', '1000']);
  cli(['service', 'create', '--runtime', 'process', '--name', 'db', '--label', 'tier=back', '--label', 'team=a', '--', '/bin/sleep', '1000']);
  await waitFor('web 2/2 and db 1/1', () => cli(['service', 'ls', '--format', '{{.Name}}={{.Replicas}}']).trim().split('\n').sort().join(',') === 'db=1/1,web=2/2');
  const services = rows(['service', 'ls']);
  assert.deepEqual(services.map(keys), [0, 1].map(() => ['ID', 'Image', 'Mode', 'Name', 'Ports', 'Replicas']));
  assert.deepEqual(services.map((s) => `${String(s.Name)} ${String(s.Mode)} ${String(s.Replicas)}`), ['db replicated 1/1', 'web replicated 2/2']);
  assert.equal(cli(['service', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}']), 'db\nweb\n');
  assert.equal(cli(['service', 'ls', '--filter', 'label=team=a', '--filter', 'label=tier=front', '--format', '{{.Name}}']), 'web\n', 'every label must match');
  const tasks = rows(['service', 'ps', 'web']);
  assert.equal(tasks.length, 2);
  assert.deepEqual(keys(tasks[0]), ['CurrentState', 'DesiredState', 'Error', 'ID', 'Image', 'Name', 'Node', 'Ports']);
  assert.equal(tasks[0]!.Node, 'manager-1');
  assert.equal(tasks[0]!.DesiredState, 'Running');
  // (CurrentState's age moves between the two calls.)
  const ageless = (text: string): string => text.replace(/"CurrentState":"Running [^"]*"/g, '"CurrentState":"Running"');
  assert.equal(ageless(cli(['service', 'ps', 'web', '--format', '{{json .}}'])), ageless(cli(['service', 'ps', 'web', '--format', 'json'])));
  // The whole task behind a row: `baton inspect` of its id, as `docker inspect`.
  const id = cli(['service', 'ps', '-q', '--no-trunc', '--filter', 'name=web.1', 'web']).trim();
  assert.equal(cli(['inspect', id, '--format', '{{.annotations.name}} {{.status.state}}']).trim(), 'web.1 TASK_RUNNING');
  const missing = c.cli('m1', ['inspect', id, 'nosuchobject']);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as { meta: { id: string } }[])[0]!.meta.id, id, 'what was found is printed');
  assert.equal(missing.stderr, 'Error: no such object: nosuchobject\n');

  // secret ls / config ls.
  const file = join(c.root, 'payload');
  writeFileSync(file, 'value\n');
  cli(['secret', 'create', '--label', 'app=shop', '--label', 'env=prod', 'db_password', file]);
  cli(['secret', 'create', '--label', 'app=shop', 'api_key', file]);
  cli(['config', 'create', 'site.conf', file]);
  const secrets = rows(['secret', 'ls']);
  assert.deepEqual(secrets.map(keys), [0, 1].map(() => ['CreatedAt', 'Driver', 'ID', 'Labels', 'Name', 'UpdatedAt']));
  assert.equal(secrets.find((s) => s.Name === 'db_password')!.Labels, 'app=shop,env=prod');
  assert.equal(cli(['secret', 'ls', '--filter', 'label=app=shop', '--filter', 'label=env=prod', '--format', '{{.Name}}']), 'db_password\n');
  assert.equal(cli(['secret', 'ls', '--filter', 'name=api', '--format', '{{.Name}}']), 'api_key\n', 'name is a prefix');
  assert.deepEqual(rows(['config', 'ls']).map(keys), [['CreatedAt', 'ID', 'Labels', 'Name', 'UpdatedAt']]);
  // inspect takes --format on every kind, as Docker's.
  assert.equal(cli(['secret', 'inspect', 'db_password', '--format', '{{.Spec.Name}} {{.Spec.Labels.env}}']), 'db_password prod\n');
  const badFilter = c.cli('m1', ['secret', 'ls', '--filter', 'colour=red']);
  assert.equal(badFilter.code, 1);
  assert.equal(badFilter.stderr, "Error: invalid filter 'colour'\n");

  // network ls: Docker's keys, type= and dangling=, templates.
  cli(['network', 'create', 'back']);
  cli(['network', 'create', '--label', 'app=shop', 'spare']);
  cli(['service', 'update', '--network-add', 'back', 'db']);
  const networks = rows(['network', 'ls']);
  assert.deepEqual(networks.map(keys), [0, 1].map(() => ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']));
  assert.match(String(networks[0]!.CreatedAt), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
  assert.equal(cli(['network', 'ls', '--filter', 'dangling=true', '--format', '{{.Name}}']), 'spare\n', 'no service joins it');
  assert.equal(cli(['network', 'ls', '--filter', 'dangling=false', '--format', '{{.Name}}']), 'back\n');
  assert.equal(cli(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}} {{.Driver}}']), 'back overlay\nspare overlay\n');
  assert.equal(cli(['network', 'ls', '--filter', 'type=builtin', '-q']), '');
  assert.equal(cli(['network', 'inspect', 'back', 'spare', '--format', '{{.Name}} {{.Scope}}']), 'back swarm\nspare swarm\n');
  const badType = c.cli('m1', ['network', 'ls', '--filter', 'type=special', '--filter', 'dangling=maybe']);
  assert.equal(badType.code, 1);
  assert.equal(badType.stderr, "Error: invalid filter 'type=special'; invalid filter 'dangling=maybe'\n");

  // volume ls: Go templates, and Docker's keys with the node in json.
  cli(['volume', 'create', '--runtime', 'process', '--label', 'team=db', 'shared']);
  await waitFor('the volume listed', () => cli(['volume', 'ls', '-q']).includes('shared'));
  // (baton's own labels, baton.cluster and baton.node, are there too.)
  assert.match(cli(['volume', 'ls', '--filter', 'label=team=db', '--format', '{{.Name}}@{{.Node}} {{.Labels}}']), /^shared@manager-1 (\S+,)?team=db(,\S+)?\n$/);
  assert.equal(cli(['volume', 'inspect', 'shared', '--format', '{{.Name}} {{.Node.Name}} {{.Labels.team}}']), 'shared manager-1 db\n');
  const [volume] = rows(['volume', 'ls', '--filter', 'name=shared']);
  assert.deepEqual(keys(volume), ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Node', 'Scope', 'Size', 'Status']);
});
