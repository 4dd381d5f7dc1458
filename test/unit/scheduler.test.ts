// The scheduler: its pure decision function filter by filter (availability, runtime,
// resources, every constraint form, host ports), the spread order and the pending message;
// then the loop on a real store (LocalHost, no Raft): one proposal per pass, a message that is
// written once, and a pending task placed as soon as a node change makes room.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { cloneObject, createAction, updateAction } from '../../manager/store/index.js';
import { LocalHost, ManualClock } from '../../manager/reconcile/local-host.js';
import { Scheduler, parseConstraint, scheduleTasks } from '../../manager/scheduler/index.js';
import { nodeObject, type NodeOpts } from '../lib/local-cluster.js';

const S = baton.TaskState;
const GiB = 1024 ** 3;

function node(id: string, o: NodeOpts = {}): baton.Node.$Properties {
  return nodeObject(id, { hostname: `host-${id}`, ...o });
}

interface TaskOpts {
  service?: string;
  nodeId?: string;
  state?: baton.TaskState;
  desired?: baton.TaskState;
  runtime?: string;
  constraints?: string[];
  cpus?: number;
  memGiB?: number;
  hostPorts?: [number, baton.PortProtocol?][];
  ingressPorts?: number[];
}

let seq = 0;
function task(o: TaskOpts = {}): baton.Task.$Properties {
  const id = `t${String(++seq).padStart(4, '0')}`;
  const ports: baton.PortConfig.$Properties[] = [
    ...(o.hostPorts ?? []).map(([p, protocol]) => ({ targetPort: 80, publishedPort: p, protocol: protocol ?? baton.PortProtocol.TCP, publishMode: baton.PublishMode.HOST })),
    ...(o.ingressPorts ?? []).map((p) => ({ targetPort: 80, publishedPort: p, publishMode: baton.PublishMode.INGRESS })),
  ];
  return {
    meta: { id, createdAt: seq },
    serviceId: o.service ?? 'svc',
    slot: seq,
    nodeId: o.nodeId ?? '',
    spec: {
      runtime: o.runtime ?? '',
      placement: { constraints: o.constraints ?? [] },
      resources: { reservations: { nanoCpus: (o.cpus ?? 0) * 1e9, memoryBytes: (o.memGiB ?? 0) * GiB } },
    },
    endpoint: { ports },
    desiredState: o.desired ?? S.TASK_RUNNING,
    status: { state: o.state ?? (o.nodeId ? S.TASK_RUNNING : S.TASK_PENDING) },
  };
}

/** Where one pending task goes (node id), or the message why nowhere. */
function place(nodes: baton.Node.$Properties[], pending: baton.Task.$Properties, running: baton.Task.$Properties[] = []): string {
  const [d] = scheduleTasks(nodes, running, [pending]);
  assert.ok(d);
  return d.nodeId ?? d.message;
}

test('filter 1: only READY and ACTIVE nodes take new tasks', () => {
  const nodes = [
    node('a', { state: baton.NodeState.NODE_DOWN }),
    node('b', { availability: baton.NodeAvailability.DRAIN }),
    node('c', { availability: baton.NodeAvailability.PAUSE }),
    node('d', { state: baton.NodeState.NODE_UNKNOWN }),
  ];
  assert.equal(place(nodes, task()), 'no suitable node (4 nodes not available for new tasks)');
  assert.equal(place([...nodes, node('e')], task()), 'e');
  assert.equal(place([], task()), 'no suitable node (no nodes in the cluster)');
});

test('filter 2: the runtime (default docker) must be offered by the node', () => {
  const nodes = [node('a', { runtimes: ['process'] }), node('b', { runtimes: ['docker'] })];
  assert.equal(place(nodes, task()), 'b', 'default runtime docker');
  assert.equal(place(nodes, task({ runtime: 'process' })), 'a');
  assert.equal(place([node('b', { runtimes: ['docker'] })], task({ runtime: 'process' })), 'no suitable node (1 node does not support runtime process)');
  assert.equal(place([node('x', { runtimes: [] }), node('y', { runtimes: [] })], task()), 'no suitable node (2 nodes do not support runtime docker)');
});

test('filter 3: every constraint form, == and !=', () => {
  const nodes = [
    node('m1', { hostname: 'alpha', role: baton.NodeRole.MANAGER, labels: { zone: 'a', ssd: 'true' } }),
    node('w1', { hostname: 'beta', labels: { zone: 'b' } }),
    node('w2', { hostname: 'gamma' }),
  ];
  const where = (...constraints: string[]): string[] =>
    nodes.filter((n) => scheduleTasks([n], [], [task({ constraints })])[0]?.nodeId !== undefined).map((n) => n.meta!.id!);
  assert.deepEqual(where('node.id==w1'), ['w1']);
  assert.deepEqual(where('node.id!=w1'), ['m1', 'w2']);
  assert.deepEqual(where('node.hostname==beta'), ['w1']);
  assert.deepEqual(where('node.hostname==BETA'), ['w1'], 'values compare ignoring case');
  assert.deepEqual(where('node.hostname!=beta'), ['m1', 'w2']);
  assert.deepEqual(where('node.role==manager'), ['m1']);
  assert.deepEqual(where('node.role==worker'), ['w1', 'w2']);
  assert.deepEqual(where('node.role!=manager'), ['w1', 'w2']);
  assert.deepEqual(where('node.labels.zone==a'), ['m1']);
  assert.deepEqual(where('node.labels.zone!=a'), ['w1', 'w2'], 'a missing label is not equal');
  assert.deepEqual(where('node.labels.ssd==true', 'node.role==manager'), ['m1']);
  assert.deepEqual(where('node.labels.zone == b'), ['w1'], 'spaces around the operator');
  assert.deepEqual(where('node.labels.zone==a', 'node.role==worker'), []);
  assert.equal(
    place(nodes, task({ constraints: ['node.labels.zone==c'] })),
    'no suitable node (3 nodes have no label zone==c)',
  );
  assert.equal(place(nodes, task({ constraints: ['node.labels.zone!=a', 'node.hostname==alpha'] })), 'no suitable node (1 node has label zone==a; 2 nodes do not match node.hostname==alpha)');
  assert.match(place(nodes, task({ constraints: ['node.colour==red'] })), /^no suitable node \(invalid constraint "node.colour==red"/);
});

test('constraint parser: clear errors for bad forms', () => {
  assert.deepEqual(parseConstraint(' node.labels.zone  !=  a '), { field: 'label', key: 'zone', op: '!=', value: 'a', text: 'node.labels.zone!=a' });
  for (const bad of ['node.labels.zone=a', 'node.role==boss', 'zone==a', 'node.id==', 'node.labels.==a']) {
    assert.throws(
      () => parseConstraint(bad),
      (e: unknown) => e instanceof BatonError && e.code === 'INVALID_ARGUMENT' && e.message.includes(bad.trim()),
      bad,
    );
  }
});

test('filter 4: reservations must fit in what the node has left; finished tasks free theirs', () => {
  const nodes = [node('a', { cpus: 2, memGiB: 4 }), node('b', { cpus: 1, memGiB: 1 })];
  const running = [task({ nodeId: 'a', cpus: 1.5, memGiB: 1 })];
  assert.equal(place(nodes, task({ cpus: 1 }), running), 'b');
  assert.equal(place(nodes, task({ cpus: 1, memGiB: 2 }), running), 'no suitable node (1 node has insufficient CPU; 1 node has insufficient memory)');
  assert.equal(place(nodes, task({ cpus: 3 }), running), 'no suitable node (2 nodes have insufficient CPU)');
  const finished = [task({ nodeId: 'a', cpus: 1.5, memGiB: 1, state: S.TASK_FAILED, desired: S.TASK_SHUTDOWN })];
  assert.equal(place(nodes, task({ cpus: 2 }), finished), 'a');
  // A task being stopped still holds its reservation until it has stopped.
  const stopping = [task({ nodeId: 'a', cpus: 1.5, desired: S.TASK_SHUTDOWN })];
  assert.equal(place([nodes[0]!], task({ cpus: 1 }), stopping), 'no suitable node (1 node has insufficient CPU)');
  // Tasks placed earlier in the same pass count.
  const ds = scheduleTasks([node('a', { cpus: 2 })], [], [task({ cpus: 1 }), task({ cpus: 1 }), task({ cpus: 1 })]);
  assert.deepEqual(
    ds.map((d) => d.nodeId ?? 'none'),
    ['a', 'a', 'none'],
  );
});

test('filter 5: a HOST-mode published port is taken on a node while a task there holds it', () => {
  const nodes = [node('a'), node('b')];
  const onA = [task({ nodeId: 'a', hostPorts: [[8080]], service: 'other' })];
  assert.equal(place(nodes, task({ hostPorts: [[8080]] }), onA), 'b');
  assert.equal(place([nodes[0]!], task({ hostPorts: [[8080]] }), onA), 'no suitable node (1 node has host port 8080/tcp in use)');
  assert.equal(place([nodes[0]!], task({ hostPorts: [[8080, baton.PortProtocol.UDP]] }), onA), 'a', 'udp is another port');
  assert.equal(place([nodes[0]!], task({ ingressPorts: [8080] }), onA), 'a', 'ingress ports are the mesh’s, not the node’s');
  const done = [task({ nodeId: 'a', hostPorts: [[8080]], state: S.TASK_SHUTDOWN, desired: S.TASK_SHUTDOWN })];
  assert.equal(place([nodes[0]!], task({ hostPorts: [[8080]] }), done), 'a');
  // Two tasks of one pass with the same host port land on different nodes.
  const ds = scheduleTasks(nodes, [], [task({ hostPorts: [[9000]] }), task({ hostPorts: [[9000]] }), task({ hostPorts: [[9000]] })]);
  assert.deepEqual(
    ds.map((d) => d.nodeId ?? 'none'),
    ['a', 'b', 'none'],
  );
});

test('spread: fewest tasks of the service, then fewest overall, then node id', () => {
  const nodes = [node('a'), node('b'), node('c')];
  // a: 2 tasks of another service; b: 1 of ours; c: nothing.
  const running = [task({ nodeId: 'a', service: 'x' }), task({ nodeId: 'a', service: 'x' }), task({ nodeId: 'b', service: 'web' })];
  const ds = scheduleTasks(nodes, running, [task({ service: 'web' }), task({ service: 'web' }), task({ service: 'web' }), task({ service: 'web' })]);
  // c (0 of web, 0 in all), then a (0 of web, 2 in all), then b and c tie (1 of web, 1 in
  // all): b by id, then c (1 of web, 1 in all) beats a (1 of web, 3 in all).
  assert.deepEqual(
    ds.map((d) => d.nodeId),
    ['c', 'a', 'b', 'c'],
  );
  // Only active tasks count: finished and stopping ones do not.
  const idle = [task({ nodeId: 'a', service: 'web', state: S.TASK_COMPLETE }), task({ nodeId: 'a', service: 'web', desired: S.TASK_SHUTDOWN })];
  assert.equal(scheduleTasks([node('a'), node('b')], idle, [task({ service: 'web' })])[0]?.nodeId, 'a');
  // Six tasks, three empty nodes: two each.
  const six = scheduleTasks(nodes, [], Array.from({ length: 6 }, () => task({ service: 'api' })));
  const count = new Map<string, number>();
  for (const d of six) count.set(d.nodeId!, (count.get(d.nodeId!) ?? 0) + 1);
  assert.deepEqual([...count.entries()].sort(), [
    ['a', 2],
    ['b', 2],
    ['c', 2],
  ]);
});

test('the pending message lists why, in filter order', () => {
  const nodes = [node('a', { state: baton.NodeState.NODE_DOWN }), node('b'), node('c')];
  assert.equal(place(nodes, task({ constraints: ['node.labels.zone==a'] })), 'no suitable node (1 node not available for new tasks; 2 nodes have no label zone==a)');
});

class Harness {
  readonly clock = new ManualClock();
  readonly host = new LocalHost({ clock: this.clock });
  readonly store = this.host.store;
  readonly scheduler = new Scheduler(this.host, { timers: this.clock });

  async settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const before = this.host.index;
      await new Promise((r) => setImmediate(r));
      await this.scheduler.idle();
      if (this.host.index === before) return;
    }
    assert.fail('did not settle');
  }

  add(...objects: ({ node: baton.Node.$Properties } | { task: baton.Task.$Properties })[]): void {
    this.host.apply(objects.map((o) => ('node' in o ? createAction('node', o.node) : createAction('task', o.task))));
  }

  task(id: string): baton.Task {
    const t = this.store.get('task', id);
    assert.ok(t);
    return cloneObject('task', t);
  }
}

test('loop: a pending message is written once, and the task is placed when a label makes room', async () => {
  const h = new Harness();
  h.add({ node: node('a', { labels: { zone: 'b' } }) }, { node: node('b', { state: baton.NodeState.NODE_DOWN }) });
  const pending = task({ constraints: ['node.labels.zone==a'] });
  h.add({ task: pending });
  h.scheduler.start();
  await h.settle();
  const id = pending.meta!.id!;
  assert.equal(h.task(id).status?.message, 'no suitable node (1 node not available for new tasks; 1 node has no label zone==a)');
  assert.equal(h.task(id).status?.state, S.TASK_PENDING);

  // Unrelated changes re-run the scheduler but write nothing: the message is unchanged.
  const proposals = h.host.proposals;
  for (let i = 0; i < 5; i++) h.add({ task: task({ nodeId: 'a', service: 'other' }) });
  await h.settle();
  assert.equal(h.host.proposals, proposals, 'no write storm');

  const a = cloneObject('node', h.store.get('node', 'a')!);
  a.spec = { ...a.spec, annotations: { labels: { zone: 'a' } } };
  h.host.apply([updateAction('node', a)]);
  await h.settle();
  const placed = h.task(id);
  assert.equal(placed.nodeId, 'a');
  assert.equal(placed.status?.state, S.TASK_ASSIGNED);
  assert.equal(placed.status?.message, 'assigned to node');
  assert.equal(placed.status?.timestamp, h.clock.now());
  h.scheduler.stop();
});

test('loop: only PENDING tasks wanted RUNNING are placed, all of a pass in one proposal', async () => {
  const h = new Harness();
  h.add({ node: node('a') }, { node: node('b') });
  const stopped = task({ desired: S.TASK_SHUTDOWN });
  const fresh = task({ state: S.TASK_NEW });
  h.add({ task: stopped }, { task: fresh });
  const burst = Array.from({ length: 150 }, () => task({ service: 'web' }));
  h.host.apply(burst.map((t) => createAction('task', t)));
  const before = h.host.proposals;
  h.scheduler.start();
  await h.settle();
  assert.equal(h.host.proposals - before, 1);
  assert.equal(h.task(stopped.meta!.id!).nodeId, '');
  assert.equal(h.task(fresh.meta!.id!).nodeId, '');
  const onA = burst.filter((t) => h.task(t.meta!.id!).nodeId === 'a').length;
  assert.equal(onA, 75);
  h.scheduler.stop();
});
