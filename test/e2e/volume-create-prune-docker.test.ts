// `baton volume create|prune` on real Docker: create makes an engine volume with the driver
// options and labels given (and baton's), which a service then mounts (a tmpfs-backed local
// volume: the engine's own options in effect); a driver the engine lacks is the engine's refusal,
// one line; prune keeps the volume while the container uses it, then removes it with the engine's
// size of it; a volume of the engine that baton did not make is never pruned.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { listedObjects, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, TEST_IMAGE, TEST_LABELS, requireTestImage, shIn } from '../lib/docker.js';

test('volume create/prune on Docker: driver options and labels reach the engine; prune keeps what is used, never a foreign volume', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await waitFor('the node offers docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { description: { runtimes: string[] } }[];
    return list[0]?.description.runtimes.includes('docker') ?? false;
  });
  const suffix = randomBytes(4).toString('hex');
  const volume = `baton-made-${suffix}`;
  const foreign = `baton-foreign-${suffix}`;
  await docker.createVolume({ Name: foreign, Labels: { ...TEST_LABELS } });
  t.after(async () => {
    await docker.getVolume(foreign).remove().catch(() => undefined);
  });

  const made = c.cli('m1', ['volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=2m', '--label', 'team=db', volume]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout, `${volume}\n`);
  const engine = await docker.getVolume(volume).inspect();
  assert.deepEqual(engine.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=2m' });
  assert.equal(engine.Labels?.team, 'db');
  assert.equal(engine.Labels?.['baton.node'], m1);
  const listed = c.cli('m1', ['volume', 'ls', '-q', '--filter', 'label=team=db']);
  assert.equal(listed.stdout, `${volume}\n`);

  const noDriver = c.cli('m1', ['volume', 'create', '--driver', `nosuch${suffix}`, `other-${suffix}`]);
  assert.equal(noDriver.code, 1);
  assert.match(noDriver.stderr, new RegExp(`^Error: [^\\n]*nosuch${suffix}[^\\n]*\\n$`));

  // A service mounts it: the engine's options are what the container gets (a 2 MB tmpfs).
  const create = c.cli('m1', ['service', 'create', '--name', 'app', '--mount', `source=${volume},target=/data`, TEST_IMAGE, 'sleep', '3600']);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('the task runs', () => running(tasks(c, 'm1', 'app')).length === 1);
  const [container] = await docker.listContainers({ filters: { label: [`baton.node=${m1}`] } });
  assert.ok(container, 'the task has a container');
  const df = await shIn(container.Id, 'echo hello > /data/f && df -k /data | tail -1');
  assert.ok(df.ok, df.out);
  assert.match(df.out, /^tmpfs\s+2048\s/, df.out);

  // In use: kept, so nothing of baton's is pruned; the foreign volume is not baton's.
  const kept = c.cli('m1', ['volume', 'prune', '--force']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stdout, 'Total reclaimed space: 0B\n');
  assert.ok(await docker.getVolume(volume).inspect());

  assert.equal(c.cli('m1', ['service', 'rm', 'app']).code, 0);
  await waitFor('the container is gone', async () => (await docker.listContainers({ all: true, filters: { label: [`baton.node=${m1}`] } })).length === 0);
  const pruned = c.cli('m1', ['volume', 'prune', '--force', '--filter', 'label=team']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, new RegExp(`^Deleted Volumes:\\n${volume}\\n\\nTotal reclaimed space: \\d+(\\.\\d+)?[kM]?B\\n$`));
  await assert.rejects(docker.getVolume(volume).inspect(), (err: unknown) => (err as { statusCode?: number }).statusCode === 404);
  assert.equal((await docker.getVolume(foreign).inspect()).Name, foreign, 'the foreign volume is still there');
});
