// A manager's control-plane metrics in Prometheus' format, through prom-client. Gauges are read
// from the manager's state when scraped (nothing is kept up to date on the hot path); the
// histograms and counters are fed by the few places that time something: each proposal
// (Manager.onProposal) and each pass of a leader loop (OrchestratorHost.observePass).
// Names and labels are listed in the README ("Metrics").
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { baton } from '../proto/gen/baton.js';
import { availabilityName, nodeStateName, taskStateName, updateStateName } from '../spec/index.js';
import { KINDS, type ClusterStore } from './store/index.js';
import type { Manager, ProposalOutcome } from './manager.js';

export interface ManagerMetricsSources {
  manager: Manager;
  /** Nodes with an open dispatcher session on this manager (0 on a follower). */
  sessions: () => number;
}

/** Seconds: Raft commits take milliseconds here; a second or more means trouble. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ManagerMetrics {
  private readonly metrics: Metric[] = [];
  private readonly proposals: Counter<'result'>;
  private readonly proposalSeconds: Histogram;
  private readonly passSeconds: Histogram<'loop'>;
  private readonly passWrites: Counter<'loop'>;

  constructor(
    private readonly registry: Registry,
    private readonly src: ManagerMetricsSources,
  ) {
    const { manager } = src;
    const raft = (): ReturnType<Manager['raftStatus']> => manager.raftStatus();
    this.gauge('baton_raft_term', 'The current Raft term.', [], (g) => g.set(raft().term));
    this.gauge('baton_raft_leader', '1 when this manager is the Raft leader.', [], (g) => g.set(raft().role === 'leader' ? 1 : 0));
    this.gauge('baton_raft_has_leader', '1 when this manager knows a leader.', [], (g) => g.set(raft().leader ? 1 : 0));
    this.gauge('baton_raft_commit_index', 'Highest log index known committed.', [], (g) => g.set(raft().commit));
    this.gauge('baton_raft_applied_index', 'Highest log index applied to the store.', [], (g) => g.set(raft().applied));
    this.gauge('baton_raft_last_index', 'Last index of the local log.', [], (g) => g.set(raft().lastIndex));
    this.gauge('baton_raft_first_index', 'First index still in the local log (older entries are in the snapshot).', [], (g) => g.set(raft().firstIndex));
    this.gauge('baton_raft_voters', 'Voting members of the Raft group.', [], (g) => g.set(raft().conf.voters.length));
    this.counter('baton_raft_snapshots_taken_total', 'Snapshots this manager has taken.', () => manager.raftStats().snapshotsTaken);
    this.counter('baton_raft_snapshots_installed_total', 'Snapshots received from a leader and installed.', () => manager.raftStats().snapshotsInstalled);
    this.proposals = this.add(new Counter({ name: 'baton_raft_proposals_total', help: 'Proposals made by this manager, by outcome (applied, rejected by the store, failed in Raft).', labelNames: ['result'], registers: [] }));
    this.proposalSeconds = this.add(new Histogram({ name: 'baton_raft_proposal_duration_seconds', help: 'From proposal to applied (or failed) on this manager.', buckets: LATENCY_BUCKETS, registers: [] }));
    manager.onProposal = (seconds, outcome) => this.observeProposal(seconds, outcome);

    const store = manager.store;
    this.gauge('baton_store_objects', 'Objects in the replicated store, by kind.', ['kind'], (g) => {
      for (const kind of KINDS) g.set({ kind }, store.count(kind));
    });
    this.gauge('baton_tasks', 'Tasks in the store by service and current state.', ['service', 'state'], (g) => setTasks(g, store));
    this.gauge('baton_nodes', 'Nodes by role, state and availability.', ['role', 'state', 'availability'], (g) => setNodes(g, store));
    this.gauge('baton_service_desired_tasks', 'Tasks a service asks for (replicas; global: its running tasks).', ['service'], (g) => setDesired(g, store));
    this.gauge('baton_service_update_state', '1 for the state of the last update (or rollback) of each service that had one.', ['service', 'state'], (g) => setUpdates(g, store));
    this.gauge('baton_dispatcher_sessions', 'Nodes with an open dispatcher session on this manager.', [], (g) => g.set(src.sessions()));
    this.passSeconds = this.add(new Histogram({ name: 'baton_loop_pass_duration_seconds', help: 'One pass of a leader loop (orchestrators, scheduler, updater), its writes included.', labelNames: ['loop'], buckets: LATENCY_BUCKETS, registers: [] }));
    this.passWrites = this.add(new Counter({ name: 'baton_loop_writes_total', help: 'Store actions written by the leader loops.', labelNames: ['loop'], registers: [] }));
    for (const m of this.metrics) registry.registerMetric(m);
  }

  observePass(loop: string, seconds: number, writes: number): void {
    this.passSeconds.observe({ loop }, seconds);
    if (writes > 0) this.passWrites.inc({ loop }, writes);
  }

  /** Off the registry (the manager was demoted or stopped). */
  close(): void {
    if (this.src.manager.onProposal) this.src.manager.onProposal = undefined;
    for (const m of this.metrics) this.registry.removeSingleMetric((m as unknown as { name: string }).name);
  }

  private observeProposal(seconds: number, result: ProposalOutcome): void {
    this.proposalSeconds.observe(seconds);
    this.proposals.inc({ result });
  }

  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[], read: (g: Gauge<L>) => void): void {
    this.add(
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          // Labels that vanished (a removed service) must not linger at their last value.
          if (labelNames.length > 0) this.reset();
          read(this);
        },
      }),
    );
  }

  private counter(name: string, help: string, read: () => number): void {
    this.add(
      new Counter({
        name,
        help,
        registers: [],
        collect() {
          this.reset();
          this.inc(read());
        },
      }),
    );
  }
}

function serviceNames(store: ClusterStore): Map<string, string> {
  return new Map(store.list('service').map((s) => [s.meta.id, s.spec?.annotations?.name ?? s.meta.id]));
}

function setTasks(g: Gauge<'service' | 'state'>, store: ClusterStore): void {
  const names = serviceNames(store);
  const counts = new Map<string, { service: string; state: string; n: number }>();
  for (const t of store.list('task')) {
    const service = names.get(t.serviceId ?? '') ?? t.serviceId ?? '';
    const state = taskStateName(t.status?.state);
    const key = `${service}\u0000${state}`;
    const entry = counts.get(key) ?? { service, state, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  for (const { service, state, n } of counts.values()) g.set({ service, state }, n);
}

function setNodes(g: Gauge<'role' | 'state' | 'availability'>, store: ClusterStore): void {
  const counts = new Map<string, { role: string; state: string; availability: string; n: number }>();
  for (const node of store.list('node')) {
    const role = node.role === baton.NodeRole.MANAGER ? 'manager' : 'worker';
    const state = nodeStateName(node.status?.state);
    const availability = availabilityName(node.spec?.availability);
    const key = `${role}/${state}/${availability}`;
    const entry = counts.get(key) ?? { role, state, availability, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  for (const { n, ...labels } of counts.values()) g.set(labels, n);
}

function setDesired(g: Gauge<'service'>, store: ClusterStore): void {
  const running = new Map<string, number>();
  for (const t of store.list('task')) {
    if (t.desiredState === baton.TaskState.TASK_RUNNING) running.set(t.serviceId ?? '', (running.get(t.serviceId ?? '') ?? 0) + 1);
  }
  for (const s of store.list('service')) {
    const service = s.spec?.annotations?.name ?? s.meta.id;
    g.set({ service }, s.spec?.global ? (running.get(s.meta.id) ?? 0) : Number(s.spec?.replicas ?? 0));
  }
}

function setUpdates(g: Gauge<'service' | 'state'>, store: ClusterStore): void {
  for (const s of store.list('service')) {
    const state = updateStateName(s.updateStatus?.state);
    if (state) g.set({ service: s.spec?.annotations?.name ?? s.meta.id, state }, 1);
  }
}
