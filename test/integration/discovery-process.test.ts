// The process runtime's way to services by name (docs/networking.md): a process task shares
// its node's network, so it is told the node's resolver (BATON_DNS_SERVER) and the address of
// each service of its networks (BATON_ADDR_<NAME>). Two nodes: an echo service on one, a
// caller on the other that asks the resolver for `echo`, checks the address against its
// environment and talks to the echo through it (the node's mesh carries it across nodes).
// The bridge that holds the addresses is made on the node's Docker engine, so this needs one.
import test from 'node:test';
import assert from 'node:assert/strict';
import { nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { dockerCluster, requireDocker } from '../lib/docker.js';
import { waitFor } from '../lib/wait.js';

// Listens on its exposed port (BATON_PORT_7000, on the node's address) and answers each line
// with its task name.
const ECHO = `require('net').createServer((s) => s.on('data', (d) => s.end(process.env.BATON_TASK_NAME + ':' + d)))
  .listen(Number(process.env.BATON_PORT_7000), process.env.BATON_HOST_IP);`;

// Resolves `echo` at the resolver it was told, then calls it; prints one line per attempt.
const CALLER = `const dns = require('dns'); const net = require('net');
const r = new dns.promises.Resolver(); r.setServers([process.env.BATON_DNS_SERVER]);
async function once() {
  try {
    const [addr] = await r.resolve4('echo');
    const reply = await new Promise((ok, no) => {
      const s = net.connect(7000, addr, () => s.write('ping'));
      let got = ''; s.on('data', (d) => (got += d)); s.on('end', () => ok(got)); s.on('error', no);
      s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    });
    console.log('resolved=' + addr + ' env=' + process.env.BATON_ADDR_ECHO + ' reply=' + reply);
  } catch (e) { console.log('error=' + e.message); }
}
let n = 0; const t = setInterval(() => { if (++n > 120) clearInterval(t); void once(); }, 500);`;

test('a process task reaches a service on its network by name through the resolver it is told, across nodes', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker, [], { addressPerNode: true });
  await c.init('m1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  assert.equal(c.cli('m1', ['network', 'create', 'backend']).code, 0);

  const echo = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'echo', '--network', 'backend', '--expose', '7000',
    '--constraint', 'node.role==worker', '--', process.execPath, '-e', ECHO,
  ]);
  assert.equal(echo.code, 0, echo.stderr + echo.stdout);
  const caller = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'caller', '--network', 'backend',
    '--constraint', 'node.role==manager', '--', process.execPath, '-e', CALLER,
  ]);
  assert.equal(caller.code, 0, caller.stderr + caller.stdout);
  assert.equal(running(tasks(c, 'm1', 'echo'))[0]?.node, w1, 'the echo runs on the other node');

  const line = await waitFor('the caller got an answer by name', () => {
    const logs = c.cli('m1', ['service', 'logs', 'caller']).stdout;
    return /resolved=\S+ env=\S+ reply=echo\.1\.\w+:ping/.exec(logs)?.[0];
  }, { timeoutMs: 60_000 });
  const [, resolved, env] = /resolved=(\S+) env=(\S+)/.exec(line)!;
  assert.equal(resolved, env, 'the resolver and the environment give the same address');
  assert.match(resolved!, /^10\.213\.\d+\.\d+$/, 'an address of the node\'s bridge for the network');
});
