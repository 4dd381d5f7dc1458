// Client certificates as a user meets them, through the real CLI on a real two-manager cluster:
// `baton cert create` for an admin and a readonly client, `baton --host tcp://…` with each
// (BATON_CERT_PATH and the --tls* flags), a readonly write refused in one line, bad files in one
// line, `cert ls`, and `cert rm` refusing the revoked certificate on every manager at once.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { BatonCluster, baton, type CliResult } from '../lib/baton-cluster.js';

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stdout: ${r.stdout})`);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, `one error line, got: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, pattern);
}

function ok(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('client certificates: create, use over tcp with admin and readonly roles, list, revoke', { timeout: 240_000 }, async (t) => {
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(2, 0);
  const m1 = c.get('m1').addr;
  const m2 = c.get('m2').addr;
  const dir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const admin = join(dir, 'admin');
  const viewer = join(dir, 'viewer');

  // Made over the local socket (the node's administrator), the key on this side only.
  assert.equal(ok(c.cli('m1', ['cert', 'create', '--name', 'ops', '--role', 'admin', '--out', admin])).trim(), 'ops');
  assert.equal(ok(c.cli('m1', ['cert', 'create', '--name', 'viewer', '--role', 'readonly', '--expiry', '30d', '--out', viewer])).trim(), 'viewer');
  for (const d of [admin, viewer]) {
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) assert.ok(existsSync(join(d, f)), `${d}/${f}`);
    assert.equal(statSync(join(d, 'key.pem')).mode & 0o777, 0o600, 'key.pem is the user\'s alone');
  }
  const viewerCert = new X509Certificate(readFileSync(join(viewer, 'cert.pem')));
  assert.match(viewerCert.subject, /OU=readonly/);
  assert.match(viewerCert.subject, /CN=viewer/);
  const days = (Date.parse(viewerCert.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `--expiry 30d: valid for ${days} days`);
  // The same name twice, and every bad flag of a line at once.
  assertOneLineError(c.cli('m1', ['cert', 'create', '--name', 'ops', '--role', 'admin', '--out', join(dir, 'again')]), /certificate ops already exists/);
  assertOneLineError(c.cli('m1', ['cert', 'create', '--name', 'x', '--role', 'root', '--expiry', '5', '--out', admin]), /bad --role "root".*--expiry.*already has ca\.pem, cert\.pem, key\.pem/);

  // cert ls: a Docker-style table, and JSON.
  const lines = ok(c.cli('m2', ['cert', 'ls'])).trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+ROLE\s+SERIAL\s+EXPIRES$/);
  assert.match(lines[1]!, /^ops\s+admin\s+[0-9a-f]+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  assert.match(lines[2]!, /^viewer\s+readonly\s+[0-9a-f]+\s+/);
  const listed = JSON.parse(ok(c.cli('m1', ['cert', 'ls', '--format', 'json']))) as { Name: string; Role: string; Serial: string }[];
  assert.deepEqual(listed.map((x) => [x.Name, x.Role]), [['ops', 'admin'], ['viewer', 'readonly']]);
  assert.equal(listed[1]!.Serial, viewerCert.serialNumber.toLowerCase().replace(/^0+/, ''));

  // admin over tcp with BATON_CERT_PATH: a write on the follower (forwarded), a read on both.
  // Right after the command words: at the end they could land in a service's own command line.
  const tcp = (addr: string, args: string[]): string[] => [...args.slice(0, 2), '--host', `tcp://${addr}`, ...args.slice(2)];
  const asAdmin = (addr: string, args: string[]): CliResult => baton(tcp(addr, args), { BATON_CERT_PATH: admin });
  ok(asAdmin(m2, ['service', 'create', '-d', '--runtime', 'process', '--name', 'web', '--', 'sleep', '1000']));
  assert.match(ok(asAdmin(m1, ['service', 'ls'])), /\bweb\b/);
  // The same with the flags, Docker's --tlscacert/--tlscert/--tlskey.
  const flags = ['--tlscacert', join(admin, 'ca.pem'), '--tlscert', join(admin, 'cert.pem'), '--tlskey', join(admin, 'key.pem')];
  assert.match(ok(baton(['service', 'ls', '--host', `tcp://${m1}`, ...flags])), /\bweb\b/);

  // readonly: lists and inspects on any manager; every write refused in one line naming the role.
  const asViewer = (addr: string, args: string[]): CliResult => baton(tcp(addr, args), { BATON_CERT_PATH: viewer });
  assert.match(ok(asViewer(m1, ['service', 'ls'])), /\bweb\b/);
  assert.match(ok(asViewer(m2, ['service', 'inspect', 'web'])), /"web"/);
  ok(asViewer(m2, ['node', 'ls']));
  assertOneLineError(asViewer(m1, ['service', 'create', '-d', '--runtime', 'process', '--name', 'nope', '--', 'sleep', '1']), /permission denied: certificate "viewer" has role readonly/);
  assertOneLineError(asViewer(m2, ['service', 'rm', 'web']), /role readonly/);
  assertOneLineError(asViewer(m1, ['cert', 'create', '--name', 'mine', '--role', 'admin', '--out', join(dir, 'mine')]), /role readonly/);
  assertOneLineError(asViewer(m1, ['join-token', 'worker']), /role readonly/);
  assert.match(ok(asAdmin(m1, ['service', 'ls'])), /\bweb\b/, 'the readonly refusals changed nothing');

  // Bad or missing files: one line each, nothing sent.
  assertOneLineError(baton(['service', 'ls', '--host', `tcp://${m1}`], { BATON_CERT_PATH: join(dir, 'none') }), /cannot read CA certificate .*none\/ca\.pem: no such file; cannot read certificate/);
  assertOneLineError(baton(['service', 'ls', '--host', `tcp://${m1}`, '--tlscert', join(admin, 'cert.pem')]), /go together .*missing --tlscacert, --tlskey/);
  const mixed = join(dir, 'mixed.pem');
  writeFileSync(mixed, readFileSync(join(viewer, 'key.pem')));
  assertOneLineError(baton(['service', 'ls', '--host', `tcp://${m1}`, ...flags.slice(0, 4), '--tlskey', mixed]), /not a usable CA certificate, certificate and key/);

  // cert rm: refused from the next call on, on both managers; an admin still works.
  assert.equal(ok(c.cli('m1', ['cert', 'rm', 'viewer'])).trim(), 'viewer');
  assertOneLineError(asViewer(m1, ['service', 'ls']), /certificate "viewer" was revoked/);
  assertOneLineError(asViewer(m2, ['service', 'ls']), /certificate "viewer" was revoked/);
  // A new certificate of the same name does not bring the old one back.
  ok(asAdmin(m1, ['cert', 'create', '--name', 'viewer', '--role', 'readonly', '--out', join(dir, 'viewer2')]));
  assertOneLineError(asViewer(m2, ['service', 'ls']), /was revoked/);
  assert.match(ok(baton(['service', 'ls', '--host', `tcp://${m2}`], { BATON_CERT_PATH: join(dir, 'viewer2') })), /\bweb\b/);
  assert.deepEqual(ok(c.cli('m2', ['cert', 'ls', '-q'])).trim().split('\n'), ['ops', 'viewer']);
  ok(asAdmin(m1, ['service', 'rm', 'web']));
});
