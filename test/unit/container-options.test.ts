// Docker's container options end to end without a cluster: the flags of `service create` and
// `service update` (every problem of a line in one error), the spec's checks (as the manager
// runs them for any client), the agent's template expansion and the docker executor's mapping.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { specFromFlags } from '../../cli/service-spec.js';
import { applyUpdateFlags } from '../../cli/service-update.js';
import { separateTaskCommand } from '../../cli/service.js';
import { containerOptionLines, parseEnvFile } from '../../cli/container-flags.js';
import { baton } from '../../proto/gen/baton.js';
import { expandTemplate, goMapText, parseTemplate, signalNumber, validateServiceSpec, type TemplateContext } from '../../spec/index.js';
import { toRunSpec } from '../../worker/agent/run-spec.js';
import { createOptions } from '../../worker/executor/docker-spec.js';
import { RawLogSplitter } from '../../worker/executor/docker-logs.js';
import { refusalOf } from '../lib/refusals.js';

test('create: every container flag lands in the spec, in Docker\'s forms', () => {
  const s = specFromFlags({
    name: 'web',
    image: 'busybox',
    hostname: '{{.Service.Name}}-{{.Task.Slot}}',
    entrypoint: "sh -c 'echo hi'",
    user: '1000:1000',
    group: ['audio', '44'],
    'container-label': ['team=blue', 'bare'],
    init: true,
    'read-only': true,
    'cap-add': ['net_admin', 'CAP_SYS_TIME', 'net_admin'],
    'cap-drop': 'all',
    sysctl: 'net.core.somaxconn=1024',
    ulimit: ['nofile=1024:2048', 'nproc=64'],
    'stop-signal': 'SIGUSR1',
    'log-driver': 'json-file',
    'log-opt': ['max-size=10m', 'max-file=3'],
    'container-host': ['db:10.0.0.2', 'v6:::1'],
    tty: true,
  });
  const c = s.task!.container!;
  assert.equal(c.hostname, '{{.Service.Name}}-{{.Task.Slot}}');
  assert.deepEqual(c.command, ['sh', '-c', 'echo hi']);
  assert.equal(c.user, '1000:1000');
  assert.deepEqual(c.groups, ['audio', '44']);
  assert.deepEqual(c.labels, { team: 'blue', bare: '' });
  assert.equal(c.init, true);
  assert.equal(c.readOnly, true);
  assert.deepEqual(c.capabilityAdd, ['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
  assert.deepEqual(c.capabilityDrop, ['ALL']);
  assert.deepEqual(c.sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(c.ulimits, [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'nproc', soft: 64, hard: 64 }]);
  assert.equal(c.stopSignal, 'SIGUSR1');
  assert.deepEqual(c.hosts, ['db:10.0.0.2', 'v6:::1']);
  assert.equal(c.tty, true);
  assert.deepEqual(s.task!.logDriver, { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
  const pretty = new Map(containerOptionLines(s.task!));
  assert.equal(pretty.get('User'), '1000:1000');
  assert.equal(pretty.get('Read-only'), 'true');
  assert.match(pretty.get('Log Driver') ?? '', /Name:\tjson-file[\s\S]*max-size: 10m/);
  assert.match(pretty.get('Ulimits') ?? '', /nofile:\t1024:2048/);
});

test('create: every bad container flag is named in one line', () => {
  const message = refusalOf(() =>
    specFromFlags({
      name: 'web',
      image: 'busybox',
      'cap-add': 'FOO',
      ulimit: ['nofile=10:5', 'bogus=1'],
      'container-host': ['nohost', 'db:300.1.1.1'],
      sysctl: 'novalue',
      'stop-signal': 'SIGFOO',
      hostname: '{{.Foo.Bar}}',
      env: 'A={{.Task.Slot',
      user: 'a:b:c',
      'log-opt': 'nokv',
    }),
  );
  for (const bit of ['unknown capability', 'soft limit must be less than or equal to hard limit: 10 > 5', 'bad --ulimit "bogus=1": invalid ulimit type: bogus', '"nohost"', 'invalid IP address "300.1.1.1"', '--sysctl "novalue"', 'invalid signal', 'unknown field .Foo.Bar', 'unclosed action', 'bad user "a:b:c"', '--log-opt "nokv"']) {
    assert.ok(message.includes(bit), `${JSON.stringify(bit)} in: ${message}`);
  }
  assert.match(message, /^\d+ problems: /);
});

test('create: the process runtime refuses what it cannot honour, all at once, and takes a numeric user and a stop signal', () => {
  const message = refusalOf(() => specFromFlags({ name: 'p', runtime: 'process', image: 'sleep', command: ['10'], hostname: 'h', 'read-only': true, 'cap-drop': 'ALL', tty: true, user: 'nobody', 'log-driver': 'none' }));
  assert.match(message, /cannot honour --hostname, --read-only, --cap-drop, --tty, --log-driver/);
  assert.match(message, /numeric UID\[:GID\], not "nobody"/);
  const ok = specFromFlags({ name: 'p', runtime: 'process', image: 'sleep', command: ['10'], user: '1000:1000', 'stop-signal': 'USR1', env: 'SLOT={{.Task.Slot}}' });
  assert.equal(ok.task!.container!.user, '1000:1000');
  assert.match(refusalOf(() => specFromFlags({ name: 'p', runtime: 'process', image: 'sleep', entrypoint: 'x' })), /--entrypoint does not apply to the process runtime/);
});

test('the manager refuses the same things from any client (validateServiceSpec)', () => {
  const problems = validateServiceSpec({
    annotations: { name: 'x' },
    task: {
      container: { image: 'busybox', capabilityAdd: ['CAP_NOPE'], stopSignal: '0', hosts: ['a:b'], ulimits: [{ name: 'nofile', soft: 5, hard: 1 }], hostname: 'bad_host!', mounts: [{ source: 'v-{{.Task.Nope}}', target: '/d' }] },
      logDriver: { name: 'bad driver' },
    },
  });
  assert.equal(problems.length, 7, problems.join('\n'));
  assert.deepEqual(validateServiceSpec({ annotations: { name: 'x' }, task: { container: { image: 'busybox', mounts: [{ source: 'data-{{.Task.Slot}}', target: '/d' }] } } }), []);
});

test('update: Docker\'s -add/-rm semantics, booleans set and cleared', () => {
  const current = specFromFlags({ name: 'web', image: 'busybox', group: 'a', 'container-label': 'k=v', 'cap-add': 'NET_ADMIN', sysctl: 'net.ipv4.ip_forward=1', ulimit: 'nofile=10', 'container-host': ['db:10.0.0.1', 'db:10.0.0.3', 'web:10.0.0.2'], init: true });
  const next = applyUpdateFlags(current, {
    service: 'web',
    'group-add': 'b',
    'group-rm': 'a',
    'container-label-add': 'x=y',
    'container-label-rm': 'k',
    'cap-drop': 'net_admin',
    'sysctl-rm': 'net.ipv4.ip_forward',
    'sysctl-add': 'net.core.somaxconn=512',
    'ulimit-add': 'nofile=20:30',
    'host-rm': 'db',
    'host-add': 'cache:10.0.0.9',
    init: false,
    'read-only': true,
    hostname: 'h1',
    user: 'nobody',
    'stop-signal': '10',
    'log-driver': 'local',
    'log-opt': 'max-size=1m',
  });
  const c = next.task!.container!;
  assert.deepEqual(c.groups, ['b']);
  assert.deepEqual(c.labels, { x: 'y' });
  assert.deepEqual(c.capabilityAdd, []);
  assert.deepEqual(c.capabilityDrop, ['CAP_NET_ADMIN']);
  assert.deepEqual(c.sysctls, { 'net.core.somaxconn': '512' });
  assert.deepEqual(c.ulimits, [{ name: 'nofile', soft: 20, hard: 30 }]);
  assert.deepEqual(c.hosts, ['web:10.0.0.2', 'cache:10.0.0.9']);
  assert.equal(c.init, false);
  assert.equal(c.readOnly, true);
  assert.equal(c.hostname, 'h1');
  assert.equal(c.user, 'nobody');
  assert.equal(c.stopSignal, '10');
  assert.deepEqual(next.task!.logDriver, { name: 'local', options: { 'max-size': '1m' } });
  assert.match(refusalOf(() => applyUpdateFlags(current, { service: 'web', 'log-opt': 'a=b', 'ulimit-add': 'x=1' })), /bad --ulimit-add "x=1": invalid ulimit type: x.*--log-opt needs --log-driver/);
});

test('--env-file: Docker\'s format, then --env wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-envfile-'));
  const file = join(dir, 'env');
  process.env.BATON_TEST_PASSED = 'through';
  writeFileSync(file, '# comment\n\n  A=1\nB=two words\nBATON_TEST_PASSED\nBATON_TEST_UNSET_VAR\n');
  const s = specFromFlags({ name: 'web', image: 'busybox', 'env-file': file, env: 'A=2' });
  assert.deepEqual(s.task!.container!.env, ['A=1', 'B=two words', 'BATON_TEST_PASSED=through', 'A=2']);
  const bad = parseEnvFile('OK=1\nBAD KEY=2\n', 'f');
  assert.ok(!bad.ok && bad.problem.includes("line 2: variable 'BAD KEY' contains whitespaces"));
  assert.match(refusalOf(() => specFromFlags({ name: 'web', image: 'busybox', 'env-file': join(dir, 'missing') })), /cannot read --env-file .*missing: no such file/);
});

test('service create: --host HOST:IP is the container\'s, --host tcp://… the daemon\'s; the new booleans take no value', () => {
  assert.deepEqual(separateTaskCommand(['service', 'create', '--name', 'w', '--host', 'db:1.2.3.4', '--host=x:::1', '--init', '-t', 'img', '--host', 'a:1.1.1.1']), [
    'service', 'create', '--name', 'w', '--container-host', 'db:1.2.3.4', '--container-host=x:::1', '--init', '-t', '--', 'img', '--host', 'a:1.1.1.1',
  ]);
  assert.deepEqual(separateTaskCommand(['service', 'create', '--host', 'tcp://127.0.0.1:2377', '--name', 'w', 'img']), ['service', 'create', '--host', 'tcp://127.0.0.1:2377', '--name', 'w', '--', 'img']);
});

const context: TemplateContext = {
  'Service.ID': 'sid',
  'Service.Name': 'web',
  'Service.Labels': goMapText({ b: '2', a: '1' }),
  'Node.ID': 'nid',
  'Node.Hostname': 'host1',
  'Node.Platform.OS': 'linux',
  'Node.Platform.Architecture': 'x86_64',
  'Task.ID': 'tid',
  'Task.Name': 'web.3.tid',
  'Task.Slot': '3',
};

test('templates: Docker\'s fields, spaces allowed inside the braces, nothing else', () => {
  assert.equal(expandTemplate('{{.Service.Name}}-{{ .Task.Slot }}', context), 'web-3');
  assert.equal(expandTemplate('{{.Service.Labels}}', context), 'map[a:1 b:2]');
  assert.equal(expandTemplate('{{.Node.Hostname}}/{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}/{{.Node.ID}}/{{.Task.Name}}/{{.Task.ID}}/{{.Service.ID}}', context), 'host1/linux/x86_64/nid/web.3.tid/tid/sid');
  assert.equal(expandTemplate('plain', context), 'plain');
  for (const bad of ['{{.Task.Slot', 'a}}b', '{{index .Service.Labels "a"}}', '{{.task.slot}}', '{{}}']) {
    const parsed = parseTemplate(bad, 'the hostname');
    assert.ok(!parsed.ok, bad);
  }
});

test('signals: names with or without SIG in any case, numbers, real-time ones', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalNumber('usr1'), 10);
  assert.equal(signalNumber('9'), 9);
  assert.equal(signalNumber('RTMIN+2'), 36);
  assert.equal(signalNumber('0'), undefined);
  assert.equal(signalNumber('SIGNOPE'), undefined);
});

test('the agent expands the hostname, env values and mount sources with its node\'s facts', () => {
  const task: baton.Task.$Properties = {
    meta: { id: 'tid' },
    serviceId: 'sid',
    slot: 3,
    annotations: { name: 'web.3' },
    serviceAnnotations: { name: 'web', labels: { b: '2', a: '1' } },
    spec: {
      container: {
        image: 'busybox',
        hostname: '{{.Service.Name}}-{{.Task.Slot}}',
        env: ['WHERE={{.Node.Hostname}}/{{.Node.Platform.Architecture}}', 'LABELS={{.Service.Labels}}', 'NAME_{{.Task.Slot}}=x'],
        mounts: [{ source: 'data-{{.Task.Slot}}', target: '/data' }],
        user: '1000:1000',
        stopSignal: 'SIGUSR1',
      },
    },
  };
  const run = toRunSpec(task, 'cid', 'nid', {}, { hostname: 'host1', os: 'linux', architecture: 'x86_64' });
  assert.equal(run.options?.hostname, 'web-3');
  assert.deepEqual(run.env, ['WHERE=host1/x86_64', 'LABELS=map[a:1 b:2]', 'NAME_{{.Task.Slot}}=x']);
  assert.equal(run.mounts?.[0]?.source, 'data-3');
  assert.deepEqual(run.options, { hostname: 'web-3', user: '1000:1000', stopSignal: 'SIGUSR1' });
});

test('docker: the options map to the engine\'s create options; baton\'s labels win', () => {
  const task: baton.Task.$Properties = {
    meta: { id: 'tid' },
    serviceId: 'sid',
    slot: 1,
    annotations: { name: 'web.1' },
    spec: {
      container: {
        image: 'busybox',
        user: '1000:1000',
        groups: ['44'],
        labels: { team: 'blue', 'baton.task': 'forged' },
        init: true,
        readOnly: true,
        capabilityAdd: ['CAP_NET_ADMIN'],
        capabilityDrop: ['CAP_CHOWN'],
        sysctls: { 'net.core.somaxconn': '1024' },
        ulimits: [{ name: 'nofile', soft: 100, hard: 200 }],
        stopSignal: 'SIGUSR1',
        hosts: ['db:10.0.0.2'],
        tty: true,
      },
      logDriver: { name: 'none' },
    },
  };
  const run = toRunSpec(task, 'cid', 'nid');
  const o = createOptions(run, '127.0.0.1', {}, false);
  assert.equal(o.User, '1000:1000');
  assert.equal(o.StopSignal, 'SIGUSR1');
  assert.equal(o.Tty, true);
  assert.equal(o.Labels?.team, 'blue');
  assert.equal(o.Labels?.['baton.task'], 'tid');
  const h = o.HostConfig!;
  assert.equal(h.Init, true, '--init even where the executor runs without its own');
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.GroupAdd, ['44']);
  assert.deepEqual(h.CapAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(h.CapDrop, ['CAP_CHOWN']);
  assert.deepEqual(h.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
  assert.deepEqual(h.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(h.LogConfig, { Type: 'none', Config: {} });
  const plain = createOptions(toRunSpec({ ...task, spec: { container: { image: 'busybox' } } }, 'cid', 'nid'), '127.0.0.1', {}, false);
  assert.equal(plain.User, undefined);
  assert.equal(plain.HostConfig?.Init, false);
  assert.equal(plain.HostConfig?.LogConfig, undefined);
  assert.equal(plain.Hostname, 'web.1.tid');
});

test('a TTY task\'s log stream is cut into stamped lines across pieces', () => {
  const split = new RawLogSplitter();
  const first = split.push(Buffer.from('2026-01-02T03:04:05.123456789Z hel'));
  assert.deepEqual(first, []);
  const lines = [...split.push(Buffer.from('lo\r\n2026-01-02T03:04:06Z second\r\n2026-01-02T03:04:07Z tail')), ...split.end()];
  assert.deepEqual(lines.map((l) => Buffer.from(l.data).toString()), ['hello\n', 'second\n', 'tail']);
  assert.equal(lines[0]!.timestamp, Date.parse('2026-01-02T03:04:05.123Z'));
  assert.ok(lines.every((l) => l.stream === 'stdout'));
});
