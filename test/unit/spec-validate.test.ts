// validateServiceSpec and its siblings: every problem of an input at once, each naming the field
// and the limit; numbers checked as protobufjs decodes them (a uint64 above 2^53 arrives as an
// inexact double, and re-encoded it would wrap), so they are refused, never stored changed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { acceptServiceSpec } from '../../manager/controlapi/services.js';
import { BatonError } from '../../rpc/errors.js';
import { MAX_REPLICAS, describeProblems, isImageReference, validateDataSpec, validateLabels, validateServiceSpec } from '../../spec/index.js';

const good = (): baton.ServiceSpec.$Properties => ({
  annotations: { name: 'web' },
  replicas: 3,
  task: { runtime: 'process', container: { command: ['sleep', '100'] } },
});

test('a good spec has no problems; one at the limits neither', () => {
  assert.deepEqual(validateServiceSpec(good()), []);
  assert.deepEqual(
    validateServiceSpec({
      ...good(),
      annotations: { name: 'a'.repeat(63) },
      replicas: MAX_REPLICAS,
      task: { runtime: 'process', container: { command: ['x'] }, resources: { limits: { nanoCpus: 1024e9, memoryBytes: 16 * 1024 ** 4 } } },
    }),
    [],
  );
});

test('every problem at once, each naming its field and limit', () => {
  const problems = validateServiceSpec({
    annotations: { name: 'b'.repeat(64), labels: { 'bad key': 'v' } },
    replicas: 2 ** 64 - 1,
    task: {
      runtime: 'docker',
      container: { image: '', env: ['NOEQUALS'], healthcheck: { test: ['CMD'], intervalMs: -1 } },
      resources: { limits: { nanoCpus: 1e20, memoryBytes: 2 ** 60 } },
      restart: { delayMs: 2 ** 63 },
      placement: { constraints: ['node.colour==red'] },
    },
    endpoint: { ports: [{ targetPort: 70000 }] },
    update: { parallelism: 10_001, maxFailureRatio: 2 },
  });
  const expected = [
    /^service name "b{64}" is 64 characters, more than the limit of 63$/,
    /^service labels: bad label key "bad key"/,
    /^replicas 18446744073709551616 is more than the limit of 10000 replicas per service$/,
    /^an image is required$/,
    /^bad environment variable "NOEQUALS" \(want KEY=VALUE\)$/,
    /^bad health check test \["CMD"\]/,
    /^health check interval_ms -1 is less than 0$/,
    /^limits nano_cpus 100000000000000000000 is more than the limit of 1024000000000 \(1024 CPUs\)$/,
    /^limits memory_bytes 1152921504606846976 is more than the limit of 17592186044416 \(16 TiB\)$/,
    /^restart delay_ms 9223372036854775808 is more than the limit of 9223372036854 ms$/,
    /^invalid constraint "node.colour==red"/,
    /^ports\[0\] target_port 70000 is more than the limit of 65535$/,
    /^update parallelism 10001 is more than the limit of 10000 \(the replica limit\)$/,
    /^update max failure ratio 2 is not between 0 and 1$/,
  ];
  assert.equal(problems.length, expected.length, problems.join('\n'));
  expected.forEach((re, i) => assert.match(problems[i]!, re));
  assert.match(describeProblems(problems), /^14 problems: service name .*; update max failure ratio 2 is not between 0 and 1$/);
  assert.doesNotMatch(describeProblems(problems), /\n/);
});

test('a uint64 above 2^53 from the wire is refused, not wrapped into the store', () => {
  // What a raw client sends for replicas 2^64-1, decoded as the server decodes it.
  const spec = baton.ServiceSpec.encode(good()).finish();
  const wire = Buffer.concat([spec, Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]);
  const decoded = baton.ServiceSpec.decode(wire);
  assert.equal(typeof decoded.replicas, 'number');
  // The hazard itself: encoded again (as a Raft entry), the value becomes 0.
  assert.equal(Number(baton.ServiceSpec.decode(baton.ServiceSpec.encode(decoded).finish()).replicas ?? 0), 0);
  assert.throws(
    () => acceptServiceSpec(decoded),
    (err: unknown) => err instanceof BatonError && err.code === 'INVALID_ARGUMENT' && /^replicas 18446744073709551616 is more than the limit of 10000/.test(err.message),
  );
  // Just above 2^53, and just above the limit: refused as well; at the limit, accepted.
  assert.match(validateServiceSpec({ ...good(), replicas: 2 ** 53 + 2 }).join(), /more than the limit of 10000/);
  assert.match(validateServiceSpec({ ...good(), replicas: MAX_REPLICAS + 1 }).join(), /replicas 10001 is more than the limit of 10000/);
  assert.equal(Number(acceptServiceSpec({ ...good(), replicas: MAX_REPLICAS }).replicas), MAX_REPLICAS);
  // Negative int64 durations decode as negative numbers: refused.
  assert.match(validateServiceSpec({ ...good(), task: { ...good().task, restart: { windowMs: -5 } } }).join(), /restart window_ms -5 is less than 0/);
});

test('acceptServiceSpec fills the defaults of a valid spec', () => {
  const spec = acceptServiceSpec({ annotations: { name: 'web' }, task: { container: { image: 'busybox' } } });
  assert.equal(spec.task?.runtime, 'docker');
  assert.throws(() => acceptServiceSpec(null), /a service spec is required/);
});

test('lists, lengths and counts have limits', () => {
  const many = (n: number, s = 'x'): string[] => Array.from({ length: n }, (_, i) => `${s}${i}`);
  const problems = validateServiceSpec({
    ...good(),
    task: {
      runtime: 'process',
      container: { command: ['sh', 'a'.repeat(40_000)], env: many(1001, 'K=') },
      placement: { constraints: many(65, 'node.labels.k==') },
    },
    endpoint: { ports: Array.from({ length: 257 }, (_, i) => ({ targetPort: i + 1 })) },
  });
  assert.deepEqual(
    problems.map((p) => p.replace(/ "[^"]*"/, '')),
    [
      'command and args[1] is 40000 characters, more than the limit of 32768',
      'env: 1001 entries, more than the limit of 1000',
      'constraints: 65 entries, more than the limit of 64',
      '257 published ports, more than the limit of 256',
    ],
  );
  const big = validateServiceSpec({ ...good(), task: { runtime: 'process', container: { command: ['sh'], env: many(900, `K=${'v'.repeat(1000)}`) } } });
  assert.match(big.join(), /the spec is \d+ bytes encoded, more than the limit of 524288/);
});

test('secrets, configs and labels', () => {
  assert.deepEqual(validateDataSpec('secret', { annotations: { name: 'db-password' }, data: Buffer.from('x') }), []);
  assert.deepEqual(validateDataSpec('config', { annotations: { name: '-bad', labels: { k: 'v'.repeat(5000) } }, data: Buffer.alloc(500 * 1024 + 1) }), [
    "invalid config name \"-bad\": 1-64 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    'config labels: the value of label "k" is 5000 characters, more than the limit of 4096',
    'config -bad: 512001 bytes is more than the limit of 512000 (500 KiB)',
  ]);
  assert.deepEqual(validateDataSpec('secret', { annotations: { name: 's' } }), ['secret s: the data is empty']);
  assert.deepEqual(validateLabels('node labels', { zone: 'a' }), []);
  const labels = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
  assert.deepEqual(validateLabels('node labels', { ...labels, ['k'.repeat(300)]: '' }).length, 2);
});

test('image references follow Docker\'s grammar: refused at create, as `docker service create` does', () => {
  const good = [
    'nginx', 'nginx:1.25', 'local/busybox:1', 'docker.io/library/nginx:1.25-alpine', 'ghcr.io/owner/app:v1.2.3',
    'localhost:5000/app', '127.0.0.1:5000/x/y:z', `nginx@sha256:${'a'.repeat(64)}`, 'my_org/my-app__x:latest', 'MyRegistry/app',
  ];
  for (const image of good) assert.equal(isImageReference(image), true, image);
  const bad = ['MB', 'Bad Image', 'nginx:', 'nginx::1', '-nginx', 'nginx/', 'UPPER/Case', 'nginx@sha256:xyz', ':tag'];
  for (const image of bad) assert.equal(isImageReference(image), false, image);
  const spec = (image: string, runtime = 'docker'): baton.ServiceSpec.$Properties => ({
    annotations: { name: 'web' },
    task: { runtime, container: { image, command: runtime === 'process' ? ['/bin/true'] : [] } },
  });
  assert.deepEqual(validateServiceSpec(spec('MB')), [
    'invalid image reference "MB": want [registry/]name[:tag][@digest], the name in lowercase (as Docker\'s "invalid reference format")',
  ]);
  assert.deepEqual(validateServiceSpec(spec('Bad Image', 'process')), [], 'a process task\'s image is not a Docker reference');
});
