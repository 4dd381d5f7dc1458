// Rebalancing with real daemons and the process runtime (no Docker): two nodes, each on its
// own loopback address; a published service of 4 replicas all on node 1 (node 2 drained while
// they were placed). Node 2 activated: with --rebalance auto the leader moves 2 tasks there by
// itself; with rebalance off nothing moves until `baton service rebalance`. Either way a client
// loop through both nodes' meshes (bounded in count and time) sees no failed request.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BATON, BatonCluster, nodeIdOf, running, tasks, tasksAsync, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { cliAsync, requestsWhile, tally } from '../lib/mesh-probe.js';

// Answers "<task name>@<node address>" over HTTP on the port the process runtime gives it.
const SERVER = `
const env = process.env, host = env.BATON_HOST_IP, me = env.BATON_TASK_NAME + '@' + host;
require('http').createServer((q, s) => s.end(me + '\\n')).listen(Number(env.BATON_PORT_80_TCP), host);
`;
const HOSTS = ['127.0.0.1', '127.0.0.2'];

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

/** m1 (manager) and w1 (worker), w1 drained, and service web of 4 replicas on m1, answering through both meshes. */
async function allOnNode1(t: Parameters<typeof BatonCluster.forTest>[0], rebalance: 'auto' | 'off'): Promise<{ c: BatonCluster; port: number; w1: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-rebalance-'));
  t.after(async () => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(1, 1);
  const w1 = nodeIdOf(c.get('w1'));
  ok(c.cli('m1', ['node', 'update', '--availability', 'drain', w1]), 'drain w1');
  const port = await freePort();
  ok(
    c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '4', '--publish', `${port}:80`, '--rebalance', rebalance, '--update-monitor', '1s', '--', process.execPath, server]),
    'service create',
  );
  const ts = running(tasks(c, 'm1', 'web'));
  assert.equal(ts.length, 4);
  assert.ok(ts.every((x) => x.node === nodeIdOf(c.get('m1'))), 'every task on m1 while w1 is drained');
  // What each mesh answered last: a timeout names it, with the tasks as the leader sees them.
  const seen = new Map<string, string>();
  await waitFor('4 replicas answer through both nodes', async () => {
    let all = true;
    for (const h of HOSTS) {
      const { answers, failures } = await tally(h, port, 8);
      seen.set(h, `${[...answers.keys()].join(',')}${failures.length ? ` failures: ${failures.join('; ')}` : ''}`);
      if (answers.size < 4) all = false;
    }
    return all;
  }).catch((err: unknown) => {
    const now = tasks(c, 'm1', 'web').map((x) => `${x.name} ${x.state} port ${x.hostPort} on ${x.node}${x.err ? ` (${x.err})` : ''}`);
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last answers: ${[...seen].map(([h, a]) => `${h}: ${a}`).join(' | ')}; tasks: ${now.join(', ')}`);
  });
  return { c, port, w1 };
}

/** Tasks of web running per node: [on m1, on w1]. */
async function spread(c: BatonCluster, w1: string): Promise<[number, number]> {
  const ts = running(await tasksAsync(c, 'm1', 'web').catch(() => []));
  return [ts.filter((x) => x.node !== w1).length, ts.filter((x) => x.node === w1).length];
}

function updateStatus(c: BatonCluster): { state: string; message: string; rebalance: boolean } {
  const svc = (JSON.parse(ok(c.cli('m1', ['service', 'inspect', 'web']), 'inspect').stdout) as { updateStatus: { state: string; message: string; rebalance?: boolean } | null }[])[0]!;
  return { state: svc.updateStatus?.state ?? '', message: svc.updateStatus?.message ?? '', rebalance: svc.updateStatus?.rebalance ?? false };
}

/** Both meshes answer with 2 replicas of each node, and no request fails. */
async function answersFromBothNodes(port: number): Promise<void> {
  for (const h of HOSTS) {
    await waitFor(`the 4 replicas answer through ${h}, 2 on each node`, async () => {
      const { answers, failures } = await tally(h, port, 16);
      const keys = [...answers.keys()];
      return failures.length === 0 && keys.length === 4 && keys.filter((a) => a.endsWith('@127.0.0.2')).length === 2;
    });
  }
}

test('rebalance auto: a drained node activated gets 2 of 4 tasks, start-first, with no failed request through the mesh', async (t) => {
  const { c, port, w1 } = await allOnNode1(t, 'auto');
  const before = new Set(running(tasks(c, 'm1', 'web')).map((x) => x.id));
  const during = await requestsWhile(HOSTS, port, '/', async () => {
    const code = await cliAsync(c, 'm1', ['node', 'update', '--availability', 'active', w1]);
    await waitFor('2 tasks on each node and the rebalance completed', async () => {
      const [a, b] = await spread(c, w1);
      return a === 2 && b === 2 && updateStatus(c).state === 'UPDATE_COMPLETED';
    }, { timeoutMs: 60_000 });
    return code;
  });
  t.diagnostic(`requests during the rebalance: ${during.total}`);
  assert.equal(during.code, 0);
  assert.ok(during.total > 0, 'the client loop ran');
  assert.deepEqual(during.failures, [], 'no failed request through the mesh');

  const after = running(tasks(c, 'm1', 'web'));
  // Fewest moves: the two on m1 are two of the original four; the two on w1 are new.
  assert.equal(after.filter((x) => x.node !== w1 && before.has(x.id)).length, 2);
  assert.equal(after.filter((x) => x.node === w1 && !before.has(x.id)).length, 2);
  const status = updateStatus(c);
  assert.equal(status.rebalance, true);
  assert.match(status.message, /^rebalance: moved 2 tasks to \S+$/);
  assert.match(ok(c.cli('m1', ['service', 'inspect', '--pretty', 'web']), 'inspect --pretty').stdout, /Rebalance:\s+auto[\s\S]*Message:\s+rebalance: moved 2 tasks to /);
  const events = ok(c.cli('m1', ['events', '--since=0', '--until=0s', '--filter', 'event=rebalance', '--format', 'json']), 'events').stdout.trim().split('\n');
  assert.equal(events.length, 2, `a rebalance event as it starts and one as it ends: ${events.join(' | ')}`);
  await answersFromBothNodes(port);
});

test('rebalance off: nothing moves when the node is activated; `service rebalance` moves 2 once, printing progress, with no failed request', async (t) => {
  const { c, port, w1 } = await allOnNode1(t, 'off');
  ok(c.cli('m1', ['node', 'update', '--availability', 'active', w1]), 'activate w1');
  // The leader acts on the node's change at once or not at all: a few seconds show which.
  await new Promise((r) => setTimeout(r, 3_000));
  assert.deepEqual(await spread(c, w1), [4, 0], 'rebalance off: the tasks stay where they were placed');

  let out = '';
  const during = await requestsWhile(HOSTS, port, '/', async () => {
    // Run without blocking: a synchronous CLI call would stall the client loop in this process.
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const p = spawn(process.execPath, [BATON, 'service', 'rebalance', '--data-dir', c.dataDir('m1'), 'web'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      p.stderr.on('data', (b: Buffer) => (stdout += b.toString()));
      p.on('exit', (code) => resolve({ code, stdout }));
    });
    out = r.stdout;
    return r.code;
  });
  t.diagnostic(`requests during the rebalance: ${during.total}`);
  assert.equal(during.code, 0, out);
  assert.match(out, /^web\n/);
  assert.match(out, /verify: Service converged/);
  assert.ok(during.total > 0, 'the client loop ran');
  assert.deepEqual(during.failures, [], 'no failed request through the mesh');
  assert.deepEqual(await spread(c, w1), [2, 2]);
  assert.match(updateStatus(c).message, /^rebalance: moved 2 tasks to \S+$/);

  // Once even, another rebalance has nothing to move.
  const again = ok(c.cli('m1', ['service', 'rebalance', 'web']), 'rebalance again');
  assert.equal(again.stdout, 'web\nrebalance: nothing to move (already even)\n');
  await answersFromBothNodes(port);
});
