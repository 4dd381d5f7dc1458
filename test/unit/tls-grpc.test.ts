// mTLS over real gRPC sockets on 127.0.0.1, through the daemon's NodeTlsListener: the one port
// that serves joining nodes (no certificate) and verified nodes alike, role checks, foreign CAs,
// certificate hot-reload; a connection's certificate read once, its holder checked on every call.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createRootCA, generateJoinToken, loadRootCA, parseJoinToken } from '../../manager/ca/index.js';
import type { RootCA } from '../../manager/ca/index.js';
import {
  authorize,
  authorizeStream,
  bootstrapCredentials,
  caDigest,
  clientCredentials,
  generateNodeKey,
  NODE_CHANNEL_OPTIONS,
  LISTEN_BACKLOG,
  NodeTlsListener,
  peerIdentity,
} from '../../rpc/tls/index.js';
import type { NodeIdentity, NodeRole, NodeTlsMaterial } from '../../rpc/tls/index.js';
import { certificateGuard } from '../../rpc/caller.js';
import { BatonError } from '../../rpc/errors.js';

const HOST = '127.0.0.1';
const HOUR = 3600_000;
const CLUSTER = 'cluster-a';

// A hand-built service with JSON messages: enough to exercise credentials, no .proto needed.
const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v ?? null)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};
function method(name: string, responseStream = false): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/baton.test.Tls/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: name,
  };
}
const service = {
  ManagerOnly: method('ManagerOnly'),
  AnyNode: method('AnyNode'),
  RootCert: method('RootCert'),
  WatchManagers: method('WatchManagers', true),
  Guarded: method('Guarded'),
} satisfies grpc.ServiceDefinition;

/** One cluster's CA and a helper to issue node material from it. */
interface Cluster {
  id: string;
  ca: RootCA;
  node(nodeId: string, role: NodeRole, validityMs?: number, now?: Date): Promise<NodeTlsMaterial>;
}

async function makeCluster(id: string): Promise<Cluster> {
  const root = await createRootCA(id);
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  return {
    id,
    ca,
    async node(nodeId, role, validityMs = HOUR, now = new Date()) {
      const { keyPem, csrPem } = await generateNodeKey();
      const certPem = await ca.issueNodeCertificate(csrPem, { nodeId, role, clusterId: id }, validityMs, now);
      return { caPem: ca.certPem, certPem, keyPem };
    },
  };
}

let a: Cluster;
let b: Cluster;
let listener: NodeTlsListener;
/** Node IDs the cluster no longer lists: the Guarded method refuses them (as a removed node). */
const removed = new Set<string>();
let server: grpc.Server;
let port: number;
const clients: grpc.Client[] = [];

before(async () => {
  [a, b] = await Promise.all([makeCluster(CLUSTER), makeCluster('cluster-b')]);
  server = new grpc.Server();
  listener = new NodeTlsListener(server, await a.node('mgr-1', 'manager'));
  // The daemon's guard: the certificate, then the cluster's current view of its holder.
  const guard = certificateGuard(
    () => CLUSTER,
    ({ nodeId, role }) => (removed.has(nodeId) ? undefined : role),
  );
  const identityReply = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>, identity: NodeIdentity) => {
    // The wrapper's identity and peerIdentity() agree.
    assert.deepEqual(peerIdentity(call), identity);
    callback(null, { ...identity, notAfter: identity.notAfter.toISOString() });
  };
  server.addService(service, {
    ManagerOnly: authorize(['manager'], CLUSTER, identityReply),
    AnyNode: authorize(['manager', 'worker'], CLUSTER, identityReply),
    // The CA's join path: callable without a certificate.
    RootCert: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, { pem: a.ca.certPem }),
    WatchManagers: authorizeStream<grpc.ServerWritableStream<unknown, unknown>>(['manager'], CLUSTER, (call, identity) => {
      call.write({ nodeId: identity.nodeId });
      call.write({ nodeId: peerIdentity(call)?.nodeId });
      call.end();
    }),
    Guarded: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      try {
        callback(null, guard(call, ['manager', 'worker']));
      } catch (e) {
        const err = e as BatonError;
        callback({ code: err.code === 'UNAUTHENTICATED' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED, details: err.message });
      }
    },
  });
  port = await listener.listen(`${HOST}:0`);
});

after(() => {
  for (const c of clients) c.close();
  listener.close();
  server.forceShutdown();
});

test('the port queues as many connections as the system allows, not Node\'s default 511', () => {
  // ss shows a listening socket's backlog as its Send-Q; the kernel caps it at somaxconn.
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const sendQ = Number(line.split(/\s+/)[2]);
  assert.equal(sendQ, Math.min(LISTEN_BACKLOG, somaxconn), line);
});

function client(creds: grpc.ChannelCredentials): grpc.Client {
  const c = new grpc.Client(`${HOST}:${port}`, creds, NODE_CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

function call(c: grpc.Client, name: keyof typeof service, request: unknown = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(
      service[name].path,
      json.serialize,
      json.deserialize,
      request,
      { deadline: Date.now() + 10_000 },
      (err, value) => (err ? reject(err) : resolve(value as Record<string, unknown>)),
    );
  });
}

function stream(c: grpc.Client, name: keyof typeof service): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const got: unknown[] = [];
    const s = c.makeServerStreamRequest(service[name].path, json.serialize, json.deserialize, {}, { deadline: Date.now() + 10_000 });
    s.on('data', (m: unknown) => got.push(m));
    s.on('error', reject);
    s.on('end', () => resolve(got));
  });
}

function hasStatus(code: grpc.status, details?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as Partial<grpc.ServiceError>;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${String(e.code)} (${String(e.details)})`);
    if (details) assert.match(e.details ?? '', details);
    return true;
  };
}

test('a manager certificate is accepted and the handler sees its identity', async () => {
  const m = await a.node('mgr-2', 'manager');
  const c = client(clientCredentials(m));
  const reply = await call(c, 'ManagerOnly');
  const cert = new X509Certificate(m.certPem);
  assert.deepEqual(reply, { nodeId: 'mgr-2', role: 'manager', clusterId: CLUSTER, notAfter: new Date(cert.validTo).toISOString(), serial: cert.serialNumber.toLowerCase().replace(/^0+/, '') });
  assert.deepEqual(await stream(c, 'WatchManagers'), [{ nodeId: 'mgr-2' }, { nodeId: 'mgr-2' }], 'identity on a streaming call too');
});

test('a worker certificate is PERMISSION_DENIED on a manager-only method, fine elsewhere', async () => {
  const c = client(clientCredentials(await a.node('wrk-1', 'worker')));
  await assert.rejects(call(c, 'ManagerOnly'), hasStatus(grpc.status.PERMISSION_DENIED, /wrk-1 is a worker; this call needs manager/));
  await assert.rejects(stream(c, 'WatchManagers'), hasStatus(grpc.status.PERMISSION_DENIED));
  assert.equal((await call(c, 'AnyNode')).role, 'worker');
});

test('no client certificate is UNAUTHENTICATED (bootstrap or CA-only credentials)', async () => {
  for (const creds of [bootstrapCredentials(), clientCredentials({ caPem: a.ca.certPem })]) {
    const c = client(creds);
    await assert.rejects(call(c, 'ManagerOnly'), hasStatus(grpc.status.UNAUTHENTICATED, /verified node certificate is required/));
    await assert.rejects(call(c, 'AnyNode'), hasStatus(grpc.status.UNAUTHENTICATED));
    await assert.rejects(stream(c, 'WatchManagers'), hasStatus(grpc.status.UNAUTHENTICATED));
  }
});

test("a certificate from another cluster's CA is UNAUTHENTICATED", async () => {
  const foreign = await b.node('mgr-1', 'manager');
  // It trusts our root for the server, but presents a certificate our root did not sign.
  const c = client(clientCredentials({ ...foreign, caPem: a.ca.certPem }));
  await assert.rejects(call(c, 'ManagerOnly'), hasStatus(grpc.status.UNAUTHENTICATED));
});

test('an expired certificate of our own CA is UNAUTHENTICATED', async () => {
  const expired = await a.node('mgr-old', 'manager', 60_000, new Date(Date.now() - 2 * HOUR));
  const c = client(clientCredentials(expired));
  await assert.rejects(call(c, 'ManagerOnly'), hasStatus(grpc.status.UNAUTHENTICATED));
});

test('bootstrapCredentials fetch the root certificate without a client certificate; its digest matches the token', async () => {
  const token = generateJoinToken(a.ca.digest);
  const reply = await call(client(bootstrapCredentials()), 'RootCert');
  assert.equal(typeof reply.pem, 'string');
  assert.equal(caDigest(reply.pem as string), parseJoinToken(token).digest);
  assert.notEqual(caDigest(reply.pem as string), b.ca.digest);
});

test('clientCredentials trusting another CA refuse to connect (UNAVAILABLE)', async () => {
  const c = client(clientCredentials(await b.node('mgr-9', 'manager')));
  await assert.rejects(call(c, 'AnyNode'), hasStatus(grpc.status.UNAVAILABLE));
  const noCert = client(clientCredentials({ caPem: b.ca.certPem }));
  await assert.rejects(call(noCert, 'RootCert'), hasStatus(grpc.status.UNAVAILABLE));
});

test('clientCredentials with serverRole refuse a server of another role', async () => {
  const w = await a.node('wrk-2', 'worker');
  await assert.rejects(call(client(clientCredentials({ ...w, serverRole: 'worker' })), 'AnyNode'), hasStatus(grpc.status.UNAVAILABLE));
  assert.equal((await call(client(clientCredentials({ ...w, serverRole: 'manager' })), 'AnyNode')).nodeId, 'wrk-2');
});

/** The fingerprint of the certificate the server presents to a new TLS connection. */
function serverFingerprint(caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, ca: caPem, servername: 'baton', ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

test('reload(): new connections get the renewed server certificate; a bad reload changes nothing', async () => {
  const before = await a.node('mgr-1', 'manager');
  const renewed = await a.node('mgr-1', 'manager', 2 * HOUR);
  listener.reload(before);
  assert.equal(await serverFingerprint(a.ca.certPem), new X509Certificate(before.certPem).fingerprint256);

  const m = await a.node('mgr-3', 'manager');
  const existing = client(clientCredentials(m));
  assert.equal((await call(existing, 'ManagerOnly')).nodeId, 'mgr-3');

  listener.reload(renewed);
  assert.equal(await serverFingerprint(a.ca.certPem), new X509Certificate(renewed.certPem).fingerprint256);
  assert.equal((await call(client(clientCredentials(m)), 'ManagerOnly')).nodeId, 'mgr-3');
  assert.equal((await call(existing, 'ManagerOnly')).nodeId, 'mgr-3', 'an open connection keeps working');

  // A key that is not the certificate's: refused up front, the server keeps its material.
  assert.throws(() => listener.reload({ ...renewed, keyPem: before.keyPem }));
  assert.equal(await serverFingerprint(a.ca.certPem), new X509Certificate(renewed.certPem).fingerprint256);
  assert.equal((await call(client(clientCredentials(m)), 'AnyNode')).nodeId, 'mgr-3');
});

test('one connection reads its peer certificate once, however many calls it makes', async (t) => {
  // Counts, per socket, what grpc-js asks of it on each call (the short form; a client checking
  // its server asks for the detailed one). Reading it per call cost a leader seconds of CPU.
  const reads = new Map<TLSSocket, number>();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored below, always called with its socket
  const original = TLSSocket.prototype.getPeerCertificate;
  t.after(() => {
    TLSSocket.prototype.getPeerCertificate = original;
  });
  TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, detailed?: boolean) {
    if (!detailed) reads.set(this, (reads.get(this) ?? 0) + 1);
    return detailed ? original.call(this, true) : original.call(this);
  } as typeof original;
  const c = client(clientCredentials(await a.node('wrk-many', 'worker')));
  for (let i = 0; i < 20; i++) assert.equal((await call(c, 'AnyNode')).nodeId, 'wrk-many');
  await assert.rejects(stream(c, 'WatchManagers'), hasStatus(grpc.status.PERMISSION_DENIED), 'a worker still may not watch managers');
  assert.ok(reads.size > 0, 'the server read the certificate');
  const most = Math.max(...reads.values());
  assert.equal(most, 1, `${most} reads of the peer certificate on one socket for 21 calls`);
});

test('a node removed from the cluster is refused on the next call of the connection it already has', async () => {
  const c = client(clientCredentials(await a.node('wrk-gone', 'worker')));
  assert.equal((await call(c, 'Guarded')).nodeId, 'wrk-gone');
  removed.add('wrk-gone');
  await assert.rejects(call(c, 'Guarded'), hasStatus(grpc.status.PERMISSION_DENIED, /wrk-gone is not part of the cluster/));
  removed.delete('wrk-gone');
  assert.equal((await call(c, 'Guarded')).nodeId, 'wrk-gone');
});

test('a client speaking TLS without HTTP/2 is closed, and the port keeps serving', async () => {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: HOST, port, ca: a.ca.certPem, servername: 'baton', checkServerIdentity: () => undefined });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
  assert.equal((await call(client(clientCredentials(await a.node('wrk-after', 'worker'))), 'AnyNode')).nodeId, 'wrk-after');
});
