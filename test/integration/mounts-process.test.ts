// Mounts of a process-runtime service in a cluster: the task is told its directories as
// BATON_MOUNT_<TARGET>; a named volume is a directory of the node's data dir kept across tasks,
// so the task that replaces a killed one on the node reads what the first wrote.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatonCluster, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

// Appends its task id to the volume's file, says what it found, then waits.
const SCRIPT = `const fs = require('fs'); const f = process.env.BATON_MOUNT_DATA + '/ids';
  const before = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
  fs.appendFileSync(f, process.env.BATON_TASK_ID + '\\n');
  fs.writeFileSync(process.env.BATON_MOUNT_SCRATCH + '/x', before);
  setInterval(() => {}, 1e9);`;

test('process runtime: a named volume survives its task on the node; tmpfs is a directory of the task\'s own', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'keeper', '--restart-delay', '200ms',
    '--mount', 'source=state,target=/data', '--mount', 'type=tmpfs,target=/scratch',
    '--', process.execPath, '-e', SCRIPT,
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const [first] = running(tasks(c, 'm1', 'keeper'));
  assert.ok(first);
  const file = join(c.dataDir('m1'), 'volumes', 'state', 'ids');
  await waitFor('the first task wrote to its volume', () => existsSync(file) && readFileSync(file, 'utf8') === `${first.id}\n`);

  process.kill(Number(first.containerId), 'SIGKILL');
  await waitFor('a replacement runs', () => running(tasks(c, 'm1', 'keeper')).some((x) => x.id !== first.id));
  const [second] = running(tasks(c, 'm1', 'keeper'));
  await waitFor('the replacement appended to the same volume', () => readFileSync(file, 'utf8') === `${first.id}\n${second!.id}\n`);
  // The tmpfs: a directory of the task's own in memory, told to it (read from its environment).
  const environ = readFileSync(`/proc/${second!.containerId}/environ`, 'utf8').split('\0');
  const scratch = environ.find((e) => e.startsWith('BATON_MOUNT_SCRATCH='))?.slice('BATON_MOUNT_SCRATCH='.length) ?? '';
  assert.ok(scratch.startsWith(`/dev/shm/baton-tmpfs/${second!.id}/`), scratch);
  await waitFor('the replacement found the first task\'s id in the volume', () => existsSync(join(scratch, 'x')) && readFileSync(join(scratch, 'x'), 'utf8') === `${first.id}\n`);
  assert.equal(c.cli('m1', ['service', 'rm', 'keeper']).code, 0);
});
