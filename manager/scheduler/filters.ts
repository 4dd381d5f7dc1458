// The scheduler's filters, in the order a node is checked (a failing node is counted under the
// first filter it fails, which is how the pending message explains itself):
//   1. available: status READY and availability ACTIVE
//   2. runtime: the task's runtime (default docker) is in node.description.runtimes
//   3. constraints (./constraints.ts)
//   4. resources: the task's reservations fit in what the node has minus what is reserved
//   5. host ports: no unfinished task there publishes the same HOST-mode port
//   6. max replicas: fewer active tasks of the service there than its placement's max_replicas
// 1-3 depend only on the node and the task spec ("static"); 4-6 change as tasks are placed.
import { baton } from '../../proto/gen/baton.js';
import { isActive, isFinished, stateOf, type TaskView } from '../reconcile/tasks.js';
import type { DeepReadonly } from '../store/index.js';
import { type Constraint, type NodeView, satisfies, unsatisfiedText } from './constraints.js';

/** A reason nodes were passed over; `key` groups equal reasons across nodes. */
export interface Reason {
  /** The filter's place in the order above (x100), so messages list reasons in that order. */
  rank: number;
  key: string;
  singular: string;
  plural: string;
  /** Said without a count of nodes (Docker's words for max replicas have none). */
  bare?: boolean;
}

function reason(rank: number, key: string, singular: string, plural = singular): Reason {
  return { rank, key, singular, plural };
}

// Docker's exact words (its filter explains itself without a count of nodes).
const MAX_REPLICAS_EXCEEDED: Reason = { ...reason(1200, 'max-replicas', 'max replicas per node limit exceed'), bare: true };

/** The service's per-node limit (its placement's max_replicas; 0: none). */
export function maxReplicasOf(t: TaskView): number {
  return Number(t.spec?.placement?.maxReplicas ?? 0);
}

const NOT_AVAILABLE = reason(100, 'available', 'not available for new tasks');

export function isAvailable(node: NodeView): boolean {
  return node.status?.state === baton.NodeState.NODE_READY && (node.spec?.availability ?? baton.NodeAvailability.ACTIVE) === baton.NodeAvailability.ACTIVE;
}

export function runtimeOf(t: TaskView): string {
  return t.spec?.runtime || 'docker';
}

/** Filters 2-3: why `node` can never run a task of this runtime and these constraints. */
export function specFailure(node: NodeView, runtime: string, constraints: readonly Constraint[]): Reason | undefined {
  if (!(node.description?.runtimes ?? []).includes(runtime)) {
    return reason(200, `runtime ${runtime}`, `does not support runtime ${runtime}`, `do not support runtime ${runtime}`);
  }
  const i = constraints.findIndex((c) => !satisfies(node, c));
  const c = constraints[i];
  if (c === undefined) return undefined;
  const [singular, plural] = unsatisfiedText(c);
  // Constraints are reported in the order they were written.
  return reason(300 + i, `constraint ${c.text}`, singular, plural);
}

/** Filters 1-3: why `node` cannot take a task of this runtime and these constraints now. */
export function staticFailure(node: NodeView, runtime: string, constraints: readonly Constraint[]): Reason | undefined {
  return isAvailable(node) ? specFailure(node, runtime, constraints) : NOT_AVAILABLE;
}

function protocolName(p: baton.PortProtocol | null | undefined): string {
  return p === baton.PortProtocol.UDP ? 'udp' : 'tcp';
}

/** "8080/tcp": how a host port is named in the filters and their messages. */
export function portName(p: DeepReadonly<baton.PortConfig.$Properties>): string | undefined {
  return p.publishMode === baton.PublishMode.HOST && (p.publishedPort ?? 0) > 0 ? `${p.publishedPort}/${protocolName(p.protocol)}` : undefined;
}

/** The HOST-mode published ports a task binds on its node, as "8080/tcp". */
export function hostPorts(t: TaskView): string[] {
  const out: string[] = [];
  for (const p of t.endpoint?.ports ?? []) {
    const name = portName(p);
    if (name !== undefined) out.push(name);
  }
  return out;
}

export function reservationsOf(t: TaskView): { cpu: number; mem: number } {
  const r = t.spec?.resources?.reservations;
  return { cpu: Number(r?.nanoCpus ?? 0), mem: Number(r?.memoryBytes ?? 0) };
}

/**
 * What filters 4-6 and the spread order ask of a node for a task: the same for every task of a
 * scheduling group (./schedule.ts), so it is read from the task once per group, not per node.
 */
export interface Demand {
  serviceId: string;
  cpu: number;
  mem: number;
  ports: readonly string[];
  maxReplicas: number;
}

export function demandOf(t: TaskView): Demand {
  const r = reservationsOf(t);
  return { serviceId: t.serviceId ?? '', cpu: r.cpu, mem: r.mem, ports: hostPorts(t), maxReplicas: maxReplicasOf(t) };
}

const NO_CPU = reason(1000, 'cpu', 'has insufficient CPU', 'have insufficient CPU');
const NO_MEMORY = reason(1001, 'memory', 'has insufficient memory', 'have insufficient memory');

/**
 * What a node holds (filters 4-5 and the spread counts): its unfinished tasks' reservations and
 * host ports, and its active tasks, in total and per service. Tasks come and go one at a time
 * (add, remove), so the scheduler keeps one per node across passes (./loads.ts) instead of
 * counting every task of the cluster per pass.
 */
export class NodeLoad {
  private cpuCapacity = 0;
  private memCapacity = 0;
  private cpuReserved = 0;
  private memReserved = 0;
  /** Host ports in use, with how many unfinished tasks hold each (two may, until one finishes). */
  private readonly ports = new Map<string, number>();
  /** Active tasks (wanted, not finished): what spread counts. */
  total = 0;
  private readonly perService = new Map<string, number>();

  constructor(public node: NodeView) {
    this.describe(node);
  }

  get id(): string {
    return this.node.meta?.id ?? '';
  }

  get cpuFree(): number {
    return this.cpuCapacity - this.cpuReserved;
  }

  get memFree(): number {
    return this.memCapacity - this.memReserved;
  }

  /** The node's object changed (status, availability, labels, resources); what it holds did not. */
  describe(node: NodeView): void {
    this.node = node;
    this.cpuCapacity = Number(node.description?.resources?.nanoCpus ?? 0);
    this.memCapacity = Number(node.description?.resources?.memoryBytes ?? 0);
  }

  /** Counts a task on the node: unfinished ones hold resources and ports. */
  add(t: TaskView): void {
    this.count(t, 1);
  }

  /** Forgets a task counted with add() (the same object, or one with the same state and spec). */
  remove(t: TaskView): void {
    this.count(t, -1);
  }

  /** True when no task is counted here. */
  get empty(): boolean {
    return this.total === 0 && this.cpuReserved === 0 && this.memReserved === 0 && this.ports.size === 0;
  }

  private count(t: TaskView, sign: 1 | -1): void {
    if (isFinished(stateOf(t))) return;
    const r = t.spec?.resources?.reservations;
    this.cpuReserved += sign * Number(r?.nanoCpus ?? 0);
    this.memReserved += sign * Number(r?.memoryBytes ?? 0);
    for (const p of t.endpoint?.ports ?? []) {
      const name = portName(p);
      if (name === undefined) continue;
      const n = (this.ports.get(name) ?? 0) + sign;
      if (n > 0) this.ports.set(name, n);
      else this.ports.delete(name);
    }
    if (isActive(t)) {
      this.total += sign;
      const serviceId = t.serviceId ?? '';
      const n = this.ofService(serviceId) + sign;
      if (n > 0) this.perService.set(serviceId, n);
      else this.perService.delete(serviceId);
    }
  }

  ofService(serviceId: string): number {
    return this.perService.get(serviceId) ?? 0;
  }

  /** Filters 4-6 for `t` here. */
  failure(t: TaskView): Reason | undefined {
    return this.failureFor(demandOf(t));
  }

  /** Filters 4-6 for a task that demands `d`: allocates nothing unless a port is the reason. */
  failureFor(d: Demand): Reason | undefined {
    if (d.cpu > 0 && d.cpu > this.cpuFree) return NO_CPU;
    if (d.mem > 0 && d.mem > this.memFree) return NO_MEMORY;
    for (const p of d.ports) {
      if (this.ports.has(p)) return reason(1100, `port ${p}`, `has host port ${p} in use`, `have host port ${p} in use`);
    }
    if (d.maxReplicas > 0 && this.ofService(d.serviceId) >= d.maxReplicas) return MAX_REPLICAS_EXCEEDED;
    return undefined;
  }
}

/**
 * "no suitable node (1 node not available for new tasks; 2 nodes have no label zone==a)", or
 * Docker's "no suitable node (max replicas per node limit exceed)"; reasons in filter order.
 */
export function noSuitableNode(counts: ReadonlyMap<string, { reason: Reason; n: number }>): string {
  if (counts.size === 0) return 'no suitable node (no nodes in the cluster)';
  const sorted = [...counts.values()].sort((a, b) => a.reason.rank - b.reason.rank || (a.reason.key < b.reason.key ? -1 : a.reason.key > b.reason.key ? 1 : 0));
  const parts = sorted.map(({ reason: r, n }) => (r.bare ? r.singular : n === 1 ? `1 node ${r.singular}` : `${n} nodes ${r.plural}`));
  return `no suitable node (${parts.join('; ')})`;
}
