// The network calls of the Control service behind the real entry, on a store without Raft whose
// proposals take a few turns of the event loop (as a Raft round does): create and its checks,
// get by id/name/prefix, list with filters and pages, removal refused while in use (and never
// racing a service write that joins the network), and services' network references resolved.
import test from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../../manager/manager.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { controlHandlers } from '../../manager/controlapi/index.js';
import { createAction, newObjectId, updateAction } from '../../manager/store/index.js';
import { localGuard } from '../../rpc/caller.js';
import { SlowLeader } from '../lib/slow-leader.js';
import { rejectsWith } from '../lib/refusals.js';

function setup() {
  const leader = new SlowLeader();
  const deps = { manager: leader as unknown as Manager, forwarder: {} as LeaderForwarder, guard: localGuard, clusterId: 'c', managerKey: new Uint8Array(32) };
  const [api] = controlHandlers(deps);
  // The handlers' second argument is the gRPC call; the local guard does not look at it.
  const call = {} as grpc.ServerUnaryCall<never, never>;
  return {
    leader,
    createNetwork: (spec: baton.NetworkSpec.$Properties) => api!.CreateNetwork({ spec }, call),
    getNetwork: (id: string) => api!.GetNetwork({ id }, call),
    listNetworks: (req: baton.ListRequest.$Properties = {}) => api!.ListNetworks(req, call),
    removeNetwork: (id: string) => api!.RemoveNetwork({ id }, call),
    createService: (name: string, networks: baton.NetworkAttachmentConfig.$Properties[]) =>
      api!.CreateService({ spec: { annotations: { name }, replicas: 1, task: { runtime: 'process', container: { command: ['/bin/true'] }, networks } }, noResolveImage: true }, call),
    getService: (id: string) => api!.GetService({ id }, call),
    updateService: (id: string, version: number, spec: baton.ServiceSpec.$Properties) => api!.UpdateService({ id, version, spec }, call),
    removeService: (id: string) => api!.RemoveService({ id }, call),
    rollback: (id: string, version: number) => api!.UpdateService({ id, version, rollback: true }, call),
  };
}

test('create: the driver is overlay, labels and flags kept; a taken name (any case) and every bad field refused', async () => {
  const api = setup();
  const front = await api.createNetwork({ annotations: { name: 'front', labels: { team: 'a' } }, internal: true, attachable: true });
  assert.match(front.meta?.id ?? '', /^[a-z0-9]{25}$/);
  assert.deepEqual({ driver: front.spec?.driver, internal: front.spec?.internal, attachable: front.spec?.attachable, labels: front.spec?.annotations?.labels }, { driver: 'overlay', internal: true, attachable: true, labels: { team: 'a' } });
  assert.equal((await api.createNetwork({ annotations: { name: 'back' }, driver: 'overlay' })).spec?.driver, 'overlay');
  await rejectsWith(api.createNetwork({ annotations: { name: 'FRONT' } }), 'ALREADY_EXISTS', /^network with name FRONT already exists$/);
  await rejectsWith(api.createNetwork({ annotations: { name: 'a.b', labels: { '': 'x' } }, driver: 'macvlan' }), 'INVALID_ARGUMENT', /^3 problems: invalid network name "a\.b".*; network driver "macvlan" is not supported: only overlay.*; network labels: bad label key ""/);
  await rejectsWith(api.createNetwork({}), 'INVALID_ARGUMENT', /^a network name is required$/);
  assert.equal(api.leader.store.list('network').length, 2, 'nothing else was stored');
});

test('get by id, name or unique prefix; list with filters and in pages', async () => {
  const api = setup();
  const ids: string[] = [];
  for (const [name, team] of [['n1', 'a'], ['n2', 'b'], ['n3', 'a']] as const) ids.push((await api.createNetwork({ annotations: { name, labels: { team } } })).meta?.id ?? '');
  assert.equal((await api.getNetwork('n2')).meta?.id, ids[1]);
  assert.equal((await api.getNetwork(ids[2]!)).spec?.annotations?.name, 'n3');
  assert.equal((await api.getNetwork(ids[0]!.slice(0, 20))).spec?.annotations?.name, 'n1');
  await rejectsWith(api.getNetwork('nosuch'), 'NOT_FOUND', /^network nosuch not found$/);
  const names = (r: baton.ListNetworksResponse.$Properties): string[] => (r.networks ?? []).map((n) => n.spec?.annotations?.name ?? '').sort();
  assert.deepEqual(names(await api.listNetworks()), ['n1', 'n2', 'n3']);
  assert.deepEqual(names(await api.listNetworks({ filters: { labels: ['team=a'] } })), ['n1', 'n3']);
  assert.deepEqual(names(await api.listNetworks({ filters: { names: ['N2'] } })), ['n2']);
  assert.deepEqual(names(await api.listNetworks({ filters: { ids: [ids[2]!.slice(0, 20)] } })), ['n3']);
  const seen: string[] = [];
  let token = '';
  for (let i = 0; i < 5; i++) {
    const page = await api.listNetworks({ pageSize: 2, pageToken: token });
    seen.push(...names(page));
    token = page.nextPageToken ?? '';
    if (!token) break;
  }
  assert.deepEqual(seen.sort(), ['n1', 'n2', 'n3'], 'two pages, nothing repeated or lost');
});

test('services: networks by name, id or prefix are stored as ids; every unknown one named at once; one network twice refused', async () => {
  const api = setup();
  const front = (await api.createNetwork({ annotations: { name: 'front' } })).meta?.id ?? '';
  const back = (await api.createNetwork({ annotations: { name: 'back' } })).meta?.id ?? '';
  const svc = await api.createService('web', [{ target: 'front', aliases: ['www'] }, { target: back.slice(0, 10) }]);
  assert.deepEqual(svc.spec?.task?.networks?.map((n) => [n.target, n.aliases]), [[front, ['www']], [back, []]]);
  await rejectsWith(api.createService('api', [{ target: 'nope' }, { target: 'front' }, { target: 'gone' }]), 'NOT_FOUND', /^networks nope, gone not found \(create them with `baton network create`\)$/);
  await rejectsWith(api.createService('api', [{ target: 'front' }, { target: front }]), 'INVALID_ARGUMENT', new RegExp(`^network front is given twice \\(as front and ${front}\\)`));
  await rejectsWith(api.createService('api', [{ target: 'front' }, { target: 'Front' }]), 'INVALID_ARGUMENT', /^network Front is given twice/);
  assert.equal(api.leader.store.list('service').length, 1, 'no refused service was stored');

  // Update: the same resolution; a spec read back (ids) and sent again is unchanged.
  const current = await api.getService('web');
  const again = await api.updateService(current.meta?.id ?? '', current.meta?.version ?? 0, current.spec ?? {});
  assert.deepEqual(again.spec?.task?.networks?.map((n) => n.target), [front, back]);
  const updated = await api.updateService(again.meta?.id ?? '', again.meta?.version ?? 0, { ...again.spec, task: { ...again.spec?.task, networks: [{ target: 'back' }] } });
  assert.deepEqual(updated.spec?.task?.networks?.map((n) => n.target), [back]);
  await rejectsWith(api.updateService(updated.meta?.id ?? '', updated.meta?.version ?? 0, { ...updated.spec, task: { ...updated.spec?.task, networks: [{ target: 'nope' }] } }), 'NOT_FOUND', /^network nope not found/);
});

test('remove: refused while a service joins it (naming every one), or a task is still wanted on it; then removed', async () => {
  const api = setup();
  const front = (await api.createNetwork({ annotations: { name: 'front' } })).meta?.id ?? '';
  const web = await api.createService('web', [{ target: 'front' }]);
  const api2 = await api.createService('api', [{ target: front }]);
  await rejectsWith(api.removeNetwork('front'), 'FAILED_PRECONDITION', /^network front is in use by services api, web$/);
  await api.removeService(api2.meta?.id ?? '');
  await rejectsWith(api.removeNetwork(front), 'FAILED_PRECONDITION', /^network front is in use by service web$/);
  // An update took the network out of web, but one of its old tasks still runs on it.
  const current = await api.getService('web');
  await api.updateService(current.meta?.id ?? '', current.meta?.version ?? 0, { ...current.spec, task: { ...current.spec?.task, networks: [] } });
  const task = {
    meta: { id: newObjectId(), createdAt: 1, updatedAt: 1 },
    serviceId: web.meta?.id ?? '',
    slot: 1,
    nodeId: 'n1',
    spec: { runtime: 'process', container: { command: ['/bin/true'] }, networks: [{ target: front }] },
    desiredState: baton.TaskState.TASK_RUNNING,
    status: { state: baton.TaskState.TASK_RUNNING },
    annotations: { name: 'web.1' },
  };
  api.leader.host.apply([createAction('task', task)]);
  await rejectsWith(api.removeNetwork('front'), 'FAILED_PRECONDITION', /^network front is in use by task web\.1$/);
  // Told to stop (the updater's first step): it no longer holds the network, as in Docker.
  const stored = api.leader.store.get('task', task.meta.id)!;
  api.leader.host.apply([updateAction('task', { ...(stored as baton.Task), desiredState: baton.TaskState.TASK_SHUTDOWN })]);
  await api.removeNetwork('front');
  await rejectsWith(api.getNetwork('front'), 'NOT_FOUND', /not found/);
});

test('a removal and a service create that joins the network, at once: never a service on a removed network', async () => {
  const api = setup();
  await api.createNetwork({ annotations: { name: 'front' } });
  const [created, removed] = await Promise.allSettled([api.createService('web', [{ target: 'front' }]), api.removeNetwork('front')]);
  // Either order is right; both succeeding is the bug (each checked a store the other changed).
  assert.notEqual(created.status, removed.status, 'exactly one of them succeeds');
  const why = String(((created.status === 'rejected' ? created : removed) as PromiseRejectedResult).reason);
  if (created.status === 'fulfilled') {
    assert.match(why, /network front is in use by service web/);
    assert.equal(api.leader.store.list('network').length, 1);
  } else {
    assert.match(why, /network front not found/);
    assert.equal(api.leader.store.list('service').length, 0);
  }
});

test('rollback to a spec whose network was removed since is refused in one line; the service is left as it is', async () => {
  const api = setup();
  const front = (await api.createNetwork({ annotations: { name: 'front' } })).meta?.id ?? '';
  const back = (await api.createNetwork({ annotations: { name: 'back' } })).meta?.id ?? '';
  const web = await api.createService('web', [{ target: 'front' }]);
  const moved = await api.updateService(web.meta?.id ?? '', web.meta?.version ?? 0, { ...web.spec, task: { ...web.spec?.task, networks: [{ target: 'back' }] } });
  await api.removeNetwork('front');
  await rejectsWith(api.rollback(moved.meta?.id ?? '', moved.meta?.version ?? 0), 'FAILED_PRECONDITION', new RegExp(`^service web cannot roll back: its previous spec joins a network that no longer exists \\(network ${front} not found\\)$`));
  assert.deepEqual((await api.getService('web')).spec?.task?.networks?.map((n) => n.target), [back]);
});
