// The grouped scheduler (a heap of nodes per group of identical tasks, node loads kept from the
// store's changes) against the rule it implements, looked at node by node for every task: the
// same decisions and the same pending messages on random clusters (mixed specs of one service
// in one pass, preferences, resources and ports that run out mid-group, invalid constraints);
// the loads kept from store changes against loads counted from the store; and the loop on a
// real store when a node goes down or leaves between passes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { cloneObject, createAction, deleteAction, updateAction, type Stored } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import type { TaskView } from '../../manager/reconcile/tasks.js';
import { NodeLoads, Scheduler, parseConstraints, placeTasks, scheduleTasks, type Decision, type NodeView } from '../../manager/scheduler/index.js';
import { NodeLoad, type Reason, noSuitableNode, runtimeOf, staticFailure } from '../../manager/scheduler/filters.js';
import { spreadValue } from '../../manager/scheduler/spread.js';
import { nodeObject } from '../lib/local-cluster.js';
import { Rng } from '../sim/rng.js';

const S = baton.TaskState;
const GiB = 1024 ** 3;

type Counts = Map<string, { reason: Reason; n: number }>;

function count(counts: Counts, r: Reason, n = 1): void {
  const c = counts.get(r.key);
  if (c === undefined) counts.set(r.key, { reason: r, n });
  else c.n += n;
}

/**
 * The rule, one task at a time over every node: the nodes that pass every filter, narrowed by
 * each preference to the branch with the fewest tasks of the service among those with such a
 * node, then the fewest tasks of the service, the fewest tasks, the lowest id. Unplaced: every
 * node counted under the first filter it fails now.
 */
function reference(nodes: readonly NodeView[], tasks: readonly TaskView[], pending: readonly TaskView[]): Decision[] {
  const loads = nodes.map((n) => new NodeLoad(n)).sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const t of tasks) if (t.nodeId) loads.find((l) => l.id === t.nodeId)?.add(t);
  return pending.map((t): Decision => {
    const taskId = t.meta?.id ?? '';
    const serviceId = t.serviceId ?? '';
    let constraints;
    try {
      constraints = parseConstraints(t.spec?.placement?.constraints);
    } catch (err) {
      return { taskId, message: `no suitable node (${(err as BatonError).message})` };
    }
    const failures: Counts = new Map();
    let eligible: NodeLoad[] = [];
    for (const l of loads) {
      const r = staticFailure(l.node, runtimeOf(t), constraints);
      if (r === undefined) eligible.push(l);
      else count(failures, r);
    }
    let fits = eligible.filter((l) => l.failure(t) === undefined);
    for (const descriptor of (t.spec?.placement?.preferences ?? []).map((p) => p.spread ?? '')) {
      const values = [...new Set(eligible.map((l) => spreadValue(l.node, descriptor)))];
      const tasksIn = (v: string): number => eligible.filter((l) => spreadValue(l.node, descriptor) === v).reduce((n, l) => n + l.ofService(serviceId), 0);
      const open = values.filter((v) => fits.some((l) => spreadValue(l.node, descriptor) === v));
      open.sort((a, b) => tasksIn(a) - tasksIn(b) || (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : 1));
      const chosen = open[0];
      if (chosen === undefined) break;
      eligible = eligible.filter((l) => spreadValue(l.node, descriptor) === chosen);
      fits = fits.filter((l) => spreadValue(l.node, descriptor) === chosen);
    }
    let best: NodeLoad | undefined;
    for (const l of fits) {
      if (best === undefined) best = l;
      else {
        const d = l.ofService(serviceId) - best.ofService(serviceId);
        if (d < 0 || (d === 0 && l.total < best.total)) best = l;
      }
    }
    if (best !== undefined) {
      best.add(t);
      return { taskId, nodeId: best.id };
    }
    for (const l of loads) {
      if (staticFailure(l.node, runtimeOf(t), constraints) !== undefined) continue;
      const r = l.failure(t);
      if (r !== undefined) count(failures, r);
    }
    return { taskId, message: noSuitableNode(failures) };
  });
}

interface Spec {
  service: string;
  cpus: number;
  memGiB: number;
  port: number;
  max: number;
  constraints: string[];
  spread: string[];
  runtime: string;
}

let seq = 0;
function task(s: Spec, nodeId = '', state: baton.TaskState = nodeId ? S.TASK_RUNNING : S.TASK_PENDING, desired: baton.TaskState = S.TASK_RUNNING): baton.Task.$Properties {
  const id = `t${String(++seq).padStart(6, '0')}`;
  return {
    meta: { id, createdAt: seq },
    serviceId: s.service,
    slot: seq,
    nodeId,
    spec: {
      runtime: s.runtime,
      placement: { constraints: s.constraints, preferences: s.spread.map((spread) => ({ spread })), maxReplicas: s.max },
      resources: { reservations: { nanoCpus: s.cpus * 1e9, memoryBytes: s.memGiB * GiB } },
    },
    endpoint: { ports: s.port > 0 ? [{ targetPort: 80, publishedPort: s.port, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.HOST }] : [] },
    desiredState: desired,
    status: { state },
  };
}

function randomSpec(rng: Rng, service: string): Spec {
  return {
    service,
    cpus: rng.pick([0, 0, 1, 2]),
    memGiB: rng.pick([0, 0, 1, 3]),
    port: rng.chance(0.2) ? rng.pick([8080, 9090]) : 0,
    max: rng.chance(0.25) ? rng.range(1, 3) : 0,
    constraints: rng.chance(0.25) ? [rng.pick(['node.labels.zone!=c', 'node.labels.zone==a', 'node.role==worker', 'node.labels.zone~a'])] : [],
    spread: rng.chance(0.4) ? rng.pick([['node.labels.zone'], ['node.labels.zone', 'node.labels.rack'], ['node.labels.rack']]) : [],
    runtime: rng.chance(0.1) ? 'process' : '',
  };
}

function randomNode(rng: Rng, id: string): baton.Node.$Properties {
  const labels: Record<string, string> = {};
  if (rng.chance(0.8)) labels['zone'] = rng.pick(['a', 'b', 'c']);
  if (rng.chance(0.6)) labels['rack'] = rng.pick(['r1', 'r2']);
  return nodeObject(id, {
    labels,
    cpus: rng.range(1, 5),
    memGiB: rng.range(2, 9),
    runtimes: rng.chance(0.8) ? ['docker', 'process'] : ['docker'],
    state: rng.chance(0.9) ? baton.NodeState.NODE_READY : baton.NodeState.NODE_DOWN,
    availability: rng.chance(0.9) ? baton.NodeAvailability.ACTIVE : baton.NodeAvailability.DRAIN,
  });
}

test('grouped placement gives the decisions and messages of the rule node by node, on 400 random clusters', () => {
  let placedSomewhere = 0;
  let unplaced = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const rng = new Rng(seed);
    const nodes = Array.from({ length: rng.range(0, 12) }, (_, i) => randomNode(rng, `n${String(i).padStart(2, '0')}`));
    // Services with one or two specs each (a rolling update: old and new tasks pending together).
    const specs: Spec[] = [];
    for (let s = rng.range(1, 4); s > 0; s--) {
      const spec = randomSpec(rng, `svc${s}`);
      specs.push(spec);
      if (rng.chance(0.4)) specs.push({ ...randomSpec(rng, `svc${s}`), spread: spec.spread });
    }
    const running: baton.Task.$Properties[] = [];
    for (let i = rng.range(0, 20); i > 0 && nodes.length > 0; i--) {
      const state = rng.pick([S.TASK_RUNNING, S.TASK_ASSIGNED, S.TASK_FAILED, S.TASK_COMPLETE]);
      running.push(task(rng.pick(specs), rng.pick(nodes).meta!.id!, state, rng.chance(0.9) ? S.TASK_RUNNING : S.TASK_SHUTDOWN));
    }
    // Interleaved: groups alternate in the pending order.
    const pending = Array.from({ length: rng.range(1, 40) }, () => task(rng.pick(specs)));
    const expected = reference(nodes, running, pending);
    assert.deepEqual(scheduleTasks(nodes, running, pending), expected, `seed ${seed}`);
    placedSomewhere += expected.filter((d) => d.nodeId !== undefined).length;
    unplaced += expected.filter((d) => d.nodeId === undefined).length;
  }
  // The cases exercise both outcomes (not a comparison of two empty answers).
  assert.ok(placedSomewhere > 1000 && unplaced > 1000, `${placedSomewhere} placed, ${unplaced} pending`);
});

const plain: Spec = { service: 'web', cpus: 0, memGiB: 0, port: 0, max: 0, constraints: [], spread: [], runtime: '' };

test('resources run out mid-group: the rest of the group waits, counted under the filter each node fails', () => {
  const nodes = [nodeObject('n1', { cpus: 2 }), nodeObject('n2', { cpus: 2 }), nodeObject('n3', { cpus: 1 })];
  const ds = scheduleTasks(nodes, [], Array.from({ length: 7 }, () => task({ ...plain, cpus: 1 })));
  assert.deepEqual(
    ds.map((d) => d.nodeId ?? d.message),
    ['n1', 'n2', 'n3', 'n1', 'n2', 'no suitable node (3 nodes have insufficient CPU)', 'no suitable node (3 nodes have insufficient CPU)'],
  );
});

test('a node given up on for one reason is explained by the reason it fails now: another group took its CPU', () => {
  // web (1 CPU, port 8080) cannot go on n1 again: its port. Then api takes the rest of n1's
  // CPU, and the next web task's message must say CPU for n1 (the first filter that fails
  // there now), as a look at every node does.
  const nodes = [nodeObject('n1', { cpus: 3 })];
  const web = { ...plain, port: 8080, cpus: 1 };
  const api = { ...plain, service: 'api', cpus: 2 };
  const pending = [task(web), task(web), task(api), task(web)];
  const ds = scheduleTasks(nodes, [], pending);
  assert.deepEqual(ds, reference(nodes, [], pending));
  assert.deepEqual(
    ds.map((d) => d.nodeId ?? d.message),
    ['n1', 'no suitable node (1 node has host port 8080/tcp in use)', 'n1', 'no suitable node (1 node has insufficient CPU)'],
  );
});

test('mixed specs of one service in one pass: each spec is its own group, and both count for the spread', () => {
  const nodes = ['a1', 'a2', 'b1'].map((id) => nodeObject(id, { labels: { zone: id.slice(0, 1) } }));
  const v1 = { ...plain, spread: ['node.labels.zone'] };
  const v2 = { ...v1, memGiB: 1 };
  const pending = [task(v1), task(v2), task(v2), task(v1), task(v2), task(v1)];
  const ds = scheduleTasks(nodes, [], pending);
  assert.deepEqual(ds, reference(nodes, [], pending));
  const zones = ds.map((d) => d.nodeId!.slice(0, 1));
  assert.equal(zones.filter((z) => z === 'a').length, 3);
  assert.equal(zones.filter((z) => z === 'b').length, 3);
});

/** Decisions on the loads kept from changes, taken back after (as the loop does), beside a fresh count. */
function probe(loads: NodeLoads, host: LocalHost, pending: TaskView[]): void {
  const kept = placeTasks(loads.nodes(), pending);
  kept.forEach((d, i) => d.nodeId !== undefined && loads.get(d.nodeId)?.remove(pending[i]!));
  assert.deepEqual(kept, scheduleTasks(host.store.scan('node'), host.store.scan('task'), pending));
}

test('node loads kept from store changes decide as loads counted from the store, through 300 random changes', () => {
  const rng = new Rng(17);
  const host = new LocalHost();
  host.apply(['n1', 'n2', 'n3', 'n4'].map((id) => createAction('node', randomNode(rng, id))));
  const loads = NodeLoads.from(host.store.scan('node'), host.store.scan('task'));
  host.store.onChange((e) => {
    if (e.action !== 'reset') loads.apply(e);
  });
  const specs = [randomSpec(rng, 'a'), randomSpec(rng, 'b'), { ...plain, cpus: 1, port: 8080 }];
  let nodeSeq = 5;
  for (let step = 0; step < 300; step++) {
    const tasks = host.store.scan('task');
    const nodes = host.store.scan('node');
    const roll = rng.next();
    if (roll < 0.35 || tasks.length === 0) {
      const n = nodes.length > 0 && rng.chance(0.8) ? rng.pick(nodes).meta.id : `gone${step}`;
      host.apply([createAction('task', task(rng.pick(specs), n, rng.pick([S.TASK_ASSIGNED, S.TASK_RUNNING])))]);
    } else if (roll < 0.65) {
      const t = cloneObject('task', rng.pick(tasks));
      t.status = { state: rng.pick([S.TASK_RUNNING, S.TASK_FAILED, S.TASK_SHUTDOWN, S.TASK_COMPLETE]) };
      if (rng.chance(0.2)) t.desiredState = S.TASK_SHUTDOWN;
      if (rng.chance(0.1) && nodes.length > 0) t.nodeId = rng.pick(nodes).meta.id;
      host.apply([updateAction('task', t)]);
    } else if (roll < 0.8) {
      host.apply([deleteAction('task', rng.pick(tasks))]);
    } else if (roll < 0.93 && nodes.length > 0) {
      const n = cloneObject('node', rng.pick(nodes));
      n.status = { state: rng.chance(0.5) ? baton.NodeState.NODE_READY : baton.NodeState.NODE_DOWN };
      n.description = { ...n.description, resources: { nanoCpus: rng.range(1, 5) * 1e9, memoryBytes: 8 * GiB } };
      host.apply([updateAction('node', n)]);
    } else if (rng.chance(0.5) && nodes.length > 1) {
      host.apply([deleteAction('node', rng.pick(nodes))]);
    } else {
      // A node joins; now and then under the id of one that left, whose tasks are still counted.
      const gone = tasks.find((t) => t.nodeId !== '' && host.store.get('node', t.nodeId) === undefined);
      host.apply([createAction('node', randomNode(rng, gone !== undefined && rng.chance(0.5) ? gone.nodeId : `n${nodeSeq++}`))]);
    }
    probe(loads, host, Array.from({ length: 6 }, () => task(rng.pick(specs))));
  }
});

/** Every task, in creation order (ids grow). */
function inOrder(host: LocalHost): Stored<'task'>[] {
  return host.store.list('task');
}

test('loop: a node that goes down or leaves between passes takes no more tasks; its tasks stop counting when they finish; a new term counts afresh', async () => {
  const host = new LocalHost();
  host.apply(['n1', 'n2'].map((id) => createAction('node', nodeObject(id, { cpus: 2 }))));
  const scheduler = new Scheduler(host);
  scheduler.start();
  const one = { ...plain, cpus: 1 };
  host.apply([createAction('task', task(one)), createAction('task', task(one))]);
  await scheduler.idle();
  assert.deepEqual(inOrder(host).map((t) => t.nodeId).sort(), ['n1', 'n2']);
  // n1 goes down: the next pass places only on n2 (1 CPU left there), the rest waits.
  const down = cloneObject('node', host.store.get('node', 'n1')!);
  down.status = { state: baton.NodeState.NODE_DOWN };
  host.apply([updateAction('node', down)]);
  host.apply([createAction('task', task(one)), createAction('task', task(one))]);
  await scheduler.idle();
  const afterDown = inOrder(host);
  assert.deepEqual(afterDown.slice(2).map((t) => t.nodeId ?? ''), ['n2', '']);
  assert.equal(afterDown[3]!.status?.message, 'no suitable node (1 node not available for new tasks; 1 node has insufficient CPU)');
  // n2's first task fails: its CPU is free again, and the waiting task goes there.
  const failed = cloneObject('task', afterDown.find((t) => t.nodeId === 'n2')!);
  failed.status = { state: S.TASK_FAILED };
  host.apply([updateAction('task', failed)]);
  await scheduler.idle();
  assert.equal(host.store.get('task', afterDown[3]!.meta.id)!.nodeId, 'n2');
  // n2 leaves the cluster: nothing goes there; a new n3 takes the next task.
  host.apply([deleteAction('node', host.store.get('node', 'n2')!), createAction('node', nodeObject('n3', { cpus: 2 }))]);
  const last = task(one);
  host.apply([createAction('task', last)]);
  await scheduler.idle();
  assert.equal(host.store.get('task', last.meta!.id!)!.nodeId, 'n3');
  // Out of office, the loop hears nothing: a task written on n3 meanwhile fills it. Back in
  // office, it counts again from the store and does not place on a full n3.
  scheduler.stop();
  host.apply([createAction('task', task(one, 'n3'))]);
  scheduler.start();
  const next = task(one);
  host.apply([createAction('task', next)]);
  await scheduler.idle();
  const waitingTask = host.store.get('task', next.meta!.id!)!;
  assert.equal(waitingTask.nodeId, '');
  assert.equal(waitingTask.status?.message, 'no suitable node (1 node not available for new tasks; 1 node has insufficient CPU)');
  scheduler.stop();
});
