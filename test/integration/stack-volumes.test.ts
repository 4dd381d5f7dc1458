// `baton stack deploy` of a file with volumes, on a real daemon: the services' mounts as the
// cluster stores them (named volumes scoped to the stack with their driver, options and labels,
// an external one as named, binds resolved from the file's directory, anonymous volumes, tmpfs),
// a re-deploy of the same file touching nothing, one volume's label changed updating only the
// services that use it, an undefined volume refused before anything is written, and rm.
// Specs only: replicas 0, so no task runs (what a node makes of a mount is the executors').
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baton, BatonCluster, listedObjects, type CliResult } from '../lib/baton-cluster.js';

const COMPOSE = (label: string): string => `
services:
  db:
    image: local/busybox:1
    deploy: { replicas: 0 }
    volumes:
      - data:/var/lib/db
    tmpfs: /run:size=1m
  web:
    image: local/busybox:1
    deploy: { replicas: 0 }
    volumes:
      - ./www:/srv/www:ro
      - shared:/shared:nocopy
      - /cache
      - type: tmpfs
        target: /tmp
        tmpfs: { size: 64k, mode: 01770 }
volumes:
  data:
    driver: local
    driver_opts: { type: tmpfs, device: tmpfs, o: "size=10m" }
    labels: { backup: "${label}" }
  shared:
    external: true
    name: team-shared
`;

interface MountJson {
  type: string;
  source: string;
  target: string;
  readOnly: boolean;
  volumeDriver: string;
  volumeOptions: Record<string, string>;
  volumeNocopy: boolean;
  volumeLabels: Record<string, string>;
  tmpfsSizeBytes: number;
  tmpfsMode: number;
}

const none = { source: '', readOnly: false, volumeDriver: '', volumeOptions: {}, volumeNocopy: false, volumeLabels: {}, tmpfsSizeBytes: 0, tmpfsMode: 0 };

function stack(c: BatonCluster, args: string[]): CliResult {
  return baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)]);
}

function stored(c: BatonCluster): Map<string, { version: number; mounts: MountJson[] }> {
  const rows = listedObjects(c, 'm1', ['stack', 'services', 'vol'], 'service') as { meta: { version: number }; spec: { annotations: { name: string }; task: { container: { mounts: MountJson[] } } } }[];
  return new Map(rows.map((s) => [s.spec.annotations.name, { version: s.meta.version, mounts: s.spec.task.container.mounts }]));
}

test('stack deploy stores the mounts of a file with volumes; re-deploy, a changed volume, an undefined one, rm', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const file = join(c.root, 'compose.yml');
  writeFileSync(file, COMPOSE('daily'));

  const first = stack(c, ['deploy', '-c', file, 'vol']);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n'), ['Creating network vol_default', 'Creating service vol_db', 'Creating service vol_web']);
  const specs = stored(c);
  assert.deepEqual(specs.get('vol_db')?.mounts, [
    { ...none, type: 'MOUNT_VOLUME', source: 'vol_data', target: '/var/lib/db', volumeDriver: 'local', volumeOptions: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' }, volumeLabels: { backup: 'daily', 'com.docker.stack.namespace': 'vol' } },
    { ...none, type: 'MOUNT_TMPFS', target: '/run', tmpfsSizeBytes: 1024 * 1024 },
  ]);
  assert.deepEqual(specs.get('vol_web')?.mounts, [
    { ...none, type: 'MOUNT_BIND', source: join(c.root, 'www'), target: '/srv/www', readOnly: true },
    { ...none, type: 'MOUNT_VOLUME', source: 'team-shared', target: '/shared', volumeNocopy: true },
    { ...none, type: 'MOUNT_VOLUME', target: '/cache' },
    { ...none, type: 'MOUNT_TMPFS', target: '/tmp', tmpfsSizeBytes: 64 * 1024, tmpfsMode: 0o1770 },
  ]);

  // The same file again: the mounts compare equal, nothing is written.
  const same = stack(c, ['deploy', '-c', file, 'vol']);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(same.stdout.trim().split('\n').sort(), ['Service vol_db is up to date', 'Service vol_web is up to date']);
  assert.deepEqual([...stored(c)].map(([n, s]) => [n, s.version]), [...specs].map(([n, s]) => [n, s.version]));

  // A label of the data volume changes: only db, which mounts it, is updated.
  writeFileSync(file, COMPOSE('hourly'));
  const changed = stack(c, ['deploy', '-c', file, 'vol']);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /^Updating service vol_db$/m);
  assert.match(changed.stdout, /^Service vol_web is up to date$/m);
  assert.equal(stored(c).get('vol_db')?.mounts[0]?.volumeLabels.backup, 'hourly');

  // A volume no one declared: Docker's words, one line, nothing written.
  const bad = join(c.root, 'bad.yml');
  writeFileSync(bad, 'services:\n  api:\n    image: local/busybox:1\n    volumes: ["logs:/logs"]\n');
  const refused = stack(c, ['deploy', '-c', bad, 'vol']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^Error: [^\n]*bad\.yml: services\.api\.volumes\[0\] uses undefined volume "logs": declare it under top-level volumes:[^\n]*\n$/);
  assert.equal(refused.stdout, '');
  assert.deepEqual([...stored(c).keys()].sort(), ['vol_db', 'vol_web']);

  const rm = stack(c, ['rm', 'vol']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'Removing service vol_db\nRemoving service vol_web\nRemoving network vol_default\n');
  assert.equal(stack(c, ['ls']).stdout, 'NAME   SERVICES\n');
});
