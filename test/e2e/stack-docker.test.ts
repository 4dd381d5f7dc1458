// `baton stack` on a real Docker engine: a Compose file of three services (busybox httpd
// replicas with a config, an api with a secret, a global worker) deploys, the config is served
// through the routing mesh, the secret is read inside the api's container, a re-deploy with one
// change updates only that service, and `stack rm` removes services, containers, secret, config.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, dockerOffered } from '../lib/docker.js';
import { freePort } from '../../src/launcher/ports.js';

const COMPOSE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack/docker/compose.yml');

test('stack deploy of three services with a secret and a config on Docker, re-deploy with one change, stack rm', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  const containers = async (): Promise<string[]> =>
    (await docker.listContainers({ all: true, filters: { label: ['baton.cluster'] } })).filter((x) => c.clusterIds.has(x.Labels['baton.cluster'] ?? '')).map((x) => x.Id);
  await c.init('m1');
  await dockerOffered(c);

  const port = await freePort();
  const stack = (args: string[], env: Record<string, string> = {}): ReturnType<typeof baton> =>
    baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)], { WEB_PORT: String(port), ...env });
  const deploy = stack(['deploy', '--detach=false', '-c', COMPOSE, 'site']);
  assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);
  for (const line of ['Creating config site_page', 'Creating secret site_token', 'Creating service site_web', 'Creating service site_api', 'Creating service site_worker']) {
    assert.ok(deploy.stdout.split('\n').includes(line), `"${line}" in:\n${deploy.stdout}`);
  }
  assert.match(deploy.stdout, /verify: Service converged/);
  const ts = running(tasks(c, 'm1', 'site_web'));
  assert.equal(ts.length, 2);
  const info = await docker.getContainer(ts[0]!.containerId).inspect();
  assert.equal(info.HostConfig.Memory, 32 * 1024 * 1024, 'deploy.resources.limits reached the container');
  assert.match(stack(['services', 'site']).stdout, new RegExp(`site_web\\s+replicated\\s+2/2\\s+local/busybox:1\\s+\\*:${port}->80/tcp`));

  // The config, served by httpd from its target path, through the published port.
  await waitFor('the mesh serves the config', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/hello.txt`);
    return (await res.text()) === 'hello from a stack config\n';
  });

  // The secret, inside the api's container only.
  const api = running(tasks(c, 'm1', 'site_api'))[0]!;
  assert.equal(execFileSync('docker', ['exec', api.containerId, 'cat', '/run/secrets/token'], { encoding: 'utf8' }), 'stack-secret-7f3a9c\n');
  assert.notEqual(execFileSync('docker', ['exec', ts[0]!.containerId, 'sh', '-c', 'cat /run/secrets/token 2>&1 || true'], { encoding: 'utf8' }), 'stack-secret-7f3a9c\n');

  const again = stack(['deploy', '-c', COMPOSE, 'site']);
  for (const name of ['site_web', 'site_api', 'site_worker']) assert.match(again.stdout, new RegExp(`Service ${name} is up to date`), again.stderr);

  // One change (the api's environment): only the api is updated, the others keep their version.
  const version = (name: string): number => (JSON.parse(c.cli('m1', ['service', 'inspect', name]).stdout) as { meta: { version: number } }[])[0]!.meta.version;
  const before = { web: version('site_web'), worker: version('site_worker'), api: version('site_api') };
  const changed = stack(['deploy', '--detach=false', '-c', COMPOSE, 'site'], { API_VERSION: '2' });
  assert.equal(changed.code, 0, changed.stderr + changed.stdout);
  assert.match(changed.stdout, /Updating service site_api/);
  assert.equal(version('site_web'), before.web, 'web untouched');
  assert.equal(version('site_worker'), before.worker, 'worker untouched');
  assert.ok(version('site_api') > before.api, 'api updated');
  await waitFor('the api runs the new environment', async () => {
    const now = running(tasks(c, 'm1', 'site_api'));
    return now.length === 1 && (await docker.getContainer(now[0]!.containerId).inspect()).Config.Env.includes('VERSION=2');
  });

  const rm = stack(['rm', 'site']);
  assert.equal(rm.code, 0, rm.stderr);
  for (const line of ['Removing service site_web', 'Removing service site_api', 'Removing service site_worker', 'Removing config site_page', 'Removing secret site_token']) {
    assert.ok(rm.stdout.split('\n').includes(line), `"${line}" in:\n${rm.stdout}`);
  }
  await waitFor('the containers are gone', async () => (await containers()).length === 0, { timeoutMs: 30_000 });
  assert.equal(c.cli('m1', ['config', 'ls', '-q']).stdout.trim(), '');
  assert.equal(c.cli('m1', ['secret', 'ls', '-q']).stdout.trim(), '');
  assert.equal(stack(['ls']).stdout, 'NAME   SERVICES\n');
});
