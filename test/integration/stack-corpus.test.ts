// The compose corpus (real files from public repositories) deployed with the real CLI on a real
// cluster, as `docker stack deploy --resolve-image never` would: every file Swarm deploys makes
// its services with the specs the file says (the same file again changes nothing: the stored
// specs are the file's), and the files Swarm refuses are refused in one line with nothing
// written. Tasks need not run (the images are not available offline): the node is drained.
import test from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { baton as batonCli, BatonCluster, listedObjects, nodeIdOf, type CliResult } from '../lib/baton-cluster.js';
import { CORPUS_ENV, DEPLOYABLE, REFUSED, loadCorpus } from '../lib/compose-corpus.js';

interface Deployed {
  name: string;
  image: string;
  replicas: number;
  global: boolean;
  labels: Record<string, string>;
}

function stack(c: BatonCluster, args: string[]): CliResult {
  return batonCli(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)], CORPUS_ENV);
}

function deployed(c: BatonCluster): Deployed[] {
  const listed = listedObjects(c, 'm1', ['stack', 'services', 'c'], 'service');
  type Row = { spec: { annotations: { name: string; labels?: Record<string, string> }; replicas?: number; global?: boolean; task: { container: { image: string } } } };
  return (listed as Row[]).map((s) => ({
    name: s.spec.annotations.name,
    image: s.spec.task.container.image,
    replicas: Number(s.spec.replicas ?? 0),
    global: s.spec.global ?? false,
    labels: s.spec.annotations.labels ?? {},
  }));
}

test('stack deploy --resolve-image never: the corpus files Swarm deploys make their services; the ones it refuses are one line', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  // Drained: the services are stored but no task is scheduled, so no node tries to pull images
  // (nothing leaves the machine; Docker's --resolve-image never skips only the manager's check).
  assert.equal(c.cli('m1', ['node', 'update', '--availability', 'drain', nodeIdOf(c.daemons.get('m1')!)]).code, 0);
  // Two dockerswarm.rocks files join this network, which they expect to exist.
  assert.equal(c.cli('m1', ['network', 'create', 'traefik-public']).code, 0);

  for (const file of DEPLOYABLE) {
    const name = basename(file);
    const want = loadCorpus(file).def.services;
    const r = stack(c, ['deploy', '--resolve-image', 'never', '-c', file, 'c']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    for (const s of want) assert.match(r.stdout, new RegExp(`^Creating service ${s.annotations?.name}$`, 'm'), name);
    const got = deployed(c).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(
      got.map((s) => [s.name, s.image, s.global ? 'global' : s.replicas, s.labels]),
      [...want]
        .sort((a, b) => (a.annotations?.name ?? '').localeCompare(b.annotations?.name ?? ''))
        .map((s) => [s.annotations?.name, s.task?.container?.image, s.global ? 'global' : s.replicas, s.annotations?.labels]),
      name,
    );
    // The same file again: every service up to date, so each stored spec is the file's.
    const again = stack(c, ['deploy', '--resolve-image', 'never', '-c', file, 'c']);
    assert.equal(again.code, 0, `${name}: ${again.stderr}`);
    assert.deepEqual(
      again.stdout.trim().split('\n').filter((l) => l.startsWith('Service ') || l.startsWith('Updating ')).sort(),
      want.map((s) => `Service ${s.annotations?.name} is up to date`).sort(),
      name,
    );
    const rm = stack(c, ['rm', 'c']);
    assert.equal(rm.code, 0, `${name}: ${rm.stderr}`);
    assert.deepEqual(deployed(c), [], name);
  }

  for (const [file, want] of REFUSED) {
    const r = stack(c, ['deploy', '--resolve-image', 'never', '-c', file, 'c']);
    assert.equal(r.code, 1, basename(file));
    // Docker's warnings (ignored options) may come first; the refusal is one line, the last.
    assert.match(r.stderr, /(^|\n)Error: [^\n]+\n$/, basename(file));
    assert.equal(r.stderr.split('Error: ').length, 2, r.stderr);
    assert.match(r.stderr, want);
    assert.equal(r.stdout, '', 'nothing was written');
    assert.deepEqual(deployed(c), []);
  }
  // Only the network the test made is left: every stack's own ones went with `stack rm`.
  assert.equal(c.cli('m1', ['network', 'ls', '-q']).stdout.trim().split('\n').length, 1);
});
