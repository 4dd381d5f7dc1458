// Docker's DNS options on a real Docker engine, one node: a task on a baton network with
// `--dns <its own resolver>` still resolves a peer service by name (baton's resolver stays its
// nameserver), while an outside name is answered by its own resolver, not the node's; a task on
// no network gets the nameserver, search domain and option in its /etc/resolv.conf as given.
// With `--dns-search` (flag or compose `dns_search`) and any ndots, the bare name of a peer
// service still resolves through libc and connects: the resolver asks `peer.example.com` first,
// and Docker's embedded DNS never forwards the bare `peer` when ndots is set.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliOk, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, resolveIn, shIn, TEST_IMAGE } from '../lib/docker.js';
import { freePort } from '../../src/launcher/ports.js';
import { fakeResolver } from '../lib/fake-resolver.js';

// The task's own resolver: port 53 (where a container's --dns is asked), on a loopback address
// of its own, which the node's baton (in the host's namespace) reaches.
const TASK_RESOLVER = '127.0.0.77';

test('--dns, --dns-search, --dns-option: on a baton network and off it', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await docker.getImage(TEST_IMAGE).inspect().catch((err: unknown) => {
    throw new Error(`image ${TEST_IMAGE} missing (scripts/docker-up.sh imports it): ${String(err)}`);
  });
  const nodePort = await freePort();
  const nodeResolver = await fakeResolver('127.0.0.1', nodePort, [10, 77, 0, 7]);
  const taskResolver = await fakeResolver(TASK_RESOLVER, 53, [10, 77, 0, 8]);
  const previous = process.env.BATON_DNS_UPSTREAM;
  process.env.BATON_DNS_UPSTREAM = `127.0.0.1:${nodePort}`;
  t.after(() => {
    nodeResolver.close();
    taskResolver.close();
    if (previous === undefined) delete process.env.BATON_DNS_UPSTREAM;
    else process.env.BATON_DNS_UPSTREAM = previous;
  });
  const c = dockerCluster(t, docker);
  nodeIdOf(await c.init('m1'));
  cliOk(c, 'm1', ['network', 'create', 'dnsnet']);
  cliOk(c, 'm1', ['service', 'create', '-d', '--name', 'peer', '--network', 'dnsnet', '--expose', '8080', TEST_IMAGE, 'sh', '-c', 'mkdir -p /www && echo peer-page > /www/index.html && exec httpd -f -p 8080 -h /www']);
  cliOk(c, 'm1', ['service', 'create', '-d', '--name', 'asker', '--network', 'dnsnet', '--dns', TASK_RESOLVER, '--dns-search', 'example.com', '--dns-option', 'ndots:2', TEST_IMAGE, 'sleep', '100000']);
  // Without a --dns of its own (names not ours go to the node's resolver), and ndots:1.
  cliOk(c, 'm1', ['service', 'create', '-d', '--name', 'searcher', '--network', 'dnsnet', '--dns-search', 'example.com', '--dns-option', 'ndots:1', TEST_IMAGE, 'sleep', '100000']);
  // Compose's dns_search through stack deploy, with Docker's default ndots (0).
  const dir = mkdtempSync(join(tmpdir(), 'baton-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const compose = join(dir, 'compose.yml');
  writeFileSync(compose, `services:\n  client:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "100000"]\n    dns_search: example.com\n    networks: [dnsnet]\nnetworks:\n  dnsnet:\n    external: true\n`);
  cliOk(c, 'm1', ['stack', 'deploy', '-c', compose, 'st']);
  cliOk(c, 'm1', ['service', 'create', '-d', '--name', 'plain', '--dns', '10.0.0.53', '--dns-search', 'example.com', '--dns-option', 'ndots:3', TEST_IMAGE, 'sleep', '100000']);
  const containerOf = (service: string): Promise<string> =>
    waitFor(`${service} running`, () => running(tasks(c, 'm1', service))[0]?.containerId || false, { timeoutMs: 60_000 });

  const asker = await containerOf('asker');
  await containerOf('peer');
  // Absolute names: with a search domain busybox's nslookup asks only `<name>.<first domain>`.
  const peer = await waitFor('tasks.peer resolves from asker', async () => {
    const a = await resolveIn(asker, 'tasks.peer.');
    return a.length === 1 && a[0];
  });
  assert.match(peer, /^\d+\.\d+\.\d+\.\d+$/);
  assert.deepEqual(await resolveIn(asker, 'outside.test.'), ['10.77.0.8'], "an outside name is answered by the task's own --dns, not the node's resolver");
  const conf = (await shIn(asker, 'cat /etc/resolv.conf')).out;
  assert.doesNotMatch(conf, new RegExp(`nameserver ${TASK_RESOLVER.replace(/\./g, '\\.')}`), "baton's resolver stays the only nameserver");
  assert.match(conf, /^search .*example\.com/m);
  assert.match(conf, /^options .*ndots:2/m);

  // The bare name through libc (busybox's ping and wget use getaddrinfo), and a connection to
  // it; busybox's nslookup asks only `peer.example.com`. (No `wget -T`: this busybox's wget
  // crashes with it, whatever the name.)
  const page = (id: string): Promise<string> => shIn(id, 'wget -q -O - http://peer:8080/').then((r) => r.out);
  const clients = { asker, searcher: await containerOf('searcher'), 'st_client (compose dns_search)': await containerOf('st_client') };
  for (const [name, id] of Object.entries(clients)) {
    const ping = await waitFor(`${name}: ping peer resolves the bare name`, async () => {
      const r = await shIn(id, 'ping -c1 -W1 peer');
      return /^PING peer \((\d+\.\d+\.\d+\.\d+)\)/m.exec(r.out)?.[1] ?? false;
    });
    const vip = await waitFor(`${name}: nslookup peer answers`, async () => (await resolveIn(id, 'peer'))[0] ?? false);
    assert.equal(ping, vip, `${name}: libc and nslookup agree on peer's address`);
    await waitFor(`${name}: peer's page through its bare name`, async () => (await page(id)).includes('peer-page'));
  }
  assert.match((await shIn(clients['st_client (compose dns_search)'], 'cat /etc/resolv.conf')).out, /^search .*example\.com/m);
  // Outside names still go out, to the node's resolver for a task without --dns.
  assert.deepEqual(await resolveIn(clients.searcher, 'outside.test.'), ['10.77.0.7'], "the node's resolver for a task without --dns");

  const plain = await containerOf('plain');
  const plainConf = (await shIn(plain, 'cat /etc/resolv.conf')).out;
  assert.match(plainConf, /^nameserver 10\.0\.0\.53$/m);
  assert.match(plainConf, /^search example\.com$/m);
  assert.match(plainConf, /^options ndots:3$/m);
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'plain']).stdout;
  assert.match(pretty, /DNS:\s*\n Nameservers:\s+10\.0\.0\.53\n Search:\s+example\.com\n Options:\s+ndots:3/);
});
