// `stack deploy` checks every image before it writes anything: a file with two images that exist
// nowhere is refused in one run naming both, and leaves no network, secret or service behind (the
// network used to be created, then removed again or left); `--resolve-image never` deploys it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listedObjects, baton } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, TEST_IMAGE } from '../lib/docker.js';

test('stack deploy: bad images refused before the stack\'s networks and secrets are created', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  await c.init('m1');
  await waitFor('the node offers docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { description: { runtimes: string[] } }[];
    return list[0]?.description.runtimes.includes('docker') ?? false;
  });
  const dir = mkdtempSync(join(tmpdir(), 'baton-stack-images-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), 's3cret\n');
  const file = join(dir, 'compose.yml');
  writeFileSync(
    file,
    [
      'services:',
      `  ok: {image: "${TEST_IMAGE}", command: [sleep, "3600"], networks: [back]}`,
      '  one: {image: "127.0.0.1:9/no/such:image", networks: [back], secrets: [token]}',
      '  two: {image: "127.0.0.1:9/no/other:image"}',
      'networks:',
      '  back: {}',
      'secrets:',
      '  token: {file: ./token}',
      '',
    ].join('\n'),
  );
  const stack = (args: string[]): ReturnType<typeof baton> => baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)]);

  const refused = stack(['deploy', '-c', file, 'img']);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /^Error: [^\n]*"127\.0\.0\.1:9\/no\/such:image"[^\n]*"127\.0\.0\.1:9\/no\/other:image"[^\n]*\n$/);
  assert.equal(refused.stdout, '', 'nothing created, so nothing to say it undid');
  const names = (kind: string): string[] => c.cli('m1', [kind, 'ls', '--format', '{{.Name}}']).stdout.split('\n').filter((n) => n !== '');
  assert.ok(!names('network').includes('img_back'), `no network made: ${names('network').join(', ')}`);
  assert.deepEqual(names('secret'), []);
  assert.deepEqual(names('service'), []);

  const anyway = stack(['deploy', '--resolve-image', 'never', '-c', file, 'img']);
  assert.equal(anyway.code, 0, anyway.stderr);
  assert.ok(anyway.stdout.includes('Creating network img_back'), anyway.stdout);
  assert.deepEqual(names('service').sort(), ['img_ok', 'img_one', 'img_two']);
  assert.equal(stack(['rm', 'img']).code, 0);
});
