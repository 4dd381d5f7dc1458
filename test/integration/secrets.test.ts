// Secrets and configs end to end with real daemons and the process runtime: the CLI, the
// managers' sealed storage, the dispatcher sending each node only what its tasks use, and the
// agent's memory-backed files.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATON, BatonCluster, nodeIdOf, nodes, running, tasks, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

/** Run the CLI with `input` on its standard input. */
function cliWithInput(c: BatonCluster, on: string, args: string[], input: Buffer): CliResult {
  const r = spawnSync(process.execPath, [BATON, ...args.slice(0, 2), '--data-dir', c.dataDir(on), ...args.slice(2)], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Fails with one error line matching `pattern`. */
function refused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^Error: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

/** Every regular file under `dir` (LevelDB files, snapshots, logs, task files…). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The files under `dir` that contain `needle`. */
export function filesContaining(dir: string, needle: Buffer): string[] {
  return filesUnder(dir).filter((f) => statSync(f).size > 0 && readFileSync(f).includes(needle));
}

test('secret and config commands: create, ls, inspect without the data, and every refusal in one line', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const value = Buffer.from(randomBytes(32).toString('hex'));

  const created = cliWithInput(c, 'm1', ['secret', 'create', 'db_password', '-', '--label', 'team=a'], value);
  assert.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  assert.match(id, /^[a-z0-9]{25}$/);
  const file = join(c.root, 'app.conf');
  writeFileSync(file, 'listen 8080\n');
  assert.equal(c.cli('m1', ['config', 'create', 'app.conf', file]).code, 0);

  const ls = c.cli('m1', ['secret', 'ls']);
  assert.match(ls.stdout, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED\n/);
  assert.match(ls.stdout, new RegExp(`${id}\\s+db_password\\s+(Less than a second|\\d+ seconds?|About a minute|\\d+ minutes) ago`));
  assert.equal(c.cli('m1', ['secret', 'ls', '-q']).stdout.trim(), id);
  assert.equal(c.cli('m1', ['secret', 'ls', '-q', '--filter', 'label=team=b']).stdout.trim(), '');

  const inspect = c.cli('m1', ['secret', 'inspect', 'db_password']);
  assert.equal(inspect.code, 0, inspect.stderr);
  const [shown] = JSON.parse(inspect.stdout) as { ID: string; Spec: { Name: string; Labels: Record<string, string>; Data?: string } }[];
  assert.equal(shown!.ID, id);
  assert.deepEqual(shown!.Spec, { Name: 'db_password', Labels: { team: 'a' } });
  for (const out of [inspect.stdout, c.cli('m1', ['secret', 'inspect', '--pretty', id]).stdout, c.cli('m1', ['secret', 'ls', '--format', 'json']).stdout]) {
    assert.ok(!out.includes(value.toString()) && !out.includes(value.toString('base64')), 'the secret is never printed');
  }
  const config = JSON.parse(c.cli('m1', ['config', 'inspect', 'app.conf']).stdout) as { Spec: { Data: string } }[];
  assert.equal(Buffer.from(config[0]!.Spec.Data, 'base64').toString(), 'listen 8080\n', 'a config shows its data, as in Docker');

  refused(cliWithInput(c, 'm1', ['secret', 'create', 'db_password', '-'], value), /secret db_password already exists/);
  refused(cliWithInput(c, 'm1', ['secret', 'create', 'bad name', '-'], value), /invalid secret name "bad name"/);
  refused(cliWithInput(c, 'm1', ['secret', 'create', 'trailing-', '-'], value), /invalid secret name/);
  refused(cliWithInput(c, 'm1', ['secret', 'create', 'a'.repeat(65), '-'], value), /invalid secret name/);
  refused(cliWithInput(c, 'm1', ['secret', 'create', 'empty', '-'], Buffer.alloc(0)), /empty/);
  refused(cliWithInput(c, 'm1', ['secret', 'create', 'big', '-'], Buffer.alloc(500 * 1024 + 1, 1)), /500 KiB/);
  refused(c.cli('m1', ['secret', 'create', 'nofile', join(c.root, 'missing')]), /cannot read .*missing: ENOENT/);
  refused(c.cli('m1', ['secret', 'inspect', 'nosuch']), /secret nosuch not found/);
  refused(c.cli('m1', ['config', 'create', 'bad/name', file]), /invalid config name/);
  assert.equal(c.cli('m1', ['secret', 'ls', '-q']).stdout.trim(), id, 'no refused secret was created');

  // A service naming a secret or config that does not exist: refused, nothing created.
  const svc = (extra: string[]): CliResult => c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'web', ...extra, '--', 'sleep', '100']);
  refused(svc(['--secret', 'nosuch']), /secret nosuch not found/);
  refused(svc(['--config', 'nosuch']), /config nosuch not found/);
  refused(svc(['--secret', 'db_password,target=../etc/passwd']), /bad secret target/);
  refused(svc(['--config', 'source=app.conf,target=relative']), /bad config target/);
  refused(svc(['--secret', 'db_password,mode=999']), /mode/);
  refused(svc(['--secret', 'db_password,uid=0']), /uid is not supported/);
  refused(svc(['--secret', 'db_password', '--secret', 'source=db_password,target=db_password']), /same target/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim(), '', 'no refused service was created');

  // In use: refused with the service's name; free again once the service is gone.
  assert.equal(svc(['--secret', 'db_password', '--config', 'app.conf']).code, 0);
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout;
  assert.match(pretty, /Secrets:\tdb_password -> \/run\/secrets\/db_password \(0444\)/);
  assert.match(pretty, /Configs:\tapp.conf -> \/app.conf \(0444\)/);
  refused(c.cli('m1', ['secret', 'rm', 'db_password']), /secret db_password is in use by service web/);
  refused(c.cli('m1', ['config', 'rm', 'app.conf']), /config app.conf is in use by service web/);
  // service update: an unknown one is refused; removing the references frees them.
  refused(c.cli('m1', ['service', 'update', 'web', '--secret-add', 'nosuch']), /secret nosuch not found/);
  const update = c.cli('m1', ['service', 'update', '-d', 'web', '--secret-rm', 'db_password', '--config-rm', 'app.conf', '--secret-add', 'source=db_password,target=renamed']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'web']).stdout, /Secrets:\tdb_password -> \/run\/secrets\/renamed \(0444\)\n(?!Configs)/);
  assert.equal(c.cli('m1', ['config', 'rm', 'app.conf']).code, 0, 'no longer used');
  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  const rm = c.cli('m1', ['secret', 'rm', 'db_password']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), 'db_password');
  assert.equal(c.cli('m1', ['secret', 'ls', '-q']).stdout.trim(), '');
});

// Serves what the task can read of its secret and config, straight from the files (never from
// a copy on disk), and where it was told they are.
const READER = `
const fs = require('fs'), path = require('path');
const read = (dir, name) => { try { return fs.readFileSync(path.join(dir, name), 'utf8'); } catch (e) { return null; } };
require('http').createServer((q, s) => s.end(JSON.stringify({
  secretsDir: process.env.BATON_SECRETS_DIR ?? null,
  configsDir: process.env.BATON_CONFIGS_DIR ?? null,
  secret: process.env.BATON_SECRETS_DIR ? read(process.env.BATON_SECRETS_DIR, 'db_password') : null,
  config: process.env.BATON_CONFIGS_DIR ? read(process.env.BATON_CONFIGS_DIR, 'etc/app.conf') : null,
}))).listen(process.env.PORT, '127.0.0.1');`;

interface Served {
  secretsDir: string | null;
  configsDir: string | null;
  secret: string | null;
  config: string | null;
}

async function served(c: BatonCluster, service: string): Promise<Served> {
  let port = 0;
  await waitFor(`${service} runs`, () => {
    const [task] = running(tasks(c, 'm1', service));
    port = task?.hostPort ?? 0;
    return port > 0;
  });
  let body: Served | undefined;
  await waitFor(`${service} answers`, async () => {
    body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Served;
    return true;
  });
  return body!;
}

test('a secret reaches only the task that uses it, in memory-backed files, and is nowhere in clear on disk', async (t) => {
  // Small snapshots, so the managers' snapshot files are among what is searched.
  const c = BatonCluster.forTest(t, ['--snapshot-interval', '5']);
  await c.init('m1');
  const m2 = nodeIdOf(await c.join('m2', 'manager', 'm1'));
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('3 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 3);

  // 32 random bytes, hex so a task can serve them as text.
  const value = Buffer.from(randomBytes(32).toString('hex'));
  assert.equal(cliWithInput(c, 'm1', ['secret', 'create', 'db_password', '-'], value).code, 0);
  // Through the follower: it forwards the write to the leader.
  assert.equal(cliWithInput(c, 'm2', ['config', 'create', 'app.conf', '-'], Buffer.from('listen 8080\n')).code, 0);
  assert.match(c.cli('m2', ['secret', 'ls']).stdout, /db_password/);

  const create = (name: string, node: string, extra: string[]): void => {
    const r = c.cli('m1', [
      'service', 'create', '--runtime', 'process', '--name', name, '--constraint', `node.id==${node}`,
      '--publish', 'mode=host,target=80', ...extra, '--', process.execPath, '-e', READER,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  };
  create('reader', w1, ['--secret', 'db_password,mode=0400', '--config', 'source=app.conf,target=/etc/app.conf']);
  create('other', m2, []);

  const reader = await served(c, 'reader');
  assert.equal(reader.secret, value.toString(), 'the task reads the secret from BATON_SECRETS_DIR');
  assert.equal(reader.config, 'listen 8080\n', 'and the config from BATON_CONFIGS_DIR, at its target path');
  const [task] = running(tasks(c, 'm1', 'reader'));
  const taskDir = `/dev/shm/baton-${w1}/${task!.id}`;
  assert.equal(reader.secretsDir, `${taskDir}/secrets`);
  assert.equal(statSync(`${taskDir}/secrets/db_password`).mode & 0o777, 0o400, 'the file has the mode asked for');
  assert.equal(statSync(taskDir).mode & 0o777, 0o700, 'the task directory is private');
  const other = await served(c, 'other');
  assert.deepEqual(other, { secretsDir: null, configsDir: null, secret: null, config: null }, 'a task without the secret gets nothing');
  assert.ok(!existsSync(`/dev/shm/baton-${m2}`) || filesContaining(`/dev/shm/baton-${m2}`, value).length === 0, 'the other node has no copy');

  // A worker killed and restarted: its running task is adopted and keeps its files (or, had the
  // node been marked down meanwhile, a replacement gets the secret from the new session).
  await c.kill('w1');
  await c.restart('w1');
  await waitFor('the worker is back', () => nodes(c, 'm1').every((n) => n.status === 'NODE_READY'));
  assert.equal((await served(c, 'reader')).secret, value.toString(), 'the task still reads its secret');
  const [current] = running(tasks(c, 'm1', 'reader'));
  const currentDir = `/dev/shm/baton-${w1}/${current!.id}`;

  // Every file of the test: every data dir (managers' Raft LevelDB and snapshots, the agents'
  // LevelDB, task files and logs) and the daemons' logs.
  assert.ok(filesUnder(c.dataDir('m1')).some((f) => f.includes('snap')), 'the managers wrote snapshots');
  assert.deepEqual(filesContaining(c.root, value), [], 'the secret is nowhere in clear under the data dirs and logs');

  // The task's files go with the task.
  assert.equal(c.cli('m1', ['service', 'rm', 'reader']).code, 0);
  await waitFor('the task\'s secret files are removed', () => !existsSync(currentDir) && !existsSync(taskDir));
  assert.equal(c.cli('m1', ['secret', 'rm', 'db_password']).code, 0, 'no longer in use');
});

test('ten secrets of the maximum size (over 4 MiB in one session message) all reach the task', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const names = Array.from({ length: 10 }, (_, i) => `big${i}`);
  for (const name of names) assert.equal(cliWithInput(c, 'm1', ['secret', 'create', name, '-'], randomBytes(500 * 1024)).code, 0);
  // Serves the total size of the files it finds in its secrets directory.
  const SIZES = `const fs = require('fs'), d = process.env.BATON_SECRETS_DIR;
require('http').createServer((q, s) => s.end(String(fs.readdirSync(d).reduce((n, f) => n + fs.statSync(d + '/' + f).size, 0)))).listen(process.env.PORT, '127.0.0.1');`;
  const r = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'big', '--publish', 'mode=host,target=80',
    ...names.flatMap((n) => ['--secret', n]), '--', process.execPath, '-e', SIZES,
  ]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const [task] = running(tasks(c, 'm1', 'big'));
  let total = '';
  await waitFor('the task answers', async () => {
    total = await (await fetch(`http://127.0.0.1:${task!.hostPort}/`)).text();
    return true;
  });
  assert.equal(Number(total), 10 * 500 * 1024);
});
