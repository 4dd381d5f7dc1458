// The process executor on real processes (`node -e` scripts): ports through $PORT, env, exit
// codes, logs with tail and follow, the stop grace period, process groups, and adoption by a
// new executor after the one that started a task is gone (a real separate process, as a
// restarted worker would be).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ADOPTED_EXIT_UNKNOWN,
  createProcessExecutor,
  type Executor,
  type TaskRunSpec,
} from '../../worker/executor/index.js';
import { alive } from '../lib/processes.js';
import { codeOf, collect, getText, taskSpec } from '../lib/executor.js';
import { waitFor } from '../lib/wait.js';

const CLUSTER = 'c-proc-test';
const NODE = 'n-a';

function spec(script: string, over: Partial<TaskRunSpec> = {}): TaskRunSpec {
  return taskSpec(CLUSTER, { nodeId: NODE, runtime: 'process', command: [process.execPath, '-e', script], ...over });
}

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ exec: Executor; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'baton-exec-proc-'));
  const exec = createProcessExecutor({ clusterId: CLUSTER, nodeId: NODE, stateDir });
  t.after(async () => {
    // Kill whatever a failed test left running before its files go.
    for (const task of await exec.list()) await exec.remove(task.taskId);
    await rm(stateDir, { recursive: true, force: true });
  });
  return { exec, stateDir };
}

async function run(exec: Executor, s: TaskRunSpec): Promise<void> {
  await exec.prepare(s);
  await exec.start(s.taskId);
}

/** Polls until the task's stdout holds `text` (a script says it is ready this way). */
async function untilLogged(exec: Executor, taskId: string, text: string, ms = 10_000): Promise<void> {
  await waitFor(`task ${taskId} to log ${JSON.stringify(text)}`, async () => (await collect(exec.logs(taskId, { follow: false, tail: 0 }))).stdout.includes(text), { timeoutMs: ms, intervalMs: 25 });
}

/** Prepares and starts a task running `script`, and waits until it logs `text` (its way of saying it is set up). */
async function startedUntil(exec: Executor, text: string, script: string): Promise<TaskRunSpec> {
  const s = spec(script);
  await run(exec, s);
  await untilLogged(exec, s.taskId, text);
  return s;
}

test('an HTTP server gets its host port through $PORT and the task env', async (t) => {
  const { exec } = await setup(t);
  const s = spec(
    "require('http').createServer((q, r) => r.end('ok ' + process.env.BATON_TASK_NAME + ' ' + process.env.BATON_PORT_8080))" +
      ".listen(+process.env.PORT, '127.0.0.1')",
    { ports: [{ targetPort: 8080, protocol: 'tcp' }] },
  );
  await exec.prepare(s);
  const before = await exec.inspect(s.taskId);
  assert.equal(before?.state, 'created');
  const obs = await exec.start(s.taskId);
  assert.equal(obs.state, 'running');
  assert.ok(Number(obs.runtimeId) > 0);
  const [port] = obs.ports;
  assert.ok(port && port.targetPort === 8080 && port.protocol === 'tcp' && port.hostPort > 0);
  assert.equal(await getText(`http://127.0.0.1:${port.hostPort}/`), `ok web.${s.slot}.${s.taskId} ${port.hostPort}`);

  const t0 = Date.now();
  await exec.shutdown(s.taskId, 5_000);
  assert.ok(Date.now() - t0 < 4_000, 'SIGTERM ends a default node process at once');
  const done = await exec.inspect(s.taskId);
  assert.equal(done?.state, 'exited');
  assert.equal(done.exitCode, 143, '128 + SIGTERM');
  assert.deepEqual(done.ports, []);
  assert.ok(done.startedAt !== undefined && done.finishedAt !== undefined && done.finishedAt >= done.startedAt);
});

test('env reaches the process, the exit code is recorded, stdout and stderr are kept apart', async (t) => {
  const { exec, stateDir } = await setup(t);
  const s = spec("console.log(process.env.K); console.error('E ' + process.cwd()); process.exit(3)", { env: ['K=V', 'PATH=/nowhere:/usr/bin:/bin'] });
  await run(exec, s);
  const obs = await exec.wait(s.taskId);
  assert.equal(obs.state, 'exited');
  assert.equal(obs.exitCode, 3);
  assert.equal(obs.error, undefined);
  const logs = await collect(exec.logs(s.taskId, { follow: false, tail: 0 }));
  assert.equal(logs.stdout, 'V\n');
  assert.equal(logs.stderr, `E ${join(stateDir, s.taskId, 'work')}\n`, 'default cwd is the per-task directory');
  // wait again on an exited task returns at once, with the same facts
  assert.equal((await exec.wait(s.taskId)).exitCode, 3);
  // start of an exited task does not run it again
  assert.equal((await exec.start(s.taskId)).state, 'exited');
});

test('working directory and a follow of a task that exits on its own', async (t) => {
  const { exec } = await setup(t);
  const dir = tmpdir();
  const s = spec("setTimeout(() => { console.log(process.cwd()); }, 300)", { dir });
  await run(exec, s);
  const logs = await collect(exec.logs(s.taskId, { follow: true, tail: 0 }));
  assert.equal(logs.stdout, `${dir}\n`);
  assert.equal((await exec.inspect(s.taskId))?.exitCode, 0);
});

test('logs: tail, then follow until the task exits', async (t) => {
  const { exec, stateDir } = await setup(t);
  const go = join(stateDir, 'go');
  const s = spec(
    `for (let i = 1; i <= 5; i++) console.log('line ' + i);
     const timer = setInterval(() => {
       if (!require('fs').existsSync(${JSON.stringify(go)})) return;
       clearInterval(timer);
       for (let i = 6; i <= 8; i++) console.log('line ' + i);
       process.stderr.write('no newline at the end');
     }, 20);`,
  );
  await run(exec, s);
  await untilLogged(exec, s.taskId, 'line 5\n');

  const tail = await collect(exec.logs(s.taskId, { follow: false, tail: 2 }));
  assert.equal(tail.stdout, 'line 4\nline 5\n');
  const all = await collect(exec.logs(s.taskId, { follow: false, tail: 0 }));
  assert.equal(all.stdout, [1, 2, 3, 4, 5].map((i) => `line ${i}\n`).join(''));

  const lines: string[] = [];
  let stderr = '';
  for await (const c of exec.logs(s.taskId, { follow: true, tail: 1 })) {
    const text = Buffer.from(c.data).toString('utf8');
    assert.ok(c.timestamp > 0);
    if (c.stream === 'stderr') {
      stderr += text;
      continue;
    }
    lines.push(text);
    // Only now may the task go on: whatever it writes next must arrive through the follow.
    if (lines.length === 1) await writeFile(go, '');
  }
  assert.deepEqual(lines, ['line 5\n', 'line 6\n', 'line 7\n', 'line 8\n']);
  assert.equal(stderr, 'no newline at the end');
  assert.equal((await exec.inspect(s.taskId))?.exitCode, 0);
});

test('shutdown: SIGTERM ignored means SIGKILL after the grace period; a polite process stops at once', async (t) => {
  const { exec } = await setup(t);
  const stubborn = await startedUntil(exec, 'ready', "process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000)");
  const t0 = Date.now();
  await exec.shutdown(stubborn.taskId, 700);
  const took = Date.now() - t0;
  assert.ok(took >= 650 && took < 5_000, `killed after the grace period (took ${took} ms)`);
  const killed = await exec.inspect(stubborn.taskId);
  assert.equal(killed?.state, 'exited');
  assert.equal(killed.exitCode, 137, '128 + SIGKILL');
  assert.match((await collect(exec.logs(stubborn.taskId, { follow: false, tail: 0 }))).stdout, /ignored/);
  await exec.shutdown(stubborn.taskId, 700); // idempotent on an exited task

  const polite = await startedUntil(exec, 'ready', "process.on('SIGTERM', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000)");
  const t1 = Date.now();
  await exec.shutdown(polite.taskId, 10_000);
  assert.ok(Date.now() - t1 < 5_000);
  assert.equal((await exec.inspect(polite.taskId))?.exitCode, 0);
});

test('shutdown reaches the whole process group', async (t) => {
  const { exec } = await setup(t);
  const s = await startedUntil(exec, 'child ', "const c = require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' }); console.log('child ' + c.pid); setInterval(() => {}, 1000)");
  const { stdout } = await collect(exec.logs(s.taskId, { follow: false, tail: 0 }));
  const grandchild = Number(/child (\d+)/.exec(stdout)?.[1]);
  assert.ok(alive(grandchild));
  await exec.shutdown(s.taskId, 2_000);
  const deadline = Date.now() + 5_000;
  while (alive(grandchild) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!alive(grandchild), 'the forked sleep died with the task');
});

test('adoption: a new executor lists, waits for and stops a task another worker process started', async (t) => {
  const { exec: _first, stateDir } = await setup(t);
  const s = spec("process.on('SIGTERM', () => process.exit(7)); console.log('ready'); setInterval(() => {}, 1000)", {
    ports: [{ targetPort: 80, protocol: 'tcp' }],
  });
  // The first worker: its own Node process, which prepares and starts the task, then exits.
  const index = fileURLToPath(new URL('../../worker/executor/index.js', import.meta.url));
  const script = `
    const { createProcessExecutor } = await import(${JSON.stringify(index)});
    const exec = createProcessExecutor({ clusterId: ${JSON.stringify(CLUSTER)}, nodeId: ${JSON.stringify(NODE)}, stateDir: ${JSON.stringify(stateDir)} });
    const spec = JSON.parse(process.argv[1]);
    await exec.prepare(spec);
    console.log(JSON.stringify(await exec.start(spec.taskId)));`;
  const worker = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(s)], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(worker.status, 0, worker.stderr);
  const started = JSON.parse(worker.stdout) as { runtimeId: string; ports: unknown[] };

  const exec = createProcessExecutor({ clusterId: CLUSTER, nodeId: NODE, stateDir });
  const listed = await exec.list();
  const mine = listed.find((o) => o.taskId === s.taskId);
  assert.equal(mine?.state, 'running');
  assert.equal(mine.runtimeId, started.runtimeId);
  assert.deepEqual(mine.ports, started.ports);
  await untilLogged(exec, s.taskId, 'ready');

  // Another node sharing the state dir sees none of it, and cannot touch it.
  const other = createProcessExecutor({ clusterId: CLUSTER, nodeId: 'n-b', stateDir });
  assert.deepEqual(await other.list(), []);
  assert.equal(await other.inspect(s.taskId), undefined);
  await other.remove(s.taskId);
  await other.shutdown(s.taskId, 0);
  assert.equal((await exec.inspect(s.taskId))?.state, 'running');

  const waiting = exec.wait(s.taskId);
  await exec.shutdown(s.taskId, 5_000);
  const done = await waiting;
  assert.equal(done.state, 'exited');
  assert.equal(done.exitCode, undefined, 'only the spawning process can know the exit code');
  assert.equal(done.error, ADOPTED_EXIT_UNKNOWN);
  assert.ok(!alive(Number(started.runtimeId)));
  // What was observed is kept: a third executor reports the same.
  const third = createProcessExecutor({ clusterId: CLUSTER, nodeId: NODE, stateDir });
  assert.equal((await third.inspect(s.taskId))?.error, ADOPTED_EXIT_UNKNOWN);
});

test('a recycled pid is not mistaken for the task', async (t) => {
  const { exec, stateDir } = await setup(t);
  const s = spec('');
  await exec.prepare(s);
  // Forge the record of a task "running" as this very test process, but started at another time.
  const file = join(stateDir, s.taskId, 'task.json');
  const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...record, state: 'running', pid: process.pid, procStart: '1', startedAt: Date.now() }));
  const obs = await exec.inspect(s.taskId);
  assert.equal(obs?.state, 'exited');
  assert.equal(obs.error, ADOPTED_EXIT_UNKNOWN);
  await exec.shutdown(s.taskId, 0); // must not signal this test process
});

test('remove kills and forgets; errors carry codes', async (t) => {
  const { exec, stateDir } = await setup(t);
  const s = spec('setInterval(() => {}, 1000)');
  await exec.prepare(s);
  await exec.prepare(s); // idempotent
  // Two starts at once run the task once.
  const [first, second] = await Promise.all([exec.start(s.taskId), exec.start(s.taskId)]);
  const { runtimeId } = first;
  assert.equal(second.runtimeId, runtimeId);
  await exec.remove(s.taskId);
  assert.ok(!alive(Number(runtimeId)));
  assert.equal(existsSync(join(stateDir, s.taskId)), false);
  assert.equal(await exec.inspect(s.taskId), undefined);
  await exec.remove(s.taskId); // idempotent
  await exec.shutdown(s.taskId, 0);

  await assert.rejects(exec.start('nope'), (err) => codeOf(err) === 'NOT_FOUND');
  await assert.rejects(exec.wait('nope'), (err) => codeOf(err) === 'NOT_FOUND');
  await assert.rejects(collect(exec.logs('nope', { follow: false, tail: 0 })), (err) => codeOf(err) === 'NOT_FOUND');
  await assert.rejects(exec.prepare(spec('', { command: [] })), (err) => codeOf(err) === 'INVALID_SPEC');
  await assert.rejects(exec.prepare(spec('', { taskId: '../evil' })), (err) => codeOf(err) === 'INVALID_SPEC');
  await assert.rejects(exec.prepare(spec('', { dir: 'relative' })), (err) => codeOf(err) === 'INVALID_SPEC');
  await assert.rejects(exec.prepare(spec('', { nodeId: 'n-other' })), (err) => codeOf(err) === 'INVALID_SPEC');

  const missing = spec('', { command: ['/no/such/program'] });
  await exec.prepare(missing);
  await assert.rejects(exec.start(missing.taskId), (err) => codeOf(err) === 'START_FAILED' && /ENOENT/.test(String(err)));
  const noDir = spec('', { dir: '/no/such/dir' });
  await exec.prepare(noDir);
  await assert.rejects(exec.start(noDir.taskId), (err) => codeOf(err) === 'START_FAILED' && /\/no\/such\/dir/.test(String(err)));
  assert.equal(await exec.available(), true);
});

test('--stop-signal: the task gets that signal at shutdown; --user UID:GID runs it as that user', async (t) => {
  const { exec } = await setup(t);
  const s = spec("process.on('SIGUSR2', () => { console.log('got SIGUSR2'); process.exit(0); }); process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(1); }); console.log('ready'); setInterval(() => {}, 1000);", { options: { stopSignal: 'usr2' } });
  await run(exec, s);
  await untilLogged(exec, s.taskId, 'ready');
  await exec.shutdown(s.taskId, 5_000);
  assert.equal((await exec.wait(s.taskId)).exitCode, 0);
  assert.match((await collect(exec.logs(s.taskId, { follow: false, tail: 0 }))).stdout, /got SIGUSR2/);
  await assert.rejects(exec.prepare(spec('1', { options: { hostname: 'h', readOnly: true } })), /the process runtime cannot honour hostname, readOnly/);
  if (process.getuid?.() !== 0) return t.diagnostic('not root: cannot run a task as another user here');
  const u = spec("console.log(`ids ${process.getuid()}:${process.getgid()} in ${process.cwd()}`)", { options: { user: '1000:1001' } });
  await run(exec, u);
  assert.equal((await exec.wait(u.taskId)).exitCode, 0);
  assert.match((await collect(exec.logs(u.taskId, { follow: false, tail: 0 }))).stdout, /ids 1000:1001 in \/$/m);
});
