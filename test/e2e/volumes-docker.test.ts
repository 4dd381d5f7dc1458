// `baton volume` on real Docker: a service's container volume is listed with its node and
// inspected as Docker's; removing it is refused while the container uses it, naming the task;
// after `service rm` it goes, from `ls` and from the engine; a volume of the engine that baton did
// not make is neither listed nor removable; a killed node is a warning of `ls`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { listedObjects, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, TEST_IMAGE, TEST_LABELS, requireTestImage } from '../lib/docker.js';

test('volume ls/inspect/rm on Docker: a container volume of baton, in use then removed; a foreign volume untouched', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await c.join('w1', 'worker', 'm1');
  await waitFor('the manager offers docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { meta: { id: string }; description: { runtimes: string[] } }[];
    return list.length === 2 && (list.find((n) => n.meta.id === m1)?.description.runtimes.includes('docker') ?? false);
  });
  const suffix = randomBytes(4).toString('hex');
  const volume = `baton-vol-${suffix}`;
  // A volume of the engine that baton did not make (the test's label only, so it is found and removed below).
  const foreign = `baton-foreign-${suffix}`;
  await docker.createVolume({ Name: foreign, Labels: { ...TEST_LABELS } });
  t.after(async () => {
    await docker.getVolume(foreign).remove().catch(() => undefined);
  });

  const create = c.cli('m1', ['service', 'create', '--name', 'app', '--constraint', 'node.role==manager', '--mount', `source=${volume},target=/data`, TEST_IMAGE, 'sleep', '3600']);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('the task runs', () => running(tasks(c, 'm1', 'app')).length === 1);
  const [task] = tasks(c, 'm1', 'app');

  const ls = c.cli('m1', ['volume', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  const rows = ls.stdout.trim().split('\n').map((l) => l.split(/\s{3,}/));
  assert.deepEqual(rows, [['DRIVER', 'VOLUME NAME', 'NODE'], ['local', volume, m1]], 'only baton\'s volume, with its node (the nodes share a hostname: the id)');
  const inspect = c.cli('m1', ['volume', 'inspect', volume]);
  assert.equal(inspect.code, 0, inspect.stderr);
  const [entry] = JSON.parse(inspect.stdout) as { Name: string; Driver: string; Mountpoint: string; Scope: string; Labels: Record<string, string>; Node: { ID: string } }[];
  const engine = await docker.getVolume(volume).inspect();
  assert.deepEqual([entry?.Name, entry?.Driver, entry?.Mountpoint, entry?.Scope, entry?.Node.ID], [volume, 'local', engine.Mountpoint, 'local', m1]);
  assert.equal(entry?.Labels['baton.node'], m1);

  const foreignInspect = c.cli('m1', ['volume', 'inspect', foreign]);
  assert.equal(foreignInspect.code, 1);
  assert.equal(foreignInspect.stderr, `Error: no such volume: ${foreign}\n`);
  const foreignRm = c.cli('m1', ['volume', 'rm', foreign]);
  assert.equal(foreignRm.code, 1);
  assert.equal(foreignRm.stderr, `Error: no such volume: ${foreign}\n`);
  assert.equal((await docker.getVolume(foreign).inspect()).Name, foreign, 'the foreign volume is still there');

  const refused = c.cli('m1', ['volume', 'rm', volume]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, `Error: remove ${volume}: volume is in use - [${task!.name}.${task!.id}]\n`);
  assert.ok(await docker.getVolume(volume).inspect());

  assert.equal(c.cli('m1', ['service', 'rm', 'app']).code, 0);
  await waitFor('the volume can be removed once the container is gone', () => c.cli('m1', ['volume', 'rm', volume]).code === 0);
  assert.equal(c.cli('m1', ['volume', 'ls', '-q']).stdout.trim(), '');
  await assert.rejects(docker.getVolume(volume).inspect(), (err: unknown) => (err as { statusCode?: number }).statusCode === 404);

  // A killed node: a warning naming it; the command still answers.
  const w1 = nodeIdOf(c.get('w1'));
  await c.kill('w1', 'SIGKILL');
  const afterKill = c.cli('m1', ['volume', 'ls']);
  assert.equal(afterKill.code, 0, afterKill.stderr);
  assert.match(afterKill.stderr, new RegExp(`^Warning: node ${w1}: [^\\n]+\\n$`));
  assert.equal(afterKill.stdout.trim(), 'DRIVER   VOLUME NAME   NODE');
});
