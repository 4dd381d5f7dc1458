// `baton stack` on a real Docker engine: a Compose file of busybox httpd replicas with a config
// deploys, the config is served through the routing mesh, and `stack rm` removes the service,
// its containers and the config.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton, BatonCluster, eventually, running, tasks } from '../lib/baton-cluster.js';
import { requireDocker } from '../lib/docker.js';
import { freePort } from '../lib/ports.js';

const COMPOSE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack/docker/compose.yml');

test('stack deploy of busybox httpd with a config on Docker, served through the mesh, then stack rm', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = new BatonCluster();
  const mine = new Set<string>();
  const containers = async (): Promise<string[]> =>
    (await docker.listContainers({ all: true, filters: { label: ['baton.cluster'] } })).filter((x) => mine.has(x.Labels['baton.cluster'] ?? '')).map((x) => x.Id);
  t.after(async () => {
    await c.stopAll();
    // Containers outlive SIGKILLed daemons by design: remove this cluster's ones.
    for (const id of await containers()) await docker.getContainer(id).remove({ force: true });
    c.cleanup();
  });
  await c.init('m1');
  mine.add((JSON.parse(readFileSync(join(c.dataDir('m1'), 'node.json'), 'utf8')) as { clusterId: string }).clusterId);
  await eventually('the node offers docker', () => {
    const list = JSON.parse(c.cli('m1', ['node', 'ls', '--format', 'json']).stdout) as { description: { runtimes: string[] } }[];
    return list[0]?.description.runtimes.includes('docker') ?? false;
  });

  const port = await freePort();
  const stack = (args: string[]): ReturnType<typeof baton> => baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)], { WEB_PORT: String(port) });
  const deploy = stack(['deploy', '--detach=false', '-c', COMPOSE, 'site']);
  assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);
  assert.match(deploy.stdout, /^Creating config site_page\nCreating service site_web\n/);
  assert.match(deploy.stdout, /verify: Service converged/);
  const ts = running(tasks(c, 'm1', 'site_web'));
  assert.equal(ts.length, 2);
  const info = await docker.getContainer(ts[0]!.containerId).inspect();
  assert.equal(info.HostConfig.Memory, 32 * 1024 * 1024, 'deploy.resources.limits reached the container');
  assert.match(stack(['services', 'site']).stdout, new RegExp(`site_web\\s+replicated\\s+2/2\\s+local/busybox:1\\s+\\*:${port}->80/tcp`));

  // The config, served by httpd from its target path, through the published port.
  await eventually('the mesh serves the config', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/hello.txt`);
    return (await res.text()) === 'hello from a stack config\n';
  });

  const again = stack(['deploy', '-c', COMPOSE, 'site']);
  assert.equal(again.stdout, 'Service site_web is up to date\n', again.stderr);

  const rm = stack(['rm', 'site']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'Removing service site_web\nRemoving config site_page\n');
  await eventually('the containers are gone', async () => (await containers()).length === 0, 30_000);
  assert.equal(c.cli('m1', ['config', 'ls', '-q']).stdout.trim(), '');
  assert.equal(stack(['ls']).stdout, 'NAME   SERVICES\n');
});
