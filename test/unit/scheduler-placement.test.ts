// Docker's placement options in the scheduler: spread preferences (uneven zones, nodes without
// the label, two levels, tasks already running), max replicas per node and its pending message,
// the platform and engine-label constraints; then the flags and spec checks that feed them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { parseConstraint, scheduleTasks } from '../../manager/scheduler/index.js';
import { specFromFlags } from '../../cli/service-spec.js';
import { applyUpdateFlags } from '../../cli/service-update.js';
import { maxPerNodeSuffix, placementText } from '../../cli/placement-flags.js';
import { parsePlacementPref, validateServiceSpec } from '../../spec/index.js';
import pino from 'pino';
import { labelMap, readEngineLabels } from '../../src/daemon/engine-labels.js';
import { nodeObject, started, type NodeOpts } from '../lib/local-cluster.js';

const S = baton.TaskState;

interface Extra extends NodeOpts {
  platform?: string;
  engineLabels?: Record<string, string>;
}

function node(id: string, o: Extra = {}): baton.Node.$Properties {
  const n = nodeObject(id, o);
  n.description = { ...n.description, platform: o.platform ?? 'linux/x64', engineLabels: o.engineLabels ?? {} };
  return n;
}

interface TaskOpts {
  service?: string;
  nodeId?: string;
  constraints?: string[];
  spread?: string[];
  max?: number;
}

let seq = 0;
function task(o: TaskOpts = {}): baton.Task.$Properties {
  const id = `t${String(++seq).padStart(4, '0')}`;
  return {
    meta: { id, createdAt: seq },
    serviceId: o.service ?? 'svc',
    slot: seq,
    nodeId: o.nodeId ?? '',
    spec: {
      runtime: 'process',
      placement: { constraints: o.constraints ?? [], preferences: (o.spread ?? []).map((spread) => ({ spread })), maxReplicas: o.max ?? 0 },
    },
    desiredState: S.TASK_RUNNING,
    status: { state: o.nodeId ? S.TASK_RUNNING : S.TASK_PENDING },
  };
}

/** Places `n` tasks made by `make` at once; the node (or message) of each, in order. */
function burst(nodes: baton.Node.$Properties[], n: number, make: () => baton.Task.$Properties, running: baton.Task.$Properties[] = []): string[] {
  const pending = Array.from({ length: n }, make);
  return scheduleTasks(nodes, running, pending).map((d) => d.nodeId ?? d.message);
}

function tally(placed: string[], key: (nodeId: string) => string = (id) => id): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of placed) out[key(id)] = (out[key(id)] ?? 0) + 1;
  return out;
}

test('spread: tasks split evenly over the zones, not the nodes, when zones have uneven node counts', () => {
  const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } })];
  const zoneOf = (id: string): string => id.slice(0, 1);
  const placed = burst(nodes, 6, () => task({ spread: ['node.labels.zone'] }));
  assert.deepEqual(tally(placed, zoneOf), { a: 3, b: 3 });
  // Inside zone a, the usual least-loaded order.
  assert.deepEqual(tally(placed.filter((id) => id.startsWith('a'))), { a1: 2, a2: 1 });
  // Without the preference the same burst goes by node: 2 each.
  assert.deepEqual(tally(burst(nodes, 6, () => task())), { a1: 2, a2: 2, b1: 2 });
});

test('spread: nodes without the label are one more group', () => {
  const nodes = [node('n1', { labels: { zone: 'a' } }), node('n2', { labels: { zone: 'b' } }), node('n3'), node('n4')];
  const placed = burst(nodes, 6, () => task({ spread: ['node.labels.zone'] }));
  const group = (id: string): string => (id === 'n1' ? 'a' : id === 'n2' ? 'b' : 'none');
  assert.deepEqual(tally(placed, group), { a: 2, b: 2, none: 2 });
});

test('spread: two levels, the second inside each group of the first', () => {
  const nodes = [
    node('a-r1-x', { labels: { zone: 'a', rack: 'r1' } }),
    node('a-r1-y', { labels: { zone: 'a', rack: 'r1' } }),
    node('a-r2-x', { labels: { zone: 'a', rack: 'r2' } }),
    node('b-r1-x', { labels: { zone: 'b', rack: 'r1' } }),
  ];
  const placed = burst(nodes, 8, () => task({ spread: ['node.labels.zone', 'node.labels.rack'] }));
  assert.deepEqual(tally(placed, (id) => id.slice(0, 1)), { a: 4, b: 4 });
  assert.deepEqual(tally(placed.filter((id) => id.startsWith('a')), (id) => id.slice(0, 4)), { 'a-r1': 2, 'a-r2': 2 });
  assert.deepEqual(tally(placed.filter((id) => id.startsWith('a-r1'))), { 'a-r1-x': 1, 'a-r1-y': 1 });
});

test('spread: tasks already running count (of this service only), and engine labels spread too', () => {
  const nodes = [node('a1', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } })];
  const running = [task({ nodeId: 'a1' }), task({ nodeId: 'a1' }), task({ nodeId: 'b1', service: 'other' }), task({ nodeId: 'b1', service: 'other' })];
  assert.deepEqual(burst(nodes, 2, () => task({ spread: ['node.labels.zone'] }), running), ['b1', 'b1']);
  const engines = [node('e1', { engineLabels: { rack: '1' } }), node('e2', { engineLabels: { rack: '1' } }), node('e3', { engineLabels: { rack: '2' } })];
  assert.deepEqual(tally(burst(engines, 4, () => task({ spread: ['engine.labels.rack'] })), (id) => (id === 'e3' ? '2' : '1')), { '1': 2, '2': 2 });
});

test('spread: a group whose nodes cannot take the task is passed over', () => {
  const nodes = [node('a1', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('b2', { labels: { zone: 'b' } })];
  // Max 1 per node: zone a holds one task, zone b two; the third goes to b though b has more.
  assert.deepEqual(tally(burst(nodes, 3, () => task({ spread: ['node.labels.zone'], max: 1 }))), { a1: 1, b1: 1, b2: 1 });
});

test('max replicas per node: never more than N of the service on a node; the rest pending in Docker\'s words', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];
  const placed = burst(nodes, 4, () => task({ max: 1 }));
  assert.deepEqual(tally(placed.slice(0, 3)), { n1: 1, n2: 1, n3: 1 });
  assert.equal(placed[3], 'no suitable node (max replicas per node limit exceed)');
  // Running tasks count; another service's do not.
  const running = [task({ nodeId: 'n1' }), task({ nodeId: 'n1' }), task({ nodeId: 'n2', service: 'other' })];
  assert.deepEqual(burst([node('n1'), node('n2')], 3, () => task({ max: 2 }), running), ['n2', 'n2', 'no suitable node (max replicas per node limit exceed)']);
  // Combined with a constraint's reason, in filter order.
  const labelled = [node('x', { labels: { zone: 'a' } }), node('y')];
  assert.deepEqual(burst(labelled, 2, () => task({ max: 1, constraints: ['node.labels.zone==a'] })), ['x', 'no suitable node (1 node has no label zone==a; max replicas per node limit exceed)']);
});

test('platform constraints compare under Docker\'s names; Node\'s are accepted too', () => {
  const nodes = [node('intel', { platform: 'linux/x64' }), node('arm', { platform: 'linux/arm64' }), node('mac', { platform: 'darwin/arm64' })];
  const where = (...constraints: string[]): string[] =>
    nodes.filter((n) => scheduleTasks([n], [], [task({ constraints })])[0]?.nodeId !== undefined).map((n) => n.meta!.id!);
  assert.deepEqual(where('node.platform.os==linux'), ['intel', 'arm']);
  assert.deepEqual(where('node.platform.os == Linux'), ['intel', 'arm']);
  assert.deepEqual(where('node.platform.os!=linux'), ['mac']);
  assert.deepEqual(where('node.platform.arch==x86_64'), ['intel']);
  assert.deepEqual(where('node.platform.arch==x64'), ['intel']);
  assert.deepEqual(where('node.platform.arch==aarch64'), ['arm', 'mac']);
  assert.deepEqual(where('node.platform.arch!=aarch64'), ['intel']);
  assert.deepEqual(where('node.platform.os==linux', 'node.platform.arch==arm64'), ['arm']);
  assert.equal(burst([node('intel')], 1, () => task({ constraints: ['node.platform.os==windows'] }))[0], 'no suitable node (1 node does not match node.platform.os==windows)');
});

test('engine label constraints read the engine\'s labels, not the node\'s', () => {
  const nodes = [node('ssd', { engineLabels: { storage: 'ssd', os: 'ubuntu 22.04' } }), node('hdd', { labels: { storage: 'ssd' }, engineLabels: { storage: 'hdd' } }), node('none')];
  const where = (...constraints: string[]): string[] =>
    nodes.filter((n) => scheduleTasks([n], [], [task({ constraints })])[0]?.nodeId !== undefined).map((n) => n.meta!.id!);
  assert.deepEqual(where('engine.labels.storage==ssd'), ['ssd']);
  assert.deepEqual(where('engine.labels.storage!=ssd'), ['hdd', 'none']);
  assert.deepEqual(where('engine.labels.os==ubuntu 22.04'), ['ssd'], 'a value with a space, as Swarm takes it');
  assert.equal(burst(nodes.slice(1), 1, () => task({ constraints: ['engine.labels.storage==ssd'] }))[0], 'no suitable node (2 nodes have no engine label storage==ssd)');
  assert.deepEqual(parseConstraint('engine.labels.storage == ssd'), { field: 'engine-label', key: 'storage', op: '==', value: 'ssd', text: 'engine.labels.storage==ssd' });
  assert.deepEqual(parseConstraint('node.platform.arch!=x86_64'), { field: 'arch', key: '', op: '!=', value: 'x86_64', text: 'node.platform.arch!=x86_64' });
  for (const bad of ['node.platform.cpu==x', 'engine.labels==x', 'engine.labels.k=x', 'node.platform.os==']) {
    assert.throws(() => parseConstraint(bad), (e: unknown) => e instanceof BatonError && e.code === 'INVALID_ARGUMENT', bad);
  }
});

test('global services: the platform and engine-label constraints decide which nodes get a task', async () => {
  const c = await started();
  const describe = (id: string, platform: string, engineLabels: Record<string, string>): void =>
    c.updateNode(id, (n) => (n.description = baton.NodeDescription.fromObject({ ...n.description, platform, engineLabels })));
  describe('n1', 'linux/x64', { gpu: 'yes' });
  describe('n2', 'windows/x64', { gpu: 'yes' });
  c.addService('g', 'agent', { global: true, constraints: ['node.platform.os==linux', 'engine.labels.gpu==yes'] });
  await c.settle();
  assert.deepEqual(c.wanted('g').map((t) => t.nodeId), ['n1']);
  c.runAll('g');
  describe('n2', 'linux/arm64', { gpu: 'yes' });
  describe('n1', 'linux/x64', {});
  await c.settle();
  assert.deepEqual(c.wanted('g').map((t) => t.nodeId), ['n2'], 'the node that lost the engine label keeps no task; the one that became linux gets one');
  c.stop();
});

test('docker info Labels become the node\'s engine labels; none when the engine fails or hangs', async () => {
  assert.deepEqual(labelMap(['storage=ssd', 'os=ubuntu 22.04', 'bare', 'k=a=b', '=x']), { storage: 'ssd', os: 'ubuntu 22.04', bare: '', k: 'a=b' });
  const quiet = pino({ enabled: false });
  assert.deepEqual(await readEngineLabels(quiet, { info: () => Promise.resolve({ Labels: ['storage=ssd', 7] }) }), { storage: 'ssd' });
  assert.deepEqual(await readEngineLabels(quiet, { info: () => Promise.resolve({ Labels: null }) }), {});
  assert.deepEqual(await readEngineLabels(quiet, { info: () => Promise.reject(new Error('connect ENOENT /var/run/docker.sock')) }), {});
  assert.deepEqual(await readEngineLabels(quiet, { info: () => new Promise<never>(() => {}) }, 20), {});
});

test('--placement-pref: Docker\'s syntax and words; only spread over a node or engine label', () => {
  assert.deepEqual(parsePlacementPref('spread=node.labels.zone'), { ok: true, value: 'node.labels.zone' });
  assert.deepEqual(parsePlacementPref('spread=engine.labels.rack'), { ok: true, value: 'engine.labels.rack' });
  const problemOf = (text: string): string => {
    const p = parsePlacementPref(text);
    assert.ok(!p.ok, text);
    return p.problem;
  };
  assert.equal(problemOf('foo=bar'), 'bad --placement-pref "foo=bar": unsupported placement preference foo (only spread is supported)');
  assert.equal(problemOf('spread'), 'bad --placement-pref "spread": placement preference must be of the format "<strategy>=<arg>"');
  assert.equal(problemOf('spread=zone'), 'bad --placement-pref "spread=zone": cannot spread over "zone" (want node.labels.KEY, engine.labels.KEY, node.id or node.hostname)');
});

test('service create: placement flags in the spec; every bad value of a command line in one error', () => {
  const spec = specFromFlags({ name: 'web', runtime: 'process', image: 'sleep', 'placement-pref': ['spread=node.labels.zone', 'spread=node.labels.rack'], 'replicas-max-per-node': '2', constraint: 'node.platform.os==linux' });
  assert.deepEqual(spec.task?.placement, { constraints: ['node.platform.os==linux'], preferences: [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }], maxReplicas: 2 });
  assert.throws(
    () => specFromFlags({ name: 'web', runtime: 'process', image: 'sleep', 'placement-pref': 'foo=bar', 'replicas-max-per-node': '-1', constraint: 'node.platform==linux' }),
    (err: unknown) =>
      err instanceof BatonError &&
      err.message ===
        '3 problems: bad --placement-pref "foo=bar": unsupported placement preference foo (only spread is supported); bad --replicas-max-per-node "-1": want a whole number from 0 to 10000; invalid constraint "node.platform==linux" (want node.id|node.hostname|node.role|node.platform.os|node.platform.arch|node.labels.KEY|engine.labels.KEY ==|!= VALUE)',
  );
  assert.throws(
    () => specFromFlags({ name: 'web', runtime: 'process', image: 'sleep', mode: 'global', 'replicas-max-per-node': '1' }),
    (err: unknown) => err instanceof BatonError && err.message === 'replicas-max-per-node can only be used with replicated mode',
  );
});

test('service update: --placement-pref-rm then --placement-pref-add, --replicas-max-per-node, checked as a whole', () => {
  const current: baton.ServiceSpec.$Properties = {
    annotations: { name: 'web' },
    replicas: 3,
    task: { runtime: 'process', container: { command: ['sleep'] }, placement: { constraints: ['node.role==worker'], preferences: [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }], maxReplicas: 2 } },
  };
  const next = applyUpdateFlags(current, { service: 'web', 'placement-pref-rm': 'spread=node.labels.zone', 'placement-pref-add': ['spread=engine.labels.dc'], 'replicas-max-per-node': '0' });
  assert.deepEqual(next.task?.placement, { constraints: ['node.role==worker'], preferences: [{ spread: 'node.labels.rack' }, { spread: 'engine.labels.dc' }], maxReplicas: 0 });
  assert.deepEqual(current.task?.placement?.maxReplicas, 2, 'the current spec is left as it was');
  assert.throws(
    () => applyUpdateFlags(current, { service: 'web', 'placement-pref-add': 'spread', 'replicas-max-per-node': 'x', 'constraint-add': 'engine.label.k==v' }),
    (err: unknown) => err instanceof BatonError && /^3 problems: bad --placement-pref-add "spread": [^;]+; bad --replicas-max-per-node "x": [^;]+; invalid constraint "engine.label.k==v"/.test(err.message),
  );
});

test('the manager checks preferences and max replicas of any spec (clients are not trusted)', () => {
  const spec = (placement: baton.Placement.$Properties, global = false): baton.ServiceSpec.$Properties => ({
    annotations: { name: 'web' },
    global,
    ...(global ? {} : { replicas: 1 }),
    task: { runtime: 'process', container: { command: ['sleep'] }, placement },
  });
  assert.deepEqual(validateServiceSpec(spec({ preferences: [{ spread: 'node.labels.zone' }], maxReplicas: 3 })), []);
  assert.deepEqual(validateServiceSpec(spec({ preferences: [{ spread: 'zone' }], maxReplicas: 10_001 })), [
    'placement preference: cannot spread over "zone" (want node.labels.KEY, engine.labels.KEY, node.id or node.hostname)',
    'max_replicas 10001 is more than the limit of 10000 replicas per service',
  ]);
  assert.deepEqual(validateServiceSpec(spec({ maxReplicas: 1 }, true)), ['replicas-max-per-node can only be used with replicated mode']);
});

test('service inspect --pretty and service ls: placement as Docker prints it', () => {
  assert.equal(maxPerNodeSuffix({ maxReplicas: 2 }), ' (max 2 per node)');
  assert.equal(maxPerNodeSuffix({}), '');
  assert.equal(placementText({ constraints: [] }), undefined);
  assert.equal(
    placementText({ constraints: ['node.role==worker', 'node.platform.os==linux'], preferences: [{ spread: 'node.labels.zone' }], maxReplicas: 1 }),
    '\n Constraints:\t[node.role==worker node.platform.os==linux]\n Preferences:\t[Spread=node.labels.zone]\n Max Replicas Per Node:\t1',
  );
});
