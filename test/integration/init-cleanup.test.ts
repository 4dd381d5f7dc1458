// A failed `baton init` (here: its port taken) leaves the data dir as it found it: a dir init
// made is gone; a dir that was there (empty, 0755) is still there, empty, with its mode.
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baton } from '../lib/baton-cluster.js';

test('a failed init removes what it made of the data dir, never what was there', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'baton-init-cleanup-'));
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fresh = join(root, 'fresh');
  const r1 = baton(['init', '--data-dir', fresh, '--listen-addr', addr, '--log-level', 'error']);
  assert.equal(r1.code, 1, r1.stdout);
  assert.match(r1.stderr, /address already in use/);
  assert.equal(existsSync(fresh), false, `no half-made data dir: ${existsSync(fresh) ? readdirSync(fresh).join(', ') : ''}`);

  const given = join(root, 'given');
  mkdirSync(given);
  chmodSync(given, 0o755);
  const r2 = baton(['init', '--data-dir', given, '--listen-addr', addr, '--log-level', 'error']);
  assert.equal(r2.code, 1, r2.stdout);
  assert.ok(existsSync(given), 'a dir the user made is never removed');
  assert.deepEqual(readdirSync(given), [], 'what init wrote in it is gone');
  assert.equal(statSync(given).mode & 0o777, 0o755, 'its mode as it was');
});
