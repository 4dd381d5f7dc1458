// The network rules of spec/validate.ts: a network's spec (swarm's name rule, overlay only,
// labels), a service's attachments and aliases, the endpoint mode and exposed ports; every
// problem at once, in the words the CLI, Compose and the manager all print.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { MAX_NETWORK_ALIASES, MAX_SERVICE_NETWORKS, describeProblems, parseExpose, validateNetworkSpec, validateServiceSpec } from '../../spec/index.js';

const net = (name: string, more: baton.NetworkSpec.$Properties = {}): baton.NetworkSpec.$Properties => ({ annotations: { name }, ...more });

test('network names: a DNS name component of at most 63 characters, not a predefined one', () => {
  for (const ok of ['front', 'a', 'my_net-2', 'A1', 'x'.repeat(63)]) assert.deepEqual(validateNetworkSpec(net(ok)), [], ok);
  assert.deepEqual(validateNetworkSpec(net('front', { driver: 'overlay' })), []);
  const refused: [string, RegExp][] = [
    ['', /^a network name is required$/],
    ['a.b', /^invalid network name "a\.b": it must be valid as a DNS name component/],
    ['-front', /^invalid network name "-front"/],
    ['front_', /^invalid network name "front_"/],
    ['bad name', /^invalid network name "bad name"/],
    ['x'.repeat(64), /^network name "x{64}" is 64 characters, more than the limit of 63$/],
    ['bridge', /^bridge is a pre-defined network and cannot be created$/],
    ['host', /^host is a pre-defined network and cannot be created$/],
  ];
  for (const [name, re] of refused) {
    const problems = validateNetworkSpec(net(name));
    assert.equal(problems.length, 1, `${name}: ${problems.join('; ')}`);
    assert.match(problems[0]!, re);
  }
});

test('a long input is refused by its length, a near miss by the pattern, each with one problem', () => {
  const evil = `${'a-'.repeat(5000)}!`;
  assert.deepEqual(validateNetworkSpec(net(evil)).length, 1);
  assert.match(validateNetworkSpec(net(evil)).join(), /is 10001 characters, more than the limit of 63/);
  // The worst case for a pattern with nested repetition (swarm's own is one): it must still end.
  const alias = `${'a-'.repeat(31)}!`;
  assert.match(validateServiceSpec({ annotations: { name: 'web' }, task: { runtime: 'process', container: { command: ['x'] }, networks: [{ target: 'front', aliases: [alias] }] } }).join(), /invalid alias/);
});

test('every problem of a network spec at once: name, driver, labels', () => {
  const problems = validateNetworkSpec(net('a.b', { driver: 'bridge', annotations: { name: 'a.b', labels: { 'bad key': 'v' } } }));
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0]!, /^invalid network name "a\.b"/);
  assert.match(problems[1]!, /^network driver "bridge" is not supported: only overlay/);
  assert.match(problems[2]!, /^network labels: bad label key "bad key"/);
  assert.match(describeProblems(problems), /^3 problems: /);
});

const svc = (task: baton.TaskSpec.$Properties, endpoint: baton.EndpointSpec.$Properties = {}): baton.ServiceSpec.$Properties => ({
  annotations: { name: 'web' },
  task: { runtime: 'process', container: { command: ['x'] }, ...task },
  endpoint,
});

test('service networks: names or ids, each once, aliases as DNS name components; all problems at once', () => {
  assert.deepEqual(validateServiceSpec(svc({ networks: [{ target: 'front', aliases: ['www', 'w_2'] }, { target: 'back' }] })), []);
  const problems = validateServiceSpec(
    svc({
      networks: [
        { target: 'front', aliases: ['ok', 'a.b', '-x', 'OK'] },
        { target: '' },
        { target: 'FRONT' },
        { target: 'n'.repeat(64) },
      ],
    }),
  );
  const expected = [
    /^network front: invalid alias "a\.b": a DNS name component/,
    /^network front: invalid alias "-x"/,
    /^network front: alias OK is given twice$/,
    /^networks\[1\] needs a network \(a name or id\)$/,
    /^network FRONT is given twice \(a service joins a network once\)$/,
    /^networks\[3\]: "n{64}" is 64 characters, longer than any network name or id/,
  ];
  assert.equal(problems.length, expected.length, problems.join('\n'));
  expected.forEach((re, i) => assert.match(problems[i]!, re));
});

test('limits: networks per service and aliases per network', () => {
  const many = Array.from({ length: MAX_SERVICE_NETWORKS + 1 }, (_, i) => ({ target: `n${i}` }));
  assert.match(validateServiceSpec(svc({ networks: many })).join(), new RegExp(`^${MAX_SERVICE_NETWORKS + 1} networks, more than the limit of ${MAX_SERVICE_NETWORKS}$`));
  const aliases = Array.from({ length: MAX_NETWORK_ALIASES + 1 }, (_, i) => `a${i}`);
  assert.match(validateServiceSpec(svc({ networks: [{ target: 'front', aliases }] })).join(), /^network front: 33 aliases, more than the limit of 32$/);
});

test("endpoint mode: dnsrr refuses ingress ports in Docker's words, takes host-mode ones; expose 1-65535 tcp/udp only", () => {
  const DNSRR = baton.EndpointMode.DNSRR;
  assert.deepEqual(validateServiceSpec(svc({}, { mode: DNSRR })), []);
  assert.deepEqual(validateServiceSpec(svc({}, { mode: DNSRR, ports: [{ targetPort: 80, publishedPort: 8080, publishMode: baton.PublishMode.HOST }] })), []);
  assert.deepEqual(validateServiceSpec(svc({}, { mode: DNSRR, ports: [{ targetPort: 80 }] })), ["port published with ingress mode can't be used with dnsrr mode"]);
  assert.deepEqual(validateServiceSpec(svc({}, { mode: 7 as baton.EndpointMode })), ['endpoint mode 7 is unknown (want vip or dnsrr)']);
  assert.deepEqual(validateServiceSpec(svc({}, { expose: [{ targetPort: 8080 }, { targetPort: 53, protocol: baton.PortProtocol.UDP }] })), []);
  assert.deepEqual(validateServiceSpec(svc({}, { expose: [{ targetPort: 0 }, { targetPort: 70000 }, { targetPort: 80, publishedPort: 8080 }, { targetPort: 81, protocol: 5 as baton.PortProtocol }] })), [
    'expose[0] needs a port',
    'expose[1] port 70000 is more than the limit of 65535',
    'expose[2] takes a port and a protocol only (publish a port with ports)',
    'expose[3] protocol 5 is unknown (want tcp or udp)',
  ]);
});

test('--expose and expose: items: PORT[/tcp|udp]', () => {
  assert.deepEqual(parseExpose('8080'), { ok: true, value: { targetPort: 8080, protocol: baton.PortProtocol.TCP } });
  assert.deepEqual(parseExpose(53), { ok: true, value: { targetPort: 53, protocol: baton.PortProtocol.TCP } });
  assert.deepEqual(parseExpose('53/udp'), { ok: true, value: { targetPort: 53, protocol: baton.PortProtocol.UDP } });
  for (const [text, re] of [['0', /^bad --expose "0": must be a port number 1-65535 \(got 0\)$/], ['80/sctp', /^bad --expose "80\/sctp": protocol must be tcp or udp$/], ['8000-8010', /uses a port range/], ['80/tcp/x', /want PORT\[\/tcp\|udp\]/], ['http', /must be a port number/]] as const) {
    const parsed = parseExpose(text);
    assert.ok(!parsed.ok);
    assert.match(parsed.problem, re);
  }
});
