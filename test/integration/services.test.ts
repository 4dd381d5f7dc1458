// Services end to end with the process runtime (no Docker needed): the same path a Docker
// service takes — control API, orchestrator, scheduler, dispatcher session, agent, executor.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, nodeIdOf, nodes, running, tasks, scaleAndKillLeader } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { alive } from '../lib/processes.js';

// A tiny HTTP server that answers with its task name, on the port the executor gives it.
const SERVER = `require('http').createServer((q, s) => s.end(process.env.TASK + '\\n')).listen(process.env.PORT, '127.0.0.1')`;

test('a process-runtime service is created, spread, scaled, healed and removed', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);

  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'echo', '--replicas', '2', '--publish', '80', '--env', 'TASK=echo',
    '--restart-delay', '200ms', '--', process.execPath, '-e', SERVER,
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.match(create.stdout, /verify: Waiting 5 seconds to verify that tasks are stable\.\.\.\nverify: Service converged/);
  const ls = c.cli('m1', ['service', 'ls']);
  assert.match(ls.stdout, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS/);
  assert.match(ls.stdout, /echo\s+replicated\s+2\/2/);
  let ts = running(tasks(c, 'm1', 'echo'));
  assert.equal(ts.length, 2);
  assert.equal(new Set(ts.map((x) => x.node)).size, 2, 'the two replicas are spread over both nodes');
  for (const task of ts) {
    const res = await fetch(`http://127.0.0.1:${task.hostPort}/`);
    assert.equal(await res.text(), 'echo\n');
  }

  const scale = c.cli('m1', ['service', 'scale', 'echo=4']);
  assert.equal(scale.code, 0, scale.stderr);
  ts = running(tasks(c, 'm1', 'echo'));
  assert.equal(ts.length, 4);
  assert.deepEqual(ts.map((x) => x.name).sort(), ['echo.1', 'echo.2', 'echo.3', 'echo.4']);

  // Kill one task's process: the restart policy replaces it, and ps keeps the failed one.
  const victim = ts.find((x) => x.node === w1)!;
  process.kill(Number(victim.containerId), 'SIGKILL');
  await waitFor('a replacement runs and the killed task is shown failed', () => {
    const all = tasks(c, 'm1', 'echo');
    const old = all.find((x) => x.id === victim.id);
    return running(all).length === 4 && old?.state === 'TASK_FAILED' && old.desired === 'TASK_SHUTDOWN';
  });

  const down = c.cli('m1', ['service', 'scale', 'echo=1']);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(running(tasks(c, 'm1', 'echo')).length, 1);

  const pids = running(tasks(c, 'm1', 'echo')).map((x) => Number(x.containerId));
  assert.equal(c.cli('m1', ['service', 'rm', 'echo']).code, 0);
  await waitFor('every task process has exited', () => pids.every((pid) => !alive(pid)));
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim(), '', 'the service is gone');
});

test('service create refuses bad input with one line and creates nothing', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const bad = (args: string[], pattern: RegExp): void => {
    const r = c.cli('m1', ['service', 'create', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /^Error: [^\n]+\n$/);
    assert.match(r.stderr, pattern);
  };
  bad(['--name', 'x', '--replicas', '-1', 'local/busybox:1'], /replicas/);
  bad(['--name', 'x', '--publish', '99999:80', 'local/busybox:1'], /port/);
  bad(['--name', 'x', '--publish', 'nonsense', 'local/busybox:1'], /publish/);
  bad(['--name', 'x', '--constraint', 'node.colour=blue', 'local/busybox:1'], /constraint/);
  bad(['--name', 'x', '--frobnicate', 'local/busybox:1'], /Unknown argument/);
  bad(['--name', 'bad name!', 'local/busybox:1'], /invalid service name/);
  bad(['--name', 'x'], /image is required/);
  assert.equal(c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'twice', '--', 'sleep', '100']).code, 0);
  bad(['--runtime', 'process', '--name', 'twice', '--', 'sleep', '100'], /already exists|taken|in use/);
  const ls = c.cli('m1', ['service', 'ls', '-q']);
  assert.equal(ls.stdout.trim().split('\n').filter(Boolean).length, 1, 'only the valid service exists');
});

test('SIGKILL of the leader while scaling 10 -> 30: the new leader completes it, exactly 30 tasks, one per slot', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(3, 1);
  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'sleepy', '--replicas', '10', '--', 'sleep', '100000']);
  assert.equal(create.code, 0, create.stderr);
  const { survivor } = await scaleAndKillLeader(c, 'm2', 'sleepy', 30, 60_000);
  const wanted = tasks(c, survivor, 'sleepy').filter((x) => x.desired === 'TASK_RUNNING');
  assert.equal(wanted.length, 30, 'no extra task is wanted in any slot');
});

test('service logs gathers every task output from the nodes that run them', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  await c.join('w1', 'worker', 'm1');
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);
  const script = `console.log('one ' + process.env.BATON_TASK_SLOT); console.log('two'); console.error('oops'); setInterval(() => {}, 1000)`;
  assert.equal(c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'talk', '--replicas', '2', '--', process.execPath, '-e', script]).code, 0);
  await waitFor('both replicas wrote their lines', () => (c.cli('m1', ['service', 'logs', 'talk']).stdout.match(/\| two$/gm) ?? []).length === 2);
  const all = c.cli('m1', ['service', 'logs', 'talk']);
  assert.equal(all.code, 0, all.stderr);
  const ids = tasks(c, 'm1', 'talk').map((x) => `${x.name}.${x.id}`);
  for (const id of ids) {
    assert.match(all.stdout, new RegExp(`^${id.replace(/\./g, '\\.')}@\\S+ \\| one \\d$`, 'm'), 'each line is prefixed with its task');
  }
  assert.equal((all.stderr.match(/\| oops$/gm) ?? []).length, 2, 'stderr lines go to stderr');
  const tail = c.cli('m1', ['service', 'logs', '--tail', '1', 'talk']);
  assert.equal((tail.stdout.match(/\| /g) ?? []).length, 2, 'one stdout line per task with --tail 1');
  assert.match(tail.stdout, /\| two$/m);
  const missing = c.cli('m1', ['service', 'logs', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: .*not found.*\n$/i);
});

test('global services run one task per eligible node; drain moves replicated tasks off a node', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = nodeIdOf(await c.init('m1'));
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);
  assert.equal(c.cli('m1', ['service', 'create', '--runtime', 'process', '--mode', 'global', '--name', 'everywhere', '--', 'sleep', '100000']).code, 0);
  assert.equal(c.cli('m1', ['service', 'create', '--runtime', 'process', '--replicas', '2', '--name', 'pair', '--', 'sleep', '100000']).code, 0);
  let global = running(tasks(c, 'm1', 'everywhere'));
  assert.deepEqual(global.map((x) => x.node).sort(), [m1, w1].sort(), 'one global task on each node');
  assert.equal(new Set(running(tasks(c, 'm1', 'pair')).map((x) => x.node)).size, 2);
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /everywhere\s+global\s+2\/2/);

  assert.equal(c.cli('m1', ['node', 'update', '--availability', 'drain', w1]).code, 0);
  await waitFor('nothing left running on the drained node', () => {
    const pair = running(tasks(c, 'm1', 'pair'));
    global = running(tasks(c, 'm1', 'everywhere'));
    return pair.length === 2 && pair.every((x) => x.node === m1) && global.length === 1 && global[0]!.node === m1;
  });
  assert.equal(c.cli('m1', ['node', 'update', '--availability', 'active', w1]).code, 0);
  await waitFor('the global service comes back to the reactivated node', () => running(tasks(c, 'm1', 'everywhere')).length === 2);
});
