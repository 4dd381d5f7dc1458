// The routing mesh's table (for mesh/), computed from the store on the leader and pushed to every
// node over its session: for each service with INGRESS ports, the published ports and the
// tasks a new connection may go to. Only tasks that are wanted, running, not starting or
// unhealthy, on a node not known down, are backends; a task whose desired state leaves RUNNING
// drops out at once, before its node is even told to stop it, so a graceful removal sends no
// new connection to a task on its way out. A task labelled MESH_DRAIN_LABEL drops out while it
// still runs: the rolling updater stops the old task of a start-first replacement only once
// every mesh has had time to leave it.
import { baton } from '../proto/gen/baton.js';
import { MESH_DRAIN_LABEL, type ClusterStore, type DeepReadonly, type StoreEvent, type Stored } from '../manager/store/index.js';

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
    health !== baton.HealthState.HEALTH_UNHEALTHY &&
    // Taken out of the mesh before it is stopped (the old task of a start-first replacement).
    task.annotations?.labels?.[MESH_DRAIN_LABEL] === undefined
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
function hostPortFor(task: Task, port: Pick<Port, 'targetPort' | 'protocol'>): number {
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

/** The task's reachable address for a port it reports bound (its node's address, the host port). */
interface Reachable {
  task: Task;
  host: string;
}

/** The networks a service's tasks join (TaskSpec.networks), for the east-west part of the table. */
function attachments(service: Stored<'service'>): baton.internal.MeshAttachment.$Properties[] {
  return (service.spec?.task?.networks ?? []).map((n) => ({ networkId: n.target ?? '', aliases: [...(n.aliases ?? [])] })).filter((n) => n.networkId !== '');
}

/**
 * Every target port the service's backends report bound (published, exposed, the image's
 * EXPOSE), each with the tasks that serve it: what a VIP relays. Sorted by protocol and port.
 */
function internalPorts(backends: readonly Reachable[]): baton.internal.MeshPort.$Properties[] {
  const byPort = new Map<string, baton.internal.MeshPort.$Properties & { backends: baton.internal.MeshBackend.$Properties[] }>();
  for (const { task, host } of backends) {
    const seen = new Set<string>();
    for (const s of task.status?.ports ?? []) {
      const protocol = s.protocol ?? baton.PortProtocol.TCP;
      const key = `${protocol}/${s.targetPort ?? 0}`;
      if ((s.hostPort ?? 0) <= 0 || (s.targetPort ?? 0) <= 0 || seen.has(key)) continue;
      seen.add(key);
      // The ephemeral binding when there are two (a host-mode port too), as for ingress.
      const hostPort = hostPortFor(task, { targetPort: s.targetPort ?? 0, protocol });
      if (hostPort <= 0) continue;
      let port = byPort.get(key);
      if (!port) {
        port = { protocol, publishedPort: 0, targetPort: s.targetPort ?? 0, backends: [] };
        byPort.set(key, port);
      }
      port.backends.push({ taskId: task.meta.id, addr: `${host}:${hostPort}` });
    }
  }
  return [...byPort.values()].sort((a, b) => (a.protocol ?? 0) - (b.protocol ?? 0) || (a.targetPort ?? 0) - (b.targetPort ?? 0));
}

/** The whole table, in a stable order (services and tasks by id), from the store as it is now. */
export function computeMeshTable(store: ClusterStore): baton.internal.MeshService.$Properties[] {
  const table: baton.internal.MeshService.$Properties[] = [];
  for (const service of store.list('service')) {
    const ports = ingressPorts(service.endpoint?.ports);
    const networks = attachments(service);
    if (ports.length === 0 && networks.length === 0) continue;
    const backends: Reachable[] = [];
    // Only the table's services' tasks, each service's from its index: a cluster of 100,000 tasks
    // whose services publish nothing reads none of them when a node joins or goes down.
    for (const task of store.list('task', { serviceIds: [service.meta.id] })) {
      if (!isBackend(task)) continue;
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
      ...(networks.length > 0
        ? {
            networks,
            endpointMode: service.spec?.endpoint?.mode ?? baton.EndpointMode.VIP,
            internalPorts: internalPorts(backends),
            tasks: backends.map(({ task }) => task.meta.id),
          }
        : {}),
    });
  }
  return table;
}

/** The networks the table's services are on, as a node needs them to make its bridges. */
export function tableNetworks(store: ClusterStore, table: readonly baton.internal.MeshService.$Properties[]): baton.Network.$Properties[] {
  const ids = new Set(table.flatMap((s) => (s.networks ?? []).map((n) => n.networkId ?? '')));
  return [...ids].sort().flatMap((id) => {
    const net = store.get('network', id);
    return net ? [net as baton.Network] : [];
  });
}

/** Whether the task's service is in the table: it publishes ingress ports or joins a network. */
function inTable(task: Task | undefined): boolean {
  return task !== undefined && (ingressPorts(task.endpoint?.ports).length > 0 || (task.spec?.networks?.length ?? 0) > 0);
}

/** Whether a store change may alter the table (most task status reports of other services do not). */
export function affectsMeshTable(event: StoreEvent): boolean {
  if (event.action === 'reset') return true;
  switch (event.kind) {
    case 'service':
    case 'network':
      return true;
    case 'node':
      return event.action !== 'update' || event.old?.status?.state !== event.object.status?.state || event.old?.status?.addr !== event.object.status?.addr;
    case 'task':
      return inTable(event.object) || inTable(event.old);
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
  private table: baton.internal.MeshService.$Properties[] = [];
  private networks: baton.Network.$Properties[] = [];
  private key = '';
  private readonly unsubscribe: () => void;

  constructor(private readonly store: ClusterStore) {
    this.unsubscribe = store.onChange((event) => {
      if (affectsMeshTable(event)) this.dirty = true;
    });
  }

  current(): { table: baton.internal.MeshService.$Properties[]; networks: baton.Network.$Properties[]; key: string } {
    if (this.dirty) {
      this.dirty = false;
      this.table = computeMeshTable(this.store);
      this.networks = tableNetworks(this.store, this.table);
      this.key = JSON.stringify([this.table, this.networks.map((n) => [n.meta?.id, n.meta?.version])]);
    }
    return { table: this.table, networks: this.networks, key: this.key };
  }

  close(): void {
    this.unsubscribe();
  }
}
