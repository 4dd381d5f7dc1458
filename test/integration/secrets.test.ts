// Secrets and configs end to end with real daemons and the process runtime: the CLI, the
// managers' sealed storage, the dispatcher sending each node only what its tasks use, and the
// agent's memory-backed files.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATON, BatonCluster, type CliResult } from '../lib/baton-cluster.js';

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
  assert.match(ls.stdout, /^ID\s+NAME\s+CREATED\s+UPDATED\n/);
  assert.match(ls.stdout, new RegExp(`${id}\\s+db_password\\s+\\d+ seconds? ago`));
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
  refused(c.cli('m1', ['secret', 'rm', 'db_password']), /secret db_password is in use by service web/);
  refused(c.cli('m1', ['config', 'rm', 'app.conf']), /config app.conf is in use by service web/);
  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  const rm = c.cli('m1', ['secret', 'rm', 'db_password']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), 'db_password');
  assert.equal(c.cli('m1', ['config', 'rm', 'app.conf']).code, 0);
  assert.equal(c.cli('m1', ['secret', 'ls', '-q']).stdout.trim(), '');
});
