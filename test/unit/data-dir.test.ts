// The data dir's TLS files change as one set: a renewal brings a new key with its certificate,
// and a crash between writing the two must not leave a node whose key does not match its
// certificate.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDir } from '../../src/daemon/state.js';

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
