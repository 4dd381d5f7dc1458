// Autolock at rest: the unlock key's format, the key files sealed under it (no private key in
// clear), a wrong key refused, and a re-seal (rotation, autolock off) cut short by a crash
// finished by the key it was going to.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDir } from '../../src/daemon/state.js';
import { generateUnlockKey, lockFile, openLockedFile, parseUnlockKey, UnlockKeyError } from '../../manager/ca/index.js';

const TLS = { caPem: 'ca-pem', certPem: 'cert-pem', keyPem: '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n' };
const MANAGER_KEY = new Uint8Array(32).fill(7);

function dataDir(t: { after(fn: () => void): void }): DataDir {
  const path = mkdtempSync(join(tmpdir(), 'baton-autolock-'));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  const dir = new DataDir(path);
  dir.saveTls(TLS);
  dir.saveManagerKey(MANAGER_KEY);
  return dir;
}

const read = (dir: DataDir, name: string): string => readFileSync(join(dir.path, name), 'latin1');

test('unlock keys: BTNKEY-1- and 32 random bytes; anything else refused with what is wrong', () => {
  const a = generateUnlockKey();
  assert.match(a, /^BTNKEY-1-[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, generateUnlockKey());
  assert.equal(parseUnlockKey(` ${a}\n`).length, 32);
  assert.throws(() => parseUnlockKey('SWMKEY-1-abc'), (e: unknown) => e instanceof UnlockKeyError && /starts with "BTNKEY-1-"/.test(e.message));
  assert.throws(() => parseUnlockKey(a.slice(0, -1)), /43 base64url characters/);
  assert.throws(() => parseUnlockKey(a.slice(0, -1) + '!'), /43 base64url characters/);
});

test('a locked file opens with its key only, and names a wrong key as such', () => {
  const key = parseUnlockKey(generateUnlockKey());
  const locked = lockFile(key, new Uint8Array(Buffer.from('payload')));
  assert.equal(Buffer.from(openLockedFile(key, locked)).toString(), 'payload');
  assert.throws(() => openLockedFile(parseUnlockKey(generateUnlockKey()), locked), (e: unknown) => e instanceof UnlockKeyError && e.code === 'WRONG_KEY');
  const tampered = Buffer.from(locked);
  tampered[40] = tampered[40] === 0x41 ? 0x42 : 0x41;
  assert.throws(() => openLockedFile(key, tampered), UnlockKeyError);
});

test('relock seals every key file; a new process is locked until the right key, and reads them back', (t) => {
  const dir = dataDir(t);
  const key = parseUnlockKey(generateUnlockKey());
  dir.relock(key);
  for (const name of ['tls/node.key', 'manager.key']) {
    assert.match(read(dir, name), /^-----BEGIN BATON LOCKED KEY-----\n/);
    assert.doesNotMatch(read(dir, name), /PRIVATE KEY|secret/);
  }
  const restarted = new DataDir(dir.path);
  assert.equal(restarted.lock.locked(), true);
  assert.throws(() => restarted.loadTls(), /this node is locked: run baton unlock/);
  assert.equal(restarted.lock.unlock(parseUnlockKey(generateUnlockKey())), false);
  assert.equal(restarted.lock.locked(), true);
  assert.equal(restarted.lock.unlock(key), true);
  assert.deepEqual(restarted.loadTls(), TLS);
  assert.deepEqual(restarted.loadManagerKey(), MANAGER_KEY);
  // A renewal while locked keeps the new key sealed.
  restarted.saveTls({ ...TLS, certPem: 'cert-2' });
  assert.match(read(dir, 'tls/node.key'), /^-----BEGIN BATON LOCKED KEY-----/);
  // Autolock off: in clear again, and no unlock asked.
  restarted.relock(undefined);
  assert.equal(read(dir, 'tls/node.key'), TLS.keyPem);
  assert.equal(new DataDir(dir.path).lock.locked(), false);
});

test('a rotation cut short after its intent: the new key finishes it, the old one no longer opens the set', (t) => {
  const dir = dataDir(t);
  const oldKey = parseUnlockKey(generateUnlockKey());
  const newKey = parseUnlockKey(generateUnlockKey());
  dir.relock(oldKey);
  // What a crash leaves after the intent and manager.key were written under the new key, node.key not.
  dir.lock.begin(newKey, { managerKey: MANAGER_KEY, keyPem: TLS.keyPem });
  dir.saveManagerKey(MANAGER_KEY);
  const restarted = new DataDir(dir.path);
  assert.equal(restarted.lock.locked(), true);
  assert.equal(restarted.lock.unlock(oldKey), false);
  assert.equal(restarted.lock.unlock(newKey), true);
  assert.deepEqual(restarted.loadTls(), TLS);
  assert.deepEqual(restarted.loadManagerKey(), MANAGER_KEY);
  assert.throws(() => readFileSync(join(dir.path, 'keys.pending')), /ENOENT/);
  assert.deepEqual(Buffer.from(openLockedFile(newKey, readFileSync(join(dir.path, 'tls/node.key')))).toString(), TLS.keyPem);
});

test('autolock turned off, cut short: the clear intent is finished at start, with no unlock', (t) => {
  const dir = dataDir(t);
  dir.relock(parseUnlockKey(generateUnlockKey()));
  dir.lock.begin(undefined, { managerKey: MANAGER_KEY, keyPem: TLS.keyPem });
  writeFileSync(join(dir.path, 'manager.key'), MANAGER_KEY);
  const restarted = new DataDir(dir.path);
  assert.equal(restarted.lock.locked(), false);
  assert.deepEqual(restarted.loadTls(), TLS);
});
