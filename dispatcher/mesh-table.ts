// The routing mesh's table (for mesh/), computed from the store on the leader and pushed to every
// node over its session: for each service with INGRESS ports, the published ports and the
// tasks a new connection may go to. Only tasks that are wanted, running, not starting or
// unhealthy, on a node not known down, are backends; a task whose desired state leaves RUNNING
// drops out at once, before its node is even told to stop it, so a graceful removal sends no
// new connection to a task on its way out.
import { baton } from '../proto/gen/baton.js';
import type { ClusterStore, DeepReadonly, StoreEvent, Stored } from '../manager/store/index.js';

type Port = DeepReadonly<baton.PortConfig.$Properties>;
type Task = Stored<'task'>;

function isIngress(p: Port): boolean {
  return p.publishMode !== baton.PublishMode.HOST && (p.publishedPort ?? 0) > 0;
}

function ingressPorts(ports: readonly Port[] | null | undefined): Port[] {
  return (ports ?? []).filter(isIngress);
}

/** Whether a task of a service with mesh ports may serve new connections now. */
export function isBackend(task: Task): boolean {
  const health = task.status?.health ?? baton.HealthState.HEALTH_NONE;
  return (
    task.desiredState === baton.TaskState.TASK_RUNNING &&
    task.status?.state === baton.TaskState.TASK_RUNNING &&
    health !== baton.HealthState.HEALTH_STARTING &&
    health !== baton.HealthState.HEALTH_UNHEALTHY
  );
}

/** "10.0.0.2:4242" → "10.0.0.2" ("[::1]:4242" → "[::1]", kept bracketed for host:port). */
function hostOf(addr: string): string {
  return addr.replace(/:\d+$/, '');
}

/**
 * The task's host port for a published port. A task that also publishes the same target in
 * host mode has two bindings; the mesh must target the ephemeral one, not the host-mode port.
 */
function hostPortFor(task: Task, port: Port): number {
  const protocol = port.protocol ?? baton.PortProtocol.TCP;
  const hostMode = new Set(
    (task.endpoint?.ports ?? [])
      .filter((p) => p.publishMode === baton.PublishMode.HOST && (p.protocol ?? baton.PortProtocol.TCP) === protocol && p.targetPort === port.targetPort)
      .map((p) => p.publishedPort ?? 0),
  );
  const candidates = (task.status?.ports ?? []).filter(
    (s) => s.targetPort === port.targetPort && (s.protocol ?? baton.PortProtocol.TCP) === protocol && (s.hostPort ?? 0) > 0,
  );
  const bound = candidates.find((s) => !hostMode.has(s.hostPort ?? 0)) ?? (hostMode.size === 0 ? candidates[0] : undefined);
  return bound?.hostPort ?? 0;
}

/** The whole table, in a stable order (services and tasks by id), from the store as it is now. */
export function computeMeshTable(store: ClusterStore): baton.MeshService.$Properties[] {
  const table: baton.MeshService.$Properties[] = [];
  // One pass over the tasks for all services (a filtered list per service would be services × tasks).
  const tasksOf = new Map<string, Task[]>();
  for (const task of store.list('task')) {
    if (!isBackend(task)) continue;
    const list = tasksOf.get(task.serviceId);
    if (list) list.push(task);
    else tasksOf.set(task.serviceId, [task]);
  }
  for (const service of store.list('service')) {
    const ports = ingressPorts(service.endpoint?.ports);
    if (ports.length === 0) continue;
    const backends: { task: Task; host: string }[] = [];
    for (const task of tasksOf.get(service.meta.id) ?? []) {
      const node = store.get('node', task.nodeId);
      const addr = node?.status?.addr ?? '';
      if (!node || addr === '' || node.status?.state === baton.NodeState.NODE_DOWN) continue;
      backends.push({ task, host: hostOf(addr) });
    }
    table.push({
      serviceId: service.meta.id,
      serviceName: service.spec?.annotations?.name ?? '',
      balance: service.spec?.endpoint?.balance ?? baton.BalanceMode.ROUND_ROBIN,
      ports: ports.map((p) => ({
        protocol: p.protocol ?? baton.PortProtocol.TCP,
        publishedPort: p.publishedPort ?? 0,
        targetPort: p.targetPort ?? 0,
        proxyProtocol: p.proxyProtocol ?? baton.ProxyProtocol.PROXY_NONE,
        backends: backends.flatMap(({ task, host }) => {
          const hostPort = hostPortFor(task, p);
          return hostPort > 0 ? [{ taskId: task.meta.id, addr: `${host}:${hostPort}` }] : [];
        }),
      })),
    });
  }
  return table;
}

function publishesIngress(task: Task | undefined): boolean {
  return task !== undefined && ingressPorts(task.endpoint?.ports).length > 0;
}

/** Whether a store change may alter the table (most task status reports of other services do not). */
export function affectsMeshTable(event: StoreEvent): boolean {
  if (event.action === 'reset') return true;
  switch (event.kind) {
    case 'service':
      return true;
    case 'node':
      return event.action !== 'update' || event.old?.status?.state !== event.object.status?.state || event.old?.status?.addr !== event.object.status?.addr;
    case 'task':
      return publishesIngress(event.object) || publishesIngress(event.old);
    default:
      return false;
  }
}

/**
 * The current table, shared by every session of the leader: recomputed lazily, at most once per
 * store change that may alter it, however many nodes are connected. `key` identifies its
 * content, so a session sends it only when it differs from what that node last got.
 */
export class MeshTableCache {
  private dirty = true;
  private table: baton.MeshService.$Properties[] = [];
  private key = '';
  private readonly unsubscribe: () => void;

  constructor(private readonly store: ClusterStore) {
    this.unsubscribe = store.onChange((event) => {
      if (affectsMeshTable(event)) this.dirty = true;
    });
  }

  current(): { table: baton.MeshService.$Properties[]; key: string } {
    if (this.dirty) {
      this.dirty = false;
      this.table = computeMeshTable(this.store);
      this.key = JSON.stringify(this.table);
    }
    return { table: this.table, key: this.key };
  }

  close(): void {
    this.unsubscribe();
  }
}
