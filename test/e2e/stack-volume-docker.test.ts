// `baton stack deploy` on a real Docker engine: a database-like service keeps its data on a
// named volume (the file it serves with nc is changed at run time), an app service reaches it
// by name, and after `docker kill` of the database's container its replacement serves the
// changed data, read by the app through the same name.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { dockerCluster, requireDocker, shIn, dockerOffered } from '../lib/docker.js';

const COMPOSE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack/docker/db-app.yml');

test('stack on Docker: the db keeps its named volume across docker kill, the app reaches it by name', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  await c.init('m1');
  await dockerOffered(c);
  const stack = (args: string[]): ReturnType<typeof baton> => baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)]);

  const deploy = stack(['deploy', '--detach=false', '-c', COMPOSE, 'shop']);
  assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);
  const db = async (): Promise<string> => {
    let id = '';
    await waitFor('a running db task', () => (id = running(tasks(c, 'm1', 'shop_db'))[0]?.containerId ?? '') !== '');
    return id;
  };
  const app = running(tasks(c, 'm1', 'shop_app'))[0]!.containerId;
  let last = '';
  const ask = async (): Promise<string> => (last = (await shIn(app, 'nc -w 2 db 7000 </dev/null 2>&1')).out.trim());
  // What the db said last, should a wait time out.
  t.after(() => void (last && process.stderr.write(`last answer from db: ${last}\n`)));

  // The app asks the db by its service name and gets what the db wrote on its first start.
  await waitFor('the app reads the first value from db', async () => (await ask()) === 'first-value');
  const first = await db();
  const inspect = await docker.getContainer(first).inspect();
  const mount = inspect.Mounts.find((m) => m.Destination === '/data');
  assert.equal(mount?.Type, 'volume');
  assert.equal(mount?.Name, 'shop_dbdata');

  // The data changes at run time, then the container is killed behind baton's back.
  assert.ok((await shIn(first, 'echo second-value > /data/value')).ok);
  await waitFor('the app reads the changed value', async () => (await ask()) === 'second-value');
  await docker.getContainer(first).kill();
  await waitFor('a replacement db', async () => (await db()) !== first, { timeoutMs: 60_000 });
  // The replacement found the file on the volume (it did not write first-value again).
  await waitFor('the app reads the kept value from the replacement', async () => (await ask()) === 'second-value', { timeoutMs: 30_000 });

  const rm = stack(['rm', 'shop']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /Removing service shop_db/);
});

