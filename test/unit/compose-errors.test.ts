// Bad Compose input: one line naming the file and the path, for every kind of mistake, and
// unsupported keys reported by name (an error unless harmless to ignore).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonError } from '../../client/index.js';
import { loadStack } from '../../cli/compose/project.js';
import { errorOf } from './compose-helpers.js';

const cases: [string, string, string][] = [
  ['YAML syntax', 'services:\n  web:\n    image: [unclosed\n', 'compose.yml:4:1: invalid YAML:'],
  ['duplicate key', 'services:\n  web:\n    image: a\n    image: b\n', 'compose.yml:4:5: invalid YAML: Map keys must be unique'],
  ['not a mapping', '- a\n- b\n', 'compose.yml: the top level must be a mapping (services: ...)'],
  ['empty file', '# nothing\n', 'compose.yml: the file is empty'],
  ['no services', 'version: "3"\n', 'compose.yml: services must list at least one service'],
  ['missing image', 'services:\n  web:\n    command: sleep 1\n', 'compose.yml: services.web needs an image'],
  ['build only', 'services:\n  web:\n    build: .\n', 'compose.yml: services.web needs an image (build: is not supported; build and push the image first)'],
  ['image not a string', 'services:\n  web:\n    image: [a]\n', 'compose.yml: services.web.image must be a string (got a list)'],
  ['service not a mapping', 'services:\n  web: nginx\n', 'compose.yml: services.web must be a mapping (got "nginx")'],
  ['negative replicas', 'services:\n  web:\n    image: a\n    deploy:\n      replicas: -1\n', 'compose.yml: services.web.deploy.replicas must be a whole number >= 0 (got -1)'],
  ['replicas over the limit', 'services:\n  web:\n    image: a\n    deploy:\n      replicas: 99999999999999999999\n', 'compose.yml: services.web.deploy.replicas must be at most 10000 replicas per service (got 100000000000000000000)'],
  ['cpus over the limit', 'services:\n  web:\n    image: a\n    deploy: { resources: { limits: { cpus: "1e20" } } }\n', 'compose.yml: services.web.deploy.resources.limits.cpus must be a number of CPUs like 0.5 (got "1e20"): at most 1024 CPUs'],
  ['a spec the manager refuses', 'services:\n  web:\n    image: a\n    deploy: { placement: { constraints: ["node.colour==red"] } }\n', 'compose.yml: services.web makes a service spec the manager would refuse: invalid constraint "node.colour==red" (want node.id|node.hostname|node.role|node.platform.os|node.platform.arch|node.labels.KEY|engine.labels.KEY ==|!= VALUE)'],
  ['replicas with global', 'services:\n  web:\n    image: a\n    deploy: { mode: global, replicas: 2 }\n', 'compose.yml: services.web.deploy.replicas cannot be used with deploy.mode global'],
  ['bad mode', 'services:\n  web:\n    image: a\n    deploy: { mode: daemon }\n', 'compose.yml: services.web.deploy.mode must be replicated, global, replicated-job or global-job (got "daemon")'],
  ['bad memory', 'services:\n  web:\n    image: a\n    deploy: { resources: { limits: { memory: lots } } }\n', 'compose.yml: services.web.deploy.resources.limits.memory must be a size like 64M or 1G (got "lots")'],
  ['bad cpus', 'services:\n  web:\n    image: a\n    deploy: { resources: { reservations: { cpus: many } } }\n', 'compose.yml: services.web.deploy.resources.reservations.cpus must be a number of CPUs like 0.5 (got "many")'],
  ['bad duration', 'services:\n  web:\n    image: a\n    deploy: { update_config: { delay: 10 } }\n', 'compose.yml: services.web.deploy.update_config.delay must be a duration like 10s, 1m30s or 500ms (got 10)'],
  ['bad failure action', 'services:\n  web:\n    image: a\n    deploy: { rollback_config: { failure_action: rollback } }\n', 'compose.yml: services.web.deploy.rollback_config.failure_action must be pause or continue (got "rollback")'],
  ['bad ratio', 'services:\n  web:\n    image: a\n    deploy: { update_config: { max_failure_ratio: 2 } }\n', 'compose.yml: services.web.deploy.update_config.max_failure_ratio must be a number from 0 to 1 (got 2)'],
  ['bad order', 'services:\n  web:\n    image: a\n    deploy: { update_config: { order: random } }\n', 'compose.yml: services.web.deploy.update_config.order must be stop-first or start-first (got "random")'],
  ['bad restart condition', 'services:\n  web:\n    image: a\n    deploy: { restart_policy: { condition: always } }\n', 'compose.yml: services.web.deploy.restart_policy.condition must be none, on-failure or any (got "always")'],
  ['bad port', 'services:\n  web:\n    image: a\n    ports: ["80:http"]\n', 'compose.yml: services.web.ports[0] must be a port number 1-65535 (got "http")'],
  ['port out of range', 'services:\n  web:\n    image: a\n    ports: ["70000:80"]\n', 'compose.yml: services.web.ports[0] must be a port number 1-65535 (got 70000)'],
  ['port range', 'services:\n  web:\n    image: a\n    ports: ["8000-8001:80-81"]\n', 'compose.yml: services.web.ports[0] uses a port range ("8000-8001"), which is not supported: list each port'],
  ['host ip', 'services:\n  web:\n    image: a\n    ports: ["127.0.0.1:80:80"]\n', 'compose.yml: services.web.ports[0] binds a host IP ("127.0.0.1:80:80"), which is not supported: the routing mesh listens on every node address'],
  ['bad protocol', 'services:\n  web:\n    image: a\n    ports: ["80/sctp"]\n', 'compose.yml: services.web.ports[0] has protocol "sctp" (want tcp or udp)'],
  ['long port without target', 'services:\n  web:\n    image: a\n    ports: [{ published: 80 }]\n', 'compose.yml: services.web.ports[0] needs a target port'],
  ['long port bad mode', 'services:\n  web:\n    image: a\n    ports: [{ target: 80, mode: bridge }]\n', 'compose.yml: services.web.ports[0].mode must be ingress or host (got "bridge")'],
  ['undeclared volume', 'services:\n  web:\n    image: a\n    volumes: ["data:/data"]\n', 'compose.yml: services.web.volumes[0] uses undefined volume "data": declare it under top-level volumes: (a path for a bind starts with /, ./ or ~)'],
  ['typo', 'services:\n  web:\n    image: a\n    enviroment: [A=1]\n', 'compose.yml: services.web.enviroment is not supported'],
  ['unsupported deploy key', 'services:\n  web:\n    image: a\n    deploy: { placement: { max_replicas: 1 } }\n', 'compose.yml: services.web.deploy.placement.max_replicas is not supported'],
  ['dnsrr with an ingress port', 'services:\n  web:\n    image: a\n    ports: ["80"]\n    deploy: { endpoint_mode: dnsrr }\n', "compose.yml: services.web makes a service spec the manager would refuse: port published with ingress mode can't be used with dnsrr mode"],
  ['bad endpoint mode', 'services:\n  web:\n    image: a\n    deploy: { endpoint_mode: rr }\n', 'compose.yml: services.web.deploy.endpoint_mode must be vip or dnsrr (got "rr")'],
  ['undeclared network', 'services:\n  web:\n    image: a\n    networks: [front]\n', 'compose.yml: services.web.networks[0] refers to network "front", which is not declared under top-level networks:'],
  ['undeclared network in a mapping', 'services:\n  web:\n    image: a\n    networks: { back: { aliases: [x] } }\nnetworks:\n  front: {}\n', 'compose.yml: services.web.networks.back refers to network "back", which is not declared under top-level networks:'],
  ['bridge network', 'services:\n  web:\n    image: a\n    networks: [front]\nnetworks:\n  front: { driver: bridge }\n', 'compose.yml: networks.front.driver is bridge: the network demo_front cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver (write driver: overlay, or leave driver: out)'],
  ['other driver', 'services:\n  web:\n    image: a\nnetworks:\n  front: { driver: weave }\n', 'compose.yml: networks.front.driver must be overlay (got "weave"): the only driver, a network that spans the cluster'],
  ['external with a driver', 'services:\n  web:\n    image: a\nnetworks:\n  front: { external: true, driver: overlay }\n', 'compose.yml: networks.front.driver cannot be used with external: true (an external network is used as it is)'],
  ['network name too long', `services:\n  web:\n    image: a\nnetworks:\n  ${'n'.repeat(60)}: {}\n`, `compose.yml: networks.${'n'.repeat(60)} makes a network the manager would refuse: network name "demo_${'n'.repeat(59)}…(65 bytes)" is 65 characters, more than the limit of 63`],
  ['bad alias', 'services:\n  web:\n    image: a\n    networks: { front: { aliases: ["a.b"] } }\nnetworks:\n  front:\n', `compose.yml: services.web makes a service spec the manager would refuse: network demo_front: invalid alias "a.b": a DNS name component (letters, digits, '-' and '_', starting and ending with a letter or digit, at most 63 characters)`],
  ['network option', 'services:\n  web:\n    image: a\n    networks: { front: { ipv4_addres: 10.0.0.2 } }\nnetworks:\n  front:\n', 'compose.yml: services.web.networks.front.ipv4_addres is not supported'],
  ['bad expose', 'services:\n  web:\n    image: a\n    expose: ["80/sctp"]\n', 'compose.yml: services.web.expose[0] must be PORT[/tcp|udp]: protocol must be tcp or udp (got "80/sctp")'],
  ['expose out of range', 'services:\n  web:\n    image: a\n    expose: [0]\n', 'compose.yml: services.web.expose[0] must be a port number 1-65535 (got 0)'],
  ['forbidden key (Docker refuses it)', 'services:\n  web:\n    image: a\n    mem_limit: 1g\n', 'compose.yml: services.web.mem_limit is not supported by stack deploy: Set resource limits using deploy.resources'],
  ['top-level unknown', 'services:\n  web:\n    image: a\nextras: {}\n', 'compose.yml: extras is not supported'],
  ['version 2', 'version: "2.4"\nservices:\n  web:\n    image: a\n', 'compose.yml: version must be 3 or 3.x (got "2.4"): stack deploy reads Compose file format 3'],
  ['undeclared secret', 'services:\n  web:\n    image: a\n    secrets: [db]\n', 'compose.yml: services.web.secrets[0] refers to secret "db", which is not declared under top-level secrets:'],
  ['secret without source', 'services:\n  web:\n    image: a\n    secrets: [{ target: x }]\nsecrets:\n  db: { external: true }\n', 'compose.yml: services.web.secrets[0] needs a source'],
  ['secret mode too big', 'services:\n  web:\n    image: a\n    secrets: [{ source: db, mode: 7777 }]\nsecrets:\n  db: { external: true }\n', 'compose.yml: services.web.secrets[0].mode must be a file mode like 0440 (got 17141 in octal)'],
  ['secret without file', 'services:\n  web:\n    image: a\nsecrets:\n  db: {}\n', 'compose.yml: secrets.db needs file: (a path relative to the compose file) or external: true'],
  ['secret file and external', 'services:\n  web:\n    image: a\nsecrets:\n  db: { file: x, external: true }\n', 'compose.yml: secrets.db.file cannot be used with external: true'],
  ['secret driver', 'services:\n  web:\n    image: a\nconfigs:\n  c: { file: x, template_driver: golang }\n', 'compose.yml: configs.c.template_driver is not supported'],
  ['process without command', 'services:\n  web:\n    x-baton-runtime: process\n', 'compose.yml: services.web needs a command to run with x-baton-runtime: process'],
  ['bad runtime', 'services:\n  web:\n    image: a\n    x-baton-runtime: vm\n', 'compose.yml: services.web.x-baton-runtime must be docker or process (got "vm")'],
  ['bad rebalance', 'services:\n  web:\n    image: a\n    x-baton-rebalance: yes\n', 'compose.yml: services.web.x-baton-rebalance must be auto or off (got "yes")'],
  ['unclosed quote', 'services:\n  web:\n    image: a\n    command: echo "hi\n', 'compose.yml: services.web.command has an unclosed quote'],
  ['healthcheck test and disable', 'services:\n  web:\n    image: a\n    healthcheck: { test: "true", disable: true }\n', 'compose.yml: services.web.healthcheck.test cannot be used with disable: true'],
  ['healthcheck bad list', 'services:\n  web:\n    image: a\n    healthcheck: { test: [curl, x] }\n', 'compose.yml: services.web.healthcheck.test must start with CMD, CMD-SHELL or NONE (or be a string, run by a shell)'],
  ['healthcheck retries', 'services:\n  web:\n    image: a\n    healthcheck: { test: "true", retries: many }\n', 'compose.yml: services.web.healthcheck.retries must be a whole number >= 0 (got "many")'],
  ['bad env entry', 'services:\n  web:\n    image: a\n    environment: ["=x"]\n', 'compose.yml: services.web.environment[0] must be KEY=VALUE or KEY'],
  ['missing env_file', 'services:\n  web:\n    image: a\n    env_file: nope.env\n', 'compose.yml: services.web.env_file cannot be read:'],
  ['required variable', 'services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n', 'compose.yml: services.web.image: required variable IMAGE is missing: set IMAGE'],
  ['bad service name', 'services:\n  "we b":\n    image: a\n', 'compose.yml: services.we b has a name with characters a service name cannot have (use letters, digits, _ . -)'],
  ['deploy not a mapping', 'services:\n  web:\n    image: a\n    deploy: 3\n', 'compose.yml: services.web.deploy must be a mapping (got 3)'],
];

for (const [name, yaml, want] of cases) {
  test(`bad input, one line: ${name}`, () => {
    const message = errorOf(yaml);
    assert.ok(message.startsWith(want), `got:  ${message}\nwant: ${want}`);
    assert.ok(!message.includes('\n'), `one line: ${message}`);
  });
}

test('a missing file and a bad stack name are one line too', () => {
  assert.throws(() => loadStack(['/nonexistent/compose.yml'], 'demo', {}, () => undefined), (e: unknown) => e instanceof BatonError && e.message === '/nonexistent/compose.yml: cannot read the file (ENOENT)');
  assert.throws(() => loadStack([], 'demo', {}, () => undefined), /a compose file is required/);
  assert.throws(() => loadStack(['x.yml'], 'bad name', {}, () => undefined), /invalid stack name "bad name"/);
});

test('with several files, the error names the file that gave the value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-compose-merge-'));
  try {
    writeFileSync(join(dir, 'base.yml'), 'services:\n  web:\n    image: a\n    deploy: { replicas: 2 }\n');
    writeFileSync(join(dir, 'prod.yml'), 'services:\n  web:\n    deploy: { replicas: "x" }\n');
    const files = [join(dir, 'base.yml'), join(dir, 'prod.yml')];
    assert.throws(() => loadStack(files, 'demo', {}, () => undefined), {
      message: `${join(dir, 'prod.yml')}: services.web.deploy.replicas must be a whole number >= 0 (got "x")`,
    });
    writeFileSync(join(dir, 'prod.yml'), 'services:\n  web:\n    deploy: { replicas: 3 }\n');
    writeFileSync(join(dir, 'base.yml'), 'services:\n  web:\n    image: [a]\n');
    assert.throws(() => loadStack(files, 'demo', {}, () => undefined), { message: `${join(dir, 'base.yml')}: services.web.image must be a string (got a list)` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
