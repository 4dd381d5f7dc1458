// The data dir's TLS files change as one set: a renewal brings a new key with its certificate,
// and a crash between writing the two must not leave a node whose key does not match its
// certificate. The dir and its files are the node's user's alone.
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDir } from '../../src/daemon/state.js';
import { checkPrivate, makePrivate, reopenPrivate } from '../../src/daemon/private-files.js';
import { BatonError } from '../../rpc/errors.js';

const OLD = { caPem: 'ca-1', certPem: 'cert-1', keyPem: 'key-1' };
const NEW = { caPem: 'ca-1', certPem: 'cert-2', keyPem: 'key-2' };

function dataDir(t: { after(fn: () => void): void }): DataDir {
  const path = mkdtempSync(join(tmpdir(), 'baton-datadir-'));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return new DataDir(path);
}

test('saveTls writes the three files, the key private, and leaves no intent or temp file', (t) => {
  const dir = dataDir(t);
  dir.saveTls(OLD);
  dir.saveTls(NEW);
  assert.deepEqual(dir.loadTls(), NEW);
  assert.deepEqual(readdirSync(join(dir.path, 'tls')).sort(), ['ca.crt', 'node.crt', 'node.key']);
  assert.equal(statSync(join(dir.path, 'tls', 'node.key')).mode & 0o777, 0o600);
});

test('a renewal cut short after the new key replaced the old one: the next load completes it', (t) => {
  const dir = dataDir(t);
  dir.saveTls(OLD);
  // What a crash between the key's rename and the certificate's leaves behind.
  writeFileSync(join(dir.path, 'tls', 'pending.json'), JSON.stringify(NEW), { mode: 0o600 });
  writeFileSync(join(dir.path, 'tls', 'node.key'), NEW.keyPem);
  writeFileSync(join(dir.path, 'tls', 'node.crt.tmp'), 'cert-');
  assert.deepEqual(dir.loadTls(), NEW);
  assert.equal(readFileSync(join(dir.path, 'tls', 'node.crt'), 'utf8'), NEW.certPem);
  assert.deepEqual(readdirSync(join(dir.path, 'tls')).sort(), ['ca.crt', 'node.crt', 'node.key']);
});

test('a renewal cut short before its intent was renamed into place keeps the old, matching set', (t) => {
  const dir = dataDir(t);
  dir.saveTls(OLD);
  writeFileSync(join(dir.path, 'tls', 'pending.json.tmp'), '{"caPem":"ca-1","cert');
  assert.deepEqual(dir.loadTls(), OLD);
});

test('a data dir that existed before init is tightened to 0700; files an older version left open are tightened', (t) => {
  const dir = dataDir(t);
  chmodSync(dir.path, 0o755);
  makePrivate(dir.path, undefined);
  assert.equal(statSync(dir.path).mode & 0o777, 0o700);
  dir.save({ nodeId: 'n', clusterId: 'c', role: 'manager', listenAddr: 'a:1', advertiseAddr: 'a:1', managers: [] });
  dir.saveTls(OLD);
  dir.saveManagerKey(new Uint8Array(32));
  for (const f of ['node.json', 'tls/ca.crt', 'tls/node.crt', 'tls/node.key', 'manager.key']) {
    assert.equal(statSync(join(dir.path, f)).mode & 0o777, 0o600, f);
  }
  // What a previous version (umask 022) left: LevelDB files 0644, their dirs 0755.
  mkdirSync(join(dir.path, 'raft', 'db'), { recursive: true, mode: 0o755 });
  writeFileSync(join(dir.path, 'raft', 'db', 'CURRENT'), 'MANIFEST-000002\n', { mode: 0o644 });
  chmodSync(join(dir.path, 'node.json'), 0o644);
  reopenPrivate(dir.path, undefined);
  assert.equal(statSync(join(dir.path, 'raft', 'db')).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir.path, 'raft', 'db', 'CURRENT')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir.path, 'node.json')).mode & 0o777, 0o600);
});

test('a data dir or key file open to group/others is refused in one line naming each path, its mode and the fix', (t) => {
  const dir = dataDir(t);
  makePrivate(dir.path, undefined);
  dir.saveTls(OLD);
  dir.saveManagerKey(new Uint8Array(32));
  assert.doesNotThrow(() => checkPrivate(dir.path));
  // Crossing the dir (x) is what the socket's group needs; it shows nothing.
  chmodSync(dir.path, 0o710);
  assert.doesNotThrow(() => checkPrivate(dir.path));

  chmodSync(join(dir.path, 'tls', 'node.key'), 0o640);
  const refused = (pattern: RegExp): void =>
    assert.throws(
      () => checkPrivate(dir.path),
      (err: unknown) => err instanceof BatonError && err.code === 'FAILED_PRECONDITION' && !err.message.includes('\n') && pattern.test(err.message),
    );
  refused(new RegExp(`key file ${dir.path}/tls/node\\.key has mode 0640, open to group: .*run chmod 600 ${dir.path}/tls/node\\.key$`));
  chmodSync(dir.path, 0o755);
  chmodSync(join(dir.path, 'manager.key'), 0o604);
  refused(
    new RegExp(
      `^data dir ${dir.path} has mode 0755, open to group and others; key file .*node\\.key has mode 0640.*; key file .*manager\\.key has mode 0604, open to others: ` +
        `.*run chmod 700 ${dir.path} && chmod 600 ${dir.path}/tls/node\\.key && chmod 600 ${dir.path}/manager\\.key$`,
    ),
  );
  // reopenPrivate refuses too, and changes nothing.
  assert.throws(() => reopenPrivate(dir.path, undefined), BatonError);
  assert.equal(statSync(dir.path).mode & 0o777, 0o755);
});

test('a directory holding anything but a node\'s own entries is refused, not taken over', (t) => {
  const dir = dataDir(t);
  chmodSync(dir.path, 0o1777);
  writeFileSync(join(dir.path, 'other-app.conf'), 'x');
  assert.throws(
    () => makePrivate(dir.path, undefined),
    (err: unknown) =>
      err instanceof BatonError && err.code === 'FAILED_PRECONDITION' && /is not empty and holds no baton node \(it has "other-app.conf"\): give a new or empty directory$/.test(err.message),
  );
  assert.equal(statSync(dir.path).mode & 0o7777, 0o1777, 'its mode is left as it was');
  assert.throws(() => makePrivate(join(dir.path, 'other-app.conf'), undefined), (err: unknown) => err instanceof BatonError && /other-app\.conf is not a directory/.test(err.message));
  // A mount point's lost+found, or what an init that died before node.json wrote, is fine.
  rmSync(join(dir.path, 'other-app.conf'));
  mkdirSync(join(dir.path, 'lost+found'));
  mkdirSync(join(dir.path, 'tls'));
  makePrivate(dir.path, undefined);
  assert.equal(statSync(dir.path).mode & 0o7777, 0o700);
});

test('a key file behind a symlink is judged by the file it names', (t) => {
  const dir = dataDir(t);
  makePrivate(dir.path, undefined);
  dir.saveManagerKey(new Uint8Array(32));
  const elsewhere = mkdtempSync(join(tmpdir(), 'baton-keys-'));
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  renameSync(join(dir.path, 'manager.key'), join(elsewhere, 'manager.key'));
  symlinkSync(join(elsewhere, 'manager.key'), join(dir.path, 'manager.key'));
  assert.doesNotThrow(() => checkPrivate(dir.path), 'a 0600 key behind a link (the link itself reads 0777)');
  chmodSync(join(elsewhere, 'manager.key'), 0o644);
  assert.throws(() => checkPrivate(dir.path), (err: unknown) => err instanceof BatonError && /manager\.key has mode 0644/.test(err.message));
});
