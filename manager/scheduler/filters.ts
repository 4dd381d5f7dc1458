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

/** The HOST-mode published ports a task binds on its node, as "8080/tcp". */
export function hostPorts(t: TaskView): string[] {
  const out: string[] = [];
  for (const p of t.endpoint?.ports ?? []) {
    if (p.publishMode === baton.PublishMode.HOST && (p.publishedPort ?? 0) > 0) out.push(`${p.publishedPort}/${protocolName(p.protocol)}`);
  }
  return out;
}

export function reservationsOf(t: TaskView): { cpu: number; mem: number } {
  const r = t.spec?.resources?.reservations;
  return { cpu: Number(r?.nanoCpus ?? 0), mem: Number(r?.memoryBytes ?? 0) };
}

/** What is left on a node as this pass places tasks on it (filters 4-5 and the spread counts). */
export class NodeLoad {
  cpuFree: number;
  memFree: number;
  readonly ports = new Set<string>();
  /** Active tasks (wanted, not finished): what spread counts. */
  total = 0;
  private readonly perService = new Map<string, number>();

  constructor(readonly node: NodeView) {
    this.cpuFree = Number(node.description?.resources?.nanoCpus ?? 0);
    this.memFree = Number(node.description?.resources?.memoryBytes ?? 0);
  }

  get id(): string {
    return this.node.meta?.id ?? '';
  }

  /** Counts a task already on the node: unfinished ones hold resources and ports. */
  add(t: TaskView): void {
    if (isFinished(stateOf(t))) return;
    const r = reservationsOf(t);
    this.cpuFree -= r.cpu;
    this.memFree -= r.mem;
    for (const p of hostPorts(t)) this.ports.add(p);
    if (isActive(t)) {
      this.total++;
      this.perService.set(t.serviceId ?? '', this.ofService(t.serviceId ?? '') + 1);
    }
  }

  ofService(serviceId: string): number {
    return this.perService.get(serviceId) ?? 0;
  }

  /** Filters 4-6 for `t` here. */
  failure(t: TaskView): Reason | undefined {
    const r = reservationsOf(t);
    if (r.cpu > 0 && r.cpu > this.cpuFree) return reason(1000, 'cpu', 'has insufficient CPU', 'have insufficient CPU');
    if (r.mem > 0 && r.mem > this.memFree) return reason(1001, 'memory', 'has insufficient memory', 'have insufficient memory');
    for (const p of hostPorts(t)) {
      if (this.ports.has(p)) return reason(1100, `port ${p}`, `has host port ${p} in use`, `have host port ${p} in use`);
    }
    const max = maxReplicasOf(t);
    if (max > 0 && this.ofService(t.serviceId ?? '') >= max) return MAX_REPLICAS_EXCEEDED;
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
