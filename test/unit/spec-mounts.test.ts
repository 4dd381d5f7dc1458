// Docker's --mount: the CSV parser (Docker's keys, aliases and messages), the mount rules of
// validateServiceSpec (every problem at once), the CLI's --mount-add/--mount-rm, the agent's
// run spec and the docker executor's HostConfig.Mounts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { MAX_MOUNTS, formatMount, parseMount, validateServiceSpec } from '../../spec/index.js';
import { specFromFlags } from '../../cli/service-spec.js';
import { applyUpdateFlags } from '../../cli/service-update.js';
import { BatonError } from '../../rpc/errors.js';
import { toRunSpec } from '../../worker/agent/run-spec.js';
import { createOptions } from '../../worker/executor/docker-spec.js';
import { ExecutorError, validateCommon } from '../../worker/executor/types.js';
import { taskSpec } from '../lib/executor.js';

const V = baton.MountType.MOUNT_VOLUME;
const B = baton.MountType.MOUNT_BIND;
const T = baton.MountType.MOUNT_TMPFS;

function parsed(text: string): baton.Mount.$Properties {
  const r = parseMount(text);
  assert.ok(r.ok, r.ok ? '' : r.problem);
  return r.value;
}

function refused(text: string): string {
  const r = parseMount(text);
  assert.ok(!r.ok, `${text} was accepted`);
  return r.problem;
}

test('parseMount: Docker keys and aliases; volume is the default type', () => {
  assert.deepEqual(parsed('source=data,target=/data'), { type: V, source: 'data', target: '/data', readOnly: false });
  assert.deepEqual(parsed('type=bind,src=/srv,dst=/srv,ro'), { type: B, source: '/srv', target: '/srv', readOnly: true });
  assert.deepEqual(parsed('TYPE=Bind,source=/a,destination=/b,readonly=false'), { type: B, source: '/a', target: '/b', readOnly: false });
  assert.equal(parsed('type=volume,target=/x,readonly=1').readOnly, true);
  assert.equal(parsed('type=volume,target=/x,ro=0').readOnly, false);
  assert.deepEqual(parsed('type=volume,src=v1,dst=/v,volume-driver=local,volume-opt=type=nfs,volume-opt=o=addr=1.2.3.4,volume-label=team=a,volume-nocopy'), {
    type: V,
    source: 'v1',
    target: '/v',
    readOnly: false,
    volumeDriver: 'local',
    volumeOptions: { type: 'nfs', o: 'addr=1.2.3.4' },
    volumeLabels: { team: 'a' },
    volumeNocopy: true,
  });
  assert.deepEqual(parsed('type=tmpfs,target=/cache,tmpfs-size=64m,tmpfs-mode=1770'), {
    type: T,
    source: '',
    target: '/cache',
    readOnly: false,
    tmpfsSizeBytes: 64 * 1024 * 1024,
    tmpfsMode: 0o1770,
  });
  // Go's CSV: a quoted field may hold a comma.
  assert.deepEqual(parsed('type=volume,target=/v,"volume-opt=o=a,b"').volumeOptions, { o: 'a,b' });
  assert.equal(formatMount(parsed('type=bind,src=/a,dst=/b,ro')), 'type=bind,source=/a,target=/b,readonly');
});

test('parseMount: every problem of one --mount in its one line, in Docker\'s words', () => {
  const line = refused('type=bind,source=/a,colour=red,oops,readonly=maybe,volume-opt=x=1,tmpfs-mode=99');
  for (const part of [
    "unexpected key 'colour' in 'colour=red'",
    "invalid field 'oops' must be a key=value pair",
    'invalid value for readonly: maybe',
    'invalid value for tmpfs-mode: 99',
    'target is required',
    "cannot mix 'volume-*' options with mount type 'bind'",
    "cannot mix 'tmpfs-*' options with mount type 'bind'",
  ]) {
    assert.ok(line.includes(part), `${part} missing from: ${line}`);
  }
  assert.ok(line.startsWith('bad --mount "type=bind,'), line);
  assert.match(refused('type=,target=/x'), /: type is required$/);
  assert.match(refused('type=nfs,target=/x'), /invalid mount type "nfs" \(want volume, bind or tmpfs\)/);
  assert.match(refused('type=tmpfs,target=/x,tmpfs-size=lots'), /invalid value for tmpfs-size: lots/);
  assert.match(refused('target="/x'), /quote/);
});

const spec = (mounts: baton.Mount.$Properties[], over: Partial<baton.ContainerSpec.$Properties> = {}): baton.ServiceSpec.$Properties => ({
  annotations: { name: 'web' },
  task: { runtime: 'docker', container: { image: 'busybox', mounts, ...over } },
});

test('validateServiceSpec: good mounts pass, and every mount problem is listed at once', () => {
  assert.deepEqual(
    validateServiceSpec(spec([
      { type: V, source: 'data', target: '/data' },
      { type: V, source: '', target: '/anon' },
      { type: B, source: '/srv', target: '/srv', readOnly: true },
      { type: T, target: '/tmp/cache', tmpfsSizeBytes: 1024, tmpfsMode: 0o700 },
    ])),
    [],
  );
  const problems = validateServiceSpec(
    spec(
      [
        { type: V, source: 'data', target: 'relative' },
        { type: V, source: 'xx', target: '/' },
        { type: B, source: '', target: '/b' },
        { type: B, source: 'rel/path', target: '/c' },
        { type: V, source: '-bad', target: '/d' },
        { type: V, source: 'ok1', target: '/d/' },
        { type: T, source: 'nope', target: '/e', volumeNocopy: true },
        { type: B, source: '/x', target: '/f', tmpfsSizeBytes: 10 },
        { type: V, source: 'ok2', target: '/run/secrets/pw' },
        { type: V, source: 'ok3', target: '/etc/app.conf' },
      ],
      { secrets: [{ secretName: 'pw' }], configs: [{ configName: 'c', target: '/etc/app.conf' }] },
    ),
  );
  assert.deepEqual(problems, [
    `invalid mount config for type "volume": invalid mount path: 'relative' mount path must be absolute`,
    `invalid mount config for type "volume": invalid specification: destination can't be '/'`,
    'invalid mount config for type "bind": field Source must not be empty',
    `invalid mount config for type "bind": invalid mount path: 'rel/path' mount path must be absolute`,
    '"-bad" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    'invalid duplicate mount point: /d/',
    'invalid mount config for type "tmpfs": field Source must not be specified',
    'invalid mount config for type "tmpfs": field VolumeOptions must not be specified',
    'invalid mount config for type "bind": field TmpfsOptions must not be specified',
    'invalid duplicate mount point: /run/secrets/pw',
    'invalid duplicate mount point: /etc/app.conf',
  ]);
  const many = Array.from({ length: MAX_MOUNTS + 1 }, (_, i) => ({ type: T, target: `/m${i}` }));
  assert.deepEqual(validateServiceSpec(spec(many)), [`${MAX_MOUNTS + 1} mounts, more than the limit of ${MAX_MOUNTS}`]);
});

test('service create --mount: the flags\' problems and the spec\'s in one line', () => {
  const s = specFromFlags({ name: 'web', image: 'busybox', mount: ['source=data,target=/data', 'type=tmpfs,target=/t'] });
  assert.deepEqual(s.task?.container?.mounts, [
    { type: V, source: 'data', target: '/data', readOnly: false },
    { type: T, source: '', target: '/t', readOnly: false },
  ]);
  assert.throws(
    () => specFromFlags({ name: 'web', image: 'busybox', mount: ['type=bind,target=/a', 'target=/x,bogus=1'], replicas: 'many' }),
    (err: unknown) => {
      assert.ok(err instanceof BatonError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /^3 problems: /);
      assert.match(err.message, /bad --replicas "many"/);
      assert.match(err.message, /bad --mount "target=\/x,bogus=1": unexpected key 'bogus' in 'bogus=1'/);
      assert.match(err.message, /invalid mount config for type "bind": field Source must not be empty/);
      return true;
    },
  );
});

test('service update --mount-rm TARGET then --mount-add (same target replaces)', () => {
  const current = specFromFlags({ name: 'web', image: 'busybox', mount: ['source=va,target=/a', 'source=vb,target=/b'] });
  const next = applyUpdateFlags(current, { service: 'web', 'mount-rm': '/a/', 'mount-add': ['source=vc,target=/b,ro', 'type=tmpfs,target=/t'] });
  assert.deepEqual(
    next.task?.container?.mounts?.map((m) => formatMount(m)),
    ['type=volume,source=vc,target=/b,readonly', 'type=tmpfs,target=/t'],
  );
  assert.equal(current.task?.container?.mounts?.length, 2, 'the current spec is left as it was');
  assert.throws(() => applyUpdateFlags(current, { service: 'web', 'mount-rm': '/nowhere', 'mount-add': 'type=bind,target=/z' }), (err: unknown) => {
    assert.ok(err instanceof BatonError);
    assert.match(err.message, /--mount-rm \/nowhere: no mount has that target/);
    assert.match(err.message, /field Source must not be empty/);
    return true;
  });
});

test('agent and docker executor: mounts reach HostConfig.Mounts, volumes labelled with the cluster and node', () => {
  const task: baton.Task.$Properties = {
    meta: { id: 'task1' },
    serviceId: 's1',
    slot: 1,
    annotations: { name: 'web.1' },
    spec: {
      runtime: 'docker',
      container: {
        image: 'busybox',
        mounts: [
          { type: V, source: 'data', target: '/data', volumeNocopy: true, volumeLabels: { 'com.docker.stack.namespace': 'app' }, volumeOptions: { o: 'x' } },
          { type: B, source: '/srv', target: '/srv', readOnly: true },
          { type: T, target: '/t', tmpfsSizeBytes: 4096, tmpfsMode: 0o700 },
        ],
      },
    },
  };
  const run = toRunSpec(task, 'c1', 'n1');
  assert.deepEqual(run.mounts, [
    { type: 'volume', source: 'data', target: '/data', readOnly: false, volumeOptions: { o: 'x' }, volumeNoCopy: true, volumeLabels: { 'com.docker.stack.namespace': 'app' } },
    { type: 'bind', source: '/srv', target: '/srv', readOnly: true },
    { type: 'tmpfs', source: '', target: '/t', readOnly: false, tmpfsSizeBytes: 4096, tmpfsMode: 0o700 },
  ]);
  const mounts = createOptions(run, '127.0.0.1', {}, true).HostConfig?.Mounts;
  assert.deepEqual(mounts, [
    {
      Type: 'volume',
      Source: 'data',
      Target: '/data',
      ReadOnly: false,
      VolumeOptions: { NoCopy: true, Labels: { 'com.docker.stack.namespace': 'app', 'baton.cluster': 'c1', 'baton.node': 'n1' }, DriverConfig: { Name: '', Options: { o: 'x' } } },
    },
    { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true },
    { Type: 'tmpfs', Source: '', Target: '/t', ReadOnly: false, TmpfsOptions: { SizeBytes: 4096, Mode: 0o700 } },
  ]);
  assert.equal(toRunSpec({ ...task, spec: { runtime: 'docker', container: { image: 'x' } } }, 'c1', 'n1').mounts, undefined);
  // The executor does not trust its input either.
  assert.throws(
    () => validateCommon(taskSpec('c1', { runtime: 'docker', mounts: [{ type: 'bind', source: 'rel', target: '/x', readOnly: false }] })),
    (err: unknown) => err instanceof ExecutorError && /bind source "rel" is not an absolute path/.test(err.message),
  );
});
