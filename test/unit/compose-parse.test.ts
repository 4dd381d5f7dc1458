// Compose files to ServiceSpecs: every supported key of test/fixtures/stack/full.yml, several
// files merged, the process runtime, interpolation, and warnings for harmless unsupported keys.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton } from '../../client/index.js';
import { loadStack, type StackDefinition } from '../../cli/compose/project.js';
import { loadYaml } from './compose-helpers.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack');

function load(files: string[], env: Record<string, string> = {}): { def: StackDefinition; warnings: string[] } {
  const warnings: string[] = [];
  const def = loadStack(files.map((f) => join(FIXTURES, f)), 'demo', env, (l) => warnings.push(l));
  return { def, warnings };
}

function service(def: StackDefinition, name: string): baton.ServiceSpec.$Properties {
  const s = def.services.find((x) => x.annotations?.name === name);
  assert.ok(s, `no service ${name} in ${def.services.map((x) => x.annotations?.name).join(', ')}`);
  return s;
}

test('full.yml: every supported key lands in the spec', () => {
  const { def, warnings } = load(['full.yml'], { WHO: 'world' });
  assert.deepEqual(warnings, []);
  assert.deepEqual(def.services.map((s) => s.annotations?.name), ['demo_web', 'demo_agent', 'demo_worker']);
  const web = service(def, 'demo_web');
  assert.deepEqual(web.annotations?.labels, { tier: 'front', 'com.docker.stack.namespace': 'demo' });
  assert.equal(web.replicas, 3);
  assert.equal(web.global, false);
  const c = web.task?.container ?? {};
  assert.equal(web.task?.runtime, 'docker');
  assert.equal(c.image, 'local/busybox:1', '${WEB_IMAGE:-local/busybox:1} took its default');
  assert.deepEqual(c.command, []);
  assert.deepEqual(c.args, ['httpd', '-f', '-p', '80', '-h', '/www']);
  assert.deepEqual(c.env, ['GREETING=hello world', 'EMPTY=']);
  assert.equal(c.dir, '/www');
  assert.equal(c.stopGraceMs, 60_000);
  assert.deepEqual(c.healthcheck, { test: ['CMD', 'wget', '-q', '-O-', 'http://127.0.0.1/'], intervalMs: 5000, timeoutMs: 2000, retries: 4, startPeriodMs: 500 });
  assert.deepEqual(c.secrets, [
    { secretId: '', secretName: 'demo_db_password', target: 'db_password', mode: 0o444 },
    { secretId: '', secretName: 'api_key', target: 'key.txt', mode: 0o400 },
  ]);
  assert.deepEqual(c.configs, [{ configId: '', configName: 'custom-site', target: '/site', mode: 0o444 }]);
  assert.deepEqual(web.endpoint?.ports, [
    { targetPort: 80, publishedPort: 8080, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.INGRESS },
    { targetPort: 9090, publishedPort: 0, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.INGRESS },
    { targetPort: 53, publishedPort: 5353, protocol: baton.PortProtocol.UDP, publishMode: baton.PublishMode.INGRESS },
    { targetPort: 443, publishedPort: 8443, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.HOST },
  ]);
  assert.deepEqual(web.task?.resources, {
    limits: { nanoCpus: 5e8, memoryBytes: 64 * 1024 ** 2 },
    reservations: { nanoCpus: 1e8, memoryBytes: 16 * 1024 ** 2 },
  });
  assert.deepEqual(web.task?.placement, { constraints: ['node.labels.zone==a', 'node.role!=manager'], preferences: [], maxReplicas: 0 });
  assert.deepEqual(web.task?.restart, { condition: baton.RestartCondition.RESTART_ON_FAILURE, delayMs: 2000, maxAttempts: 3, windowMs: 120_000 });
  assert.deepEqual(web.update, {
    parallelism: 2,
    delayMs: 10_000,
    failureAction: baton.UpdateFailureAction.FAILURE_ROLLBACK,
    monitorMs: 90_000,
    maxFailureRatio: 0.25,
    order: baton.UpdateOrder.START_FIRST,
  });
  assert.deepEqual(web.rollback, { parallelism: 0, delayMs: 0, failureAction: baton.UpdateFailureAction.FAILURE_CONTINUE, monitorMs: 0, maxFailureRatio: 0, order: baton.UpdateOrder.STOP_FIRST });

  const agent = service(def, 'demo_agent');
  assert.equal(agent.global, true);
  assert.equal(agent.replicas, 0);
  assert.deepEqual(agent.task?.container?.command, ['/bin/sh', '-c']);
  assert.deepEqual(agent.task?.container?.args, ['sleep 1000']);
  assert.deepEqual(agent.task?.container?.env, ['MODE=agent', 'COUNT=3', 'DEBUG=true']);
  assert.deepEqual(agent.task?.container?.healthcheck?.test, ['CMD-SHELL', 'wget -q -O- http://127.0.0.1/ || exit 1']);
  assert.deepEqual(agent.task?.restart, { condition: baton.RestartCondition.RESTART_ANY, delayMs: 5000, maxAttempts: 0, windowMs: 0 }, "service create's defaults");
  const oneAtATime = { parallelism: 1, delayMs: 0, failureAction: baton.UpdateFailureAction.FAILURE_PAUSE, monitorMs: 0, maxFailureRatio: 0, order: baton.UpdateOrder.STOP_FIRST };
  assert.deepEqual(agent.update, oneAtATime, 'no update_config: one task at a time, as service create');
  assert.deepEqual(agent.rollback, oneAtATime);

  const worker = service(def, 'demo_worker');
  assert.equal(worker.task?.runtime, 'process');
  assert.deepEqual(worker.task?.container?.command, ['node', '-e', 'setInterval(() => {}, 1000)']);
  assert.deepEqual(worker.task?.container?.args, []);
  assert.deepEqual(worker.task?.container?.healthcheck, { test: ['NONE'] });

  assert.deepEqual(
    def.secrets.map((s) => [s.key, s.name, s.external, s.file]),
    [
      ['db_password', 'demo_db_password', false, join(FIXTURES, 'secret.txt')],
      ['api_key', 'api_key', true, undefined],
    ],
  );
  assert.deepEqual(def.configs.map((s) => [s.key, s.name, s.external, s.file]), [['site', 'custom-site', false, join(FIXTURES, 'site.conf')]]);
});

test('several files merge in order: later values win, mappings merge key by key', () => {
  const { def } = load(['full.yml', 'override.yml'], { WHO: 'x' });
  assert.deepEqual(def.services.map((s) => s.annotations?.name), ['demo_web', 'demo_agent', 'demo_worker', 'demo_extra']);
  const web = service(def, 'demo_web');
  assert.equal(web.task?.container?.image, 'local/busybox:2');
  assert.equal(web.replicas, 5);
  assert.equal(web.update?.parallelism, 2, 'update_config from the first file stays');
  assert.deepEqual(web.task?.container?.args, ['httpd', '-f', '-p', '80', '-h', '/www']);
});

test('interpolation from the environment, and a warning for an unset variable', () => {
  const { def, warnings } = load(['full.yml'], { WEB_IMAGE: 'registry.local/web:7' });
  assert.equal(service(def, 'demo_web').task?.container?.image, 'registry.local/web:7');
  assert.deepEqual(service(def, 'demo_web').task?.container?.env, ['GREETING=hello ', 'EMPTY=']);
  assert.deepEqual(warnings, [`${join(FIXTURES, 'full.yml')}: the "WHO" variable is not set, defaulting to a blank string`]);
});

test("keys Docker's stack deploy ignores are said once, in Docker's words; others that change nothing are warned by name", () => {
  const { def, warnings } = load(['unsupported.yml']);
  const file = join(FIXTURES, 'unsupported.yml');
  assert.deepEqual(warnings, [
    'Ignoring unsupported options: links',
    'Ignoring deprecated options: container_name: Setting the container name is not supported.',
    `${file}: services.web.depends_on is not supported, ignored`,
  ]);
  assert.equal(def.services.length, 1);
});

test('short forms: environment as a mapping with a shell variable, a list, labels as a list, ports as numbers', () => {
  const { def } = loadYaml(
    `
services:
  api:
    image: img
    command: ["serve", "--port", 8000]
    environment: { FROM_SHELL: null, NOT_SET: null, N: 1.5 }
    ports: [8000, "7000:7001"]
    deploy:
      labels: ["a=1", "b"]
      resources: { limits: { memory: 1048576 } }
    stop_grace_period: 1m30s
`,
    { FROM_SHELL: 'yes' },
  );
  const api = def.services[0]!;
  assert.deepEqual(api.task?.container?.args, ['serve', '--port', '8000']);
  assert.deepEqual(api.task?.container?.env, ['FROM_SHELL=yes', 'N=1.5'], 'an unset shell variable is left out');
  assert.deepEqual(api.endpoint?.ports?.map((p) => [p.publishedPort, p.targetPort]), [[0, 8000], [7000, 7001]]);
  assert.deepEqual(api.annotations?.labels, { a: '1', b: '', 'com.docker.stack.namespace': 'demo' });
  assert.equal(api.task?.resources?.limits?.memoryBytes, 1048576);
  assert.equal(api.task?.container?.stopGraceMs, 90_000);
});

test('env_file is read relative to the compose file, and environment overrides it', () => {
  const { def } = loadYaml(
    `
services:
  api:
    image: img
    env_file: app.env
    environment: [B=override]
`,
    {},
    { 'app.env': '# comment\nA=1\n\nB=2\n' },
  );
  assert.deepEqual(def.services[0]!.task?.container?.env, ['A=1', 'B=override']);
});

test('x- extension keys are allowed anywhere; version 3.x is accepted', () => {
  const { def, warnings } = loadYaml(`
version: "3.9"
x-common: &common
  image: img
services:
  a:
    <<: *common
    x-note: hello
`);
  assert.equal(def.services[0]!.task?.container?.image, 'img');
  assert.deepEqual(warnings, []);
});
