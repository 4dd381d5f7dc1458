// The docker executor's create options for tasks on baton networks, without an engine: the
// first network at create, the resolvers, exposed ports bound like published ones (and
// deduplicated with them), the image's EXPOSE list as the engine reports it, and the run
// spec's checks of the new fields.
import test from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { taskSpec } from '../lib/executor.js';
import { createOptions, imageExposedPorts, MAX_IMAGE_EXPOSED } from '../../worker/executor/docker-spec.js';
import { ExecutorError, validateCommon, type TaskRunSpec } from '../../worker/executor/types.js';

function spec(over: Partial<TaskRunSpec> = {}): TaskRunSpec {
  return taskSpec('c-unit', { runtime: 'docker', image: 'img', ...over });
}

test('networks: the first at create, no aliases; the resolvers as Dns', () => {
  const opts = createOptions(spec({ networks: [{ dockerNetwork: 'net-a' }, { dockerNetwork: 'net-b' }], dns: ['10.213.0.1'] }), '127.0.0.1', {}, true);
  assert.equal(opts.HostConfig?.NetworkMode, 'net-a');
  assert.deepEqual(opts.HostConfig?.Dns, ['10.213.0.1']);
  assert.equal(opts.NetworkingConfig, undefined, 'no endpoint config, so no aliases');

  const plain = createOptions(spec(), '127.0.0.1', {}, true);
  assert.equal(plain.HostConfig?.NetworkMode, undefined, "Docker's default bridge, as before networks");
  assert.equal(plain.HostConfig?.Dns, undefined);
  assert.equal(createOptions(spec({ networks: [], dns: [] }), '127.0.0.1', {}, true).HostConfig?.Dns, undefined);
});

test('exposed ports get ephemeral bindings on the node address, once per target', () => {
  const s = spec({
    ports: [
      { targetPort: 80, protocol: 'tcp' },
      { targetPort: 443, protocol: 'tcp', hostPort: 8443 },
    ],
    expose: [
      { targetPort: 80, protocol: 'tcp' }, // already bound for the mesh
      { targetPort: 443, protocol: 'tcp' }, // host-mode only so far: gets its own ephemeral port
      { targetPort: 53, protocol: 'udp' },
    ],
    networks: [{ dockerNetwork: 'n' }],
  });
  const opts = createOptions(s, '192.0.2.2', {}, true, [
    { targetPort: 53, protocol: 'udp' }, // the image's EXPOSE, also in `expose`
    { targetPort: 8080, protocol: 'tcp' },
  ]);
  assert.deepEqual(Object.keys(opts.ExposedPorts ?? {}).sort(), ['443/tcp', '53/udp', '80/tcp', '8080/tcp']);
  assert.deepEqual(opts.HostConfig?.PortBindings, {
    '80/tcp': [{ HostIp: '192.0.2.2', HostPort: '' }],
    '443/tcp': [
      { HostIp: '192.0.2.2', HostPort: '8443' },
      { HostIp: '192.0.2.2', HostPort: '' },
    ],
    '53/udp': [{ HostIp: '192.0.2.2', HostPort: '' }],
    '8080/tcp': [{ HostIp: '192.0.2.2', HostPort: '' }],
  });
});

test("the image's EXPOSE list: tcp and udp, sorted; sctp and nonsense left out", () => {
  const info = { Config: { ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '9/sctp': {}, '70': {}, 'x/tcp': {}, '70000/tcp': {}, '0/tcp': {} } } } as unknown as Docker.ImageInspectInfo;
  assert.deepEqual(imageExposedPorts(info), [
    { targetPort: 53, protocol: 'udp' },
    { targetPort: 70, protocol: 'tcp' },
    { targetPort: 8080, protocol: 'tcp' },
  ]);
  assert.deepEqual(imageExposedPorts({ Config: {} } as unknown as Docker.ImageInspectInfo), []);
  assert.ok(MAX_IMAGE_EXPOSED >= 16);
});

test('validateCommon checks networks, resolvers and exposed ports, one line each', () => {
  validateCommon(spec({ networks: [{ dockerNetwork: 'baton_abc_def' }, { dockerNetwork: 'f00d' }], dns: ['10.213.0.1', '::1'], expose: [{ targetPort: 80, protocol: 'tcp' }, { targetPort: 80, protocol: 'udp' }] }));
  const cases: [Partial<TaskRunSpec>, RegExp][] = [
    [{ networks: [{ dockerNetwork: '' }] }, /network "" is not a Docker network name or ID/],
    [{ networks: [{ dockerNetwork: '../x' }] }, /network "\.\.\/x" is not a Docker network name or ID/],
    [{ networks: [{ dockerNetwork: 'a' }, { dockerNetwork: 'a' }] }, /network "a" is listed twice/],
    [{ dns: ['10.213.0'] }, /resolver "10\.213\.0" is not an IP address/],
    [{ expose: [{ targetPort: 0, protocol: 'tcp' }] }, /exposed port 0 is out of range/],
    [{ expose: [{ targetPort: 80, protocol: 'sctp' as 'tcp' }] }, /exposed port protocol sctp is not tcp or udp/],
    [{ expose: [{ targetPort: 80, protocol: 'tcp' }, { targetPort: 80, protocol: 'tcp' }] }, /exposed port 80\/tcp is listed twice/],
  ];
  for (const [over, pattern] of cases) {
    assert.throws(
      () => validateCommon(spec(over)),
      (err: unknown) => err instanceof ExecutorError && err.code === 'INVALID_SPEC' && pattern.test(err.message) && !err.message.includes('\n'),
      JSON.stringify(over),
    );
  }
});
