// `baton volume`: the manager's fan-out behind the real Control entry (nodes answering, one too
// slow, one down; the merge, the in-use refusal naming tasks on several nodes, NOT_FOUND and
// --force), the CLI's filters and formats, and a node's own directory volumes (listed with what
// uses them, refused while used, removed when not).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type Docker from 'dockerode';
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../../manager/manager.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { controlHandlers } from '../../manager/controlapi/index.js';
import { nodeLabel } from '../../manager/controlapi/volumes.js';
import { createAction, type Stored } from '../../manager/store/index.js';
import { localGuard } from '../../rpc/caller.js';
import type { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import type { NodeAgentService } from '../../rpc/services.js';
import { SlowLeader } from '../lib/slow-leader.js';
import { filterVolumes, inspectVolume, missingVolumes, parseVolumeFilters, volumeNames, VOLUME_VIEW } from '../../cli/volume.js';
import { renderList } from '../../cli/list-format.js';
import { NodeVolumes, containerUsers, directorySize, passesPruneFilters, processUsers } from '../../worker/volumes.js';
import { createVolumeRequest, humanSize, pruneFilters, pruneReport } from '../../cli/volume-create.js';
import { rejectsWith } from '../lib/refusals.js';

type Volume = baton.Volume.$Properties;

/** What each fake node does when asked: its volumes, a delay, or a failure. */
interface FakeNode {
  volumes: Volume[];
  delayMs?: number;
  fail?: BatonError;
  removed: string[];
}

/** Any NodeAgent volume request, as the fake nodes read it. */
type NodeRequest = baton.ListVolumesRequest.$Properties & baton.RemoveVolumeRequest.$Properties & baton.CreateVolumeRequest.$Properties & baton.PruneVolumesRequest.$Properties;

/** How a fake node (by id) answers one NodeAgent call, within the manager's deadline for it. */
type Answers = (nodeId: string, method: string, req: NodeRequest, timeoutMs: number) => Promise<unknown>;

/**
 * The real control handlers on a leader that knows these worker nodes (at "<id>:4242"), each
 * dialed as a fake NodeAgent client answering with `answers`; `dialed` lists who was dialed.
 */
function volumeControl(nodes: Record<string, { hostname: string; state?: baton.NodeState }>, answers: Answers) {
  const leader = new SlowLeader();
  leader.host.apply(
    Object.entries(nodes).map(([id, n]) =>
      createAction('node', { meta: { id }, spec: {}, description: { hostname: n.hostname }, status: { state: n.state ?? baton.NodeState.NODE_READY, addr: `${id}:4242` }, role: baton.NodeRole.WORKER }),
    ),
  );
  const dialed: string[] = [];
  const dialNode = (addr: string): RpcClient<NodeAgentService> => {
    dialed.push(addr);
    const id = addr.replace(/:4242$/, '');
    const client = { call: (method: string, req: NodeRequest, timeoutMs: number) => answers(id, method, req, timeoutMs), close: () => undefined };
    return client as unknown as RpcClient<NodeAgentService>;
  };
  const deps = { manager: leader as unknown as Manager, forwarder: {} as LeaderForwarder, guard: localGuard, clusterId: 'c', managerKey: new Uint8Array(32), dialNode };
  const [api] = controlHandlers(deps);
  const call = {} as grpc.ServerUnaryCall<never, never>;
  return {
    dialed,
    list: (req: baton.ListVolumesRequest.$Properties = {}) => api!.ListVolumes(req, call),
    remove: (req: baton.RemoveVolumeRequest.$Properties) => api!.RemoveVolume(req, call),
    createVolumeOn: (req: baton.CreateVolumeRequest.$Properties) => api!.CreateVolume(req, call),
    pruneOn: (req: baton.PruneVolumesRequest.$Properties) => api!.PruneVolumes(req, call),
  };
}

/** Nodes that list and remove from their FakeNode: late past the deadline, failing, or answering. */
function setup(nodes: Record<string, { hostname: string; state?: baton.NodeState; fake: FakeNode }>) {
  return volumeControl(nodes, async (id, method, req, timeoutMs) => {
    const fake = nodes[id]!.fake;
    if ((fake.delayMs ?? 0) >= timeoutMs) {
      await new Promise((r) => setTimeout(r, timeoutMs));
      throw new BatonError('DEADLINE_EXCEEDED', 'Deadline exceeded');
    }
    if (fake.fail) throw fake.fail;
    if (method === 'ListVolumes') return { volumes: fake.volumes.filter((v) => (req.names ?? []).length === 0 || req.names!.includes(v.name ?? '')) };
    const gone = fake.volumes.filter((v) => v.name === req.name);
    fake.volumes = fake.volumes.filter((v) => v.name !== req.name);
    fake.removed.push(req.name ?? '');
    return { removed: gone };
  });
}

const vol = (name: string, usedBy: string[] = [], driver = 'local'): Volume => ({ name, driver, mountpoint: `/v/${name}`, labels: { 'baton.cluster': 'c' }, scope: 'local', options: {}, createdAt: '2026-01-01T00:00:00Z', usedBy });
const fake = (volumes: Volume[], extra: Partial<FakeNode> = {}): FakeNode => ({ volumes, removed: [], ...extra });

test('ls: every node is asked; answers merged by name then node; a slow node and a down one are warnings', async () => {
  const api = setup({
    n1: { hostname: 'alpha', fake: fake([vol('web'), vol('db', ['db.1.t1'])]) },
    n2: { hostname: 'beta', fake: fake([vol('web')]) },
    n3: { hostname: 'gamma', fake: fake([vol('lost')], { delayMs: 60_000 }) },
    n4: { hostname: 'delta', state: baton.NodeState.NODE_DOWN, fake: fake([vol('never')]) },
  });
  const res = await api.list();
  assert.deepEqual(res.volumes?.map((v) => [v.name, v.node, v.nodeId]), [
    ['db', 'alpha', 'n1'],
    ['web', 'alpha', 'n1'],
    ['web', 'beta', 'n2'],
  ]);
  assert.deepEqual(res.warnings, ['node gamma: did not answer (within 3000 ms); its volumes are not shown', 'node delta: node is down; its volumes are not shown']);
  assert.ok(!api.dialed.includes('n4:4242'), 'a node known to be down is not dialed');
  // --node: one node, by hostname or id prefix.
  assert.deepEqual((await api.list({ node: 'beta' })).volumes?.map((v) => v.nodeId), ['n2']);
  assert.deepEqual((await api.list({ node: 'n1', names: ['db'] })).volumes?.map((v) => v.name), ['db']);
  await rejectsWith(api.list({ node: 'zeta' }), 'NOT_FOUND', /^node zeta not found$/);
});

test('the node column: the hostname, or the id when several nodes share it', () => {
  const node = (id: string, hostname: string) => ({ meta: { id }, description: { hostname } }) as unknown as Stored<'node'>;
  const all = [node('a1', 'box'), node('b2', 'box'), node('c3', 'solo'), node('d4', '')];
  assert.deepEqual(all.map((n) => nodeLabel(n, all)), ['a1', 'b2', 'solo', 'd4']);
});

test('rm: removed on every node that has it; in use anywhere is refused everywhere, naming the tasks and nodes; missing is NOT_FOUND unless --force', async () => {
  const n1 = fake([vol('data', ['web.1.aaa']), vol('free')]);
  const n2 = fake([vol('data', ['web.2.bbb']), vol('free')]);
  const n3 = fake([vol('data')]);
  const api = setup({ n1: { hostname: 'alpha', fake: n1 }, n2: { hostname: 'beta', fake: n2 }, n3: { hostname: 'gamma', fake: n3 } });
  await rejectsWith(api.remove({ name: 'data' }), 'FAILED_PRECONDITION', /^remove data: volume is in use - \[web\.1\.aaa on alpha, web\.2\.bbb on beta\]$/);
  assert.deepEqual([n1.removed, n2.removed, n3.removed], [[], [], []], 'nothing removed anywhere');
  // On one node only: that node's answer alone counts.
  const one = await api.remove({ name: 'data', node: 'gamma' });
  assert.deepEqual(one.removed?.map((v) => v.node), ['gamma']);
  const both = await api.remove({ name: 'free' });
  assert.deepEqual(both.removed?.map((v) => v.node), ['alpha', 'beta']);
  assert.deepEqual([n1.removed, n2.removed, n3.removed], [['free'], ['free'], ['data']]);
  await rejectsWith(api.remove({ name: 'free' }), 'NOT_FOUND', /^no such volume: free$/);
  assert.deepEqual(await api.remove({ name: 'free', force: true }), { removed: [], warnings: [] });
  await rejectsWith(api.remove({ name: '' }), 'INVALID_ARGUMENT', /name is required/);
});

test('rm: a node that does not answer is named in the answer (and in NOT_FOUND)', async () => {
  const api = setup({ n1: { hostname: 'alpha', fake: fake([vol('x')]) }, n2: { hostname: 'beta', fake: fake([], { fail: new BatonError('UNAVAILABLE', 'No connection established') }) } });
  const res = await api.remove({ name: 'x' });
  assert.deepEqual(res.removed?.map((v) => v.node), ['alpha']);
  assert.deepEqual(res.warnings, ['node beta: did not answer (No connection established); its volumes are not shown']);
  await rejectsWith(api.remove({ name: 'x' }), 'NOT_FOUND', /^no such volume: x \(node beta: did not answer/);
});

test('ls filters: name part, label key or key=value, driver, node id prefix or name, dangling; every bad one at once', () => {
  const v: Volume = { ...vol('app-data', ['t.1.x']), labels: { team: 'a', tier: '' }, nodeId: 'abc123', node: 'alpha' };
  const f = (...values: string[]) => filterVolumes([v], parseVolumeFilters(values)).length === 1;
  assert.equal(f(), true);
  assert.equal(f('name=data'), true);
  assert.equal(f('name=zzz', 'name=app'), true, 'several values of one key: any');
  assert.equal(f('name=zzz'), false);
  assert.equal(f('label=team'), true);
  assert.equal(f('label=team=a', 'label=tier'), true);
  assert.equal(f('label=team=b'), false);
  assert.equal(f('label=owner'), false);
  assert.equal(f('driver=local'), true);
  assert.equal(f('driver=nfs'), false);
  assert.equal(f('node=abc'), true);
  assert.equal(f('node=alpha'), true);
  assert.equal(f('node=beta'), false);
  assert.equal(f('node='), false);
  assert.equal(f('dangling=true'), false);
  assert.equal(f('dangling=0'), true);
  assert.equal(filterVolumes([vol('free')], parseVolumeFilters(['dangling=1'])).length, 1);
  assert.equal(f('name=app', 'driver=nfs'), false, 'different keys: all');
  assert.throws(
    () => parseVolumeFilters(['colour=red', 'dangling=maybe', 'bare']),
    (err: unknown) => err instanceof BatonError && err.code === 'INVALID_ARGUMENT' && err.message === "invalid filter 'colour'; invalid filter 'dangling=maybe'; bad format of filter (expected name=value)",
  );
});

test('formats: the table (Docker columns plus NODE), -q names once, inspect fields, missing names', () => {
  const list = [
    { ...vol('data'), node: 'alpha', nodeId: 'n1' },
    { ...vol('data'), node: 'beta', nodeId: 'n2' },
    { ...vol('logs', [], 'nfs'), node: 'alpha', nodeId: 'n1' },
  ];
  assert.equal(renderList({}, list, VOLUME_VIEW), ['DRIVER   VOLUME NAME   NODE', 'local    data          alpha', 'local    data          beta', 'nfs      logs          alpha'].join('\n'));
  assert.equal(volumeNames(list), 'data\nlogs');
  assert.deepEqual(inspectVolume(list[0]!), {
    CreatedAt: '2026-01-01T00:00:00Z',
    Driver: 'local',
    Labels: { 'baton.cluster': 'c' },
    Mountpoint: '/v/data',
    Name: 'data',
    Options: {},
    Scope: 'local',
    Node: { ID: 'n1', Name: 'alpha' },
    UsedBy: [],
  });
  assert.deepEqual(missingVolumes(['data', 'nope', 'logs', 'gone'], list), ['nope', 'gone']);
});

test('users: a container by its task name (baton) or container name (other); a process task by Swarm\'s task name', () => {
  const containers = [
    { Id: 'c1', Names: ['/baton-web.1.t1'], Labels: { 'baton.task': 't1' }, Mounts: [{ Type: 'volume', Name: 'data' }] },
    { Id: 'c2', Names: ['/mine'], Labels: {}, Mounts: [{ Type: 'volume', Name: 'data' }] },
    { Id: 'c3', Names: ['/baton-web.2.t2'], Labels: { 'baton.task': 't2' }, Mounts: [{ Type: 'bind', Name: '' }, { Type: 'volume', Name: 'other' }] },
  ] as unknown as Docker.ContainerInfo[];
  assert.deepEqual(containerUsers(containers, 'data'), ['mine', 'web.1.t1']);
  assert.deepEqual(containerUsers(containers, 'none'), []);
  const task = (id: string, runtime: string, mounts: baton.Mount.$Properties[]): baton.Task.$Properties => ({ meta: { id }, annotations: { name: `svc.${id.slice(1)}` }, spec: { runtime, container: { mounts } } });
  const tasks = [
    task('t1', 'process', [{ type: baton.MountType.MOUNT_VOLUME, source: 'data', target: '/d' }]),
    task('t2', 'process', [{ type: baton.MountType.MOUNT_BIND, source: 'data', target: '/d' }]),
    task('t3', 'docker', [{ type: baton.MountType.MOUNT_VOLUME, source: 'data', target: '/d' }]),
  ];
  assert.deepEqual(processUsers(tasks, 'data'), ['svc.1.t1'], 'a bind of that path and a docker task are not users of the directory');
});

test('a node\'s directory volumes: listed with their users; removal refused while used, then done; missing is NOT_FOUND unless force', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-volumes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let tasks: baton.Task.$Properties[] = [{ meta: { id: 'x1' }, annotations: { name: 'svc.1' }, spec: { runtime: 'process', container: { mounts: [{ type: baton.MountType.MOUNT_VOLUME, source: 'data', target: '/d' }] } } }];
  const volumes = new NodeVolumes({ clusterId: 'c', nodeId: 'n', volumesDir: dir, docker: () => undefined, tasks: () => tasks });
  assert.deepEqual(await volumes.list(), [], 'no directory yet is no volume');
  mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
  mkdirSync(join(dir, 'spare'));
  mkdirSync(join(dir, '.hidden'));
  const listed = await volumes.list();
  assert.deepEqual(listed.map((v) => [v.name, v.driver, v.mountpoint, v.usedBy, v.labels]), [
    ['data', 'local', join(dir, 'data'), ['svc.1.x1'], { 'baton.cluster': 'c', 'baton.node': 'n' }],
    ['spare', 'local', join(dir, 'spare'), [], { 'baton.cluster': 'c', 'baton.node': 'n' }],
  ]);
  assert.ok(!Number.isNaN(Date.parse(listed[0]!.createdAt ?? '')));
  assert.deepEqual((await volumes.list(['spare'])).map((v) => v.name), ['spare']);
  await rejectsWith(volumes.remove('data', true), 'FAILED_PRECONDITION', /^remove data: volume is in use - \[svc\.1\.x1\]$/);
  assert.ok(existsSync(join(dir, 'data', 'sub')));
  tasks = [];
  assert.deepEqual((await volumes.remove('data', false)).map((v) => v.name), ['data']);
  assert.equal(existsSync(join(dir, 'data')), false);
  await rejectsWith(volumes.remove('data', false), 'NOT_FOUND', /^no such volume: data$/);
  assert.deepEqual(await volumes.remove('data', true), []);
  await rejectsWith(volumes.remove('../spare', false), 'NOT_FOUND', /^no such volume/);
  assert.ok(existsSync(join(dir, 'spare')));
});

test('create and prune on the manager: every node or the one named; a node\'s refusal fails naming it; an unreachable one is a warning', async () => {
  // The fake nodes answer CreateVolume/PruneVolumes through the same client as the others.
  const { createVolumeOn, pruneOn } = setupChanges();
  const all = await createVolumeOn({ name: 'data', labels: { team: 'db' } });
  assert.deepEqual(all.created?.map((v) => v.node).sort(), ['alpha', 'beta']);
  assert.deepEqual(all.warnings, ['node gamma: node is down; not made there']);
  const one = await createVolumeOn({ name: 'data', node: 'beta' });
  assert.deepEqual(one.created?.map((v) => v.node), ['beta']);
  await rejectsWith(createVolumeOn({ name: 'bad/name' }), 'INVALID_ARGUMENT', /^create bad\/name: "bad\/name" includes invalid characters/);
  await rejectsWith(createVolumeOn({ name: 'data', runtime: 'lxc' }), 'INVALID_ARGUMENT', /^unknown runtime lxc/);
  // beta refuses (its engine lacks the driver): named, the other said to have made it.
  await rejectsWith(createVolumeOn({ name: 'data', driver: 'nfs' }), 'FAILED_PRECONDITION', /^node beta: no such driver nfs \(made on the others\)$/);
  // The one node asked is down: that is the error, not a warning.
  await rejectsWith(createVolumeOn({ name: 'data', node: 'gamma' }), 'UNAVAILABLE', /^node is down$/);
  const pruned = await pruneOn({ labels: ['team'] });
  assert.deepEqual(pruned.deleted?.map((v) => `${v.name}@${v.node}`).sort(), ['old@alpha', 'old@beta']);
  assert.equal(Number(pruned.spaceReclaimed), 2048);
  assert.deepEqual(pruned.warnings, ['node gamma: node is down; not pruned there']);
});

/** alpha and beta ready, gamma down; they make what is asked (beta has no nfs driver) and prune "old". */
function setupChanges() {
  const hosts = { a: { hostname: 'alpha' }, b: { hostname: 'beta' }, g: { hostname: 'gamma', state: baton.NodeState.NODE_DOWN } };
  return volumeControl(hosts, async (id, method, req) => {
    if (method === 'CreateVolume') {
      if (req.driver === 'nfs' && id === 'b') throw new BatonError('INVALID_ARGUMENT', 'no such driver nfs');
      return { created: [vol(req.name ?? '')] };
    }
    assert.deepEqual(req.labels, ['team']);
    return { deleted: [vol('old')], spaceReclaimed: 1024 };
  });
}

test('a node\'s create and prune of directory volumes: labels kept beside them; prune keeps what a task uses and counts the bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-volumes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tasks: baton.Task.$Properties[] = [{ meta: { id: 'x1' }, annotations: { name: 'svc.1' }, spec: { runtime: 'process', container: { mounts: [{ type: baton.MountType.MOUNT_VOLUME, source: 'used', target: '/d' }] } } }];
  const volumes = new NodeVolumes({ clusterId: 'c', nodeId: 'n', volumesDir: dir, docker: () => undefined, tasks: () => tasks });
  const create = (name: string, labels: Record<string, string> = {}, driver = 'local', runtime = '') => volumes.create({ name, driver, options: {}, labels, runtime });
  const [made] = await create('data', { team: 'db' });
  assert.deepEqual([made?.name, made?.mountpoint, made?.labels], ['data', join(dir, 'data'), { team: 'db', 'baton.cluster': 'c', 'baton.node': 'n' }]);
  await create('used');
  await create('web', { team: 'web' });
  await rejectsWith(create('xy', {}, 'nfs'), 'INVALID_ARGUMENT', /driver nfs and its options do not apply/);
  await rejectsWith(create('xy', {}, 'local', 'docker'), 'FAILED_PRECONDITION', /no Docker engine/);
  await rejectsWith(create('../up'), 'INVALID_ARGUMENT', /invalid characters/);
  writeFileSync(join(dir, 'data', 'f'), Buffer.alloc(300));
  mkdirSync(join(dir, 'data', 'sub'));
  writeFileSync(join(dir, 'data', 'sub', 'g'), Buffer.alloc(200));

  assert.deepEqual(passesPruneFilters({ a: '1' }, { labels: ['a'], notLabels: ['a=2'] }), true);
  assert.deepEqual(passesPruneFilters({ a: '1' }, { labels: ['a=1'], notLabels: ['a'] }), false);
  const narrowed = await volumes.prune({ labels: ['team'], notLabels: ['team=db'] });
  assert.deepEqual(narrowed.deleted.map((v) => v.name), ['web']);
  assert.equal(existsSync(join(dir, '.labels', 'web.json')), false, 'its labels go with it');
  const rest = await volumes.prune({ labels: [], notLabels: [] });
  assert.deepEqual([rest.deleted.map((v) => v.name), rest.spaceReclaimed], [['data'], 500]);
  assert.deepEqual((await volumes.list()).map((v) => v.name), ['used']);
  assert.equal(await directorySize(join(dir, 'nothing')), 0);
});

test('volume create/prune flags: every bad one at once; Docker\'s sizes and report', () => {
  const req = createVolumeRequest({ name: 'db', driver: 'local', opt: ['type=tmpfs', 'o=size=1m'], label: ['a=1', 'b'], node: 'w1' });
  assert.deepEqual(req, { name: 'db', driver: 'local', options: { type: 'tmpfs', o: 'size=1m' }, labels: { a: '1', b: '' }, node: 'w1', runtime: '' });
  assert.match(createVolumeRequest({ driver: 'local' }).name ?? '', /^[0-9a-f]{64}$/, 'no name: 64 random hex digits, as Docker');
  assert.throws(
    () => createVolumeRequest({ name: 'a b', driver: '', opt: 'x', label: '=v', runtime: 'lxc' }),
    (err: unknown) => err instanceof BatonError && err.code === 'INVALID_ARGUMENT' && ['"a b"', '--driver', '--opt "x"', '--label "=v"', '--runtime "lxc"'].every((s) => err.message.includes(s)),
  );
  assert.deepEqual(pruneFilters(['label=a', 'label!=b=1']), { labels: ['a'], notLabels: ['b=1'] });
  assert.throws(() => pruneFilters(['until=1h', 'label=']), (err: unknown) => err instanceof BatonError && /until=1h/.test(err.message) && /"label="/.test(err.message));
  assert.deepEqual([0, 36, 999, 1000, 1842, 1_500_000, 12_345_678_901].map(humanSize), ['0B', '36B', '999B', '1kB', '1.842kB', '1.5MB', '12.35GB']);
  assert.equal(pruneReport([vol('a'), vol('b'), vol('a')], 36), 'Deleted Volumes:\na\nb\n\nTotal reclaimed space: 36B');
  assert.equal(pruneReport([], 0), 'Total reclaimed space: 0B');
});
