// The routing mesh end to end with real daemons and the process runtime (no Docker): three
// nodes, each on its own loopback address (127.0.0.1, .2, .3), so each node's mesh binds the
// same published port on its own address, exactly as separate machines would.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { BatonCluster, baton, nodeIdOf, nodes, running, tasks, tasksAsync, assertCreateRefused } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { canBind, httpGet, requestsWhile, tally, tcpProbe, udpRoundTrip } from '../lib/mesh-probe.js';

// Answers "<task name>@<node address>" (task name: service.slot.task-id) over HTTP (target 80), echoes UDP datagrams prefixed with
// the same (target 53), and returns the first line it receives on target 81 (where the mesh
// sends a PROXY protocol header first). Ports and address come from the process runtime.
const SERVER = `
const env = process.env, host = env.BATON_HOST_IP, me = env.BATON_TASK_NAME + '@' + host;
if (env.BATON_PORT_80_TCP) require('http').createServer((q, s) => s.end(me + '\\n')).listen(Number(env.BATON_PORT_80_TCP), host);
if (env.BATON_PORT_53_UDP) {
  const u = require('dgram').createSocket('udp4');
  u.on('message', (m, r) => u.send(me + ':' + m, r.port, r.address));
  u.bind(Number(env.BATON_PORT_53_UDP), host);
}
if (env.BATON_PORT_81_TCP) require('net').createServer((c) => {
  let buf = '';
  c.on('data', (d) => { buf += d; const nl = buf.indexOf('\\r\\n'); if (nl >= 0) c.end(buf.slice(0, nl) + '\\n'); });
}).listen(Number(env.BATON_PORT_81_TCP), host);
`;

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const REQUESTS_PER_NODE = 30;

/** Every node answers, and over `REQUESTS_PER_NODE` requests each one sees every replica, none failing. */
async function allReplicasAnswerEverywhere(port: number, replicas: number): Promise<void> {
  await waitFor(`${replicas} replicas answer on every node`, async () => {
    for (const h of HOSTS) if ((await tally(h, port, replicas * 2)).answers.size < replicas) return false;
    return true;
  });
  for (const h of HOSTS) {
    const { answers, failures } = await tally(h, port, REQUESTS_PER_NODE);
    assert.deepEqual(failures, [], `no failed request on ${h}`);
    assert.equal(answers.size, replicas, `every replica answers on ${h}: ${[...answers.keys()].join(', ')}`);
    for (const a of answers.keys()) assert.match(a, /^web\.\d\.\w+@127\.0\.0\.\d$/);
  }
}

/** The first line a server sees on a new connection through the mesh. */
function firstLineSeen(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => s.write('hello\r\n'));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out.trim()));
    s.on('error', reject);
    s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
  });
}

test('published ports answer on every node, spread over every replica, through scale, conflicts and removal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-mesh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const metricsPort = await freePort();

  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.init('m1', ['--metrics-addr', `127.0.0.1:${metricsPort}`]);
  await c.join('w1', 'worker', 'm1');
  const w2 = nodeIdOf(await c.join('w2', 'worker', 'm1'));
  assert.deepEqual(['m1', 'w1', 'w2'].map((n) => c.host(n)), HOSTS);
  await waitFor('3 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 3);

  const web = await freePort();
  const udp = await freePort();
  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '3', '--restart-delay', '200ms',
    '--publish', `${web}:80`, '--publish', `${udp}:53/udp`, '--', process.execPath, server,
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.equal(new Set(running(tasks(c, 'm1', 'web')).map((x) => x.node)).size, 3, 'one replica per node');
  await allReplicasAnswerEverywhere(web, 3);

  // UDP through the mesh: every node relays a datagram to a replica and its answer back.
  for (const h of HOSTS) {
    await waitFor(`a UDP answer through ${h}`, async () => /^web\.\d\.\w+@127\.0\.0\.\d:ping$/.test(await udpRoundTrip(h, udp, 'ping')));
  }

  // The metrics endpoint counts the connections made through this node.
  const metrics = await httpGet('127.0.0.1', metricsPort, '/metrics');
  const counted = [...metrics.matchAll(/^baton_mesh_connections_total\{service="web",protocol="tcp",[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(counted >= REQUESTS_PER_NODE, `connections through m1 counted: ${counted}`);

  // A published port is the cluster's: another service cannot have it.
  const clash = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'clash', '--publish', `${web}:8080`, '--', 'sleep', '100']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /^Error: [^\n]*already in use by service web[^\n]*\n$/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim().split('\n').length, 1, 'nothing created');

  // Scaled to 0, every node still holds the port and resets new connections at once.
  assert.equal(c.cli('m1', ['service', 'scale', 'web=0']).code, 0);
  for (const h of HOSTS) await waitFor(`${h} resets connections`, async () => (await tcpProbe(h, web)) === 'reset');

  assert.equal(c.cli('m1', ['service', 'scale', 'web=3']).code, 0);
  await allReplicasAnswerEverywhere(web, 3);

  // Removed: the port is free again on every node.
  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  for (const h of HOSTS) await waitFor(`${web} is free on ${h}`, () => canBind(h, web));

  // Host mode: bound by the task itself on its node only; no mesh anywhere.
  const pinnedPort = await freePort();
  const pinned = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'pinned', '--constraint', `node.id==${w2}`,
    '--publish', `mode=host,target=80,published=${pinnedPort}`, '--', process.execPath, server,
  ]);
  assert.equal(pinned.code, 0, pinned.stderr + pinned.stdout);
  await waitFor('the host-mode task answers on its node', async () => /^pinned\.1\.\w+@127\.0\.0\.3$/.test((await httpGet('127.0.0.3', pinnedPort)).trim()));
  assert.equal(running(tasks(c, 'm1', 'pinned'))[0]?.hostPort, pinnedPort, 'the task is bound on the published port itself');
  for (const h of ['127.0.0.1', '127.0.0.2']) assert.equal(await tcpProbe(h, pinnedPort), 'refused', `nothing listens on ${h}:${pinnedPort}`);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'pinned']).stdout, new RegExp(`Ports:\\s+\\*:${pinnedPort}->80/tcp \\(host\\)`));

  // PROXY protocol and least-connections, from the command line to the backend.
  const ppPort = await freePort();
  const pp = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'pp', '--balance', 'least-connections',
    '--publish', `target=81,published=${ppPort},proxy-protocol=v1`, '--', process.execPath, server,
  ]);
  assert.equal(pp.code, 0, pp.stderr + pp.stdout);
  const inspect = c.cli('m1', ['service', 'inspect', '--pretty', 'pp']).stdout;
  assert.match(inspect, new RegExp(`Ports:\\s+\\*:${ppPort}->81/tcp \\(proxy-protocol v1\\)`));
  assert.match(inspect, /Balance:\s+least-connections/);
  await waitFor('the backend sees a PROXY v1 header with the client address', async () =>
    /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.2 \d+ \d+$/.test(await firstLineSeen('127.0.0.2', ppPort)),
  );
});

test('the mesh keeps serving through a leader SIGKILL: no failed request on the surviving nodes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-mesh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(3);
  const web = await freePort();
  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '3', '--publish', `${web}:80`, '--', process.execPath, server]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await allReplicasAnswerEverywhere(web, 3);

  // The leader dies; its task's process lives on (as a container would). The surviving nodes
  // keep routing with the table they have, then with the new leader's, which drops the dead
  // node's task once the node is known down and adds its replacement.
  const survivors = ['127.0.0.2', '127.0.0.3'];
  const during = await requestsWhile(survivors, web, '/', async () => {
    await c.kill('m1');
    // Asked without blocking: a synchronous CLI call would stall the client loop in this process.
    await waitFor('a new leader replaced the task of the dead node', async () => {
      const ts = running(await tasksAsync(c, 'm2', 'web').catch(() => []));
      return ts.length === 3 && ts.every((x) => x.node !== nodeIdOf(c.get('m1')));
    }, { timeoutMs: 30_000 });
    return 0;
  });
  t.diagnostic(`requests during the failover: ${during.total}`);
  assert.deepEqual(during.failures, [], 'no failed request through the surviving nodes');
  // Each survivor's table comes over its session, which reconnects to the new leader on its own
  // schedule: the dead node's task leaves each mesh, and its replacement enters it, soon after,
  // not at the instant the store shows the replacement running (two table changes: the node
  // known down, then the replacement running, each reaching each survivor in its turn).
  for (const h of survivors) {
    await waitFor(`the dead node's task is out of ${h}'s mesh and its replacement in`, async () => {
      const { answers, failures } = await tally(h, web, 9);
      return failures.length === 0 && answers.size === 3 && [...answers.keys()].every((a) => !a.endsWith('@127.0.0.1'));
    });
    const { answers, failures } = await tally(h, web, REQUESTS_PER_NODE);
    assert.deepEqual(failures, [], `no failed request through ${h}`);
    assert.equal(answers.size, 3, `the three running replicas answer through ${h}: ${[...answers.keys()].join(', ')}`);
    assert.ok([...answers.keys()].every((a) => !a.endsWith('@127.0.0.1')), `the dead node's task stays out of ${h}'s mesh`);
  }
});

test('mesh flags refuse bad values with one line', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const bad = (args: string[], pattern: RegExp): void => assertCreateRefused(c, 'm1', args, pattern);
  bad(['--balance', 'random'], /--balance "random"/);
  bad(['--publish', 'target=80,proxy-protocol=v3'], /proxy-protocol must be v1, v2 or none/);
  bad(['--publish', 'mode=host,target=80,published=8080,proxy-protocol=v2'], /needs the routing mesh/);
  bad(['--publish', 'target=53,protocol=udp,proxy-protocol=v1'], /tcp ports only/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim(), '', 'nothing created');
  const root = mkdtempSync(join(tmpdir(), 'baton-flags-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const flag = (extra: string[], pattern: RegExp): void => {
    const r = baton(['init', '--data-dir', join(root, 'n'), '--listen-addr', '127.0.0.1:1', ...extra]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^Error: [^\n]+\n$/);
    assert.match(r.stderr, pattern);
    assert.equal(existsSync(join(root, 'n', 'node.json')), false, 'no node was created');
  };
  flag(['--data-path-addr', 'not-an-ip'], /bad --data-path-addr "not-an-ip"/);
  flag(['--metrics-addr', 'nowhere'], /bad --http-addr "nowhere"/);
  flag(['--http-addr', 'nowhere:99999'], /bad --http-addr "nowhere:99999"/);
});
