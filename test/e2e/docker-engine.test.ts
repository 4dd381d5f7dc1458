// The canary of the e2e suite: proves the engine .ci/run started can create, run, wait for,
// read and remove a container from the local image, so a later e2e failure is about baton,
// not about the machine.
import test from 'node:test';
import assert from 'node:assert/strict';
import { demuxLogs, requireDocker, TEST_IMAGE, TEST_LABELS, requireTestImage } from '../lib/docker.js';

test('docker engine runs a busybox container and returns its output', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;

  await requireTestImage(docker);

  const container = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['echo', 'hello'],
    Labels: { ...TEST_LABELS },
  });
  t.after(async () => {
    await container.remove({ force: true });
  });

  await container.start();
  const exit = (await container.wait()) as { StatusCode: number };
  assert.equal(exit.StatusCode, 0);

  const logs = demuxLogs(await container.logs({ stdout: true, stderr: true, follow: false }));
  assert.equal(logs.stdout, 'hello\n');
  assert.equal(logs.stderr, '');

  const info = await container.inspect();
  assert.equal(info.Config.Labels['baton.test'], '1');
});
