// Recovery from the loss of a quorum, and backup and restore, on real daemons (process runtime,
// each node on its own loopback address so each mesh binds the published port on its own):
//
// - `init --force-new-cluster`: refused while a daemon runs on the data dir, and while the
//   other managers still make a quorum; after two of three managers are SIGKILLed and their data
//   deleted, the third becomes the only manager with every object, the worker reconnects by
//   itself, the service's tasks are still served through the mesh, and a new manager joins with
//   the old token.
// - `backup` from a follower while it runs (refused to a readonly certificate), every manager
//   SIGKILLed and wiped, `init --restore` on a new data dir at the old leader's address: the same
//   services, secrets and configs, the worker back, its tasks served; a truncated, corrupt or
//   foreign file refused in one line, with nothing written.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonCluster, answersReads, baton, nodes, running, tasks, type CliResult } from '../lib/baton-cluster.js';
import { tally } from '../lib/mesh-probe.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';

/** Answers "<task name>@<node address>" over HTTP on the port the process runtime gives target 80. */
const SERVER = `
const env = process.env, host = env.BATON_HOST_IP, me = env.BATON_TASK_NAME + '@' + host;
require('http').createServer((q, s) => s.end(me + '\\n')).listen(Number(env.BATON_PORT_80_TCP), host);
`;

function ok(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r.stdout;
}

function oneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `expected a refusal: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

/** A cluster of three managers and a worker with `web` (2 replicas, on the worker), a secret and a config. */
async function clusterWithService(t: test.TestContext): Promise<{ c: BatonCluster; web: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-recovery-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = join(dir, 'server.cjs');
  writeFileSync(server, SERVER);
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(3, 1);
  const web = await freePort();
  // On the worker: its task processes are the ones the test can count on after managers die.
  ok(c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '2', '--constraint', 'node.role==worker', '--publish', `${web}:80`, '--', process.execPath, server]));
  writeFileSync(join(dir, 'secret.txt'), 's3cret');
  ok(c.cli('m1', ['secret', 'create', 'db-password', join(dir, 'secret.txt')]));
  writeFileSync(join(dir, 'config.txt'), 'level=debug\n');
  ok(c.cli('m1', ['config', 'create', 'app-config', join(dir, 'config.txt')]));
  await waitFor('web answers through the worker\'s mesh', async () => (await tally(c.host('w1'), web, 4)).answers.size === 2);
  return { c, web, dir };
}

const names = (c: BatonCluster, on: string, what: string): string[] =>
  ok(c.cli(on, [what, 'ls', '--format', '{{.Name}}']))
    .split('\n')
    .filter((line) => line !== '')
    .sort();

test('force-new-cluster: refused while a quorum is there; after losing two of three managers, the third keeps everything and serves', { timeout: 300_000 }, async (t) => {
  const { c, web } = await clusterWithService(t);
  const m3 = c.get('m3');
  const recoverM3 = ['init', '--force-new-cluster', '--data-dir', m3.dataDir, '--listen-addr', m3.addr, '--data-path-addr', m3.host];

  // All three alive: the daemon on the data dir is running.
  oneLineError(baton(recoverM3), /a daemon runs on .*stop it first/);
  // m3 stopped, m1 and m2 alive: they and m3 make a quorum; nothing is rewritten.
  await c.kill('m3', 'SIGTERM');
  oneLineError(baton(recoverM3), /refused: the quorum is still there \(.* at .* answer; with this one that is 3 of 3 managers, 2 needed\): start this manager normally/);
  // Nothing was rewritten: started as before, m3 is a manager of the three again.
  await c.restart('m3');
  await waitFor('m3 back as one of three reachable managers', () => nodes(c, 'm1').filter((n) => n.managerStatus !== '' && n.status === 'NODE_READY').length === 3);
  ok(c.cli('m3', ['service', 'ls']));
  await c.kill('m3', 'SIGTERM');

  // m1 and m2 are lost for good.
  for (const name of ['m1', 'm2']) {
    await c.kill(name);
    rmSync(c.dataDir(name), { recursive: true, force: true });
  }
  const recovered = await c.start('m3', 'manager', m3.addr, recoverM3);
  assert.match(recovered.stdout, /Forced a new cluster from this manager's log/);
  assert.match(recovered.stdout, /1 service, 1 secret, 1 config, .*; the CA and the join tokens are unchanged/);
  assert.match(recovered.stdout, /2 manager\(s\) that did not answer are now down workers/);
  t.diagnostic(recovered.stdout.trim());

  await answersReads(c, 'm3');
  assert.deepEqual(names(c, 'm3', 'service'), ['web']);
  assert.deepEqual(names(c, 'm3', 'secret'), ['db-password']);
  assert.deepEqual(names(c, 'm3', 'config'), ['app-config']);
  const w1 = c.get('w1').nodeId;
  const lost = nodes(c, 'm3').filter((n) => n.id !== m3.nodeId && n.id !== w1);
  assert.deepEqual(lost.map((n) => [n.role, n.status, n.managerStatus]), [['WORKER', 'NODE_DOWN', ''], ['WORKER', 'NODE_DOWN', '']]);
  assert.equal(running(tasks(c, 'm3', 'web')).length, 2);
  for (const host of [c.host('w1'), m3.host]) {
    await waitFor(`web served through ${host}'s mesh`, async () => {
      const { answers, failures } = await tally(host, web, 6);
      return failures.length === 0 && answers.size === 2;
    });
  }

  // A write commits with one voter, and the worker runs the new task (only it may): its
  // session reached the only manager. A new manager joins with the old token.
  ok(c.cli('m3', ['service', 'scale', '-d', 'web=3']));
  await waitFor('3 web tasks running', () => running(tasks(c, 'm3', 'web')).length === 3);
  await c.join('m4', 'manager', 'm3');
  await waitFor('m4 is a reachable manager', () => nodes(c, 'm3').filter((n) => n.managerStatus !== '' && n.status === 'NODE_READY').length === 2);
  await answersReads(c, 'm4');
  assert.deepEqual(names(c, 'm4', 'service'), ['web'], 'the new manager serves reads from the replicated store');
  for (const lostNode of lost) ok(c.cli('m3', ['node', 'rm', lostNode.id]));
});

test('backup from a running follower, every manager wiped, init --restore: the same cluster; bad files refused in one line', { timeout: 300_000 }, async (t) => {
  const { c, web, dir } = await clusterWithService(t);
  const file = join(dir, 'cluster.backup');

  // A readonly certificate may not read the managers' key.
  const viewer = join(dir, 'viewer');
  ok(c.cli('m1', ['cert', 'create', '--name', 'viewer', '--role', 'readonly', '--out', viewer]));
  oneLineError(baton(['backup', '--host', `tcp://${c.get('m2').addr}`, '--out', file], { BATON_CERT_PATH: viewer }), /role readonly/);
  assert.equal(existsSync(file), false);

  const out = ok(c.cli('m2', ['backup', `--out=${file}`]));
  assert.match(out, /^Backup of cluster \w+ at Raft index \d+ \(.*\): \d+ bytes in .*cluster\.backup\.\nIt holds every secret/);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the file is its owner\'s alone');
  const specs = (on: string): string => JSON.stringify((JSON.parse(ok(c.cli(on, ['service', 'inspect', 'web']))) as { Spec: unknown }[]).map((s) => s.Spec));
  const webSpec = specs('m1');

  // Bad files: refused in one line, no node written.
  const target = join(c.root, 'r1');
  const bytes = readFileSync(file);
  const restoreFrom = (f: string): CliResult => baton(['init', '--restore', f, '--data-dir', target, '--listen-addr', '127.0.0.1:0']);
  writeFileSync(join(dir, 'truncated'), bytes.subarray(0, bytes.length - 100));
  oneLineError(restoreFrom(join(dir, 'truncated')), /truncated.*refusing to restore/);
  const flipped = Buffer.from(bytes);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 10) ^ 0xff, flipped.length - 10);
  writeFileSync(join(dir, 'flipped'), flipped);
  oneLineError(restoreFrom(join(dir, 'flipped')), /is corrupt \(its SHA-256 does not match/);
  writeFileSync(join(dir, 'foreign'), 'hello\n');
  oneLineError(restoreFrom(join(dir, 'foreign')), /is not a baton backup/);
  oneLineError(restoreFrom(join(dir, 'missing')), /cannot read .*missing: no such file/);
  assert.equal(existsSync(join(target, 'node.json')), false, 'no node left behind');

  // Every manager lost with its data.
  const m1 = c.get('m1');
  for (const name of ['m1', 'm2', 'm3']) {
    await c.kill(name);
    rmSync(c.dataDir(name), { recursive: true, force: true });
  }
  // At the old leader's address, which the worker knows.
  const restored = await c.start('r1', 'manager', m1.addr, ['init', '--restore', file, '--data-dir', target, '--listen-addr', m1.addr, '--data-path-addr', m1.host]);
  assert.match(restored.stdout, /Restored cluster \w+ from .*cluster\.backup \(Raft index \d+/);
  t.diagnostic(restored.stdout.trim());
  await answersReads(c, 'r1');
  assert.deepEqual(names(c, 'r1', 'service'), ['web']);
  assert.deepEqual(names(c, 'r1', 'secret'), ['db-password']);
  assert.deepEqual(names(c, 'r1', 'config'), ['app-config']);
  assert.equal(specs('r1'), webSpec, 'the same service spec');
  assert.equal((JSON.parse(ok(c.cli('r1', ['config', 'inspect', 'app-config']))) as { Spec: { Data: string } }[])[0]?.Spec.Data, Buffer.from('level=debug\n').toString('base64'));

  await waitFor('web served through the worker\'s mesh', async () => {
    const { answers, failures } = await tally(c.host('w1'), web, 6);
    return failures.length === 0 && answers.size === 2;
  });
  // The secret still opens (it is sealed with the backup's key): a task using it starts.
  // On the worker: it runs only once the worker's session reached the restored manager.
  ok(c.cli('r1', ['service', 'create', '--runtime', 'process', '--name', 'uses-secret', '--secret', 'db-password', '--constraint', 'node.role==worker', '--', 'sleep', '1000']));
  await waitFor('the task with the secret runs', () => running(tasks(c, 'r1', 'uses-secret')).length === 1);
  ok(c.cli('r1', ['service', 'rm', 'uses-secret']));
});
