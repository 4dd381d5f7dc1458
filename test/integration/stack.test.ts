// `baton stack` end to end on real daemons with the process runtime (no Docker needed):
// deploy a Compose file of three services with a secret and a config, re-deploy unchanged
// (nothing touched) and with one change (only that service updated), refuse bad input without
// changing anything (invalid file, missing external secret, changed secret in use), prune, rm.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton, BatonCluster, listedObjects, running, tasks, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { alive } from '../lib/processes.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack/process');
const file = (name: string): string => join(FIXTURES, name);

interface ServiceRow {
  id: string;
  name: string;
  version: number;
  env: string[];
}

function stack(c: BatonCluster, args: string[]): CliResult {
  // NODE and SERVER_JS are interpolated into the compose file's commands.
  return baton(['stack', args[0]!, '--data-dir', c.dataDir('m1'), ...args.slice(1)], { NODE: process.execPath, SERVER_JS: file('server.cjs') });
}

function services(c: BatonCluster, name: string): ServiceRow[] {
  return (listedObjects(c, 'm1', ['stack', 'services', name], 'service') as { meta: { id: string; version: number }; spec: { annotations: { name: string }; task: { container: { env: string[] } } } }[]).map((s) => ({
    id: s.meta.id,
    name: s.spec.annotations.name,
    version: s.meta.version,
    env: s.spec.task.container.env,
  }));
}

function versions(c: BatonCluster): Record<string, number> {
  return Object.fromEntries(services(c, 'app').map((s) => [s.name, s.version]));
}

async function allRunning(c: BatonCluster, want: Record<string, number>): Promise<void> {
  await waitFor(`running: ${JSON.stringify(want)}`, () => Object.entries(want).every(([svc, n]) => running(tasks(c, 'm1', svc)).length === n), { timeoutMs: 30_000 });
}

/** Names of the secrets (or configs) on the cluster. */
function objectNames(c: BatonCluster, kind: 'secret' | 'config'): string[] {
  // `ls --format json`: Docker's rows, one JSON object a line.
  const r = c.cli('m1', [kind, 'ls', '--format', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { Name: string }).Name).sort();
}

/** compose.yml copied into dir with other data for its secret file (files resolve beside it). */
function stackCopy(dir: string, dbPassword: string, edit: (yaml: string) => string = (y) => y): string {
  writeFileSync(join(dir, 'db_password.txt'), dbPassword);
  writeFileSync(join(dir, 'site.conf'), readFileSync(file('site.conf')));
  writeFileSync(join(dir, 'compose.yml'), edit(readFileSync(file('compose.yml'), 'utf8')));
  return join(dir, 'compose.yml');
}

function oneErrorLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^Error: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

test('stack deploy, re-deploy with one change, bad input, prune and rm (process runtime)', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  writeFileSync(join(c.root, 'api_key'), 'k-123');
  assert.equal(c.cli('m1', ['secret', 'create', 'api_key', join(c.root, 'api_key')]).code, 0, 'the external secret exists');

  // A missing external secret: refused before anything is written (not even the file's secret).
  oneErrorLine(stack(c, ['deploy', '-c', file('missing-external.yml'), 'app']), /missing-external\.yml: secrets\.nowhere: external secret "nowhere" not found/);
  assert.deepEqual(objectNames(c, 'secret'), ['api_key']);
  assert.equal(services(c, 'app').length, 0);
  // A spec the manager would refuse is refused while the file is read: nothing is written.
  const early = stack(c, ['deploy', '-c', file('bad-constraint.yml'), 'bad']);
  oneErrorLine(early, /bad-constraint\.yml: services\.picky makes a service spec the manager would refuse: invalid constraint "node\.colour==blue"/);
  assert.equal(early.stdout, '');
  assert.deepEqual(objectNames(c, 'secret'), ['api_key']);
  // Refused by the cluster only when the service is created: the secret made before it is removed.
  assert.equal(c.cli('m1', ['service', 'create', '-d', '--name', 'hog', '--runtime', 'process', '--publish', '30999:80', '--', 'sleep', '100000']).code, 0);
  const refused = stack(c, ['deploy', '-c', file('bad-port.yml'), 'bad']);
  oneErrorLine(refused, /30999.* is already in use by service hog/);
  // Each creation undone is said (the service first: it holds the secret and the network).
  assert.deepEqual(refused.stdout.trim().split('\n'), [
    'Creating network bad_default',
    'Creating secret bad_local',
    'Creating service bad_calm',
    'Creating service bad_greedy',
    'Removing service bad_calm (the deploy failed)',
    'Removing secret bad_local (the deploy failed)',
    'Removing network bad_default (the deploy failed)',
  ]);
  assert.deepEqual(objectNames(c, 'secret'), ['api_key'], 'nothing of stack "bad" is left');
  assert.equal(c.cli('m1', ['network', 'ls', '-q']).stdout.trim(), '', 'not even its network');
  assert.equal(services(c, 'bad').length, 0);
  assert.equal(c.cli('m1', ['service', 'rm', 'hog']).code, 0);

  const first = stack(c, ['deploy', '-c', file('compose.yml'), 'app']);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n'), [
    'Creating network app_default',
    'Creating secret app_db_password',
    'Creating config app_site',
    'Creating service app_web',
    'Creating service app_api',
    'Creating service app_worker',
  ]);
  await allRunning(c, { app_web: 1, app_api: 2, app_worker: 1 });
  assert.deepEqual(objectNames(c, 'secret'), ['api_key', 'app_db_password']);
  assert.deepEqual(objectNames(c, 'config'), ['app_site']);

  // The web task answers through its port with the environment, secret and config of the file.
  const web = running(tasks(c, 'm1', 'app_web'))[0]!;
  assert.equal(await (await fetch(`http://127.0.0.1:${web.hostPort}/`)).text(), 'hello from web|correct horse battery staple|listen 80\n');

  const ls = stack(c, ['ls']);
  assert.match(ls.stdout, /^NAME\s+SERVICES\napp\s+3\n$/);
  const svcLs = stack(c, ['services', 'app']);
  assert.match(svcLs.stdout, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS/);
  assert.match(svcLs.stdout, /app_api\s+replicated\s+2\/2/);
  assert.match(svcLs.stdout, /app_web\s+replicated\s+1\/1\s+\(process\) .*\*:\d+->80\/tcp/);
  // Docker's --filter and Go-template --format of stack services and stack ls.
  const filtered = stack(c, ['services', 'app', '--filter', 'name=app_w', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']);
  assert.equal(filtered.stdout, 'app_web replicated 1/1\napp_worker replicated 1/1\n', filtered.stderr);
  assert.equal(stack(c, ['services', 'app', '-q', '--filter', 'name=app_api']).stdout.trim(), services(c, 'app').find((s) => s.name === 'app_api')?.id);
  const none = stack(c, ['services', 'app', '--filter', 'name=nope']);
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', 'Nothing found in stack: app\n']);
  const badKey = stack(c, ['services', 'app', '--filter', 'colour=red']);
  assert.deepEqual([badKey.code, badKey.stderr], [1, "Error: invalid filter 'colour'\n"]);
  assert.equal(stack(c, ['ls', '--format', '{{.Name}}: {{.Services}}']).stdout, 'app: 3\n');
  assert.match(stack(c, ['ls', '--format', 'table {{.Name}}\t{{.Services}}']).stdout, /^NAME\s+SERVICES\napp\s+\d+\n$/);
  const ps = stack(c, ['ps', 'app']);
  assert.match(ps.stdout, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR/);
  assert.equal(ps.stdout.trim().split('\n').length, 1 + 4, ps.stdout);
  assert.match(ps.stdout, /app_api\.2\s+\(process\)/);
  // worker's health check (healthcheck: in the file) runs: ps says so.
  await waitFor('the worker task is healthy', () => /app_worker\.1\s.*Running .* ago \(healthy\)/.test(stack(c, ['ps', 'app']).stdout));

  // The same file again: nothing is written.
  const before = versions(c);
  const same = stack(c, ['deploy', '-c', file('compose.yml'), 'app']);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(same.stdout.trim().split('\n').sort(), ['Service app_api is up to date', 'Service app_web is up to date', 'Service app_worker is up to date'], 'secrets and configs with unchanged files are kept too');
  assert.deepEqual(versions(c), before);

  // One change to api: only api is updated; web and worker keep their versions.
  // --detach=false: returns once the rolling update of api has finished.
  const change = stack(c, ['deploy', '--detach=false', '-c', file('compose.yml'), '-c', file('change-api.yml'), 'app']);
  assert.equal(change.code, 0, change.stderr);
  assert.match(change.stdout, /^Updating service app_api$/m);
  assert.doesNotMatch(change.stdout, /(Updating|Creating) service app_(web|worker)/);
  assert.match(change.stdout, /verify: Service converged/);
  // The rolling update of api ends with the updater writing its status: wait for that write.
  await waitFor('the update of api completes', () => /"state": "UPDATE_COMPLETED"/.test(c.cli('m1', ['service', 'inspect', 'app_api']).stdout), { timeoutMs: 30_000 });
  const after = versions(c);
  assert.ok(after.app_api! > before.app_api!, `api updated: ${JSON.stringify({ before, after })}`);
  assert.equal(after.app_web, before.app_web);
  assert.equal(after.app_worker, before.app_worker);
  assert.deepEqual(services(c, 'app').find((s) => s.name === 'app_api')?.env, ['ROLE=api', 'LEVEL=2']);
  await allRunning(c, { app_web: 1, app_api: 2, app_worker: 1 });

  // Bad input: one line naming file and key, and nothing changes.
  const bad = stack(c, ['deploy', '-c', file('compose.yml'), '-c', file('bad-replicas.yml'), 'app']);
  oneErrorLine(bad, /bad-replicas\.yml: services\.api\.deploy\.replicas must be a whole number >= 0 \(got "lots"\)/);
  assert.equal(bad.stdout, '');
  const missing = stack(c, ['deploy', '-c', file('nope.yml'), 'app']);
  oneErrorLine(missing, /nope\.yml: cannot read the file \(ENOENT\)/);
  // A secret's data cannot change while a service uses it (Docker refuses it too).
  const changedSecret = stackCopy(c.root, 'a new password');
  oneErrorLine(
    stack(c, ['deploy', '-c', changedSecret, 'app']),
    /compose\.yml: secrets\.db_password: the data of secret app_db_password changed, but it is in use by app_web and a secret cannot be changed in place; give it a new name \(e\.g\. db_password_v2\)/,
  );
  assert.deepEqual(versions(c), after);
  assert.deepEqual(objectNames(c, 'secret'), ['api_key', 'app_db_password']);

  // A service of that name outside the stack is not taken over.
  const taken = c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'other_web', '--', 'sleep', '100']);
  assert.equal(taken.code, 0, taken.stderr);
  oneErrorLine(stack(c, ['deploy', '-c', file('compose.yml'), 'other']), /a service named other_web already exists and is not part of stack other/);
  assert.equal(services(c, 'other').length, 0, 'nothing of stack "other" was created');

  // Without --prune a service that left the file is kept (with a warning); with it, removed.
  const onlyWeb = stackCopy(c.root, 'correct horse battery staple\n', (y) => y.replace(/\n {2}api:[\s\S]*?\nsecrets:/, '\nsecrets:'));
  const kept = stack(c, ['deploy', '-c', onlyWeb, 'app']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /^Service app_web is up to date\n$/);
  assert.match(kept.stderr, /Service app_api is no longer in the compose file and is kept \(stack deploy --prune removes it\)/);
  assert.equal(services(c, 'app').length, 3);
  const pruned = stack(c, ['deploy', '--prune', '-c', onlyWeb, 'app']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Removing service app_api\nRemoving service app_worker/);
  assert.deepEqual(services(c, 'app').map((s) => s.name), ['app_web']);

  // rm: every service of the stack, and only those.
  const pids = running(tasks(c, 'm1', 'app_web')).map((x) => Number(x.containerId));
  const rm = stack(c, ['rm', 'app']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'Removing service app_web\nRemoving secret app_db_password\nRemoving config app_site\nRemoving network app_default\n');
  assert.deepEqual(objectNames(c, 'secret'), ['api_key'], 'the external secret is not the stack\'s to remove');
  assert.deepEqual(objectNames(c, 'config'), []);
  assert.equal(stack(c, ['ls']).stdout, 'NAME   SERVICES\n');
  assert.match(stack(c, ['services', 'app']).stderr, /Nothing found in stack: app/);
  const psGone = stack(c, ['ps', 'app']);
  assert.equal(psGone.code, 1);
  assert.equal(psGone.stderr, 'Error: nothing found in stack: app\n');
  await waitFor('the stack\'s task processes have exited', () => pids.every((pid) => !alive(pid)));
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /other_web/, 'the service outside the stack is untouched');
});

