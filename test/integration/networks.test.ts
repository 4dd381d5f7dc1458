// Networks end to end with a real daemon and the CLI (process runtime: no Docker needed): the
// `network` commands in Docker's shapes, services joining networks by name (stored by id),
// `service update --network-add/--network-rm`, removal refused while in use, and stacks that
// create their networks, keep them on re-deploy and remove them with the stack.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatonCluster, listedObjects, type CliResult } from '../lib/baton-cluster.js';

/** Fails with one error line matching `pattern`. */
function refused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^Error: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

function ok(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

interface Inspected {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string>;
}

function networks(c: BatonCluster): Inspected[] {
  return listedObjects(c, 'm1', ['network', 'ls'], 'network') as Inspected[];
}

interface ServiceJson {
  spec: { task: { networks: { target: string; aliases: string[] }[] }; endpoint: { mode: string; expose: { targetPort: number; protocol: string }[] } };
}

function serviceJson(c: BatonCluster, name: string): ServiceJson {
  return (JSON.parse(ok(c.cli('m1', ['service', 'inspect', name]))) as ServiceJson[])[0]!;
}

/** A program that runs until stopped, for the process runtime. */
const IDLE = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];

test('network create, ls, inspect and rm in Docker\'s shapes; bad input in one line', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');

  const front = ok(c.cli('m1', ['network', 'create', '--label', 'team=a', 'front'])).trim();
  assert.match(front, /^[a-z0-9]{25}$/);
  const back = ok(c.cli('m1', ['network', 'create', '-d', 'overlay', '--internal', '--attachable', 'back'])).trim();

  const ls = ok(c.cli('m1', ['network', 'ls']));
  assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n/);
  assert.match(ls, new RegExp(`\\n${back}\\s+back\\s+overlay\\s+swarm\\n${front}\\s+front\\s+overlay\\s+swarm\\n$`), 'sorted by name');
  assert.equal(ok(c.cli('m1', ['network', 'ls', '-q', '--filter', 'name=ron'])).trim(), front, 'name= matches part of the name, as Docker');
  assert.equal(ok(c.cli('m1', ['network', 'ls', '-q', '--filter', 'label=team=a'])).trim(), front);
  assert.equal(ok(c.cli('m1', ['network', 'ls', '-q', '--filter', `id=${back.slice(0, 6)}`])).trim(), back);
  refused(c.cli('m1', ['network', 'ls', '--filter', 'colour=red']), /^Error: invalid filter 'colour'$/m);

  const shown = JSON.parse(ok(c.cli('m1', ['network', 'inspect', 'front', back]))) as Inspected[];
  assert.deepEqual(
    shown.map(({ Created, ...rest }) => (assert.ok(!Number.isNaN(Date.parse(Created))), rest)),
    [
      { Name: 'front', Id: front, Scope: 'swarm', Driver: 'overlay', Internal: false, Attachable: false, Ingress: false, Labels: { team: 'a' } },
      { Name: 'back', Id: back, Scope: 'swarm', Driver: 'overlay', Internal: true, Attachable: true, Ingress: false, Labels: {} },
    ],
  );
  assert.equal((JSON.parse(ok(c.cli('m1', ['network', 'inspect', front.slice(0, 8)]))) as Inspected[])[0]!.Name, 'front', 'by id prefix');

  refused(c.cli('m1', ['network', 'create', 'Front']), /^Error: network with name Front already exists\n$/);
  refused(
    c.cli('m1', ['network', 'create', '-d', 'bridge', '--label', '=x', 'my.net']),
    /^Error: 3 problems: bad --label "=x" \(want KEY=VALUE\); invalid network name "my\.net": it must be valid as a DNS name component .*; network driver "bridge" is not supported: only overlay/,
  );
  refused(c.cli('m1', ['network', 'inspect', 'nosuch']), /^Error: network nosuch not found\n$/);
  const some = c.cli('m1', ['network', 'inspect', 'nosuch', 'front', 'gone']);
  assert.equal(some.code, 1);
  assert.deepEqual((JSON.parse(some.stdout) as Inspected[]).map((n) => n.Name), ['front'], 'the ones found are shown, as Docker');
  assert.equal(some.stderr, 'Error: network nosuch not found; network gone not found\n');
  assert.deepEqual(networks(c).map((n) => n.Name), ['back', 'front'], 'nothing refused was made');

  assert.equal(ok(c.cli('m1', ['network', 'rm', 'front', back])), `front\n${back}\n`);
  assert.deepEqual(networks(c), []);
});

test('services join networks by name (stored by id), are updated with --network-add/--network-rm, and hold them against removal', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const front = ok(c.cli('m1', ['network', 'create', 'front'])).trim();
  const back = ok(c.cli('m1', ['network', 'create', 'back'])).trim();

  ok(c.cli('m1', ['service', 'create', '-d', '--name', 'web', '--runtime', 'process', '--network', 'front', '--network', 'name=back,alias=www,alias=w2', '--expose', '8080', '--expose', '53/udp', ...IDLE]));
  const web = serviceJson(c, 'web');
  assert.deepEqual(web.spec.task.networks, [{ target: front, aliases: [] }, { target: back, aliases: ['www', 'w2'] }]);
  assert.equal(web.spec.endpoint.mode, 'VIP');
  assert.deepEqual(web.spec.endpoint.expose.map((p) => [p.targetPort, p.protocol]), [[8080, 'TCP'], [53, 'UDP']]);
  const pretty = ok(c.cli('m1', ['service', 'inspect', '--pretty', 'web']));
  assert.match(pretty, /\nNetworks:\tfront, back \(aliases: www, w2\)\n/);
  assert.match(pretty, /\nEndpoint Mode:\tvip\n/);

  refused(c.cli('m1', ['service', 'create', '-d', '--name', 'api', '--runtime', 'process', '--network', 'nope', '--network', 'front', '--network', 'gone', ...IDLE]), /^Error: networks nope, gone not found/);
  refused(
    c.cli('m1', ['service', 'create', '-d', '--name', 'api', '--runtime', 'process', '--network', 'front', '--network', 'FRONT', '--network', 'name=back,alias=a.b', '--endpoint-mode', 'dnsrr', '-p', '80', '--expose', '0', ...IDLE]),
    /^Error: 4 problems: bad --expose "0": .*; network FRONT is given twice .*; network back: invalid alias "a\.b".*; port published with ingress mode can't be used with dnsrr mode\n$/,
  );
  ok(c.cli('m1', ['service', 'create', '-d', '--name', 'db', '--runtime', 'process', '--network', 'back', '--endpoint-mode', 'dnsrr', ...IDLE]));
  assert.equal(serviceJson(c, 'db').spec.endpoint.mode, 'DNSRR');

  // In use: refused in one line naming the services; the one not in use is still removed.
  const spare = ok(c.cli('m1', ['network', 'create', 'spare'])).trim();
  const rm = c.cli('m1', ['network', 'rm', 'back', 'spare', 'front']);
  assert.equal(rm.code, 1);
  assert.equal(rm.stdout, 'spare\n');
  assert.equal(rm.stderr, 'Error: network back is in use by services db, web; network front is in use by service web\n');
  assert.ok(!networks(c).some((n) => n.Id === spare));

  // update: leave front, join back again with other aliases (rm first, then add, as Docker).
  refused(c.cli('m1', ['service', 'update', '-d', 'web', '--network-rm', 'gone', '--network-add', 'back', '--network-add', 'nope']), /^Error: 3 problems: network gone not found; service is already attached to network back; network nope not found\n$/);
  ok(c.cli('m1', ['service', 'update', '-d', 'web', '--network-rm', 'front', '--network-rm', back, '--network-add', 'name=back,alias=api2', '--endpoint-mode', 'dnsrr']));
  const updated = serviceJson(c, 'web');
  assert.deepEqual(updated.spec.task.networks, [{ target: back, aliases: ['api2'] }]);
  assert.equal(updated.spec.endpoint.mode, 'DNSRR');
  ok(c.cli('m1', ['service', 'update', '-d', 'web', '--network-add', front]));
  assert.deepEqual(serviceJson(c, 'web').spec.task.networks.map((n) => n.target), [back, front]);

  ok(c.cli('m1', ['service', 'rm', 'web', 'db']));
  assert.equal(ok(c.cli('m1', ['network', 'rm', 'front', 'back'])), 'front\nback\n', 'free once the services are gone');
});

test('stack deploy creates its networks (and the default one), a re-deploy keeps them, stack rm removes them; a missing external one is refused', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const compose = join(c.root, 'compose.yml');
  const idle = JSON.stringify(IDLE);
  writeFileSync(
    compose,
    `
version: "3.8"
services:
  web:
    x-baton-runtime: process
    command: ${idle}
    networks:
      front:
        aliases: [www]
      back:
    expose: ["8080"]
  db:
    x-baton-runtime: process
    command: ${idle}
    networks: [back]
    deploy: { endpoint_mode: dnsrr }
  solo:
    x-baton-runtime: process
    command: ${idle}
networks:
  front:
    labels: { team: a }
  back:
    internal: true
  unused: {}
`,
  );
  const deploy = ok(c.cli('m1', ['stack', 'deploy', '-c', compose, 'app']));
  assert.equal(deploy, 'Creating network app_front\nCreating network app_back\nCreating network app_default\nCreating service app_web\nCreating service app_db\nCreating service app_solo\n');
  const nets = networks(c);
  assert.deepEqual(nets.map((n) => [n.Name, n.Internal, n.Labels]), [
    ['app_back', true, { 'com.docker.stack.namespace': 'app' }],
    ['app_default', false, { 'com.docker.stack.namespace': 'app' }],
    ['app_front', false, { team: 'a', 'com.docker.stack.namespace': 'app' }],
  ]);
  const id = (name: string): string => nets.find((n) => n.Name === name)!.Id;
  assert.deepEqual(serviceJson(c, 'app_web').spec.task.networks, [{ target: id('app_back'), aliases: ['web'] }, { target: id('app_front'), aliases: ['www', 'web'] }]);
  assert.deepEqual(serviceJson(c, 'app_solo').spec.task.networks, [{ target: id('app_default'), aliases: ['solo'] }]);
  assert.equal(serviceJson(c, 'app_db').spec.endpoint.mode, 'DNSRR');

  // Re-deploy: nothing to create, nothing changed (the stored ids compare equal to the names).
  assert.equal(ok(c.cli('m1', ['stack', 'deploy', '-c', compose, 'app'])), 'Service app_web is up to date\nService app_db is up to date\nService app_solo is up to date\n');
  // A network removed by hand is made again; the others are left as they are.
  ok(c.cli('m1', ['service', 'rm', 'app_solo']));
  ok(c.cli('m1', ['network', 'rm', 'app_default']));
  assert.equal(ok(c.cli('m1', ['stack', 'deploy', '-c', compose, 'app'])), 'Creating network app_default\nCreating service app_solo\nService app_web is up to date\nService app_db is up to date\n');
  assert.equal(networks(c).find((n) => n.Name === 'app_front')!.Id, id('app_front'));

  // External networks must exist: every missing one in one line, and nothing is created.
  const external = join(c.root, 'external.yml');
  writeFileSync(external, `services:\n  a:\n    x-baton-runtime: process\n    command: ${idle}\n    networks: [shared, other]\nnetworks:\n  shared:\n    external: true\n  other:\n    external: true\n    name: corp-net\n`);
  refused(
    c.cli('m1', ['stack', 'deploy', '-c', external, 'ext']),
    /^Error: 2 problems: network "shared" is declared as external, but could not be found\. You need to create a swarm-scoped network before the stack is deployed; network "corp-net" is declared as external, but could not be found\. You need to create a swarm-scoped network before the stack is deployed\n$/,
  );
  assert.equal(networks(c).length, 3);
  assert.equal(ok(c.cli('m1', ['service', 'ls', '-q'])).trim().split('\n').length, 3, 'no service of the refused stack');
  ok(c.cli('m1', ['network', 'create', 'shared']));
  ok(c.cli('m1', ['network', 'create', 'corp-net']));
  assert.equal(ok(c.cli('m1', ['stack', 'deploy', '-c', external, 'ext'])), 'Creating service ext_a\n', 'external networks are used, not created');

  // stack rm: services first, then the stack's networks; external ones stay.
  const rm = ok(c.cli('m1', ['stack', 'rm', 'app']));
  assert.equal(rm, 'Removing service app_db\nRemoving service app_solo\nRemoving service app_web\nRemoving network app_back\nRemoving network app_default\nRemoving network app_front\n');
  ok(c.cli('m1', ['stack', 'rm', 'ext']));
  assert.deepEqual(networks(c).map((n) => n.Name), ['corp-net', 'shared']);
});
