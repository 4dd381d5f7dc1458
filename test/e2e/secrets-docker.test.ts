// Secrets and configs in real containers: a secret at /run/secrets/<target> and a config at its
// target path, read from inside the container (docker exec, not its logs: the engine keeps logs
// on disk), mounted read-only from the node's memory-backed directory, gone with the task.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { BATON, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { demuxLogs, requireDocker, TEST_IMAGE, dockerCluster, dockerOffered } from '../lib/docker.js';

async function exec(docker: Docker, containerId: string, cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const e = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({});
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const { ExitCode } = await e.inspect();
  return { code: ExitCode ?? -1, ...demuxLogs(Buffer.concat(chunks)) };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

test('a container reads its secret at /run/secrets and its config at the target path; read-only, memory-backed, removed with the task', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await dockerOffered(c);

  const value = randomBytes(32).toString('hex');
  const input = (args: string[], data: string): void => {
    const r = spawnSync(process.execPath, [BATON, ...args.slice(0, 2), '--data-dir', c.dataDir('m1'), ...args.slice(2)], { input: data, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  input(['secret', 'create', 'db_password', '-'], value);
  input(['config', 'create', 'app.conf', '-'], 'listen 8080\n');

  const create = c.cli('m1', [
    'service', 'create', '--name', 'app', '--secret', 'db_password', '--secret', 'source=db_password,target=copy,mode=0400',
    '--config', 'source=app.conf,target=/etc/app/app.conf', TEST_IMAGE, 'sleep', '3600',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const [task] = running(tasks(c, 'm1', 'app'));
  assert.ok(task, 'the task runs');
  const id = task.containerId;

  assert.deepEqual(await exec(docker, id, ['cat', '/run/secrets/db_password']), { code: 0, stdout: value, stderr: '' });
  assert.equal((await exec(docker, id, ['cat', '/run/secrets/copy'])).stdout, value, 'a second target of the same secret');
  assert.equal((await exec(docker, id, ['stat', '-c', '%a', '/run/secrets/copy'])).stdout.trim(), '400', 'with the mode asked for');
  assert.equal((await exec(docker, id, ['stat', '-c', '%a', '/run/secrets/db_password'])).stdout.trim(), '444', "Docker's default mode");
  assert.equal((await exec(docker, id, ['cat', '/etc/app/app.conf'])).stdout, 'listen 8080\n', 'the config at its target');
  const write = await exec(docker, id, ['sh', '-c', 'echo changed > /run/secrets/db_password']);
  assert.notEqual(write.code, 0, 'the secret is mounted read-only');

  const info = await docker.getContainer(id).inspect();
  const mounts = info.Mounts.filter((m) => m.Destination.startsWith('/run/secrets/') || m.Destination === '/etc/app/app.conf');
  assert.equal(mounts.length, 3);
  const taskDir = `/dev/shm/baton-${m1}/${task.id}`;
  for (const m of mounts) {
    assert.ok(m.Source.startsWith(`${taskDir}/`), `${m.Destination} comes from the memory-backed task dir, not ${m.Source}`);
    assert.equal(m.RW, false);
  }
  assert.ok(!JSON.stringify(info).includes(value), 'the container spec does not carry the secret');
  const leaked = filesUnder(c.root).filter((f) => statSync(f).size > 0 && readFileSync(f).includes(value));
  assert.deepEqual(leaked, [], 'the secret is nowhere in clear under the data dir (Raft log, agent DB) or the log');

  assert.equal(c.cli('m1', ['service', 'rm', 'app']).code, 0);
  await waitFor('the container and the task\'s secret files are gone', async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`baton.task=${task.id}`] } });
    return left.length === 0 && !existsSync(taskDir);
  });
});
