// The autoscaler end to end on a real daemon with the process runtime: a published service with
// `--autoscale-min 1 --autoscale-max 3 --autoscale-rps 2` goes up while a bounded load loop
// opens connections through the mesh port, and back to 1 once the load stops and the (shortened)
// down window has passed; each decision is in `service inspect --pretty`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonCluster, running, tasks } from '../lib/baton-cluster.js';
import { sleep, waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { tcpProbe } from '../lib/mesh-probe.js';

const SERVER = `
const env = process.env;
require('http').createServer((q, s) => s.end(env.BATON_TASK_NAME + '\\n')).listen(Number(env.BATON_PORT_80_TCP), env.BATON_HOST_IP);
`;

// The daemons inherit these (the launcher passes the test's environment on): decisions every
// second, and down after 6 s of lower recommendations rather than 60.
process.env.BATON_AUTOSCALE_INTERVAL = '1s';
process.env.BATON_AUTOSCALE_DOWN_WINDOW = '6s';

const LOAD_MAX_CONNECTIONS = 1_500;
const LOAD_MAX_MS = 60_000;

test('autoscale: replicas follow new mesh connections, up at once, down after the window', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const port = await freePort();

  const bad = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'bad', '--autoscale-min', '4', '--autoscale-max', '2', '--autoscale-rps', 'x', '--', process.execPath, server]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /2 problems: bad --autoscale-rps "x" \(want a positive number of connections per second per task\); autoscale min 4 is more than autoscale max 2\n/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');

  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--publish', `${port}:80`, '--restart-delay', '200ms',
    '--autoscale-min', '1', '--autoscale-max', '3', '--autoscale-rps', '2', '--', process.execPath, server]);
  assert.equal(create.code, 0, create.stderr);
  await waitFor('1 task running', () => running(tasks(c, 'm1', 'web')).length === 1);
  assert.equal(await tcpProbe('127.0.0.1', port), 'answered');
  const replicas = (): number => Number(/ Replicas:\t(\d+)/.exec(c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout)?.[1] ?? NaN);

  // About 20 connections a second (10x the target of one task), bounded in count and time,
  // until the autoscaler has gone to its max of 3.
  const started = Date.now();
  let sent = 0;
  let reached = false;
  while (sent < LOAD_MAX_CONNECTIONS && Date.now() - started < LOAD_MAX_MS) {
    const batch = await Promise.all(Array.from({ length: 5 }, () => tcpProbe('127.0.0.1', port)));
    sent += batch.length;
    await sleep(250);
    if (sent % 20 === 0 && replicas() === 3) {
      reached = true;
      break;
    }
  }
  // The load ends here, so the down window cannot have started earlier: timed from here, not
  // after the waits below (a CI run spent over a second in them and measured 4.95 s).
  const quiet = Date.now();
  assert.ok(reached, `replicas reached 3 under load (${sent} connections in ${Date.now() - started} ms; now ${replicas()})`);
  await waitFor('3 tasks running', () => running(tasks(c, 'm1', 'web')).length === 3);
  const up = c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout;
  assert.match(up, /Autoscale:\s+min 1, max 3, 2 conn\/s per task; last: \d → 3 at \S+: [\d.]+ conn\/s over \d tasks?/);

  // Load stopped: back to the minimum, but not before the down window.
  await waitFor('back to 1 replica', () => replicas() === 1, { timeoutMs: 40_000 });
  assert.ok(Date.now() - quiet >= 5_000, `down only after the window (took ${Date.now() - quiet} ms)`);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout, /last: \d → 1 at /);

  // A manual scale is done, with a word that the autoscaler may change it.
  const scale = c.cli('m1', ['service', 'scale', '-d', 'web=2']);
  assert.equal(scale.code, 0, scale.stderr);
  assert.match(scale.stdout, /web scaled to 2\nnote: web is autoscaled \(min 1, max 3, 2 conn\/s per task\): the autoscaler may change its replicas/);

  // Turned off: the count stays what it is.
  const off = c.cli('m1', ['service', 'update', '-d', '--autoscale-rps', '0', 'web']);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout, /Autoscale:/);
});
