// Autolock with real daemons (process runtime): `init --autolock` seals every manager's key files
// under the unlock key; a SIGKILLed and restarted manager serves nothing (no TCP port, no Raft,
// one line on its socket) until `baton unlock` with the right key; rotation re-seals every
// manager and still opens, once, one that was down; `--autolock=false` restarts unlocked.
import test from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatonCluster, answersReads, nodeIdOf, nodes, running, tasks, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { generateUnlockKey, openLockedFile, parseUnlockKey } from '../../manager/ca/index.js';

/** The files under `dir` that contain `needle` (LevelDB's, snapshots, the key files…). */
function filesContaining(dir: string, needle: Buffer): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => readFileSync(f).includes(needle));
}

const LOCKED_LINE = 'Error: this node is locked: run baton unlock\n';

function ok(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function refused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^Error: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

const keyFile = (c: BatonCluster, name: string, file: string): Buffer => readFileSync(join(c.dataDir(name), file));

/** Whether this manager's key files are sealed under `key` (and hold no private key in clear). */
function sealedUnder(c: BatonCluster, name: string, key: string): boolean {
  return ['tls/node.key', 'manager.key'].every((f) => {
    const raw = keyFile(c, name, f);
    if (raw.includes('PRIVATE KEY')) return false;
    try {
      openLockedFile(parseUnlockKey(key), raw);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether anything listens on host:port. */
function listening(addr: string): Promise<boolean> {
  const [host, port] = [addr.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(addr)![1])];
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** SIGKILL and restart a manager; resolves once it printed its first line (locked or resumed). */
async function killAndRestart(c: BatonCluster, name: string): Promise<string> {
  await c.kill(name);
  const n = await c.restart(name);
  return n.stdout;
}

function reachability(c: BatonCluster, on: string, id: string): string {
  return nodes(c, on).find((n) => n.id === id)?.managerStatus ?? '';
}

test('autolock: locked after a restart until the right key, rotation, and turned off', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1', ['--autolock']);
  const key = /baton unlock`\ncommand and provide the following key:\n\n {4}(BTNKEY-1-\S+)\n/.exec(m1.stdout)?.[1] ?? '';
  assert.notEqual(key, '', m1.stdout);
  await c.join('m2', 'manager', 'm1');
  await c.join('m3', 'manager', 'm1');
  await waitFor('3 managers reachable', () => nodes(c, 'm1').filter((n) => n.managerStatus !== '').every((n) => n.managerStatus === 'Leader' || n.managerStatus === 'REACHABLE') && nodes(c, 'm1').length === 3);
  assert.equal(ok(c.cli('m1', ['unlock-key', '-q'])).trim(), key);
  ok(c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'app', '--replicas', '3', '--', 'sleep', '1000']));
  ok(c.cli('m1', ['secret', 'create', 'pw', '-'], { input: 'hunter2' }));
  // Joined managers learn the key from the cluster object and seal their own files.
  await waitFor('every manager sealed under the key', () => ['m1', 'm2', 'm3'].every((m) => sealedUnder(c, m, key)));
  for (const m of ['m1', 'm2', 'm3']) {
    // The key itself is nowhere on disk in clear (it is in the Raft store sealed by the managers' key).
    assert.deepEqual(filesContaining(c.dataDir(m), Buffer.from(key)), [], `${m} stores the unlock key in clear`);
    assert.deepEqual(filesContaining(c.dataDir(m), Buffer.from('PRIVATE KEY-----')), [], `${m} has a private key in clear`);
  }
  await waitFor('3 tasks running', () => running(tasks(c, 'm1', 'app')).length === 3);

  // A restarted manager is locked: nothing on its TCP port, out of Raft, one line on its socket.
  const m2id = nodeIdOf(c.get('m2'));
  assert.match(await killAndRestart(c, 'm2'), /is locked: run `baton unlock`/);
  assert.equal(await listening(c.get('m2').addr), false);
  const ls = c.cli('m2', ['service', 'ls']);
  assert.equal(ls.code, 1);
  assert.equal(ls.stderr, LOCKED_LINE);
  await waitFor('m1 sees m2 unreachable', () => reachability(c, 'm1', m2id) === 'UNREACHABLE');

  // A wrong key, and a malformed one: refused in one line; it stays locked.
  refused(c.cli('m2', ['unlock'], { input: `${generateUnlockKey()}\n` }), /wrong unlock key: this node stays locked/);
  refused(c.cli('m2', ['unlock'], { input: 'SWMKEY-1-nope\n' }), /invalid unlock key: an unlock key starts with "BTNKEY-1-"/);
  assert.equal(c.cli('m2', ['node', 'ls']).stderr, LOCKED_LINE);
  assert.equal(c.cli('m2', ['service', 'logs', 'app']).stderr, LOCKED_LINE);

  // The right key: it starts, rejoins Raft, and has every object.
  ok(c.cli('m2', ['unlock'], { input: `${key}\n` }));
  await waitFor('m2 resumed', () => /resumed as a manager/.test(c.get('m2').stdout));
  await waitFor('m2 reachable again', () => reachability(c, 'm1', m2id) === 'REACHABLE');
  assert.match(await answersReads(c, 'm2'), /app\s+replicated\s+3\/3/);
  assert.match(ok(c.cli('m2', ['secret', 'ls'])), /\bpw\b/);
  refused(c.cli('m2', ['unlock'], { input: `${key}\n` }), /this node is not locked/);

  // Rotation while m3 is down: m1 and m2 re-seal under the new key; m3 opens once with the old one.
  await c.kill('m3');
  const rotated = ok(c.cli('m1', ['unlock-key', '--rotate']));
  const newKey = /Successfully rotated manager unlock key\.\n[\s\S]*? {4}(BTNKEY-1-\S+)\n/.exec(rotated)?.[1] ?? '';
  assert.notEqual(newKey, '', rotated);
  assert.notEqual(newKey, key);
  assert.equal(ok(c.cli('m2', ['unlock-key', '-q'])).trim(), newKey);
  await waitFor('m1 and m2 sealed under the new key', () => sealedUnder(c, 'm1', newKey) && sealedUnder(c, 'm2', newKey));
  assert.match((await c.restart('m3')).stdout, /is locked/);
  refused(c.cli('m3', ['unlock'], { input: `${newKey}\n` }), /wrong unlock key/);
  ok(c.cli('m3', ['unlock'], { input: `${key}\n` }));
  await waitFor('m3 re-sealed under the new key after catching up', () => sealedUnder(c, 'm3', newKey));
  // Rotation complete: the old key opens no manager any more.
  assert.match(await killAndRestart(c, 'm3'), /is locked/);
  refused(c.cli('m3', ['unlock'], { input: `${key}\n` }), /wrong unlock key/);
  ok(c.cli('m3', ['unlock'], { input: `${newKey}\n` }));
  await waitFor('m3 resumed', () => /resumed as a manager/.test(c.get('m3').stdout));
  assert.match(await answersReads(c, 'm3'), /app\s+replicated\s+3\/3/);

  // Autolock off: every manager's keys in clear again, a restart needs no key.
  assert.equal(ok(c.cli('m3', ['cluster', 'update', '--autolock=false'])), 'Cluster updated.\n');
  await waitFor('every manager in clear', () => ['m1', 'm2', 'm3'].every((m) => keyFile(c, m, 'tls/node.key').includes('BEGIN PRIVATE KEY')));
  refused(c.cli('m1', ['unlock-key']), /no unlock key is set: autolock is off/);
  refused(c.cli('m1', ['unlock-key', '--rotate']), /cannot rotate: no unlock key is set/);
  assert.match(await killAndRestart(c, 'm1'), /resumed as a manager/);
  assert.match(await answersReads(c, 'm1'), /app\s+replicated\s+3\/3/);

  // On again through cluster update: a new key, printed once, seals every manager again.
  const on = ok(c.cli('m1', ['cluster', 'update', '--autolock=true']));
  const thirdKey = / {4}(BTNKEY-1-\S+)\n/.exec(on)?.[1] ?? '';
  assert.match(on, /^Cluster updated\.\nTo unlock a baton manager after it restarts/);
  await waitFor('every manager sealed under the third key', () => ['m1', 'm2', 'm3'].every((m) => sealedUnder(c, m, thirdKey)));
  refused(c.cli('m1', ['cluster', 'update']), /nothing to update: give --autolock=true or --autolock=false/);

  // Workers are never locked; a promoted one seals its keys, a demoted one has them in clear again.
  const w1 = await c.join('w1', 'worker', 'm1');
  assert.match(keyFile(c, 'w1', 'tls/node.key').toString(), /^-----BEGIN PRIVATE KEY-----/);
  const w1id = nodeIdOf(w1);
  ok(c.cli('m1', ['node', 'promote', w1id]));
  await waitFor('w1 a reachable manager with its keys sealed', () => reachability(c, 'm1', w1id) === 'REACHABLE' && existsSync(join(c.dataDir('w1'), 'manager.key')) && sealedUnder(c, 'w1', thirdKey));
  ok(c.cli('m1', ['node', 'demote', w1id]));
  await waitFor('w1 a worker again, its key in clear', () => !existsSync(join(c.dataDir('w1'), 'manager.key')) && keyFile(c, 'w1', 'tls/node.key').includes('BEGIN PRIVATE KEY'));
});
