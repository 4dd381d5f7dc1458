// Networks in Compose files, as Docker's stack deploy reads them: declarations, the default
// network, services' lists and mappings with aliases (the short name added), endpoint_mode and
// expose; and the plan against the cluster (create what is missing, keep what exists, external
// ones must exist, a foreign network is not taken).
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../client/index.js';
import { planNetworks, type NetworkDecl, type StoredNetwork } from '../../cli/compose/networks.js';
import { errorOf, loadYaml } from './compose-helpers.js';
import { loadStack } from '../../cli/compose/project.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'baton-compose-networks-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function writeCompose(yaml: string): string {
  const file = join(dir, 'compose.yml');
  writeFileSync(file, yaml);
  return file;
}

const NS = 'com.docker.stack.namespace';

function service(def: ReturnType<typeof loadYaml>['def'], name: string): baton.ServiceSpec.$Properties {
  const s = def.services.find((x) => x.annotations?.name === name);
  assert.ok(s, name);
  return s;
}

const attachments = (s: baton.ServiceSpec.$Properties) => (s.task?.networks ?? []).map((n) => [n.target, n.aliases]);

test('networks: declared ones as STACK_key or name:, the default network for services naming none, the short name an alias everywhere', () => {
  const { def, warnings } = loadYaml(`
services:
  web:
    image: a
    networks:
      front:
        aliases: [www]
      back:
  db:
    image: a
    networks: [back]
  solo:
    image: a
networks:
  front:
    labels: { team: a }
    attachable: true
  back:
    name: shared-back
    internal: true
    driver: overlay
  unused: {}
`);
  assert.deepEqual(warnings, []);
  // Sorted by network name, as Docker's.
  assert.deepEqual(attachments(service(def, 'demo_web')), [['demo_front', ['www', 'web']], ['shared-back', ['web']]]);
  assert.deepEqual(attachments(service(def, 'demo_db')), [['shared-back', ['db']]]);
  assert.deepEqual(attachments(service(def, 'demo_solo')), [['demo_default', ['solo']]]);
  const decls = Object.fromEntries(def.networks.map((d) => [d.key, { name: d.name, external: d.external, internal: d.internal, attachable: d.attachable, labels: d.labels }]));
  assert.deepEqual(decls, {
    front: { name: 'demo_front', external: false, internal: false, attachable: true, labels: { team: 'a' } },
    back: { name: 'shared-back', external: false, internal: true, attachable: false, labels: {} },
    default: { name: 'demo_default', external: false, internal: false, attachable: false, labels: {} },
  }, 'only the networks some service joins; unused is not made');
});

test('no default network when every service names its own; a declared default is used as declared', () => {
  const own = loadYaml('services:\n  web:\n    image: a\n    networks: [front]\nnetworks:\n  front: {}\n').def;
  assert.deepEqual(own.networks.map((d) => d.name), ['demo_front']);
  const empty = loadYaml('services:\n  web:\n    image: a\n    networks: {}\n  api:\n    image: a\n    networks: []\n').def;
  assert.deepEqual(empty.services.map(attachments), [[['demo_default', ['web']]], [['demo_default', ['api']]]], 'an empty networks: is the default network, as Docker');
  const declared = loadYaml('services:\n  web:\n    image: a\nnetworks:\n  default:\n    external: true\n    name: corp\n').def;
  assert.deepEqual(attachments(service(declared, 'demo_web')), [['corp', ['web']]]);
  assert.deepEqual(declared.networks.map((d) => [d.name, d.external]), [['corp', true]]);
  const ext = loadYaml('services:\n  web:\n    image: a\n    networks: [x]\nnetworks:\n  x:\n    external:\n      name: legacy\n').def;
  assert.deepEqual(ext.networks.map((d) => [d.key, d.name, d.external]), [['x', 'legacy', true]]);
});

test('a service key that cannot be a DNS name is not an alias (with a warning); options Docker ignores are warned about', () => {
  const { def, warnings } = loadYaml('services:\n  web.v2:\n    image: a\n    networks:\n      front: { ipv4_address: 10.0.0.5 }\nnetworks:\n  front: { ipam: { config: [{ subnet: 10.0.0.0/24 }] } }\n');
  assert.deepEqual(attachments(service(def, 'demo_web.v2')), [['demo_front', []]]);
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings[0]!, /networks\.front\.ipam is not supported, ignored$/);
  assert.match(warnings[1]!, /services\.web\.v2 has a name that is not a DNS name component/);
  assert.match(warnings[2]!, /services\.web\.v2\.networks\.front\.ipv4_address is not supported, ignored$/);
});

test('endpoint_mode and expose', () => {
  const { def } = loadYaml('services:\n  db:\n    image: a\n    expose: ["5432", 53/udp, 8080]\n    ports: [{ target: 9000, published: 9000, mode: host }]\n    deploy: { endpoint_mode: dnsrr }\n  web:\n    image: a\n    deploy: { endpoint_mode: vip }\n');
  const db = service(def, 'demo_db');
  assert.equal(db.endpoint?.mode, baton.EndpointMode.DNSRR);
  assert.deepEqual(db.endpoint?.expose, [{ targetPort: 5432, protocol: baton.PortProtocol.TCP }, { targetPort: 53, protocol: baton.PortProtocol.UDP }, { targetPort: 8080, protocol: baton.PortProtocol.TCP }]);
  assert.equal(service(def, 'demo_web').endpoint?.mode, baton.EndpointMode.VIP);
});

test('a stack name that makes a network name the manager refuses is one line at load', () => {
  assert.equal(errorOf('services:\n  web:\n    image: a\n    networks: [Bad.Net]\nnetworks:\n  Bad.Net: {}\n'), `compose.yml: networks.Bad.Net makes a network the manager would refuse: invalid network name "demo_Bad.Net": it must be valid as a DNS name component (letters, digits, '-' and '_', starting and ending with a letter or digit)`);
});

test('a stack name that cannot make its default network name is one line naming it', () => {
  assert.throws(
    () => loadStack([writeCompose('services:\n  web:\n    image: a\n')], 'my.app', {}, () => undefined),
    (err: unknown) =>
      err instanceof BatonError &&
      err.message === `stack my.app: its default network (for the services that name no network) would be my.app_default, which the manager would refuse: invalid network name "my.app_default": it must be valid as a DNS name component (letters, digits, '-' and '_', starting and ending with a letter or digit)`,
  );
});

const decl = (key: string, more: Partial<NetworkDecl> = {}): NetworkDecl => ({ key, name: `app_${key}`, external: false, internal: false, attachable: false, labels: {}, where: `compose.yml: networks.${key}`, ...more });

test('plan: missing networks are created with the stack label, existing ones of the stack kept', () => {
  const plan = planNetworks('app', [decl('front', { labels: { team: 'a' }, internal: true }), decl('default')], [{ id: 'n1', name: 'app_default', labels: { [NS]: 'app' } }], NS);
  assert.deepEqual(plan.ids, new Map([['app_default', 'n1']]));
  assert.deepEqual(plan.create.map((c) => c.spec), [{ annotations: { name: 'app_front', labels: { team: 'a', [NS]: 'app' } }, driver: 'overlay', internal: true, attachable: false }]);
});

test("plan: external networks must exist (Docker's words, every one at once); another stack's or a user's network is not taken", () => {
  const stored: StoredNetwork[] = [{ id: 'n1', name: 'corp', labels: {} }, { id: 'n2', name: 'app_front', labels: { [NS]: 'other' } }];
  assert.deepEqual(planNetworks('app', [decl('x', { name: 'corp', external: true })], stored, NS).ids, new Map([['corp', 'n1']]));
  assert.throws(
    () => planNetworks('app', [decl('a', { name: 'missing1', external: true }), decl('b', { name: 'missing2', external: true })], stored, NS),
    (err: unknown) =>
      err instanceof BatonError &&
      err.code === 'NOT_FOUND' &&
      err.message ===
        '2 problems: network "missing1" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed; network "missing2" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed',
  );
  assert.throws(
    () => planNetworks('app', [decl('front')], stored, NS),
    (err: unknown) => err instanceof BatonError && err.code === 'FAILED_PRECONDITION' && /^compose\.yml: networks\.front: a network named app_front already exists and is not part of stack app \(declare it external: true to use it\)$/.test(err.message),
  );
});
