// Docker's DNS options on a real Docker engine, one node: a task on a baton network with
// `--dns <its own resolver>` still resolves a peer service by name (baton's resolver stays its
// nameserver), while an outside name is answered by its own resolver, not the node's; a task on
// no network gets the nameserver, search domain and option in its /etc/resolv.conf as given.
import test from 'node:test';
import assert from 'node:assert/strict';
import { nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
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
  const ok = (args: string[]): void => {
    const r = c.cli('m1', args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  };
  ok(['network', 'create', 'dnsnet']);
  ok(['service', 'create', '-d', '--name', 'peer', '--network', 'dnsnet', '--expose', '8080', TEST_IMAGE, 'sleep', '100000']);
  ok(['service', 'create', '-d', '--name', 'asker', '--network', 'dnsnet', '--dns', TASK_RESOLVER, '--dns-search', 'example.com', '--dns-option', 'ndots:2', TEST_IMAGE, 'sleep', '100000']);
  ok(['service', 'create', '-d', '--name', 'plain', '--dns', '10.0.0.53', '--dns-search', 'example.com', '--dns-option', 'ndots:3', TEST_IMAGE, 'sleep', '100000']);
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

  const plain = await containerOf('plain');
  const plainConf = (await shIn(plain, 'cat /etc/resolv.conf')).out;
  assert.match(plainConf, /^nameserver 10\.0\.0\.53$/m);
  assert.match(plainConf, /^search example\.com$/m);
  assert.match(plainConf, /^options ndots:3$/m);
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'plain']).stdout;
  assert.match(pretty, /DNS:\s*\n Nameservers:\s+10\.0\.0\.53\n Search:\s+example\.com\n Options:\s+ndots:3/);
});
