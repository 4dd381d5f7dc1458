// Compose keys Docker's stack deploy honours beyond the basics, each checked on the spec it makes:
// container options, logging, placement preferences and max replicas per node, job modes,
// `restart:`, Docker's ignored and refused keys, file encodings, and every problem of a file
// (across its top-level sections) said in one error.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baton } from '../../client/index.js';
import { loadStack } from '../../cli/compose/project.js';
import { sameSpec } from '../../cli/compose/diff.js';
import { errorOf, loadYaml } from './compose-helpers.js';

const svc = (body: string, rest = ''): string => `services:\n  web:\n    image: a\n${body}${rest}`;
const web = (yaml: string): baton.ServiceSpec.$Properties => loadYaml(yaml).def.services[0]!;

test('container options land in the ContainerSpec as Docker maps them', () => {
  const spec = web(
    svc(`    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    user: "1000:1000"
    group_add: [wheel, 27]
    labels: { tier: front, empty: "" }
    init: true
    read_only: true
    cap_add: [net_admin, CAP_SYS_TIME, net_admin]
    cap_drop: [mknod, NET_ADMIN]
    sysctls: { net.core.somaxconn: 1024 }
    ulimits: { nproc: 65535, nofile: { soft: 20000, hard: 40000 } }
    stop_signal: SIGQUIT
    stop_grace_period: 1m30s
    extra_hosts: ["somehost:162.242.195.82", "v6host=::1"]
    tty: true
    working_dir: /srv
    entrypoint: ["/bin/sh", "-c"]
    command: echo hi
    logging: { driver: json-file, options: { max-size: 10m, max-file: 3 } }
`),
  );
  const c = spec.task?.container;
  assert.equal(c?.hostname, '{{.Service.Name}}-{{.Task.Slot}}');
  assert.equal(c?.user, '1000:1000');
  assert.deepEqual(c?.groups, ['wheel', '27']);
  // Container labels carry the stack's label too (Docker's), apart from deploy.labels.
  assert.deepEqual(c?.labels, { tier: 'front', empty: '', 'com.docker.stack.namespace': 'demo' });
  assert.deepEqual(spec.annotations?.labels, { 'com.docker.stack.namespace': 'demo' });
  assert.equal(c?.init, true);
  assert.equal(c?.readOnly, true);
  assert.deepEqual(c?.capabilityAdd, ['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
  assert.deepEqual(c?.capabilityDrop, ['CAP_MKNOD'], 'a capability both added and dropped is added');
  assert.deepEqual(c?.sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(c?.ulimits, [
    { name: 'nofile', soft: 20000, hard: 40000 },
    { name: 'nproc', soft: 65535, hard: 65535 },
  ]);
  assert.equal(c?.stopSignal, 'SIGQUIT');
  assert.equal(c?.stopGraceMs, 90_000);
  assert.deepEqual(c?.hosts, ['somehost:162.242.195.82', 'v6host:::1']);
  assert.equal(c?.tty, true);
  assert.equal(c?.dir, '/srv');
  assert.deepEqual(c?.command, ['/bin/sh', '-c']);
  assert.deepEqual(c?.args, ['echo', 'hi']);
  assert.deepEqual(spec.task?.logDriver, { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
});

test('sysctls as a list, labels as a list, extra_hosts as a mapping, cap ALL', () => {
  const c = web(svc('    sysctls: ["net.ipv4.ip_forward=1", "kernel.msgmax = 65536"]\n    labels: ["a=1", "b"]\n    extra_hosts: { db: 10.0.0.5 }\n    cap_add: [ALL, chown]\n')).task?.container;
  assert.deepEqual(c?.sysctls, { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '65536' });
  assert.deepEqual(c?.labels, { a: '1', b: '', 'com.docker.stack.namespace': 'demo' });
  assert.deepEqual(c?.hosts, ['db:10.0.0.5']);
  assert.deepEqual(c?.capabilityAdd, ['ALL']);
});

// node.platform.* and engine.labels.* constraints are passed on as written too; which ones the
// manager accepts is spec/constraints.ts's (the placement work), checked at load through it.
test('deploy.placement: constraints, spread preferences, max replicas per node', () => {
  const spec = web(
    svc(`    deploy:
      placement:
        constraints: [node.labels.zone == a, node.role != manager]
        preferences: [{ spread: node.labels.zone }, { spread: node.labels.rack }]
        max_replicas_per_node: 2
`),
  );
  assert.deepEqual(spec.task?.placement, {
    constraints: ['node.labels.zone == a', 'node.role != manager'],
    preferences: [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }],
    maxReplicas: 2,
  });
});

test('deploy.mode: jobs as Docker maps them (replicas = completions = at a time), restart on-failure by default', () => {
  const job = web(svc('    deploy: { mode: replicated-job, replicas: 4 }\n'));
  assert.deepEqual(job.replicatedJob, { maxConcurrent: 4, totalCompletions: 4 });
  assert.equal(job.replicas, 0);
  assert.equal(job.global, false);
  assert.equal(job.task?.restart?.condition, baton.RestartCondition.RESTART_ON_FAILURE);
  const one = web(svc('    deploy: { mode: replicated-job }\n'));
  assert.deepEqual(one.replicatedJob, { maxConcurrent: 1, totalCompletions: 1 });
  const global = web(svc('    deploy: { mode: global-job, restart_policy: { condition: none } }\n'));
  assert.deepEqual(global.globalJob, {});
  assert.equal(global.global, false);
  assert.equal(global.task?.restart?.condition, baton.RestartCondition.RESTART_NONE);
  // A global job is not a replicated service with no replicas: a re-deploy sees the change.
  assert.equal(sameSpec(global, { ...global, globalJob: undefined }), false);
  assert.equal(
    errorOf(svc('    deploy: { mode: global-job, replicas: 2 }\n')),
    'compose.yml: services.web.deploy.replicas cannot be used with deploy.mode global-job (replicas can only be used with replicated or replicated-job mode)',
  );
  assert.equal(web(svc('    deploy: { endpoint_mode: dnsrr }\n')).endpoint?.mode, baton.EndpointMode.DNSRR);
});

test('restart: counts when deploy.restart_policy is absent, as in Docker\'s converter', () => {
  const { def, warnings } = loadYaml(svc('    restart: on-failure:3\n'));
  assert.equal(def.services[0]!.task?.restart?.condition, baton.RestartCondition.RESTART_ON_FAILURE);
  assert.equal(def.services[0]!.task?.restart?.maxAttempts, 3);
  assert.deepEqual(warnings, ['Ignoring unsupported options: restart']);
  assert.equal(web(svc('    restart: unless-stopped\n')).task?.restart?.condition, baton.RestartCondition.RESTART_ANY);
  const both = web(svc('    restart: always\n    deploy: { restart_policy: { condition: none } }\n'));
  assert.equal(both.task?.restart?.condition, baton.RestartCondition.RESTART_NONE);
  assert.equal(errorOf(svc('    restart: sometimes\n')), 'compose.yml: services.web.restart must be no, always, unless-stopped or on-failure[:max-retries] (got "sometimes")');
});

test("Docker's unsupported options: one warning for the whole stack, and the deploy goes on", () => {
  const { def, warnings } = loadYaml(
    'services:\n  a:\n    image: a\n    build: .\n    privileged: true\n    restart: always\n  b:\n    image: b\n    network_mode: host\n    build: { context: . }\n    container_name: bee\n',
  );
  assert.equal(def.services.length, 2);
  assert.deepEqual(warnings, [
    'Ignoring unsupported options: build, network_mode, privileged, restart',
    'Ignoring deprecated options: container_name: Setting the container name is not supported.',
  ]);
});

test('bad values of the new keys, one line each naming file, service and key', () => {
  const cases: [string, string][] = [
    [svc('    ulimits: { nofile: { soft: 10 } }\n'), 'compose.yml: services.web.ulimits.nofile needs both soft and hard (or one number for both)'],
    [svc('    ulimits: { nofile: { soft: 10, hard: 5 } }\n'), 'compose.yml: services.web.ulimits.nofile has a soft limit (10) above its hard limit (5)'],
    [svc('    ulimits: { nofile: lots }\n'), 'compose.yml: services.web.ulimits.nofile must be a whole number >= 0 (got "lots")'],
    [svc('    sysctls: [novalue]\n'), 'compose.yml: services.web.sysctls[0] must be NAME=VALUE (got "novalue")'],
    [svc('    extra_hosts: ["nohost"]\n'), 'compose.yml: services.web.extra_hosts[0] must be HOST:IP (got "nohost")'],
    [svc('    init: yes please\n'), 'compose.yml: services.web.init must be true or false (got "yes please")'],
    [svc('    logging: { driver: syslog, opts: {} }\n'), 'compose.yml: services.web.logging.opts is not supported'],
    [svc('    deploy: { placement: { preferences: [{ pack: x }] } }\n'), 'compose.yml: services.web.deploy.placement.preferences[0].pack is not supported'],
    [svc('    volumes_from: [other]\n'), 'compose.yml: services.web.volumes_from is not supported by stack deploy: To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.'],
    [svc('    extends: { service: base }\n'), 'compose.yml: services.web.extends is not supported by stack deploy: Support for `extends` is not implemented yet.'],
  ];
  for (const [yaml, want] of cases) assert.equal(errorOf(yaml), want);
});

test("isolation and credential_spec: what a Linux engine takes is accepted, the rest refused at deploy, one line each", () => {
  // Docker's stack deploy passes both on and a Linux engine refuses the tasks; asking for nothing is fine.
  for (const body of ['    isolation: default\n', '    isolation: DEFAULT\n', '    isolation: ""\n', '    credential_spec: {}\n', '    credential_spec: { file: "" }\n']) {
    const { def, warnings } = loadYaml(svc(body));
    assert.equal(def.services[0]?.task?.container?.image, 'a', body);
    assert.deepEqual(warnings, [], body);
  }
  const cases: [string, string][] = [
    [svc('    isolation: process\n'), `compose.yml: services.web.isolation is "process": Linux containers only support 'default' (process and hyperv are Windows isolation modes)`],
    [svc('    isolation: hyperv\n'), `compose.yml: services.web.isolation is "hyperv": Linux containers only support 'default' (process and hyperv are Windows isolation modes)`],
    [svc('    isolation: [default]\n'), 'compose.yml: services.web.isolation must be a string (got a list)'],
    [svc('    credential_spec: { file: my-gmsa.json }\n'), 'compose.yml: services.web.credential_spec.file is not supported: credential specs (gMSA) are for Windows containers, and a Linux engine refuses a task with one'],
    [svc('    credential_spec: { registry: my-gmsa }\n'), 'compose.yml: services.web.credential_spec.registry is not supported: credential specs (gMSA) are for Windows containers, and a Linux engine refuses a task with one'],
    [svc('    credential_spec: { config: gmsa }\n'), 'compose.yml: services.web.credential_spec.config is not supported: credential specs (gMSA) are for Windows containers, and a Linux engine refuses a task with one'],
    [svc('    credential_spec: { files: x }\n'), 'compose.yml: services.web.credential_spec.files is not supported'],
    [svc('    credential_spec: gmsa.json\n'), 'compose.yml: services.web.credential_spec must be a mapping (got "gmsa.json")'],
  ];
  for (const [yaml, want] of cases) assert.equal(errorOf(yaml), want);
  // Both in one service, with another problem: every one said at once.
  const message = errorOf(svc('    isolation: process\n    credential_spec: { file: x.json }\n    colour: red\n'));
  assert.match(message, /^3 problems: /, message);
  for (const key of ['services.web.isolation is "process"', 'services.web.credential_spec.file is not supported', 'services.web.colour is not supported']) assert.ok(message.includes(key), `missing ${key} in: ${message}`);
});

test('every problem of a file, in every top-level section, is in the one error', () => {
  const yaml = `version: "3.8"
services:
  web:
    image: a
    secrets: [s]
    networks: [front]
    volumes: [data:/data]
  api:
    image: b
    mem_limit: 1g
  worker:
    image: c
    deploy: { replicas: many }
secrets:
  s: { file: ./s.txt, external: true }
  t: {}
configs:
  c: { driver: vault, file: x }
networks:
  front: { driver: bridge }
  back: { ipv6: true }
volumes:
  data: { drivers: local }
  cache: { external: true, driver: local }
extras: 1
`;
  const message = errorOf(yaml);
  const wants = [
    'compose.yml: extras is not supported',
    'compose.yml: secrets.s.file cannot be used with external: true',
    'compose.yml: secrets.t needs file:',
    'compose.yml: configs.c.driver is not supported',
    'compose.yml: networks.front.driver is bridge',
    'compose.yml: networks.back.ipv6 is not supported',
    'compose.yml: volumes.data.drivers is not supported',
    'compose.yml: volumes.cache.driver cannot be used with external: true',
    'compose.yml: services.api.mem_limit is not supported by stack deploy',
    'compose.yml: services.worker.deploy.replicas must be a whole number',
  ];
  assert.match(message, /^10 problems: /);
  for (const want of wants) assert.ok(message.includes(want), `missing "${want}" in: ${message}`);
  // The service that uses the broken secret, network and volume is not blamed for them.
  assert.ok(!message.includes('services.web'), message);
});

test('every problem of one service is in the one error: unknown keys, a refused key, bad values', () => {
  const message = errorOf(`version: "3.8"
services:
  web:
    imgae: busybox
    colour: red
    mem_limit: 10m
    deploy: { replicas: lots }
    ports: ["x:80"]
`);
  const wants = [
    'compose.yml: services.web.imgae is not supported',
    'compose.yml: services.web.colour is not supported',
    'compose.yml: services.web.mem_limit is not supported by stack deploy',
    'compose.yml: services.web needs an image',
    'compose.yml: services.web.deploy.replicas must be a whole number',
    'compose.yml: services.web.ports[0] must be a port number',
  ];
  assert.match(message, /^6 problems: /, message);
  for (const want of wants) assert.ok(message.includes(want), `missing "${want}" in: ${message}`);
});

test('files in UTF-8 with a BOM and UTF-16 LE/BE with a BOM read as UTF-8; a bad encoding is one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-enc-'));
  try {
    const yaml = 'services:\n  web:\n    image: a\n    environment: [GREETING=héllo wörld ✓]\n';
    const be = Buffer.from(yaml, 'utf16le').swap16();
    const files: [string, Buffer][] = [
      ['utf8.yml', Buffer.from(yaml)],
      ['utf8-bom.yml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(yaml)])],
      ['utf16le.yml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(yaml, 'utf16le')])],
      ['utf16be.yml', Buffer.concat([Buffer.from([0xfe, 0xff]), be])],
    ];
    for (const [name, bytes] of files) {
      writeFileSync(join(dir, name), bytes);
      const def = loadStack([join(dir, name)], 'demo', {}, () => undefined);
      assert.deepEqual(def.services[0]!.task?.container?.env, ['GREETING=héllo wörld ✓'], name);
    }
    // UTF-16 saved without a byte order mark: said as such, not as "the top level must be a mapping".
    writeFileSync(join(dir, 'utf16-nobom.yml'), Buffer.from(yaml, 'utf16le'));
    assert.throws(() => loadStack([join(dir, 'utf16-nobom.yml')], 'demo', {}, () => undefined), /the file looks like UTF-16 without a byte order mark .*save it as UTF-8$/);
    writeFileSync(join(dir, 'latin1.yml'), Buffer.from('services:\n  web:\n    image: caf\xe9\n', 'latin1'));
    assert.throws(() => loadStack([join(dir, 'latin1.yml')], 'demo', {}, () => undefined), {
      message: `${join(dir, 'latin1.yml')}: the file is not valid UTF-8 (compose files are UTF-8, or UTF-16 with a byte order mark)`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
