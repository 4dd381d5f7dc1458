// A cluster without Raft for unit tests of the leader loops: a real ClusterStore, LocalHost
// applying each proposal as the next entry, a ManualClock driving time and the loops' timers;
// the tests play the workers and the node watcher by writing task status and node state.
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, updateAction, type Stored } from '../../manager/store/index.js';
import { LocalHost, ManualClock } from '../../manager/reconcile/local-host.js';
import { orchestrationLoops, type ReconcileLoop } from '../../manager/orchestrator/index.js';
import type { LoopOptions } from '../../manager/reconcile/host.js';
import { rolledBack, withNewSpec } from '../../manager/orchestrator/update/start.js';

const S = baton.TaskState;
const GiB = 1024 ** 3;

export interface NodeOpts {
  hostname?: string;
  labels?: Record<string, string>;
  role?: baton.NodeRole;
  state?: baton.NodeState;
  availability?: baton.NodeAvailability;
  runtimes?: string[];
  cpus?: number;
  memGiB?: number;
}

/** A node as its registration makes one: a Ready, Active worker with 4 CPUs and 8 GiB unless `o` says otherwise. */
export function nodeObject(id: string, o: NodeOpts = {}): baton.Node.$Properties {
  return {
    meta: { id },
    spec: { annotations: { labels: o.labels ?? {} }, availability: o.availability ?? baton.NodeAvailability.ACTIVE },
    description: {
      hostname: o.hostname ?? id,
      runtimes: o.runtimes ?? ['docker', 'process'],
      resources: { nanoCpus: (o.cpus ?? 4) * 1e9, memoryBytes: (o.memGiB ?? 8) * GiB },
    },
    status: { state: o.state ?? baton.NodeState.NODE_READY },
    role: o.role ?? baton.NodeRole.WORKER,
  };
}

export interface ServiceOpts {
  replicas?: number;
  global?: boolean;
  restart?: baton.RestartPolicy.$Properties;
  constraints?: string[];
  env?: string[];
  update?: baton.UpdateConfig.$Properties;
  rollback?: baton.UpdateConfig.$Properties;
  /** A job: the service is created with job status iteration 0, as the control API does. */
  replicatedJob?: baton.ReplicatedJob.$Properties;
  globalJob?: boolean;
}

export class Cluster {
  readonly clock = new ManualClock();
  readonly host = new LocalHost({ clock: this.clock });
  readonly store = this.host.store;
  loops: ReconcileLoop[] = [];

  constructor(private readonly opts: LoopOptions = {}) {}

  start(): this {
    this.loops = orchestrationLoops(this.host, { timers: this.clock, ...this.opts });
    for (const l of this.loops) l.start();
    return this;
  }

  stop(): void {
    for (const l of this.loops) l.stop();
  }

  /** Waits until no loop has work queued and a turn of the event loop brings no new entry. */
  async settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const before = this.host.index;
      await new Promise((r) => setImmediate(r));
      await Promise.all(this.loops.map((l) => l.idle()));
      if (this.host.index === before) return;
    }
    assert.fail('the loops did not settle (a write storm?)');
  }

  /** Lets `ms` of (manual) time pass, then waits for the loops to settle. */
  async elapse(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }

  addNode(id: string, o: NodeOpts = {}): void {
    this.host.apply([createAction('node', { ...nodeObject(id, o), meta: { id, createdAt: this.clock.now() } })]);
  }

  updateNode(id: string, change: (n: baton.Node) => void): void {
    const n = cloneObject('node', this.node(id));
    change(n);
    this.host.apply([updateAction('node', n)]);
  }

  setNodeState(id: string, state: baton.NodeState): void {
    this.updateNode(id, (n) => (n.status = { ...n.status, state }));
  }

  setAvailability(id: string, availability: baton.NodeAvailability): void {
    this.updateNode(id, (n) => (n.spec = { ...n.spec, availability }));
  }

  node(id: string): Stored<'node'> {
    const n = this.store.get('node', id);
    assert.ok(n, `node ${id}`);
    return n;
  }

  addService(id: string, name: string, o: ServiceOpts = {}): void {
    this.host.apply([
      createAction('service', {
        meta: { id, createdAt: this.clock.now() },
        spec: {
          annotations: { name },
          task: { container: { image: 'busybox', env: o.env ?? [] }, runtime: 'docker', restart: o.restart ?? null, placement: { constraints: o.constraints ?? [] } },
          replicas: o.replicas ?? 0,
          global: o.global ?? false,
          endpoint: { ports: [{ targetPort: 80, publishedPort: 30000 }] },
          update: o.update ?? null,
          rollback: o.rollback ?? null,
          replicatedJob: o.replicatedJob ?? null,
          globalJob: o.globalJob ? {} : null,
        },
        endpoint: { ports: [{ targetPort: 80, publishedPort: 30000 }] },
        ...(o.replicatedJob || o.globalJob ? { jobStatus: { jobIteration: 0, lastExecution: this.clock.now() } } : {}),
      }),
    ]);
  }

  updateService(id: string, change: (s: baton.Service) => void): void {
    const s = cloneObject('service', this.service(id));
    change(s);
    this.host.apply([updateAction('service', s)]);
  }

  /** What `service update` does: the old spec kept, a rolling update started if tasks change. */
  updateSpec(id: string, change: (spec: baton.ServiceSpec) => void): void {
    const current = this.service(id);
    const spec = baton.ServiceSpec.fromObject(cloneObject('service', current).spec ?? {});
    change(spec);
    this.host.apply([updateAction('service', withNewSpec(current, spec, cloneObject('service', current).endpoint ?? {}, this.tasks(id), this.clock.now()))]);
  }

  /** What `service rollback` does. */
  rollback(id: string): void {
    const current = this.service(id);
    this.host.apply([updateAction('service', rolledBack(current, cloneObject('service', current).endpoint ?? {}, this.clock.now()))]);
  }

  scale(id: string, replicas: number): void {
    this.updateService(id, (s) => (s.spec = { ...s.spec, replicas }));
  }

  service(id: string): Stored<'service'> {
    const s = this.store.get('service', id);
    assert.ok(s, `service ${id}`);
    return s;
  }

  tasks(serviceId: string): Stored<'task'>[] {
    return this.store.list('task', { serviceIds: [serviceId] });
  }

  /** Wanted tasks (desired RUNNING), by slot then node. */
  wanted(serviceId: string): Stored<'task'>[] {
    return this.tasks(serviceId)
      .filter((t) => t.desiredState === S.TASK_RUNNING)
      .sort((a, b) => a.slot - b.slot || (a.nodeId < b.nodeId ? -1 : 1));
  }

  /** The worker's report for a task (what the dispatcher writes). */
  report(taskId: string, state: baton.TaskState, extra: baton.TaskStatus.$Properties = {}): void {
    const t = this.store.get('task', taskId);
    assert.ok(t, `task ${taskId}`);
    const c = cloneObject('task', t);
    c.status = { ...c.status, state, timestamp: this.clock.now(), ...extra };
    this.host.apply([updateAction('task', c)]);
  }

  /** Every assigned task of the service starts running, as workers would report. */
  runAll(serviceId: string): void {
    for (const t of this.tasks(serviceId)) if (t.status?.state === S.TASK_ASSIGNED) this.report(t.meta.id, S.TASK_RUNNING);
  }

  /** Workers report every task told to shut down as shut down. */
  shutDownAll(serviceId: string): void {
    for (const t of this.tasks(serviceId)) {
      if (t.desiredState >= S.TASK_SHUTDOWN && (t.status?.state ?? 0) < S.TASK_COMPLETE && t.nodeId !== '') this.report(t.meta.id, S.TASK_SHUTDOWN);
    }
  }

  /** Asserts exactly one wanted task and returns it. */
  only(serviceId: string): Stored<'task'> {
    const w = this.wanted(serviceId);
    assert.equal(w.length, 1, `one wanted task of ${serviceId}, got ${w.length}`);
    return w[0]!;
  }
}

export async function started(opts: LoopOptions = {}, nodes = ['n1', 'n2']): Promise<Cluster> {
  const c = new Cluster(opts);
  for (const n of nodes) c.addNode(n);
  c.start();
  await c.settle();
  return c;
}

