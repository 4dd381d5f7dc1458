// Service mounts on real Docker (docker service create --mount): a named volume keeps its data
// for the task that replaces a killed one on the node, a read-only bind refuses writes inside, a
// tmpfs is a tmpfs, a missing bind source fails the task in one line, and service update
// --mount-add/--mount-rm change a running service's mounts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, shIn, TEST_IMAGE, requireTestImage, dockerOffered } from '../lib/docker.js';

test('mounts on Docker: volume kept across docker kill, read-only bind, tmpfs, missing bind source, --mount-add/--mount-rm', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await dockerOffered(c);
  const bind = mkdtempSync(join(tmpdir(), 'baton-bind-'));
  t.after(() => rmSync(bind, { recursive: true, force: true }));
  writeFileSync(join(bind, 'hello'), 'from the node\n');
  const volume = `baton-test-${randomBytes(4).toString('hex')}`;

  const create = c.cli('m1', [
    'service', 'create', '--name', 'app', '--restart-delay', '200ms',
    '--mount', `source=${volume},target=/data`,
    '--mount', `type=bind,source=${bind},target=/ro,readonly`,
    '--mount', 'type=tmpfs,target=/scratch,tmpfs-size=1m',
    TEST_IMAGE, 'sleep', '3600',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const [first] = running(tasks(c, 'm1', 'app'));
  assert.ok(first, 'the task runs');

  // The named volume: made by the engine at create, labelled with the cluster and node.
  const info = await docker.getVolume(volume).inspect();
  assert.equal(info.Labels?.['baton.node'], m1);
  assert.ok(c.clusterIds.has(info.Labels?.['baton.cluster'] ?? ''), JSON.stringify(info.Labels));
  const token = randomBytes(8).toString('hex');
  assert.ok((await shIn(first.containerId, `echo ${token} > /data/token`)).ok);

  // The read-only bind: the node's file is there, a write is refused.
  assert.equal((await shIn(first.containerId, 'cat /ro/hello')).out, 'from the node\n');
  const write = await shIn(first.containerId, 'touch /ro/new');
  assert.equal(write.ok, false);
  assert.match(write.out, /Read-only file system/);

  // The tmpfs, with its size.
  const scratch = (await shIn(first.containerId, 'grep " /scratch " /proc/mounts')).out;
  assert.match(scratch, /^tmpfs \/scratch tmpfs .*size=1024k/, scratch);

  // docker kill: the replacement on the same (only) node reads what the first wrote.
  await docker.getContainer(first.containerId).kill();
  await waitFor('a replacement after docker kill', () => running(tasks(c, 'm1', 'app')).some((x) => x.id !== first.id));
  const [second] = running(tasks(c, 'm1', 'app'));
  assert.equal((await shIn(second!.containerId, 'cat /data/token')).out, `${token}\n`);

  // --mount-rm by target, --mount-add another tmpfs: the new task has /other and no /scratch.
  const update = c.cli('m1', ['service', 'update', '--mount-rm', '/scratch', '--mount-add', 'type=tmpfs,target=/other', 'app']);
  assert.equal(update.code, 0, update.stderr + update.stdout);
  const [third] = running(tasks(c, 'm1', 'app'));
  assert.ok(third && third.id !== second!.id, 'the update replaced the task');
  const mounts = (await shIn(third.containerId, 'cat /proc/mounts')).out;
  assert.match(mounts, / \/other tmpfs /);
  assert.doesNotMatch(mounts, / \/scratch /);
  assert.equal((await shIn(third.containerId, 'cat /data/token')).out, `${token}\n`, 'the volume stays');
  const inspect = c.cli('m1', ['service', 'inspect', '--pretty', 'app']);
  assert.match(inspect.stdout, /Mounts:\s*\n Target:\t\/data\n  Source:\t[^\n]+\n  ReadOnly:\tfalse\n  Type:\tvolume/);
  const rmMissing = c.cli('m1', ['service', 'update', '--mount-rm', '/nowhere', 'app']);
  assert.notEqual(rmMissing.code, 0);
  assert.match(rmMissing.stderr, /--mount-rm \/nowhere: no mount has that target/);

  // A bind source the node does not have: the task fails with Docker's one line.
  const missing = join(bind, 'missing');
  const bad = c.cli('m1', ['service', 'create', '--name', 'nobind', '--detach', '--restart-condition', 'none', '--mount', `type=bind,source=${missing},target=/x`, TEST_IMAGE, 'sleep', '3600']);
  assert.equal(bad.code, 0, bad.stderr + bad.stdout);
  await waitFor('the task fails with the reason', () => tasks(c, 'm1', 'nobind').some((x) => x.err.endsWith(`bind source path does not exist: ${missing}`)));
  const failed = tasks(c, 'm1', 'nobind').find((x) => x.err.includes('bind source'))!;
  assert.doesNotMatch(failed.err, /\n/, 'one line');
});
