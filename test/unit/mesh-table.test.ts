// The routing mesh's table as the dispatcher computes it from a real store (no Raft: LocalHost
// applies each batch as the next entry): which services, ports and backends, and when a store
// change makes the shared cache recompute.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, deleteAction, updateAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { MeshTableCache, affectsMeshTable, computeMeshTable } from '../../dispatcher/mesh-table.js';

const S = baton.TaskState;
const TCP = baton.PortProtocol.TCP;
const UDP = baton.PortProtocol.UDP;
const HOST = baton.PublishMode.HOST;

class World {
  readonly host = new LocalHost();
  readonly store = this.host.store;

  node(id: string, addr: string, state = baton.NodeState.NODE_READY): void {
    this.host.apply([createAction('node', { meta: { id }, spec: {}, status: { state, addr }, role: baton.NodeRole.WORKER })]);
  }

  setNode(id: string, change: (n: baton.Node) => void): void {
    const n = cloneObject('node', this.store.get('node', id)!);
    change(n);
    this.host.apply([updateAction('node', n)]);
  }

  service(id: string, ports: baton.PortConfig.$Properties[], endpoint: baton.EndpointSpec.$Properties = {}): void {
    this.host.apply([
      createAction('service', {
        meta: { id },
        spec: { annotations: { name: `svc-${id}` }, task: { container: { image: 'x' } }, replicas: 1, endpoint: { ...endpoint, ports } },
        endpoint: { ports },
      }),
    ]);
  }

  /** A task of `service` on `node` whose ports are bound at `hostPorts` (target → host port). */
  task(id: string, service: string, node: string, hostPorts: baton.PortStatus.$Properties[], status: baton.TaskStatus.$Properties = {}): void {
    const ports = this.store.get('service', service)!.endpoint!.ports as baton.PortConfig.$Properties[];
    this.host.apply([
      createAction('task', {
        meta: { id },
        serviceId: service,
        nodeId: node,
        desiredState: S.TASK_RUNNING,
        status: { state: S.TASK_RUNNING, ports: hostPorts, ...status },
        endpoint: { ports },
      }),
    ]);
  }

  setTask(id: string, change: (t: baton.Task) => void): void {
    const t = cloneObject('task', this.store.get('task', id)!);
    change(t);
    this.host.apply([updateAction('task', t)]);
  }

  backends(serviceId: string, port = 0): string[] {
    const s = computeMeshTable(this.store).find((x) => x.serviceId === serviceId);
    return (s?.ports?.[port]?.backends ?? []).map((b) => `${b.taskId}@${b.addr}`);
  }
}

test('every service with ingress ports gets an entry; backends are node address + task host port', () => {
  const w = new World();
  w.node('n1', '127.0.0.1:4242');
  w.node('n2', '127.0.0.2:4242');
  w.service('web', [{ targetPort: 80, publishedPort: 8080, protocol: TCP }, { targetPort: 53, publishedPort: 5353, protocol: UDP, proxyProtocol: baton.ProxyProtocol.PROXY_V2 }], {
    balance: baton.BalanceMode.LEAST_CONNECTIONS,
  });
  w.service('plain', []);
  w.service('hosted', [{ targetPort: 80, publishedPort: 9090, publishMode: HOST }]);
  w.task('t1', 'web', 'n1', [{ targetPort: 80, hostPort: 31001, protocol: TCP }, { targetPort: 53, hostPort: 31002, protocol: UDP }]);
  w.task('t2', 'web', 'n2', [{ targetPort: 80, hostPort: 32001, protocol: TCP }, { targetPort: 53, hostPort: 32002, protocol: UDP }]);

  assert.deepEqual(computeMeshTable(w.store), [
    {
      serviceId: 'web',
      serviceName: 'svc-web',
      balance: baton.BalanceMode.LEAST_CONNECTIONS,
      ports: [
        { protocol: TCP, publishedPort: 8080, targetPort: 80, proxyProtocol: baton.ProxyProtocol.PROXY_NONE, backends: [{ taskId: 't1', addr: '127.0.0.1:31001' }, { taskId: 't2', addr: '127.0.0.2:32001' }] },
        { protocol: UDP, publishedPort: 5353, targetPort: 53, proxyProtocol: baton.ProxyProtocol.PROXY_V2, backends: [{ taskId: 't1', addr: '127.0.0.1:31002' }, { taskId: 't2', addr: '127.0.0.2:32002' }] },
      ],
    },
  ], 'services without ports and host-mode-only services have no entry');
});

test('only wanted, running, not starting or unhealthy tasks on nodes not down are backends', () => {
  const w = new World();
  w.node('n1', '127.0.0.1:4242');
  w.node('down', '127.0.0.9:4242', baton.NodeState.NODE_DOWN);
  w.service('web', [{ targetPort: 80, publishedPort: 8080 }]);
  const port = (hostPort: number): baton.PortStatus.$Properties[] => [{ targetPort: 80, hostPort, protocol: TCP }];
  w.task('ok', 'web', 'n1', port(1));
  w.task('healthy', 'web', 'n1', port(2), { health: baton.HealthState.HEALTH_HEALTHY });
  w.task('starting', 'web', 'n1', port(3), { health: baton.HealthState.HEALTH_STARTING });
  w.task('unhealthy', 'web', 'n1', port(4), { health: baton.HealthState.HEALTH_UNHEALTHY });
  w.task('preparing', 'web', 'n1', port(5), { state: S.TASK_PREPARING });
  w.task('failed', 'web', 'n1', port(6), { state: S.TASK_FAILED });
  w.task('on-down-node', 'web', 'down', port(7));
  w.task('no-node', 'web', 'gone', port(8));
  w.task('unbound', 'web', 'n1', []);
  w.task('leaving', 'web', 'n1', port(9));
  w.setTask('leaving', (t) => (t.desiredState = S.TASK_SHUTDOWN));
  assert.deepEqual(w.backends('web'), ['healthy@127.0.0.1:2', 'ok@127.0.0.1:1']);

  // The node comes back: its task is a backend again.
  w.setNode('down', (n) => (n.status = { ...n.status, state: baton.NodeState.NODE_READY }));
  assert.deepEqual(w.backends('web'), ['healthy@127.0.0.1:2', 'ok@127.0.0.1:1', 'on-down-node@127.0.0.9:7']);
});

test('a task publishing the same target in host mode and through the mesh is reached on its ephemeral port', () => {
  const w = new World();
  w.node('n1', '[::1]:4242');
  w.service('both', [
    { targetPort: 80, publishedPort: 8080, publishMode: HOST },
    { targetPort: 80, publishedPort: 30000 },
  ]);
  w.task('t', 'both', 'n1', [{ targetPort: 80, hostPort: 8080, protocol: TCP }, { targetPort: 80, hostPort: 40000, protocol: TCP }]);
  const table = computeMeshTable(w.store);
  assert.equal(table[0]?.ports?.length, 1, 'the host-mode port is not in the mesh');
  assert.deepEqual(w.backends('both'), ['t@[::1]:40000']);
});

test('the cache recomputes only after a change that may alter the table', () => {
  const w = new World();
  w.node('n1', '127.0.0.1:4242');
  w.service('web', [{ targetPort: 80, publishedPort: 8080 }]);
  w.service('quiet', []);
  w.task('t1', 'web', 'n1', [{ targetPort: 80, hostPort: 31000, protocol: TCP }]);
  const cache = new MeshTableCache(w.store);
  try {
    const first = cache.current();
    assert.equal(first.table[0]?.ports?.[0]?.backends?.length, 1);
    assert.equal(cache.current().table, cache.current().table, 'no change: the same object, not a recomputation');

    // A task of a service without mesh ports changes nothing.
    const events: boolean[] = [];
    const off = w.store.onChange((e) => events.push(affectsMeshTable(e)));
    w.host.apply([createAction('task', { meta: { id: 'q1' }, serviceId: 'quiet', nodeId: 'n1', desiredState: S.TASK_RUNNING, status: { state: S.TASK_RUNNING } })]);
    // A heartbeat that changes neither the state nor the address of a node changes nothing.
    w.setNode('n1', (n) => (n.status = { ...n.status, lastHeartbeat: 5 }));
    assert.deepEqual(events, [false, false]);
    assert.equal(cache.current().key, first.key);

    // The task is told to stop: it leaves the table at once, before it reports anything.
    w.setTask('t1', (t) => (t.desiredState = S.TASK_SHUTDOWN));
    assert.deepEqual(events, [false, false, true]);
    const after = cache.current();
    assert.notEqual(after.key, first.key);
    assert.deepEqual(after.table[0]?.ports?.[0]?.backends, []);

    // Removing the service removes its entry.
    w.host.apply([deleteAction('service', w.store.get('service', 'web')!)]);
    assert.deepEqual(cache.current().table, []);
    off();
  } finally {
    cache.close();
  }
});

test('services on networks get an east-west entry: names, mode, every bound target port with its backends, the tasks; the networks ride along', () => {
  const w = new World();
  w.node('n1', '127.0.0.1:4242');
  w.node('n2', '127.0.0.2:4242');
  w.host.apply([createAction('network', { meta: { id: 'net1' }, spec: { annotations: { name: 'backend' }, driver: 'overlay' } })]);
  w.host.apply([
    createAction('service', {
      meta: { id: 'api' },
      spec: {
        annotations: { name: 'app_api' },
        task: { container: { image: 'x' }, networks: [{ target: 'net1', aliases: ['api'] }] },
        replicas: 2,
        endpoint: { mode: baton.EndpointMode.DNSRR, expose: [{ targetPort: 8080 }] },
      },
      endpoint: { ports: [], expose: [{ targetPort: 8080 }] },
    }),
  ]);
  const onNet = (id: string, node: string, ports: baton.PortStatus.$Properties[], status: baton.TaskStatus.$Properties = {}): void => {
    w.host.apply([
      createAction('task', {
        meta: { id },
        serviceId: 'api',
        nodeId: node,
        desiredState: S.TASK_RUNNING,
        spec: { networks: [{ target: 'net1', aliases: ['api'] }] },
        status: { state: S.TASK_RUNNING, ports, ...status },
      }),
    ]);
  };
  // t1 reports its exposed port and an image EXPOSE port (9090); t2 only the exposed one; t3 is unhealthy.
  onNet('t1', 'n1', [{ targetPort: 8080, hostPort: 31001, protocol: TCP }, { targetPort: 9090, hostPort: 31002, protocol: UDP }]);
  onNet('t2', 'n2', [{ targetPort: 8080, hostPort: 32001, protocol: TCP }]);
  onNet('t3', 'n2', [{ targetPort: 8080, hostPort: 32002, protocol: TCP }], { health: baton.HealthState.HEALTH_UNHEALTHY });

  const cache = new MeshTableCache(w.store);
  try {
    const { table, networks } = cache.current();
    assert.deepEqual(table, [
      {
        serviceId: 'api',
        serviceName: 'app_api',
        balance: baton.BalanceMode.ROUND_ROBIN,
        ports: [],
        networks: [{ networkId: 'net1', aliases: ['api'] }],
        endpointMode: baton.EndpointMode.DNSRR,
        internalPorts: [
          { protocol: TCP, publishedPort: 0, targetPort: 8080, backends: [{ taskId: 't1', addr: '127.0.0.1:31001' }, { taskId: 't2', addr: '127.0.0.2:32001' }] },
          { protocol: UDP, publishedPort: 0, targetPort: 9090, backends: [{ taskId: 't1', addr: '127.0.0.1:31002' }] },
        ],
        tasks: ['t1', 't2'],
      },
    ]);
    assert.deepEqual(networks.map((n) => n.meta?.id), ['net1']);

    // A change of the network (made internal, say) is news to the nodes: the key changes.
    const before = cache.current().key;
    const net = cloneObject('network', w.store.get('network', 'net1')!);
    net.spec!.internal = true;
    w.host.apply([updateAction('network', net)]);
    assert.notEqual(cache.current().key, before);
  } finally {
    cache.close();
  }
});
