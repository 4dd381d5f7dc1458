// The docker executor against a real engine and the local busybox image (never a registry):
// published ephemeral ports with httpd and its hostname CGI, env and exit codes through the
// logs, a missing image failing fast, the stop grace period, two nodes sharing one engine,
// adoption by a new executor instance, and removal.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { requireDocker, TEST_IMAGE, TEST_LABELS } from '../lib/docker.js';
import { codeOf, collect as collectLogs, getText, taskSpec } from '../lib/executor.js';
import {
  createDockerExecutor,
  taskName,
  type Executor,
  type LogChunk,
  type TaskRunSpec,
} from '../../worker/executor/index.js';

/** One cluster ID per run, so the after hooks remove exactly what this run created. */
const CLUSTER = `c-e2e-${randomBytes(4).toString('hex')}`;

function spec(over: Partial<TaskRunSpec> = {}): TaskRunSpec {
  return taskSpec(CLUSTER, { runtime: 'docker', image: TEST_IMAGE, ...over });
}

interface Ctx {
  after(fn: () => Promise<void>): void;
  skip(message?: string): void;
  diagnostic(message: string): void;
}

/** The engine (or a skip), and cleanup of every container of this run's cluster. */
async function engine(t: Ctx): Promise<Docker | undefined> {
  const docker = await requireDocker(t);
  if (!docker) return undefined;
  t.after(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`baton.cluster=${CLUSTER}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  });
  return docker;
}

function executor(docker: Docker, nodeId = 'n-a'): Executor {
  return createDockerExecutor({ clusterId: CLUSTER, nodeId, docker, extraLabels: TEST_LABELS });
}

function collect(logs: AsyncIterable<LogChunk>): Promise<{ stdout: string; stderr: string }> {
  return collectLogs(logs, (c) => assert.ok(c.timestamp > Date.now() - 600_000 && c.timestamp < Date.now() + 60_000, 'timestamps come from the engine'));
}

const HTTPD = { command: ['httpd'], args: ['-f', '-p', '80', '-h', '/www'], ports: [{ targetPort: 80, protocol: 'tcp' as const }] };

test('httpd on an ephemeral published port answers, and its hostname is the task name', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const exec = executor(docker);
  assert.equal(await exec.available(), true);
  const s = spec({ ...HTTPD, limits: { nanoCpus: 500_000_000, memoryBytes: 64 * 1024 * 1024 } });
  await exec.prepare(s);
  await exec.prepare(s); // idempotent
  assert.equal((await exec.inspect(s.taskId))?.state, 'created');
  const obs = await exec.start(s.taskId);
  assert.equal(obs.state, 'running');
  const [port] = obs.ports;
  assert.ok(port && port.targetPort === 80 && port.protocol === 'tcp' && port.hostPort > 0, JSON.stringify(obs.ports));
  assert.equal(await getText(`http://127.0.0.1:${port.hostPort}/`), 'ok\n');
  assert.equal((await getText(`http://127.0.0.1:${port.hostPort}/cgi-bin/hostname`)).trim(), taskName(s));

  const info = await docker.getContainer(obs.runtimeId).inspect();
  assert.equal(info.Name, `/baton-${taskName(s)}`);
  const expected = { ...TEST_LABELS, 'baton.cluster': CLUSTER, 'baton.node': 'n-a', 'baton.task': s.taskId, 'baton.service': 'svc1', 'baton.slot': String(s.slot) };
  for (const [k, v] of Object.entries(expected)) assert.equal(info.Config.Labels[k], v, k);
  assert.equal(info.HostConfig.RestartPolicy?.Name, 'no');
  assert.equal(info.HostConfig.Init, true);
  assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
  assert.equal(info.HostConfig.NanoCpus, 500_000_000);
  const bindings = info.HostConfig.PortBindings as Docker.PortMap;
  assert.equal(bindings['80/tcp']?.[0]?.HostIp, '127.0.0.1');

  // busybox httpd dies of SIGTERM at once: well within the grace period.
  const t0 = Date.now();
  await exec.shutdown(s.taskId, 10_000);
  assert.ok(Date.now() - t0 < 5_000);
  const done = await exec.inspect(s.taskId);
  assert.equal(done?.state, 'exited');
  assert.deepEqual(done.ports, []);
  assert.ok(done.startedAt !== undefined && done.finishedAt !== undefined && done.finishedAt >= done.startedAt);
});

test('env, exit code and demultiplexed logs with tail', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const exec = executor(docker);
  const s = spec({ command: ['sh', '-c'], args: ['echo $K; echo err >&2; echo two; pwd; exit 3'], env: ['K=V'], dir: '/www' });
  await exec.prepare(s);
  const started = await exec.start(s.taskId);
  const obs = await exec.wait(s.taskId);
  assert.equal(obs.state, 'exited');
  assert.equal(obs.exitCode, 3);
  assert.equal(obs.runtimeId, started.runtimeId);
  const logs = await collect(exec.logs(s.taskId, { follow: false, tail: 0 }));
  assert.equal(logs.stdout, 'V\ntwo\n/www\n');
  assert.equal(logs.stderr, 'err\n');
  // Following an exited container returns what it wrote and ends.
  assert.equal((await collect(exec.logs(s.taskId, { follow: true, tail: 0 }))).stdout, 'V\ntwo\n/www\n');
});

test('args alone keep the image entrypoint; follow streams until exit', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const exec = executor(docker);
  // The imported image has no entrypoint: args are the whole command line.
  const s = spec({ args: ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.2; done'] });
  await exec.prepare(s);
  await exec.start(s.taskId);
  const followed = await collect(exec.logs(s.taskId, { follow: true, tail: 0 }));
  assert.equal(followed.stdout, 'line 1\nline 2\nline 3\n');
  // (Only stdout here: the engine copies the two streams into its log separately, so which
  // comes last between an stdout and an stderr line written together is a race.)
  assert.equal((await collect(exec.logs(s.taskId, { follow: false, tail: 2 }))).stdout, 'line 2\nline 3\n');
  assert.equal((await exec.wait(s.taskId)).exitCode, 0);
});

test('an image that is not there fails fast with IMAGE_NOT_FOUND', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const exec = executor(docker);
  // A registry on a closed local port: the pull attempt cannot leave the machine.
  const image = '127.0.0.1:9/baton-test/absent:1';
  const t0 = Date.now();
  await assert.rejects(exec.prepare(spec({ image })), (err) => {
    assert.equal(codeOf(err), 'IMAGE_NOT_FOUND');
    assert.match(String(err), /image "127\.0\.0\.1:9\/baton-test\/absent:1" not found/);
    return true;
  });
  assert.ok(Date.now() - t0 < 8_000, 'bounded, not hanging on a pull');
  await assert.rejects(exec.prepare(spec({ image: '' })), (err) => codeOf(err) === 'INVALID_SPEC');
  await assert.rejects(exec.start('nope'), (err) => codeOf(err) === 'NOT_FOUND');
  assert.equal(await exec.inspect('nope'), undefined);
});

test('a program that cannot run: START_FAILED without init, exit 127 with it', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const bare = createDockerExecutor({ clusterId: CLUSTER, nodeId: 'n-a', docker, extraLabels: TEST_LABELS, init: false });
  const s = spec({ command: ['/no/such/program'] });
  await bare.prepare(s);
  await assert.rejects(bare.start(s.taskId), (err) => codeOf(err) === 'START_FAILED' && /no\/such\/program/.test(String(err)));
  assert.equal((await bare.inspect(s.taskId))?.state, 'created');

  // With docker-init as PID 1 the container starts, and init reports the failed exec.
  const exec = executor(docker);
  const s2 = spec({ command: ['/no/such/program'] });
  await exec.prepare(s2);
  await exec.start(s2.taskId);
  const done = await exec.wait(s2.taskId);
  assert.equal(done.exitCode, 127);
  assert.match((await collect(exec.logs(s2.taskId, { follow: false, tail: 0 }))).stderr, /no\/such\/program/);
});

test('shutdown: SIGTERM ignored, SIGKILL after the grace period', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const exec = executor(docker);
  const s = spec({ command: ['sh', '-c'], args: ["trap 'echo term' TERM; echo ready; while true; do sleep 0.1; done"] });
  await exec.prepare(s);
  await exec.start(s.taskId);
  const deadline = Date.now() + 10_000;
  while (!(await collect(exec.logs(s.taskId, { follow: false, tail: 0 }))).stdout.includes('ready')) {
    assert.ok(Date.now() < deadline, 'the trap is set');
    await new Promise((r) => setTimeout(r, 50));
  }
  const waiting = exec.wait(s.taskId);
  const t0 = Date.now();
  await exec.shutdown(s.taskId, 1_000);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 6_000, `killed after the grace period (took ${took} ms)`);
  const done = await waiting;
  assert.equal(done.exitCode, 137);
  assert.match((await collect(exec.logs(s.taskId, { follow: false, tail: 0 }))).stdout, /term/);
  await exec.shutdown(s.taskId, 1_000); // idempotent
  await exec.shutdown('nope', 1_000);
});

test('nodes sharing one engine see only their own containers; a new executor adopts them', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const a = executor(docker, 'n-a');
  const b = executor(docker, 'n-b');
  const sa = spec({ ...HTTPD, nodeId: 'n-a' });
  const sb = spec({ ...HTTPD, nodeId: 'n-b' });
  await a.prepare(sa);
  await b.prepare(sb);
  await a.start(sa.taskId);
  await b.start(sb.taskId);
  await assert.rejects(a.prepare(sb), (err) => codeOf(err) === 'INVALID_SPEC', 'a spec for another node');

  assert.deepEqual((await a.list()).map((o) => o.taskId), [sa.taskId]);
  assert.deepEqual((await b.list()).map((o) => o.taskId), [sb.taskId]);
  assert.equal(await a.inspect(sb.taskId), undefined);
  await a.remove(sb.taskId);
  await a.shutdown(sb.taskId, 0);
  assert.equal((await b.inspect(sb.taskId))?.state, 'running', "node A cannot touch node B's task");

  // A restarted worker of node A: a fresh executor with nothing in memory.
  const again = executor(docker, 'n-a');
  const [adopted] = await again.list();
  assert.equal(adopted?.taskId, sa.taskId);
  assert.equal(adopted.state, 'running');
  const hostPort = adopted.ports[0]?.hostPort;
  assert.equal(await getText(`http://127.0.0.1:${hostPort}/`), 'ok\n');
  const waiting = again.wait(sa.taskId);
  await again.shutdown(sa.taskId, 5_000);
  const done = await waiting;
  assert.equal(done.state, 'exited');
  assert.equal(done.exitCode, 143, 'httpd killed by SIGTERM');

  await again.remove(sa.taskId);
  await again.remove(sa.taskId); // idempotent
  assert.equal(await again.inspect(sa.taskId), undefined);
  assert.deepEqual(await again.list(), []);
  await assert.rejects(docker.getContainer(adopted.runtimeId).inspect(), 'the container is gone');
  // remove also takes a running container
  await b.remove(sb.taskId);
  assert.deepEqual(await b.list(), []);
});

test('an unreachable engine: not available, and RUNTIME_UNAVAILABLE rather than a task error', async () => {
  // Needs no engine: the point is one that is not there.
  const docker = new Docker({ socketPath: '/nonexistent/docker.sock' });
  const exec = createDockerExecutor({ clusterId: CLUSTER, nodeId: 'n-a', docker });
  assert.equal(await exec.available(), false);
  await assert.rejects(exec.prepare(spec()), (err) => codeOf(err) === 'RUNTIME_UNAVAILABLE');
  await assert.rejects(exec.list(), (err) => codeOf(err) === 'RUNTIME_UNAVAILABLE');
  await assert.rejects(exec.inspect('t'), (err) => codeOf(err) === 'RUNTIME_UNAVAILABLE');
});
