// spec/'s parsers on their own: Go's duration grammar, Docker's byte sizes, CPU counts, counts
// against their limits, published ports; each problem one line naming what it was for and the
// text typed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { MAX_REPLICAS, parseBytes, parseCount, parseCpus, parseDuration, parsePublish, parseRatio, type Parsed } from '../../spec/index.js';

function value<T>(p: Parsed<T>): T {
  if (!p.ok) assert.fail(`unexpected problem: ${p.problem}`);
  return p.value;
}

function problemOf<T>(p: Parsed<T>): string {
  if (p.ok) assert.fail(`expected a problem, got ${JSON.stringify(p.value)}`);
  assert.doesNotMatch(p.problem, /\n/, 'one line');
  return p.problem;
}

test('durations: Go grammar, in whole milliseconds', () => {
  const cases: [string | number, number][] = [
    ['1m30s', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['1.5s', 1500],
    ['0', 0],
    [0, 0],
    ['0s', 0],
    ['1h2m3s4ms', 3_723_004],
    ['.5s', 500],
    ['1.5h', 5_400_000],
    ['+5s', 5000],
    ['0.1s', 100],
    // Below a millisecond: rounded up, never to 0 (which means "the default").
    ['10us', 1],
    ['10µs', 1],
    ['1500us', 2],
    ['1ns', 1],
    ['2000000ns', 2],
    // baton's addition for --cert-expiry 90d.
    ['90d', 90 * 86_400_000],
  ];
  for (const [text, ms] of cases) assert.equal(value(parseDuration(text, '--restart-delay')), ms, String(text));
});

test('durations: bad text is one line naming the flag and the text typed', () => {
  assert.equal(problemOf(parseDuration('10', '--update-delay')), 'bad duration "10" for --update-delay: missing a unit (want e.g. 500ms, 10s, 1m30s, 2h)');
  assert.equal(problemOf(parseDuration(10, 'x')), 'bad duration 10 for x: missing a unit (want e.g. 500ms, 10s, 1m30s, 2h)');
  assert.match(problemOf(parseDuration('-5s', '--restart-delay')), /^bad duration "-5s" for --restart-delay: cannot be negative$/);
  for (const bad of ['', 's', '1m 30s', '5 s', '5x', '1.2.3s', 'often', '5S', '1y']) {
    assert.match(problemOf(parseDuration(bad, '--restart-delay')), new RegExp(`^bad duration "${bad.replace('.', '\\.')}" for --restart-delay: `), bad);
  }
  // Beyond Go's int64 nanoseconds: refused, flagged as over a limit.
  const huge = parseDuration('300000000h', '--restart-window');
  assert.equal(huge.ok, false);
  assert.equal(!huge.ok && huge.overLimit, true);
  assert.match(problemOf(huge), /longer than the longest duration/);
});

test('byte sizes: Docker units, binary', () => {
  const cases: [string | number, number][] = [
    ['64m', 64 * 1024 ** 2],
    ['64M', 64 * 1024 ** 2],
    ['64mb', 64 * 1024 ** 2],
    ['64MiB', 64 * 1024 ** 2],
    ['64 MB', 64 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['1024', 1024],
    ['1024b', 1024],
    [1024, 1024],
    ['0', 0],
  ];
  for (const [text, bytes] of cases) assert.equal(value(parseBytes(text, '--limit-memory')), bytes, String(text));
  for (const bad of ['lots', '-1m', '64 x', '', '64i', 'm']) assert.match(problemOf(parseBytes(bad, '--limit-memory')), /^bad size "[^"]*" for --limit-memory: /, bad);
  assert.match(problemOf(parseBytes(-1, 'memory')), /^bad size -1 for memory/);
  assert.match(problemOf(parseBytes('1p', '--limit-memory')), /more than the limit of 17592186044416 bytes \(16 TiB\)/);
});

test('CPUs: nano-CPUs, bounded', () => {
  assert.equal(value(parseCpus('0.5', '--limit-cpu')), 5e8);
  assert.equal(value(parseCpus(2, '--limit-cpu')), 2e9);
  assert.equal(value(parseCpus('1024', '--limit-cpu')), 1024e9);
  assert.equal(value(parseCpus('5e-1', '--limit-cpu')), 5e8);
  for (const bad of ['half', '', '-1', '0x10', 'Infinity', '1e']) assert.match(problemOf(parseCpus(bad, '--limit-cpu')), /^bad CPU count "[^"]*" for --limit-cpu: want a number/, bad);
  assert.equal(problemOf(parseCpus('1e20', '--limit-cpu')), 'bad CPU count "1e20" for --limit-cpu: at most 1024 CPUs');
  // The measured case: 1e20 CPUs was stored as 7,886,383,489 after the nano-CPUs wrapped.
  assert.equal(problemOf(parseCpus(1e20, 'deploy.resources.limits.cpus')), 'bad CPU count 100000000000000000000 for deploy.resources.limits.cpus: at most 1024 CPUs');
  assert.equal(problemOf(parseCpus('1025', '--limit-cpu')), 'bad CPU count "1025" for --limit-cpu: at most 1024 CPUs');
  // A fraction of a nano-CPU is refused as Docker does ("value is too precise"), never rounded to 0 (no limit).
  assert.equal(value(parseCpus('0.000000001', '--limit-cpu')), 1);
  assert.equal(value(parseCpus('1.500000000000', '--limit-cpu')), 1.5e9);
  for (const fine of ['0.0000000001', '0.0000000015', '2e-10', 1e-10]) {
    assert.match(problemOf(parseCpus(fine, '--limit-cpu')), /: value is too precise \(at most 9 decimal places: nano-CPUs\)$/, String(fine));
  }
});

test('counts: digits only, refused above the limit by their text, never wrapped', () => {
  const replicas = (t: string | number): Parsed<number> => parseCount(t, '--replicas', { max: MAX_REPLICAS, limit: 'replicas per service' });
  assert.equal(value(replicas('3')), 3);
  assert.equal(value(replicas('0')), 0);
  assert.equal(value(replicas(String(MAX_REPLICAS))), MAX_REPLICAS);
  assert.equal(problemOf(replicas('99999999999999999999')), 'bad --replicas "99999999999999999999": at most 10000 replicas per service');
  assert.equal(problemOf(replicas('18446744073709551615')), 'bad --replicas "18446744073709551615": at most 10000 replicas per service');
  assert.equal(problemOf(replicas('10001')), 'bad --replicas "10001": at most 10000 replicas per service');
  assert.equal(problemOf(replicas(1e20)), 'bad --replicas 100000000000000000000: at most 10000 replicas per service');
  // Leading zeros do not make a small number big.
  assert.equal(value(replicas('000000000000000000005')), 5);
  for (const bad of ['abc', '1.5', '-1', '', '1e3', '0x10']) assert.match(problemOf(replicas(bad)), /^bad --replicas "[^"]*": want a whole number from 0 to 10000$/, bad);
  assert.equal(value(parseCount('2147483647', '--restart-max-attempts')), 2 ** 31 - 1);
  assert.match(problemOf(parseCount('2147483648', '--restart-max-attempts')), /at most 2147483647$/);
  assert.equal(value(parseRatio('0.25', '--update-max-failure-ratio')), 0.25);
  assert.match(problemOf(parseRatio('2', '--update-max-failure-ratio')), /want a number from 0 to 1/);
});

test('published ports: short and long forms', () => {
  assert.deepEqual(value(parsePublish('8080:80')), { targetPort: 80, publishedPort: 8080, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.INGRESS });
  assert.deepEqual(value(parsePublish('80/udp')), { targetPort: 80, publishedPort: 0, protocol: baton.PortProtocol.UDP, publishMode: baton.PublishMode.INGRESS });
  assert.deepEqual(value(parsePublish('mode=host,target=80,published=8080,protocol=udp')), {
    targetPort: 80,
    publishedPort: 8080,
    protocol: baton.PortProtocol.UDP,
    publishMode: baton.PublishMode.HOST,
  });
  assert.equal(value(parsePublish('target=80,proxy-protocol=v2')).proxyProtocol, baton.ProxyProtocol.PROXY_V2);
  assert.equal(problemOf(parsePublish('70000:80')), 'bad --publish "70000:80": published port must be 1-65535');
  assert.equal(problemOf(parsePublish('80/sctp')), 'bad --publish "80/sctp": protocol must be tcp or udp');
  assert.equal(problemOf(parsePublish('1:2:3')), 'bad --publish "1:2:3": want [published:]target[/protocol]');
  assert.equal(problemOf(parsePublish('target=80,color=red', '--publish-add')), 'bad --publish-add "target=80,color=red": unknown key "color"');
  assert.equal(problemOf(parsePublish('published=80')), 'bad --publish "published=80": needs target=PORT');
  assert.equal(problemOf(parsePublish('mode=host,target=80,proxy-protocol=v1')), 'bad --publish "mode=host,target=80,proxy-protocol=v1": proxy-protocol needs the routing mesh (mode=ingress)');
});
