// The Control service's one entry, over real gRPC sockets: managers on 127.0.0.1 with mTLS and
// an administrator on a unix socket, in front of a real ClusterStore (LocalHost applies each
// write at once; the Raft parts a handler uses are stand-ins that count what they are asked).
// Checks the role table, read barriers, forwarding of writes to the leader, the length limit
// on references, and lists of more than the message limit through the SDK's paging helper
// and the CLI.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createRootCA, loadRootCA, type RootCA } from '../../manager/ca/index.js';
import { controlHandlers, CONTROL_METHODS } from '../../manager/controlapi/index.js';
import { LeaderForwarder } from '../../manager/forward.js';
import type { Manager } from '../../manager/manager.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { createAction, type StoreActionT } from '../../manager/store/index.js';
import { certificateGuard, localGuard, type Guard } from '../../rpc/caller.js';
import { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { echo } from '../../spec/index.js';
import type { Handlers } from '../../rpc/define.js';
import { CONTROL_MESSAGE_BYTES, MAX_REFERENCE_LENGTH, MAX_STATUS_DETAILS, NODE_PORT_MESSAGE_BYTES, messageLimits } from '../../rpc/limits.js';
import { addService } from '../../rpc/server.js';
import { controlService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, NodeServerCredentials, clientCredentials, generateNodeKey, type NodeRole, type NodeTlsMaterial } from '../../rpc/tls/index.js';
import { connect } from '../../client/index.js';
import { BATON } from '../lib/baton-cluster.js';

const CLUSTER = 'cluster-entry';
const TASKS = 100_000;
const S = baton.TaskState;

/** What the entry and handlers ask of a manager, counted; the store is the shared LocalHost's. */
class StandIn {
  barriers = 0;
  proposals = 0;
  constructor(
    readonly nodeId: string,
    readonly host: LocalHost,
    private readonly leader: () => string,
  ) {}
  get store(): LocalHost['store'] {
    return this.host.store;
  }
  isLeader(): boolean {
    return this.leader() === this.nodeId;
  }
  leaderId(): string {
    return this.leader();
  }
  async readBarrier(): Promise<void> {
    this.barriers++;
  }
  async propose(actions: StoreActionT[]): ReturnType<Manager['propose']> {
    this.proposals++;
    return this.host.propose(actions);
  }
  raftStatus(): { conf: { voters: string[] } } {
    return { conf: { voters: ['leader', 'follower'] } };
  }
  raftSettings(): ReturnType<Manager['raftSettings']> {
    return { tickMs: 100, heartbeatTick: 1, electionTick: 5, snapshotInterval: 10_000 };
  }
}

let root: RootCA;
let dir: string;
const host = new LocalHost();
const leader = new StandIn('leader', host, () => 'leader');
const follower = new StandIn('follower', host, () => 'leader');
const servers: grpc.Server[] = [];
const clients: RpcClient<typeof controlService>[] = [];
const forwarders: LeaderForwarder[] = [];
const addrs: Record<string, string> = {};
let socket: string;

async function material(nodeId: string, role: NodeRole): Promise<NodeTlsMaterial> {
  const { keyPem, csrPem } = await generateNodeKey();
  const certPem = await root.issueNodeCertificate(csrPem, { nodeId, role, clusterId: CLUSTER }, 3600_000, new Date());
  return { caPem: root.certPem, certPem, keyPem };
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** A manager's Control service as the daemon serves it, on its own server. */
async function serve(manager: StandIn, guard: Guard, address: string, creds: grpc.ServerCredentials, limit: number): Promise<number> {
  const server = new grpc.Server(messageLimits(limit));
  servers.push(server);
  const tls = await material(manager.nodeId, 'manager');
  const forwarder = new LeaderForwarder(manager as unknown as Manager, clientCredentials(tls), NODE_CHANNEL_OPTIONS);
  forwarders.push(forwarder);
  const deps = { manager: manager as unknown as Manager, forwarder, guard, clusterId: CLUSTER, managerKey: new Uint8Array(32).fill(7) };
  addService(server, controlService, controlHandlers(deps)[0]!, pino({ level: 'silent' }));
  return bind(server, address, creds);
}

async function nodeClient(addr: string, nodeId: string, role: NodeRole): Promise<RpcClient<typeof controlService>> {
  const c = new RpcClient(addr, clientCredentials(await material(nodeId, role)), controlService, NODE_CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return err instanceof BatonError ? err.code : String(err);
  }
}

before(async () => {
  const r = await createRootCA(CLUSTER);
  root = await loadRootCA(r.certPem, r.keyPkcs8);
  dir = mkdtempSync(join(tmpdir(), 'baton-entry-'));
  socket = join(dir, 'baton.sock');
  const node = (id: string, role: baton.NodeRole, addr = ''): StoreActionT =>
    createAction('node', {
      meta: { id },
      spec: { annotations: { name: id }, desiredRole: role },
      description: { hostname: id },
      status: { state: baton.NodeState.NODE_READY },
      role,
      ...(addr ? { managerStatus: { addr } } : {}),
    });
  // Certificates are checked against the store's roles, so every caller is a node of it.
  const currentRole = ({ nodeId: id }: { nodeId: string }): NodeRole | undefined => {
    const n = host.store.get('node', id);
    if (!n) return undefined;
    return n.spec?.desiredRole === baton.NodeRole.MANAGER ? 'manager' : 'worker';
  };
  const guard = certificateGuard(() => CLUSTER, currentRole);
  for (const m of [leader, follower]) {
    const port = await serve(m, guard, '127.0.0.1:0', new NodeServerCredentials(await material(m.nodeId, 'manager')), NODE_PORT_MESSAGE_BYTES);
    addrs[m.nodeId] = `127.0.0.1:${port}`;
  }
  await serve(leader, localGuard, `unix://${socket}`, grpc.ServerCredentials.createInsecure(), CONTROL_MESSAGE_BYTES);
  host.apply([
    node('leader', baton.NodeRole.MANAGER, addrs.leader),
    node('follower', baton.NodeRole.MANAGER, addrs.follower),
    node('admin', baton.NodeRole.MANAGER),
    node('w1', baton.NodeRole.WORKER),
  ]);
});

after(async () => {
  for (const c of clients) c.close();
  for (const f of forwarders) f.close();
  for (const s of servers) s.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('every Control method is in the table with roles and an access kind', () => {
  assert.deepEqual(Object.keys(CONTROL_METHODS).sort(), Object.keys(controlService).sort());
  assert.ok(CONTROL_METHODS.Info.roles.includes('worker'), 'workers ask who the managers are');
  for (const [name, rule] of Object.entries(CONTROL_METHODS)) {
    assert.ok(rule.roles.includes('manager'), `${name} is for managers`);
    // Client certificates' roles are checked in client-certs.test.ts.
    if (name !== 'Info') assert.ok(!rule.roles.includes('worker'), `${name} is not for workers`);
  }
});

test('a follower forwards writes to the leader; reads are answered locally after a read barrier', async () => {
  const admin = await nodeClient(addrs.follower!, 'admin', 'manager');
  const before = { fb: follower.barriers, fp: follower.proposals, lb: leader.barriers, lp: leader.proposals };
  const created = await admin.call('CreateConfig', { spec: { annotations: { name: 'app.conf' }, data: Buffer.from('x=1') } });
  assert.equal(follower.proposals, before.fp, 'the follower proposed nothing');
  assert.equal(leader.proposals, before.lp + 1, 'the leader proposed the write');
  assert.equal(leader.barriers, before.lb + 1, 'the leader reads after a barrier before a write');
  assert.equal(follower.barriers, before.fb, 'a forwarded write takes no barrier on the follower');

  const got = await admin.call('GetConfig', { id: 'app.conf' });
  assert.equal(got.meta?.id, created.meta?.id);
  assert.equal(follower.barriers, before.fb + 1, 'a read on the follower waits for its barrier');
  assert.equal(leader.barriers, before.lb + 1, 'a read is not forwarded');

  // Info is 'local': no barrier.
  const info = await admin.call('Info', {});
  assert.equal(info.leaderId, 'leader');
  assert.equal(follower.barriers, before.fb + 1);
});

test('a worker certificate is refused every manager-only call, on the follower and the leader, and nothing is written', async () => {
  for (const at of ['follower', 'leader']) {
    const worker = await nodeClient(addrs[at]!, 'w1', 'worker');
    const proposals = leader.proposals + follower.proposals;
    assert.equal(await code(worker.call('ListServices', {})), 'PERMISSION_DENIED');
    assert.equal(await code(worker.call('CreateSecret', { spec: { annotations: { name: 's' }, data: Buffer.from('x') } })), 'PERMISSION_DENIED');
    assert.equal(await code(worker.call('RemoveNode', { id: 'leader', force: true })), 'PERMISSION_DENIED');
    assert.equal(leader.proposals + follower.proposals, proposals, 'nothing proposed');
    assert.equal(await code(worker.call('Info', {})), 'OK', 'Info is open to workers');
  }
  // A manager certificate for a node the cluster has since made a worker: the store decides.
  const demoted = await nodeClient(addrs.follower!, 'w1', 'manager');
  assert.equal(await code(demoted.call('GetCluster', {})), 'PERMISSION_DENIED');
});

test('an id or name longer than the limit is refused before any lookup, with a short message, and the connection goes on', async () => {
  const admin = await nodeClient(addrs.follower!, 'admin', 'manager');
  const long = 'a'.repeat(100_000);
  const barriers = follower.barriers;
  for (const call of [
    () => admin.call('GetService', { id: long }),
    () => admin.call('RemoveService', { id: long }),
    () => admin.call('ListTasks', { filters: { serviceId: long } }),
    () => admin.call('ListNodes', { filters: { names: [long] } }),
  ]) {
    const err = await call().then(() => assert.fail('refused'), (e: unknown) => e);
    assert.ok(err instanceof BatonError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.ok(err.message.length < 200, `short: ${err.message.length} characters`);
    assert.match(err.message, /^"a{64}…\(100000 bytes\)" is longer than any id or name/);
  }
  assert.equal(follower.barriers, barriers, 'refused before the read barrier');
  const atLimit = 'b'.repeat(MAX_REFERENCE_LENGTH);
  const notFound = await admin.call('GetService', { id: atLimit }).then(() => assert.fail('not found'), (e: unknown) => e as BatonError);
  assert.equal(notFound.code, 'NOT_FOUND');
  assert.equal(notFound.message, `service ${'b'.repeat(64)}…(${MAX_REFERENCE_LENGTH} bytes) not found`);
  assert.equal((await admin.call('Info', {})).nodeId, 'follower', 'the same connection still answers');
});

test(`a list of ${TASKS} tasks (far over the message limit) comes whole through the paging helper and the CLI`, async () => {
  const spec = { runtime: 'process', container: { command: ['/bin/sleep', '3600'], env: ['PADDING=' + 'p'.repeat(100)] } };
  host.apply([
    createAction('service', { meta: { id: 'svc0000000000000000000001' }, spec: { annotations: { name: 'big' }, replicas: TASKS, task: spec } }),
  ]);
  for (let i = 0; i < TASKS; i += 5_000) {
    const batch: StoreActionT[] = [];
    for (let j = i; j < i + 5_000; j++) {
      batch.push(
        createAction('task', {
          meta: { id: `task${String(j).padStart(21, '0')}`, createdAt: 1 },
          serviceId: 'svc0000000000000000000001',
          slot: j + 1,
          nodeId: 'w1',
          annotations: { name: `big.${j + 1}` },
          spec,
          desiredState: S.TASK_RUNNING,
          status: { state: S.TASK_RUNNING, timestamp: 1, message: 'started' },
        }),
      );
    }
    host.apply(batch);
  }
  const encoded = host.store.list('task').reduce((n, t) => n + baton.Task.encode(t as baton.Task).finish().length, 0);
  assert.ok(encoded > CONTROL_MESSAGE_BYTES, `${encoded} bytes of tasks is more than one message`);

  const client = connect({ host: `unix://${socket}` });
  try {
    const first = await client.control.call('ListTasks', {});
    assert.ok((first.tasks ?? []).length < TASKS, 'one call returns a page');
    assert.ok(first.nextPageToken, 'and says where the next one starts');
    const all = await client.list('ListTasks', { serviceId: 'big' }, 30_000);
    assert.equal(all.length, TASKS);
    assert.equal(new Set(all.map((t) => t.meta?.id)).size, TASKS, 'each task once');
    const small = await client.control.call('ListTasks', { pageSize: 3, pageToken: first.nextPageToken ?? '' });
    assert.equal(small.tasks?.length, 3);
    assert.ok((small.tasks?.[0]?.meta?.id ?? '') > (first.nextPageToken ?? ''), 'a page starts after its token');
  } finally {
    client.close();
  }

  // Asynchronously: the servers answering the CLI run in this process.
  const cli = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BATON, ...args, '--host', `unix://${socket}`], { timeout: 120_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    });
  const ls = await cli(['service', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`big +replicated +${TASKS}/${TASKS}`));
  const ps = await cli(['service', 'ps', '-q', 'big']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout.trim().split('\n').length, TASKS);
});

test('user text in errors: a short prefix and the size; any status message is capped so it always arrives', async () => {
  assert.equal(echo('web'), 'web');
  assert.equal(echo('é'.repeat(100)), `${'é'.repeat(64)}…(200 bytes)`);

  // A handler whose error repeats 200,000 characters: without the cap the status trailer is
  // over HTTP/2's header limit, the client never hears it, and its connection is stuck.
  const server = new grpc.Server(messageLimits(CONTROL_MESSAGE_BYTES));
  servers.push(server);
  const loud = (): Promise<never> => Promise.reject(new BatonError('NOT_FOUND', 'z'.repeat(200_000)));
  const handlers = Object.fromEntries(Object.keys(controlService).map((k) => [k, loud])) as unknown as Handlers<typeof controlService>;
  addService(server, controlService, handlers, pino({ level: 'silent' }));
  const path = join(dir, 'loud.sock');
  await bind(server, `unix://${path}`, grpc.ServerCredentials.createInsecure());
  const client = new RpcClient(`unix://${path}`, grpc.credentials.createInsecure(), controlService);
  clients.push(client);
  for (let i = 0; i < 2; i++) {
    const err = await client.call('GetService', { id: 'web' }, 5_000).then(() => assert.fail('fails'), (e: unknown) => e as BatonError);
    assert.equal(err.code, 'NOT_FOUND', `call ${i + 1} got its status`);
    assert.ok(err.message.length <= MAX_STATUS_DETAILS + 40, `capped: ${err.message.length}`);
    assert.match(err.message, /…\(197952 more characters\)$/);
  }
});
