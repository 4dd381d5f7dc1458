// Docker's DNS options of a task (`--dns`, `--dns-search`, `--dns-option`, Compose's dns,
// dns_search, dns_opt) without a cluster: the flags of `service create` and `service update`, the
// spec's checks (as the manager runs them for any client), Compose, the docker executor's
// mapping on and off baton networks, and baton's DNS server forwarding an asker's names to its
// own nameservers.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { specFromFlags } from '../../cli/service-spec.js';
import { applyUpdateFlags } from '../../cli/service-update.js';
import { dnsOptionLines } from '../../cli/dns-flags.js';
import { baton } from '../../proto/gen/baton.js';
import { validateServiceSpec } from '../../spec/index.js';
import { toRunSpec } from '../../worker/agent/run-spec.js';
import { createOptions } from '../../worker/executor/docker-spec.js';
import { DnsServer } from '../../worker/network/dns-server.js';
import { FakeUpstream, UdpClient, addressOf, decodeMessage, encodeQuery, quietLogger } from './dns-fixtures.js';
import { errorOf, loadYaml } from './compose-helpers.js';
import { refusalOf } from '../lib/refusals.js';

test('create: --dns, --dns-search, --dns-option land in the DNSConfig, each once, and inspect --pretty shows them', () => {
  const s = specFromFlags({ name: 'web', image: 'busybox', dns: ['10.0.0.53', '2001:db8::53', '10.0.0.53'], 'dns-search': 'example.com', 'dns-option': ['ndots:2', 'rotate'] });
  assert.deepEqual(s.task?.container?.dnsConfig, { nameservers: ['10.0.0.53', '2001:db8::53'], search: ['example.com'], options: ['ndots:2', 'rotate'] });
  assert.deepEqual(dnsOptionLines(s.task), [['DNS', '\n Nameservers:\t10.0.0.53, 2001:db8::53\n Search:\texample.com\n Options:\tndots:2, rotate']]);
  const none = specFromFlags({ name: 'web', image: 'busybox' });
  assert.equal(none.task?.container?.dnsConfig ?? undefined, undefined);
  assert.deepEqual(dnsOptionLines(none.task!), [['DNS', undefined]]);
});

test('create: every bad DNS flag is named in one line', () => {
  const message = refusalOf(() => specFromFlags({ name: 'web', image: 'busybox', dns: ['10.0.0.300', 'dns.example'], 'dns-search': 'bad domain', 'dns-option': 'ndots 2' }));
  assert.match(message, /bad --dns "10\.0\.0\.300": not an IP address/);
  assert.match(message, /bad --dns "dns\.example": not an IP address/);
  assert.match(message, /bad --dns-search "bad domain": not a domain name/);
  assert.match(message, /bad --dns-option "ndots 2": not a resolv\.conf option/);
});

test('update: the -rm flags before the -add ones, order kept, bad values refused', () => {
  const current = specFromFlags({ name: 'web', image: 'busybox', dns: ['10.0.0.1', '10.0.0.2'], 'dns-search': ['a.example', 'b.example'], 'dns-option': 'ndots:1' });
  const next = applyUpdateFlags(current, { service: 'web', 'dns-rm': '10.0.0.1', 'dns-add': ['10.0.0.3', '10.0.0.2'], 'dns-search-rm': 'a.example', 'dns-search-add': 'c.example', 'dns-option-rm': 'ndots:1', 'dns-option-add': 'ndots:3' });
  assert.deepEqual(next.task?.container?.dnsConfig, { nameservers: ['10.0.0.2', '10.0.0.3'], search: ['b.example', 'c.example'], options: ['ndots:3'] });
  const untouched = applyUpdateFlags(current, { service: 'web', 'stop-signal': 'SIGINT' });
  assert.deepEqual(untouched.task?.container?.dnsConfig, current.task?.container?.dnsConfig);
  assert.match(refusalOf(() => applyUpdateFlags(current, { service: 'web', 'dns-add': 'x', 'dns-option-add': 'a b' })), /bad --dns-add "x".*bad --dns-option-add "a b"/);
});

test('the manager refuses a bad DNSConfig from any client, and the process runtime refuses DNS options', () => {
  const spec: baton.ServiceSpec.$Properties = {
    annotations: { name: 'web' },
    task: { container: { image: 'busybox', dnsConfig: { nameservers: ['1.2.3'], search: ['-x-'], options: ['a;b'] } } },
  };
  const problems = validateServiceSpec(spec);
  assert.ok(problems.some((p) => /DNS nameserver "1\.2\.3"/.test(p)), problems.join('; '));
  assert.ok(problems.some((p) => /DNS search domain "-x-"/.test(p)), problems.join('; '));
  assert.ok(problems.some((p) => /DNS option "a;b"/.test(p)), problems.join('; '));
  const process: baton.ServiceSpec.$Properties = {
    annotations: { name: 'job' },
    task: { runtime: 'process', container: { command: ['/bin/true'], dnsConfig: { nameservers: ['10.0.0.53'], options: ['ndots:2'] } } },
  };
  assert.ok(validateServiceSpec(process).some((p) => /the process runtime cannot honour --dns, --dns-option/.test(p)), validateServiceSpec(process).join('; '));
});

test('Compose: dns, dns_search, dns_opt as a string or a list; a bad value named with its path', () => {
  const svc = (body: string): string => `services:\n  web:\n    image: a\n${body}`;
  const one = loadYaml(svc('    dns: 10.0.0.53\n    dns_search: example.com\n    dns_opt: ndots:2\n')).def.services[0]!;
  assert.deepEqual(one.task?.container?.dnsConfig, { nameservers: ['10.0.0.53'], search: ['example.com'], options: ['ndots:2'] });
  const many = loadYaml(svc('    dns: [10.0.0.53, "::1"]\n    dns_search: [a.example, b.example]\n    dns_opt: [use-vc, "timeout:3"]\n')).def.services[0]!;
  assert.deepEqual(many.task?.container?.dnsConfig, { nameservers: ['10.0.0.53', '::1'], search: ['a.example', 'b.example'], options: ['use-vc', 'timeout:3'] });
  assert.match(errorOf(svc('    dns: [10.0.0.53, nameserver]\n')), /services\.web\.dns\[1\] is not an IP address .*\(got "nameserver"\)/);
  assert.match(errorOf(svc('    dns_search: "two words"\n')), /services\.web\.dns_search is not a domain name/);
});

function task(): baton.Task.$Properties {
  return {
    meta: { id: 'tid' },
    serviceId: 'sid',
    slot: 1,
    serviceAnnotations: { name: 'web' },
    spec: { container: { image: 'busybox', dnsConfig: { nameservers: ['10.0.0.53'], search: ['example.com'], options: ['ndots:2'] } } },
  };
}

test('docker executor: off baton networks the task\'s nameservers; on them baton\'s resolver, with the search domains and options', () => {
  const off = createOptions(toRunSpec(task(), 'cid', 'nid'), '127.0.0.1', {}, false).HostConfig!;
  assert.deepEqual([off.Dns, off.DnsSearch, off.DnsOptions], [['10.0.0.53'], ['example.com'], ['ndots:2']]);
  const run = toRunSpec(task(), 'cid', 'nid');
  run.networks = [{ dockerNetwork: 'baton-net' }];
  run.dns = ['10.213.0.1'];
  const on = createOptions(run, '127.0.0.1', {}, false).HostConfig!;
  assert.deepEqual([on.Dns, on.DnsSearch, on.DnsOptions], [['10.213.0.1'], ['example.com'], ['ndots:2']]);
  const plain = createOptions(toRunSpec({ ...task(), spec: { container: { image: 'busybox' } } }, 'cid', 'nid'), '127.0.0.1', {}, false).HostConfig!;
  assert.deepEqual([plain.Dns, plain.DnsSearch, plain.DnsOptions], [undefined, undefined, undefined]);
});

// Sockets on 127.0.54.0/24: the server, the node's resolver, a task's own, and two askers.
const SERVER = '127.0.54.1';
const NODE_UPSTREAM = '127.0.54.2';
const TASK_UPSTREAM = '127.0.54.3';
const WITH_DNS = '127.0.54.9';
const WITHOUT_DNS = '127.0.54.10';

async function fake(t: TestContext, address: string, table: Record<string, string>): Promise<FakeUpstream> {
  const up = await new FakeUpstream(address, table).start();
  t.after(() => up.stop());
  return up;
}

test('forwarding: an asker with nameservers of its own has its other names answered by them, any other by the node\'s', async (t) => {
  const node = await fake(t, NODE_UPSTREAM, { 'outside.example': '192.0.2.1' });
  const own = await fake(t, TASK_UPSTREAM, { 'outside.example': '192.0.2.2' });
  const server = new DnsServer({
    address: SERVER,
    port: 0,
    lookup: (q) => (q.name === 'db' ? { addresses: ['10.213.0.5'], ttl: 0 } : undefined),
    upstreams: [node.upstream],
    upstreamsFor: (from) => (from === WITH_DNS ? [own.upstream] : undefined),
    logger: quietLogger,
  });
  await server.listen();
  const withDns = await UdpClient.on(WITH_DNS);
  const withoutDns = await UdpClient.on(WITHOUT_DNS);
  t.after(async () => {
    withDns.close();
    withoutDns.close();
    await server.close();
  });
  const to = { address: SERVER, port: server.port };
  const ask = async (client: UdpClient, name: string): Promise<string[]> => decodeMessage(await client.ask(to, encodeQuery({ id: 7, name }))).answers.map(addressOf);
  assert.deepEqual(await ask(withDns, 'outside.example'), ['192.0.2.2'], 'the task\'s own nameserver');
  assert.deepEqual(await ask(withoutDns, 'outside.example'), ['192.0.2.1'], 'the node\'s resolver');
  assert.deepEqual(await ask(withDns, 'db'), ['10.213.0.5'], 'service names stay baton\'s');
  assert.deepEqual([own.seen.length, node.seen.length], [1, 1]);
});
