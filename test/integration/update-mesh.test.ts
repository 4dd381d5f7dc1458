// An ordinary start-first `service update` behind the routing mesh, with real daemons and the
// process runtime (no Docker): two nodes, each on its own loopback address, 4 published
// replicas spread over both. While client loops through both nodes' meshes run (each bounded by
// requestsWhile in count, and by the update in time), the update replaces every task: each old
// task leaves every mesh's table (MESH_DRAIN_LABEL) before it is stopped, so no request fails.
// The loops' requests take the server 1 s each, so that a task stopped while still serving
// would cut one in flight (a refused connection the mesh would retry elsewhere: no failure).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonCluster, running, tasks, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { cliAsync, requestsWhile, tally } from '../lib/mesh-probe.js';

// Answers "<task name>@<node address>" over HTTP on the port the process runtime gives target
// 80, GET /slow only after 1 s; SIGTERM ends it at once, cutting what it has not answered.
const SERVER = `
const env = process.env, host = env.BATON_HOST_IP, me = env.BATON_TASK_NAME + '@' + host;
require('http').createServer((q, s) => setTimeout(() => s.end(me + '\\n'), q.url === '/slow' ? 1000 : 0)).listen(Number(env.BATON_PORT_80_TCP), host);
`;
const HOSTS = ['127.0.0.1', '127.0.0.2'];
const LOOPS = 8;

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

function updateState(c: BatonCluster): string {
  const [svc] = JSON.parse(ok(c.cli('m1', ['service', 'inspect', 'web']), 'inspect').stdout) as { updateStatus: { state: string } | null }[];
  return svc?.updateStatus?.state ?? '';
}

test('start-first service update through the mesh: every task replaced, each old one drained before its stop, no failed request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-update-mesh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(1, 1);
  const port = await freePort();
  ok(
    c.cli('m1', [
      'service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '4', '--publish', `${port}:80`,
      '--update-order', 'start-first', '--update-parallelism', '2', '--update-monitor', '1s', '--', process.execPath, server,
    ]),
    'service create',
  );
  const before = new Set(running(tasks(c, 'm1', 'web')).map((x) => x.id));
  assert.equal(before.size, 4);
  await waitFor('4 replicas answer through both nodes', async () => {
    for (const h of HOSTS) if ((await tally(h, port, 8)).answers.size < 4) return false;
    return true;
  });

  // Without -d the CLI follows the update until it converges: the client loops cover all of it.
  // LOOPS of them, each with one request in flight, so that every task stopped while still
  // serving would most likely cut one (each loop is bounded by requestsWhile).
  const update = cliAsync(c, 'm1', ['service', 'update', '--env-add', 'V=2', 'web']);
  const loops = await Promise.all(Array.from({ length: LOOPS }, () => requestsWhile(HOSTS, port, '/slow', () => update)));
  const total = loops.reduce((n, l) => n + l.total, 0);
  t.diagnostic(`requests during the update: ${total} in ${LOOPS} loops`);
  assert.equal(await update, 0, 'service update converged');
  assert.ok(loops.every((l) => l.total > 0), 'every client loop ran');
  assert.deepEqual(loops.flatMap((l) => l.failures), [], 'no failed request through the mesh');

  await waitFor('the update completed', () => updateState(c) === 'UPDATE_COMPLETED', { timeoutMs: 60_000 });
  const after = running(tasks(c, 'm1', 'web'));
  assert.equal(after.length, 4);
  assert.ok(after.every((x) => !before.has(x.id)), 'every task was replaced');
  for (const h of HOSTS) {
    await waitFor(`the 4 new replicas answer through ${h}`, async () => {
      const { answers, failures } = await tally(h, port, 8);
      return failures.length === 0 && answers.size === 4;
    });
  }
});
