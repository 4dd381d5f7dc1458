// Rebalancing: the choice of moves (planRebalance, on a real ClusterStore holding the tasks
// where a test puts them), and the loop that starts a rebalance when a node becomes available,
// with the rolling updater moving the tasks start-first (orchestrators, scheduler, updater and
// rebalancer on a LocalHost; the tests play the workers).
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { createAction } from '../../manager/store/index.js';
import { planRebalance, type Move } from '../../manager/orchestrator/index.js';
import { newTask } from '../../manager/reconcile/tasks.js';
import { REBALANCE_TO_LABEL } from '../../manager/reconcile/fresh.js';
import { EventHistory } from '../../manager/events/history.js';
import { MESH_DRAIN_LABEL } from '../../manager/store/index.js';
import { MESH_DRAIN_MS } from '../../manager/orchestrator/update/config.js';
import { isBackend } from '../../dispatcher/mesh-table.js';
import { Cluster, started, type NodeOpts } from '../lib/local-cluster.js';
import { loadYaml } from './compose-helpers.js';

const S = baton.TaskState;
const U = baton.UpdateState;
const GiB = 1024 ** 3;

interface World {
  c: Cluster;
  plan(): Move[];
}

/**
 * A store (no loops) with `nodes`, service 's' (replicas = the tasks placed) and its tasks
 * running where `placed` says: node id -> how many.
 */
function world(nodes: Record<string, NodeOpts>, placed: Record<string, number>, spec: (s: baton.ServiceSpec.$Properties) => void = () => {}): World {
  const c = new Cluster();
  for (const [id, o] of Object.entries(nodes)) c.addNode(id, o);
  const replicas = Object.values(placed).reduce((a, b) => a + b, 0);
  c.addService('s', 'web', { replicas });
  c.updateService('s', (s) => spec(s.spec!));
  let slot = 1;
  for (const [nodeId, n] of Object.entries(placed)) {
    for (let i = 0; i < n; i++) {
      const t = newTask({ service: c.service('s'), slot: slot++, nodeId, labels: {}, now: c.clock.now() });
      c.host.apply([createAction('task', { ...t, status: { state: S.TASK_RUNNING } })]);
    }
  }
  return { c, plan: () => planRebalance(c.service('s'), c.store.list('node'), c.store.list('task')).moves };
}

/** Tasks of 's' per node once `moves` are done. */
function after(w: World, moves: readonly Move[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of w.c.tasks('s')) out[t.nodeId] = (out[t.nodeId] ?? 0) + 1;
  for (const m of moves) {
    out[m.from]! -= 1;
    out[m.to] = (out[m.to] ?? 0) + 1;
  }
  return out;
}

const pairs = (moves: readonly Move[]): string[] => moves.map((m) => `${m.from}->${m.to}`);

test('plan: 4 tasks on one node, a second node available: 2 move, the highest slots, and the plan stops at 2 and 2', () => {
  const w = world({ n1: {}, n2: {} }, { n1: 4 });
  const moves = w.plan();
  assert.deepEqual(pairs(moves), ['n1->n2', 'n1->n2']);
  assert.deepEqual(moves.map((m) => m.task.slot), [4, 3]);
  assert.deepEqual(after(w, moves), { n1: 2, n2: 2 });
});

test('plan: fewest moves to even 4 tasks over 3 nodes (2 moves: 2, 1, 1), and over 4 nodes from 5,3,0,0 (4 moves)', () => {
  const w = world({ n1: {}, n2: {}, n3: {} }, { n1: 4 });
  const moves = w.plan();
  assert.equal(moves.length, 2);
  assert.deepEqual(after(w, moves), { n1: 2, n2: 1, n3: 1 });

  const w2 = world({ n1: {}, n2: {}, n3: {}, n4: {} }, { n1: 5, n2: 3 });
  const moves2 = w2.plan();
  assert.equal(moves2.length, 4, pairs(moves2).join(' '));
  assert.deepEqual(Object.values(after(w2, moves2)).sort(), [2, 2, 2, 2]);
});

test('plan: nothing to do when already even (2/2, 2/1, one node, a node drained or down)', () => {
  assert.deepEqual(world({ n1: {}, n2: {} }, { n1: 2, n2: 2 }).plan(), []);
  assert.deepEqual(world({ n1: {}, n2: {} }, { n1: 2, n2: 1 }).plan(), []);
  assert.deepEqual(world({ n1: {} }, { n1: 3 }).plan(), []);
  assert.deepEqual(world({ n1: {}, n2: { availability: baton.NodeAvailability.DRAIN } }, { n1: 4 }).plan(), []);
  assert.deepEqual(world({ n1: {}, n2: { state: baton.NodeState.NODE_DOWN } }, { n1: 4 }).plan(), []);
});

test('plan: a node the constraints exclude, or without room for the reservation, gets nothing', () => {
  const zoned = world({ n1: { labels: { zone: 'a' } }, n2: { labels: { zone: 'a' } }, n3: { labels: { zone: 'b' } } }, { n1: 4 }, (s) => {
    s.task!.placement = { constraints: ['node.labels.zone==a'] };
  });
  const moves = zoned.plan();
  assert.deepEqual(pairs(moves), ['n1->n2', 'n1->n2']);

  // n2's one GiB takes one task reserving a GiB, not the two that would even it.
  const small = world({ n1: {}, n2: { memGiB: 1 } }, { n1: 4 }, (s) => {
    s.task!.resources = { reservations: { memoryBytes: 1 * GiB } };
  });
  assert.deepEqual(pairs(small.plan()), ['n1->n2']);
});

test('plan: max replicas per node: a destination at the limit takes nothing', () => {
  // Placed before the limit was lowered to 1: n2 is at it, n3 is not.
  const w = world({ n1: {}, n2: {}, n3: {} }, { n1: 4, n2: 1 }, (s) => {
    s.task!.placement = { maxReplicas: 1 };
  });
  const moves = w.plan();
  assert.deepEqual(pairs(moves), ['n1->n3']);
});

test('plan: spread preferences: zones evened first, each zone giving from its fullest node; a zone is never unevened to even nodes', () => {
  const zones = { n1: { labels: { zone: 'a' } }, n2: { labels: { zone: 'a' } }, n3: { labels: { zone: 'b' } }, n4: { labels: { zone: 'b' } } };
  const spread = (s: baton.ServiceSpec.$Properties): void => {
    s.task!.placement = { preferences: [{ spread: 'node.labels.zone' }] };
  };
  // Zone a holds all 4; zone b (n3, n4) came up: two cross, one from each node of a.
  const w = world(zones, { n1: 2, n2: 2 }, spread);
  const moves = w.plan();
  assert.equal(moves.length, 2, pairs(moves).join(' '));
  assert.deepEqual(after(w, moves), { n1: 1, n2: 1, n3: 1, n4: 1 });

  // Zones even (2 and 2), zone b uneven inside: one move inside b, none across.
  const w2 = world(zones, { n1: 1, n2: 1, n3: 2 }, spread);
  assert.deepEqual(pairs(w2.plan()), ['n3->n4']);
  // Zone a 3 (all on n1), zone b 1: one crosses (the zone gap comes first), one moves inside a.
  const w3 = world(zones, { n1: 3, n3: 1 }, spread);
  const m3 = w3.plan();
  assert.deepEqual(after(w3, m3), { n1: 1, n2: 1, n3: 1, n4: 1 });
  assert.equal(m3.length, 2);
});

test('plan: a service in flux (a task not yet running) or with tasks of an older spec is left alone', () => {
  const w = world({ n1: {}, n2: {} }, { n1: 4 });
  const t = w.c.tasks('s')[0]!;
  w.c.report(t.meta.id, S.TASK_STARTING);
  const plan = planRebalance(w.c.service('s'), w.c.store.list('node'), w.c.store.list('task'));
  assert.equal(plan.blocked, 'in-flux');
  assert.deepEqual(plan.moves, []);

  const w2 = world({ n1: {}, n2: {} }, { n1: 4 });
  w2.c.updateService('s', (s) => (s.spec!.task!.container!.env = ['V=2']));
  assert.equal(planRebalance(w2.c.service('s'), w2.c.store.list('node'), w2.c.store.list('task')).blocked, 'old-spec');
});

/** A started cluster (n1, n2) with service 's' of 4 replicas all on n1 (n2 drained while they were placed), running. */
async function allOnN1(rebalance: baton.RebalanceMode, update: baton.UpdateConfig.$Properties = { monitorMs: 1_000 }): Promise<Cluster> {
  const c = await started();
  c.setAvailability('n2', baton.NodeAvailability.DRAIN);
  await c.settle();
  c.addService('s', 'web', { replicas: 4, update });
  c.updateService('s', (s) => (s.spec!.rebalance = rebalance));
  await c.settle();
  c.runAll('s');
  await c.settle();
  assert.deepEqual(c.wanted('s').map((t) => t.nodeId), ['n1', 'n1', 'n1', 'n1']);
  // Time passes before the node comes: a rebalance counts as its own the tasks made since it began.
  await c.elapse(60_000);
  return c;
}

const onNode = (c: Cluster, node: string): number => c.wanted('s').filter((t) => t.nodeId === node).length;

test('loop: rebalance auto, n2 activated: 2 tasks move start-first (new ones up before the old stop), then the status says where they went', async () => {
  const c = await allOnN1(baton.RebalanceMode.REBALANCE_AUTO);
  const events = new EventHistory(c.store);
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  const status = c.service('s').updateStatus;
  assert.equal(status?.state, U.UPDATING);
  assert.equal(status?.rebalance, true);
  assert.equal(status?.message, 'rebalance: moving 2 tasks to n2');
  const marked = c.wanted('s').filter((t) => t.annotations?.labels?.[REBALANCE_TO_LABEL] === 'n2');
  assert.deepEqual(marked.map((t) => t.slot), [3, 4]);
  // Start-first, all at once (parallelism 0): both replacements exist, pinned to n2, and nothing stopped yet.
  assert.equal(onNode(c, 'n1'), 4);
  assert.equal(onNode(c, 'n2'), 2);
  assert.ok(c.wanted('s').filter((t) => t.nodeId === 'n2').every((t) => t.status?.state === S.TASK_ASSIGNED && /^web\.[34]$/.test(t.annotations?.name ?? '')));

  c.runAll('s');
  await c.settle();
  // Replacements up: the old tasks leave the routing mesh first, still running, then stop.
  const draining = c.wanted('s').filter((t) => t.annotations?.labels?.[MESH_DRAIN_LABEL] !== undefined);
  assert.deepEqual(draining.map((t) => `${t.slot}@${t.nodeId}`).sort(), ['3@n1', '4@n1']);
  assert.ok(draining.every((t) => !isBackend(t)), 'out of the mesh table');
  await c.elapse(MESH_DRAIN_MS - 1);
  assert.equal(onNode(c, 'n1'), 4);
  await c.elapse(1);
  assert.equal(onNode(c, 'n1'), 2, 'the old tasks are stopped once their replacements run and the meshes have left them');
  assert.equal(onNode(c, 'n2'), 2);
  assert.deepEqual(c.wanted('s').map((t) => t.slot), [1, 2, 3, 4]);
  c.shutDownAll('s');
  await c.elapse(1_000);
  const done = c.service('s').updateStatus;
  assert.equal(done?.state, U.UPDATE_COMPLETED);
  assert.equal(done?.message, 'rebalance: moved 2 tasks to n2');
  assert.equal(c.wanted('s').filter((t) => t.annotations?.labels?.[REBALANCE_TO_LABEL] !== undefined).length, 0);
  const seen = events.sinceTime(0).events.filter((e) => e.kind === 'service' && e.action === 'rebalance');
  assert.equal(seen.length, 2, 'one event as it starts, one as it ends');

  // Nothing more to do: a second node event moves nothing.
  c.setAvailability('n2', baton.NodeAvailability.PAUSE);
  await c.settle();
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  assert.equal(c.service('s').updateStatus?.state, U.UPDATE_COMPLETED);
  c.stop();
});

test('loop: with parallelism 1 and a delay the moves go one at a time; a node coming back Ready triggers it too', async () => {
  const c = await allOnN1(baton.RebalanceMode.REBALANCE_AUTO, { parallelism: 1, delayMs: 5_000, monitorMs: 1_000 });
  c.setNodeState('n2', baton.NodeState.NODE_DOWN);
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  assert.equal(c.service('s').updateStatus?.state ?? U.UPDATE_NONE, U.UPDATE_NONE, 'a down node is not available');
  c.setNodeState('n2', baton.NodeState.NODE_READY);
  await c.settle();
  assert.equal(onNode(c, 'n2'), 1, 'parallelism 1: one replacement at a time');
  c.runAll('s');
  await c.settle();
  await c.elapse(MESH_DRAIN_MS);
  c.shutDownAll('s');
  await c.elapse(4_999 - MESH_DRAIN_MS);
  assert.equal(onNode(c, 'n2'), 1, 'the delay holds the next one');
  await c.elapse(1);
  assert.equal(onNode(c, 'n2'), 2);
  c.runAll('s');
  await c.settle();
  await c.elapse(MESH_DRAIN_MS);
  c.shutDownAll('s');
  await c.elapse(1_000);
  assert.equal(c.service('s').updateStatus?.message, 'rebalance: moved 2 tasks to n2');
  assert.equal(onNode(c, 'n1'), 2);
  c.stop();
});

test('loop: a replacement that fails pauses the rebalance (rollback is no option: the spec did not change), the old task still running', async () => {
  const c = await allOnN1(baton.RebalanceMode.REBALANCE_AUTO, { parallelism: 1, monitorMs: 1_000, failureAction: baton.UpdateFailureAction.FAILURE_ROLLBACK });
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  const fresh = c.wanted('s').find((t) => t.nodeId === 'n2')!;
  c.report(fresh.meta.id, S.TASK_FAILED, { err: 'exit 1' });
  await c.settle();
  const status = c.service('s').updateStatus;
  assert.equal(status?.state, U.UPDATE_PAUSED);
  assert.match(status?.message ?? '', /^rebalance paused due to failure or early termination of task /);
  assert.equal(c.service('s').spec?.task?.container?.image, 'busybox');
  assert.equal(c.wanted('s').filter((t) => t.nodeId === 'n1' && t.status?.state === S.TASK_RUNNING).length, 4);
  c.stop();
});

test('loop: rebalance off: an activated node gets nothing', async () => {
  const c = await allOnN1(baton.RebalanceMode.REBALANCE_OFF);
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  assert.equal(onNode(c, 'n1'), 4);
  assert.equal(c.service('s').updateStatus?.state ?? U.UPDATE_NONE, U.UPDATE_NONE);
  c.stop();
});

test('loop: a node joining triggers it', async () => {
  const c = await started({}, ['n1']);
  c.addService('s', 'web', { replicas: 2, update: { monitorMs: 1 } });
  c.updateService('s', (s) => (s.spec!.rebalance = baton.RebalanceMode.REBALANCE_AUTO));
  await c.settle();
  c.runAll('s');
  await c.elapse(60_000);
  c.addNode('n3');
  await c.settle();
  c.runAll('s');
  await c.settle();
  await c.elapse(MESH_DRAIN_MS);
  c.shutDownAll('s');
  await c.elapse(1);
  assert.deepEqual(c.wanted('s').map((t) => t.nodeId).sort(), ['n1', 'n3']);
  assert.equal(c.service('s').updateStatus?.message, 'rebalance: moved 1 task to n3');
  c.stop();
});


test('compose: x-baton-rebalance: auto on a service sets the mode; absent, it is off', () => {
  const { def } = loadYaml('services:\n  web:\n    image: a\n    x-baton-rebalance: auto\n  db:\n    image: b\n');
  const mode = (key: string): baton.RebalanceMode | null | undefined => def.services.find((s) => s.annotations?.name === `demo_${key}`)?.rebalance;
  assert.equal(mode('web'), baton.RebalanceMode.REBALANCE_AUTO);
  assert.equal(mode('db') ?? baton.RebalanceMode.REBALANCE_OFF, baton.RebalanceMode.REBALANCE_OFF);
});
