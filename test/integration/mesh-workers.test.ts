// `--mesh-workers N`: the routing mesh relays through N processes that share each published
// port's listening socket, to use more cores. Proven by stopping the daemon's own process
// (SIGSTOP): the published port keeps answering through the worker processes alone. They go
// with the daemon, even when it is SIGKILLed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BatonCluster, baton, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { tally } from '../lib/mesh-probe.js';
import { alive } from '../lib/processes.js';

const SERVER = `require('http').createServer((q, s) => s.end(process.env.BATON_TASK_NAME + '\\n')).listen(Number(process.env.BATON_PORT_80_TCP), process.env.BATON_HOST_IP);`;

/** The daemon's child processes running the mesh's worker script. */
function meshWorkerPids(daemonPid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(daemonPid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
  return out.split('\n').filter((l) => l.includes('mesh/worker-process.js')).map((l) => Number.parseInt(l, 10));
}

test('--mesh-workers 3: two worker processes relay the published port on their own, and go with the daemon', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1', ['--mesh-workers', '3']);
  const daemonPid = m1.proc.pid!;
  const port = await freePort();
  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '2', '--publish', `${port}:80`, '--', process.execPath, '-e', SERVER]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.equal(running(tasks(c, 'm1', 'web')).length, 2);
  await waitFor('both replicas answer through the mesh', async () => (await tally('127.0.0.1', port, 6)).answers.size === 2);
  const workers = meshWorkerPids(daemonPid);
  assert.equal(workers.length, 2, `two mesh worker processes: ${workers.join(', ')}`);

  // With the daemon's own process stopped, only the workers can accept and relay.
  process.kill(daemonPid, 'SIGSTOP');
  let served: Awaited<ReturnType<typeof tally>>;
  try {
    served = await tally('127.0.0.1', port, 20);
  } finally {
    process.kill(daemonPid, 'SIGCONT');
  }
  assert.deepEqual(served.failures, [], 'no failed request while the daemon process is stopped');
  assert.equal(served.answers.size, 2, `both replicas answer through the workers: ${[...served.answers.keys()].join(', ')}`);

  await c.kill('m1', 'SIGKILL');
  await waitFor('the mesh workers exit with their daemon', () => workers.every((pid) => !alive(pid)));
});

test('--mesh-workers with a bad value: one error line, nothing started', async () => {
  for (const bad of ['0', '1.5', '1000']) {
    const r = baton(['init', '--data-dir', `/nonexistent/baton-${process.pid}`, '--listen-addr', '127.0.0.1:0', '--mesh-workers', bad]);
    assert.equal(r.code, 1, `--mesh-workers ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /^Error: bad --mesh-workers "[^"]+" \(want a whole number of processes, 1-64\)\n$/);
  }
});
