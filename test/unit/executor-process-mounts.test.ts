// Mounts on the process runtime (worker/executor/process-mounts.ts): each a directory of the node
// told as BATON_MOUNT_<TARGET>; a named volume kept across tasks, a tmpfs and an anonymous
// volume the task's own and gone with it, a bind its source (which must exist).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessExecutor, ExecutorError, type TaskRunSpec } from '../../worker/executor/index.js';
import { collect, taskSpec } from '../lib/executor.js';

const CLUSTER = 'c-proc-mounts';
const NODE = 'n-a';

test('process mounts: BATON_MOUNT_<TARGET> directories; a named volume outlives its task, tmpfs and anonymous ones do not', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'baton-proc-mounts-'));
  const tmpfsDir = join(root, 'shm');
  const exec = createProcessExecutor({ clusterId: CLUSTER, nodeId: NODE, stateDir: join(root, 'state'), volumesDir: join(root, 'volumes'), tmpfsDir });
  t.after(async () => {
    for (const task of await exec.list()) await exec.remove(task.taskId);
    await rm(root, { recursive: true, force: true });
  });
  const bindSource = await mkdtemp(join(root, 'bind-'));
  const mounts: TaskRunSpec['mounts'] = [
    { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: false },
    { type: 'volume', source: '', target: '/anon', readOnly: false },
    { type: 'bind', source: bindSource, target: '/srv', readOnly: true },
    { type: 'tmpfs', source: '', target: '/cache', readOnly: false, tmpfsMode: 0o700 },
  ];
  // Each run appends a line to the volume and prints what it found there and its variables.
  const script = `const fs = require('fs'); const e = process.env;
    const file = e.BATON_MOUNT_VAR_LIB_DATA + '/log';
    const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    fs.appendFileSync(file, e.BATON_TASK_ID + '\\n');
    fs.writeFileSync(e.BATON_MOUNT_CACHE + '/x', 'y');
    console.log(JSON.stringify({ before, anon: e.BATON_MOUNT_ANON, srv: e.BATON_MOUNT_SRV, cache: e.BATON_MOUNT_CACHE }));`;
  const runOnce = async (): Promise<{ id: string; out: { before: string; anon: string; srv: string; cache: string } }> => {
    const s = taskSpec(CLUSTER, { nodeId: NODE, runtime: 'process', command: [process.execPath, '-e', script], mounts });
    await exec.prepare(s);
    await exec.start(s.taskId);
    const obs = await exec.wait(s.taskId);
    const logs = await collect(exec.logs(s.taskId, { follow: false, tail: 0 }));
    assert.equal(obs.exitCode, 0, logs.stderr);
    return { id: s.taskId, out: JSON.parse(logs.stdout) as { before: string; anon: string; srv: string; cache: string } };
  };

  const first = await runOnce();
  assert.equal(first.out.before, '', 'a new volume is empty');
  assert.equal(first.out.srv, bindSource, 'a bind is its source path');
  assert.ok(first.out.cache.startsWith(join(tmpfsDir, first.id)), first.out.cache);
  assert.equal(statSync(first.out.cache).mode & 0o7777, 0o700, 'the tmpfs mode applies');
  assert.ok(existsSync(first.out.anon));
  await exec.remove(first.id);
  assert.equal(existsSync(first.out.cache), false, 'a tmpfs goes with its task');
  assert.equal(existsSync(first.out.anon), false, 'an anonymous volume goes with its task');

  const second = await runOnce();
  assert.equal(second.out.before, `${first.id}\n`, 'the next task on the node finds what the first wrote');
  assert.equal(readFileSync(join(root, 'volumes', 'data', 'log'), 'utf8'), `${first.id}\n${second.id}\n`);
});

test('process mounts: a missing bind source fails the start in Docker\'s words; two targets of one variable are refused', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'baton-proc-mounts-'));
  const exec = createProcessExecutor({ clusterId: CLUSTER, nodeId: NODE, stateDir: join(root, 'state'), tmpfsDir: join(root, 'shm') });
  t.after(async () => {
    for (const task of await exec.list()) await exec.remove(task.taskId);
    await rm(root, { recursive: true, force: true });
  });
  const missing = join(root, 'nowhere');
  const s = taskSpec(CLUSTER, { nodeId: NODE, runtime: 'process', command: [process.execPath, '-e', ''], mounts: [{ type: 'bind', source: missing, target: '/x', readOnly: false }] });
  await exec.prepare(s);
  await assert.rejects(exec.start(s.taskId), (err: unknown) => err instanceof ExecutorError && err.message === `task ${s.taskId}: bind source path does not exist: ${missing}`);
  const clash = taskSpec(CLUSTER, {
    nodeId: NODE,
    runtime: 'process',
    command: [process.execPath, '-e', ''],
    mounts: [
      { type: 'tmpfs', source: '', target: '/a-b', readOnly: false },
      { type: 'tmpfs', source: '', target: '/a_b', readOnly: false },
    ],
  });
  await assert.rejects(exec.prepare(clash), /mounts \/a-b and \/a_b would both be BATON_MOUNT_A_B/);
});
