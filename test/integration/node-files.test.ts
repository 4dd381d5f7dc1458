// A node's files against real daemons: the data dir and every file in it are the node's user's
// alone, the join tokens are nowhere in it in clear, a loose key file stops the next start, a
// user without the right to the socket is told so, and a full disk is named at run time and at
// the next start. These need root (chmod of others' files, runuser, useradd, mount): under
// CI=true a setup that cannot be made fails the test instead of skipping it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BATON, BatonCluster, baton, nodeIdOf, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { groupId } from '../../client/local-socket.js';

const CI = process.env.CI === 'true';

/** Skips a test that cannot set up here, except under CI, where the machine is root and it must run. */
function requireSetup(t: { skip(message: string): void }, ok: boolean, what: string): boolean {
  if (ok) return true;
  if (CI) assert.fail(`cannot set up: ${what}`);
  t.skip(`cannot set up: ${what}`);
  return false;
}

function run(cmd: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stdout: ${r.stdout}, stderr: ${r.stderr})`);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, `one error line, got: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, pattern);
}

/** Every path under dir with its type and permission bits. */
function modes(dir: string): Array<{ path: string; kind: 'dir' | 'file' | 'socket' | 'other'; mode: number }> {
  const out: Array<{ path: string; kind: 'dir' | 'file' | 'socket' | 'other'; mode: number }> = [];
  const visit = (p: string): void => {
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSocket() ? 'socket' : 'other';
    out.push({ path: p, kind, mode: st.mode & 0o777 });
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(dir);
  return out;
}

/** The node's files: what the task runtime keeps for tasks (their working dirs) is the tasks' business. */
function nodeModes(dir: string): ReturnType<typeof modes> {
  return modes(dir).filter((e) => !e.path.startsWith(join(dir, 'tasks', 'process')));
}

function assertPrivate(dir: string, when: string): void {
  const sharedGroup = groupId('baton') !== undefined;
  const entries = nodeModes(dir);
  assert.ok(entries.filter((e) => e.kind === 'file').length >= 8, `${when}: the node's files are there (${entries.length} entries)`);
  for (const e of entries) {
    if (e.path === dir) assert.equal(e.mode, sharedGroup ? 0o710 : 0o700, `${when}: data dir ${e.path} is ${e.mode.toString(8)}`);
    else if (e.kind === 'dir') assert.equal(e.mode, 0o700, `${when}: ${e.path} is ${e.mode.toString(8)}`);
    else if (e.kind === 'socket') assert.equal(e.mode, sharedGroup ? 0o660 : 0o600, `${when}: ${e.path} is ${e.mode.toString(8)}`);
    else assert.equal(e.mode, 0o600, `${when}: ${e.path} is ${e.mode.toString(8)}`);
  }
}

/** Files under dir whose bytes contain needle. */
function filesContaining(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle);
  return modes(dir)
    .filter((e) => e.kind === 'file')
    .filter((e) => readFileSync(e.path).includes(bytes))
    .map((e) => e.path);
}

const secretOf = (token: string): string => token.slice(token.lastIndexOf('-') + 1);

/** A restarted single manager answers reads once it has elected itself again. */
async function answering(c: BatonCluster, name: string): Promise<void> {
  await waitFor(`${name} answers`, () => c.cli(name, ['node', 'ls', '-q']).code === 0);
}

test('a data dir made 0755 before init ends 0700 with every file 0600, before and after a restart; no join token is in it in clear', async (t) => {
  const c = BatonCluster.forTest(t);
  const dir = c.dataDir('m1');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  await c.init('m1');
  assert.match(c.workerToken, /^BTN-1-/);
  assert.match(c.managerToken, /^BTN-1-/);
  // Some raft traffic: a worker joins (its node object, its certificate) and a token is rotated.
  await c.join('w1', 'worker', 'm1');
  const rotated = c.cli('m1', ['join-token', 'manager', '--rotate', '-q']);
  assert.equal(rotated.code, 0, rotated.stderr);
  const manager = rotated.stdout.trim();
  assert.notEqual(manager, c.managerToken);
  assertPrivate(dir, 'after init');
  assertPrivate(c.dataDir('w1'), 'after join');

  await c.kill('m1', 'SIGTERM');
  await c.restart('m1');
  await answering(c, 'm1');
  assertPrivate(dir, 'after a restart');
  // `join-token` still prints them: the managers can open what they sealed.
  const shown = c.cli('m1', ['join-token', 'worker', '-q']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.stdout.trim(), c.workerToken);
  assert.equal(c.cli('m1', ['join-token', 'manager', '-q']).stdout.trim(), manager);

  for (const token of [c.workerToken, c.managerToken, manager]) {
    for (const name of ['m1', 'w1']) {
      assert.deepEqual(filesContaining(c.dataDir(name), secretOf(token)), [], `the secret of ${token} is in no file of ${name}'s data dir`);
    }
  }
});

test('a key file or data dir opened to others makes the next start refuse with one line', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const dir = c.dataDir('m1');
  const start = c.get('m1').args;
  await c.kill('m1', 'SIGTERM');

  chmodSync(join(dir, 'tls', 'node.key'), 0o644);
  assertOneLineError(baton(start), new RegExp(`key file ${dir}/tls/node\\.key has mode 0644.*run chmod 600 ${dir}/tls/node\\.key$`, 'm'));
  chmodSync(join(dir, 'tls', 'node.key'), 0o600);
  chmodSync(dir, 0o755);
  assertOneLineError(baton(start), new RegExp(`data dir ${dir} has mode 0755.*run chmod 700 ${dir}$`, 'm'));
  chmodSync(join(dir, 'manager.key'), 0o640);
  // Both at once, in the same line.
  assertOneLineError(baton(start), new RegExp(`data dir ${dir} has mode 0755.*manager\\.key has mode 0640.*chmod 700 ${dir} && chmod 600 ${dir}/manager\\.key$`, 'm'));
  assert.equal(lstatSync(dir).mode & 0o777, 0o755, 'a refused start changes nothing');

  chmodSync(dir, 0o700);
  chmodSync(join(dir, 'manager.key'), 0o600);
  await c.restart('m1');
  await answering(c, 'm1');
});

test('a user without the right to the socket is told so (and cannot read the data dir); a member of the socket group can use it', async (t) => {
  const tools = ['runuser', 'useradd', 'userdel', 'groupadd', 'groupdel'].every((tool) => run('sh', ['-c', `command -v ${tool}`]).code === 0);
  const root = process.getuid?.() === 0;
  if (!requireSetup(t, tools && root, `root with runuser, useradd and groupadd (root: ${root}, tools: ${tools})`)) return;
  // A group and a member of our own, so that nothing else on the machine is given the socket.
  const suffix = `${process.pid}${Date.now() % 100_000}`;
  const group = `btg${suffix}`;
  const member = `btm${suffix}`;
  const other = `bto${suffix}`;
  t.after(() => {
    run('userdel', [member]);
    run('userdel', [other]);
    run('groupdel', [group]);
  });
  for (const [cmd, args] of [
    ['groupadd', [group]],
    ['useradd', ['-M', '-N', '-G', group, '-s', '/usr/sbin/nologin', member]],
    ['useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', other]],
  ] as const) {
    const r = run(cmd, [...args]);
    if (!requireSetup(t, r.code === 0, `${cmd} ${args.join(' ')}: ${r.out}`)) return;
  }

  const c = BatonCluster.forTest(t);
  // The test's own root is private (mkdtemp): open it so that only the data dir's mode decides.
  chmodSync(c.root, 0o755);
  await c.init('m1');
  await c.init('shared', ['--socket-group', group]);
  // The CLI is one bundled file: a copy beside the data dirs runs wherever the checkout is (it
  // may be in a directory other users cannot enter).
  const cli = join(c.root, 'baton.js');
  copyFileSync(BATON, cli);
  chmodSync(cli, 0o755);
  const runs = run('runuser', ['-u', other, '--', process.execPath, cli, '--help']);
  if (!requireSetup(t, runs.code === 0, `${other} runs ${process.execPath} ${cli}: ${runs.out}`)) return;
  const asUser = (user: string, args: string[]): CliResult => {
    const r = spawnSync('runuser', ['-u', user, '--', process.execPath, cli, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  const dir = c.dataDir('m1');
  const sock = join(dir, 'baton.sock');
  for (const user of [member, other]) {
    assertOneLineError(
      asUser(user, ['node', 'ls', '--data-dir', dir]),
      new RegExp(`^Error: permission denied on ${sock} \\(run as root or as a member of group baton\\)$`, 'm'),
    );
    const hidden = asUser(user, ['node', 'ls', '--host', `unix://${sock}`]);
    assert.match(hidden.stderr, /permission denied on/);
    for (const peek of [['ls', dir], ['cat', join(dir, 'tls', 'node.key')], ['cat', join(dir, 'manager.key')]]) {
      const r = run('runuser', ['-u', user, '--', ...peek]);
      assert.notEqual(r.code, 0, `${user} ran ${peek.join(' ')}: ${r.out}`);
      assert.match(r.out, /Permission denied/);
    }
  }

  // The shared node: its group may cross the data dir to the socket and use it, nobody else.
  const shared = c.dataDir('shared');
  assert.equal(lstatSync(shared).mode & 0o777, 0o710);
  assert.equal(lstatSync(join(shared, 'baton.sock')).mode & 0o777, 0o660);
  const ok = asUser(member, ['node', 'ls', '-q', '--data-dir', shared]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), nodeIdOf(c.get('shared')));
  assertOneLineError(
    asUser(other, ['node', 'ls', '--data-dir', shared]),
    new RegExp(`^Error: permission denied on ${join(shared, 'baton.sock')} \\(run as root or as a member of group ${group}\\)$`, 'm'),
  );
  // The socket itself closed to the group (stat works, connect is refused): the same line.
  chmodSync(join(shared, 'baton.sock'), 0o600);
  assertOneLineError(
    asUser(member, ['node', 'ls', '--data-dir', shared]),
    new RegExp(`^Error: permission denied on ${join(shared, 'baton.sock')} \\(run as root or as a member of group ${group}\\)$`, 'm'),
  );
  const listed = run('runuser', ['-u', member, '--', 'ls', shared]);
  assert.notEqual(listed.code, 0, `the group crosses the data dir but does not list it: ${listed.out}`);
  assert.notEqual(run('runuser', ['-u', member, '--', 'cat', join(shared, 'tls', 'node.key')]).code, 0);

  // "No node" is kept for when there is none.
  await c.kill('m1', 'SIGKILL');
  const stale = baton(['node', 'ls', '--data-dir', dir]);
  assertOneLineError(stale, /cannot reach a baton node at unix:\/\/.*ECONNREFUSED.*is it running\?/);
  assertOneLineError(baton(['node', 'ls', '--data-dir', join(c.root, 'none')]), /no baton node is running with data dir/);
  assertOneLineError(baton(['init', '--data-dir', join(c.root, 'x'), '--listen-addr', '127.0.0.1:1', '--socket-group', `nx${suffix}`]), /bad --socket-group "nx\d+": no such group/);
});

test('a full disk: the manager exits naming the cause and the file, and a restart says the same in one line', async (t) => {
  const root = process.getuid?.() === 0;
  const c = new BatonCluster();
  const dir = c.dataDir('full');
  mkdirSync(dir);
  const mounted = root && run('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0755', 'tmpfs', dir]).code === 0;
  t.after(async () => {
    await c.stopAll();
    if (mounted && run('umount', [dir]).code !== 0) run('umount', ['-l', dir]);
    c.cleanup();
  });
  if (!requireSetup(t, mounted, `mount -t tmpfs on ${dir} (root: ${root})`)) return;

  const d = await c.init('full');
  assertPrivate(dir, 'a tmpfs mount point as data dir');
  fill(join(dir, 'filler'));
  // Writes until the raft log cannot take one more; the manager stops at the first that fails.
  const id = nodeIdOf(d);
  for (let i = 0; i < 50 && d.proc.running; i++) c.cli('full', ['node', 'update', '--label-add', `k${i}=${'v'.repeat(2000)}`, id]);
  await waitFor('the manager exits', () => !d.proc.running, { timeoutMs: 20_000 });
  const log = readFileSync(d.logFile, 'utf8');
  const line = new RegExp(`^Error: the raft log in ${dir}/raft cannot be written: no space left on device on ${dir}/raft/db/\\S+; free space on that filesystem, then start the node again$`, 'm');
  assert.match(log, line);

  // The disk still full: the restart says why it cannot open the log, in one line.
  fill(join(dir, 'filler2'));
  // Errors only: the info lines a starting node logs are not the point here.
  const restart = baton([...d.args, '--log-level', 'error']);
  assertOneLineError(restart, new RegExp(`^Error: cannot open the raft log in ${dir}/raft: no space left on device on ${dir}/raft/\\S+; free space on that filesystem, then start the node again$`, 'm'));

  // Space freed: the node comes back with its state.
  rmSync(join(dir, 'filler'));
  rmSync(join(dir, 'filler2'), { force: true });
  await c.restart('full');
  await answering(c, 'full');
  const ls = c.cli('full', ['node', 'ls', '-q']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(ls.stdout.trim(), id);
});

/** Writes to file until the filesystem has no byte left, in ever smaller pieces (bounded). */
function fill(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (let size = 1 << 20; size >= 1; size >>= 2) {
      const chunk = Buffer.alloc(size, 0x61);
      for (let i = 0; i < 1000; i++) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
