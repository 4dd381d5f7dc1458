// Client certificates and roles: what the CA signs (subject, usages, serial, SANs of node
// certificates), who may call what (the method table, the guard's refusals in one line naming
// the role, revocation through the store) and the client's choice of TLS files.
import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { baton } from '../../proto/gen/baton.js';
import { CAError, createRootCA, loadRootCA, newSealKey, seal } from '../../manager/ca/index.js';
import { caHandlers } from '../../manager/caapi/ca.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { clientCertificateRole, requestProblems } from '../../manager/caapi/client-certs.js';
import { hostOf } from '../../manager/caapi/signer.js';
import { CONTROL_METHODS, SERVICE_LOGS_RULE } from '../../manager/controlapi/index.js';
import type { Manager } from '../../manager/manager.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { createAction, deleteAction } from '../../manager/store/index.js';
import { certificateGuard, forwardingMetadata, type Guard } from '../../rpc/caller.js';
import { BatonError } from '../../rpc/errors.js';
import { checkPeer, generateNodeKey, normalSerial, peerIdentity, type CertRole } from '../../rpc/tls/index.js';
import { readTlsFiles, tlsFilePaths } from '../../client/tls-files.js';

const CLUSTER = 'c1';

async function rootCA() {
  const r = await createRootCA(CLUSTER);
  return loadRootCA(r.certPem, r.keyPkcs8);
}

/** A server call as grpc-js hands it over after a verified handshake with this certificate. */
function callWith(certPem: string, metadata = new grpc.Metadata()) {
  const cert = new X509Certificate(certPem);
  const field = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(cert.subject)?.[1] ?? '';
  const peer = { subject: { CN: field('CN'), OU: field('OU'), O: field('O') }, valid_to: cert.validTo, serialNumber: cert.serialNumber };
  return { getAuthContext: () => ({ sslPeerCertificate: peer as never }), metadata };
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatonError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'OK', message: '' };
}

test('a client certificate: CN name, OU role, O cluster, client auth only, serial as peers report it', async () => {
  const ca = await rootCA();
  const { csrPem } = await generateNodeKey();
  const issued = await ca.issueClientCertificate(csrPem, { name: 'ops', role: 'readonly', clusterId: CLUSTER }, 30 * 86_400_000, new Date());
  const cert = new X509Certificate(issued.certPem);
  assert.equal(cert.subject, `O=${CLUSTER}\nOU=readonly\nCN=ops`);
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the root');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth only: it cannot serve as a node');
  assert.equal(cert.subjectAltName, undefined);
  assert.equal(issued.serial, normalSerial(cert.serialNumber));
  assert.equal(issued.notAfter.getTime(), Date.parse(cert.validTo));
  const identity = peerIdentity(callWith(issued.certPem));
  assert.deepEqual(identity && { ...identity, notAfter: 0 }, { nodeId: 'ops', role: 'readonly', clusterId: CLUSTER, notAfter: 0, serial: issued.serial });

  await assert.rejects(ca.issueClientCertificate(csrPem, { name: 'x', role: 'manager' as never, clusterId: CLUSTER }, 1000), (e: unknown) => e instanceof CAError && /admin or readonly/.test(e.message));
  await assert.rejects(ca.issueClientCertificate('not a csr', { name: 'x', role: 'admin', clusterId: CLUSTER }, 1000), (e: unknown) => e instanceof CAError && e.code === 'BAD_CSR');
});

test('a node certificate names its advertise host: an IP as an IP SAN, a name as a DNS SAN', async () => {
  const ca = await rootCA();
  const { csrPem } = await generateNodeKey();
  const byIp = new X509Certificate(await ca.issueNodeCertificate(csrPem, { nodeId: 'n1', role: 'manager', clusterId: CLUSTER, hosts: [hostOf('127.0.5.1:4242')] }, 3600_000));
  assert.equal(byIp.subjectAltName, 'DNS:n1, IP Address:127.0.5.1');
  assert.equal(byIp.checkIP('127.0.5.1'), '127.0.5.1');
  const byName = new X509Certificate(await ca.issueNodeCertificate(csrPem, { nodeId: 'n1', role: 'worker', clusterId: CLUSTER, hosts: [hostOf('node-a.example:4242')] }, 3600_000));
  assert.equal(byName.checkHost('node-a.example'), 'node-a.example');
  const v6 = new X509Certificate(await ca.issueNodeCertificate(csrPem, { nodeId: 'n1', role: 'worker', clusterId: CLUSTER, hosts: [hostOf('[::1]:4242')] }, 3600_000));
  assert.equal(v6.checkIP('::1'), '::1');
  // Without hosts (a caller that knows none) the node ID alone, as before.
  assert.equal(new X509Certificate(await ca.issueNodeCertificate(csrPem, { nodeId: 'n1', role: 'worker', clusterId: CLUSTER }, 3600_000)).subjectAltName, 'DNS:n1');
  assert.equal(hostOf('bad'), '');
});

test('the method table: readonly may read (not the join tokens), admin may do what a manager may', () => {
  const roles = (r: readonly CertRole[]): string => [...r].sort().join(',');
  for (const [method, rule] of Object.entries(CONTROL_METHODS)) {
    if (method === 'AddRaftMember') assert.equal(roles(rule.roles), 'manager', 'only a joining manager adds itself');
    else if (rule.access === 'write') assert.equal(roles(rule.roles), 'admin,manager', method);
    else if (method === 'GetCluster') assert.equal(roles(rule.roles), 'admin,manager', 'GetCluster carries the join tokens');
    else if (method === 'GetUnlockKey') assert.equal(roles(rule.roles), 'admin,manager', 'the unlock key is as secret as the join tokens');
    else if (method === 'Unlock') assert.equal(roles(rule.roles), 'admin,manager', 'unlocking is no read');
    // Answered by any manager (it asks the nodes, the store does not change), yet a removal.
    else if (method === 'RemoveVolume' || method === 'CreateVolume' || method === 'PruneVolumes') assert.equal(roles(rule.roles), 'admin,manager', `${method} changes the nodes: not a read`);
    else assert.ok(rule.roles.includes('readonly') && rule.roles.includes('admin') && rule.roles.includes('manager'), method);
  }
  assert.ok(SERVICE_LOGS_RULE.roles.includes('readonly'), 'logs are a read');
});

test('the guard: roles refused in one line naming the role; revocation through the store; no forwarding by clients', async () => {
  const ca = await rootCA();
  const { csrPem } = await generateNodeKey();
  const viewer = await ca.issueClientCertificate(csrPem, { name: 'viewer', role: 'readonly', clusterId: CLUSTER }, 3600_000);
  const ops = await ca.issueClientCertificate(csrPem, { name: 'ops', role: 'admin', clusterId: CLUSTER }, 3600_000);
  const host = new LocalHost();
  const manager = host as unknown as Manager;
  const record = (name: string, role: string, serial: string) =>
    createAction('certificate', { meta: { id: `id-${name}` }, spec: { annotations: { name }, role }, serial, expiresAt: 0 });
  host.apply([record('viewer', 'readonly', viewer.serial), record('ops', 'admin', ops.serial)]);
  const guard = certificateGuard(
    () => CLUSTER,
    (id) => (id.role === 'admin' || id.role === 'readonly' ? clientCertificateRole(manager, id.nodeId, id.serial) : undefined),
  );
  const { read, write } = { read: CONTROL_METHODS.ListServices.roles, write: CONTROL_METHODS.CreateService.roles };

  assert.deepEqual(guard(callWith(viewer.certPem), read), { nodeId: 'viewer', role: 'readonly' });
  const denied = refusal(() => guard(callWith(viewer.certPem), write));
  assert.equal(denied.code, 'PERMISSION_DENIED');
  assert.equal(denied.message, 'permission denied: certificate "viewer" has role readonly, which may only list, inspect and read logs');
  assert.deepEqual(guard(callWith(ops.certPem), write), { nodeId: 'ops', role: 'admin' });
  // Node-only calls (the dispatcher's, a renewal) are not for client certificates at all.
  assert.match(refusal(() => guard(callWith(ops.certPem), ['manager', 'worker'])).message, /role admin; this call needs a node certificate/);
  const nodeOnly = checkPeer(callWith(ops.certPem), ['worker'], CLUSTER);
  assert.equal(nodeOnly.ok, false);

  // A client that sends forwarding metadata is held to what a forwarding manager must be.
  const forged = refusal(() => guard(callWith(ops.certPem, forwardingMetadata({ nodeId: '', role: 'local' })), write));
  assert.equal(forged.code, 'PERMISSION_DENIED');

  // Revoked: the record is gone, or names another certificate of the same name.
  host.apply([deleteAction('certificate', host.store.get('certificate', 'id-viewer')!)]);
  assert.deepEqual(refusal(() => guard(callWith(viewer.certPem), read)), { code: 'UNAUTHENTICATED', message: 'certificate "viewer" was revoked (it is not among the cluster\'s certificates)' });
  host.apply([createAction('certificate', { meta: { id: 'id-viewer2' }, spec: { annotations: { name: 'viewer' }, role: 'readonly' }, serial: 'ffff', expiresAt: 0 })]);
  assert.equal(refusal(() => guard(callWith(viewer.certPem), read)).code, 'UNAUTHENTICATED', 'a new certificate of the same name does not bring the old one back');
  assert.deepEqual(guard(callWith(ops.certPem), read), { nodeId: 'ops', role: 'admin' });
});

test('create requests: every problem at once', () => {
  assert.deepEqual(requestProblems('ops', 'admin', 0), []);
  assert.deepEqual(requestProblems('', 'root', -1), ['a certificate name is required', 'bad role "root" (want admin or readonly)', 'bad expiry -1 ms (want a positive duration)']);
  assert.match(requestProblems('-x', 'readonly', 0)[0]!, /invalid certificate name "-x"/);
  assert.match(requestProblems('a'.repeat(64), 'readonly', 0)[0]!, /64 characters, more than the limit of 63/);
});

test('TLS files: flags, else BATON_CERT_PATH, else none; bad files said in one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-tls-files-'));
  try {
    assert.equal(tlsFilePaths({}), undefined, 'neither: the data dir\'s node certificate is used');
    assert.deepEqual(tlsFilePaths({ certPath: dir, key: '/k.pem' }), { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: '/k.pem' });
    assert.throws(() => tlsFilePaths({ cert: '/c.pem' }), /go together .*missing --tlscacert, --tlskey/);
    const paths = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    assert.throws(() => readTlsFiles(paths), (e: unknown) => e instanceof BatonError && e.message === `cannot read CA certificate ${paths.ca}: no such file; cannot read certificate ${paths.cert}: no such file; cannot read key ${paths.key}: no such file`);
    const ca = await rootCA();
    const key = await generateNodeKey();
    const issued = await ca.issueClientCertificate(key.csrPem, { name: 'ops', role: 'admin', clusterId: CLUSTER }, 3600_000);
    writeFileSync(paths.ca, ca.certPem);
    writeFileSync(paths.cert, issued.certPem);
    writeFileSync(paths.key, (await generateNodeKey()).keyPem);
    assert.throws(() => readTlsFiles(paths), /are not a usable CA certificate, certificate and key: .+/);
    writeFileSync(paths.key, key.keyPem);
    assert.deepEqual(readTlsFiles(paths), { caPem: ca.certPem, certPem: issued.certPem, keyPem: key.keyPem });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a renewal names the node by its address in the store (certificates issued before SANs get them)', async () => {
  const root = await createRootCA(CLUSTER);
  const managerKey = newSealKey();
  const host = new LocalHost();
  host.apply([
    createAction('cluster', { meta: { id: CLUSTER }, spec: { annotations: { name: 'default' }, nodeCertExpiryMs: 3600_000 }, rootCa: { caCertPem: root.certPem, encryptedCaKey: seal(managerKey, root.keyPkcs8) } }),
    createAction('node', { meta: { id: 'n1' }, spec: { desiredRole: baton.NodeRole.WORKER }, status: { addr: '127.0.5.1:4242' }, role: baton.NodeRole.WORKER }),
  ]);
  const manager = Object.assign(host, { isLeader: () => true }) as unknown as Manager;
  const guard: Guard = () => ({ nodeId: 'n1', role: 'worker' });
  const handlers = caHandlers({ manager, forwarder: {} as LeaderForwarder, guard, clusterId: CLUSTER, caPem: root.certPem, managerKey });
  const { csrPem } = await generateNodeKey();
  const res = await handlers.Renew({ csrPem }, {} as never);
  assert.equal(new X509Certificate(res.certPem ?? '').subjectAltName, 'DNS:n1, IP Address:127.0.5.1');
});
