// Published (routing mesh) ports. The control API calls allocatePorts on the leader before it
// proposes a service create or update, so it is synchronous and a function of the store alone:
// what is in use is what other services' endpoints hold, so a removed service's ports are free
// again as soon as its removal is applied.
//
// - INGRESS ports are cluster-wide (every node listens): a requested one must not be published
//   by another service with the same protocol, in either mode; published_port 0 gets the
//   lowest free port of 30000-32767, or, on an update, the port this service already had for
//   that target and protocol (ports do not move on every update).
// - HOST ports bind on the task's node only; two services may share one (the scheduler keeps
//   their tasks apart), but not with another service's INGRESS port. HOST with 0 is left to
//   the runtime (an ephemeral port).
//
// Two creates racing on the leader may both pick the same free port; the control API should
// serialise service writes (or re-check when they fail).
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { ClusterStore, DeepReadonly } from '../store/index.js';

export const PORT_RANGE_START = 30000;
export const PORT_RANGE_END = 32767;

type Port = DeepReadonly<baton.PortConfig.$Properties>;
type Spec = DeepReadonly<baton.ServiceSpec.$Properties>;

function proto(p: Port): string {
  return p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp';
}

function isHost(p: Port): boolean {
  return p.publishMode === baton.PublishMode.HOST;
}

function label(port: number, protocol: string): string {
  return `${port}/${protocol}`;
}

function validate(p: Port): void {
  const target = Number(p.targetPort ?? 0);
  const published = Number(p.publishedPort ?? 0);
  if (!Number.isInteger(target) || target < 1 || target > 65535) {
    throw new BatonError('INVALID_ARGUMENT', `invalid target port ${target}: ports are 1-65535`);
  }
  if (!Number.isInteger(published) || published < 0 || published > 65535) {
    throw new BatonError('INVALID_ARGUMENT', `invalid published port ${published}: ports are 1-65535 (0 picks one from ${PORT_RANGE_START}-${PORT_RANGE_END})`);
  }
  if (p.protocol != null && p.protocol !== baton.PortProtocol.TCP && p.protocol !== baton.PortProtocol.UDP) {
    throw new BatonError('INVALID_ARGUMENT', `invalid protocol ${String(p.protocol)} for port ${target}: tcp or udp`);
  }
  if (p.publishMode != null && p.publishMode !== baton.PublishMode.INGRESS && p.publishMode !== baton.PublishMode.HOST) {
    throw new BatonError('INVALID_ARGUMENT', `invalid publish mode ${String(p.publishMode)} for port ${target}: ingress or host`);
  }
}

/** Other services' published ports: "8080/tcp" → { service name, host mode }. */
function portsInUse(store: ClusterStore, serviceId: string | undefined): Map<string, { service: string; host: boolean }> {
  const used = new Map<string, { service: string; host: boolean }>();
  for (const s of store.list('service')) {
    if (s.meta.id === serviceId) continue;
    for (const p of s.endpoint?.ports ?? []) {
      const published = Number(p.publishedPort ?? 0);
      if (published === 0) continue;
      const key = label(published, proto(p));
      // An ingress claim is the stronger one: keep it if the port is also host-published.
      if (!used.get(key) || !isHost(p)) used.set(key, { service: s.spec?.annotations?.name ?? s.meta.id, host: isHost(p) });
    }
  }
  return used;
}

/**
 * The service's endpoint ports with every INGRESS published port set. Throws INVALID_ARGUMENT
 * for a bad port, ALREADY_EXISTS for a port another service publishes, FAILED_PRECONDITION
 * when the range is full. `serviceId`: the service being updated (its own ports are not a
 * conflict, and its earlier allocations are kept).
 */
export function allocatePorts(store: ClusterStore, spec: Spec, serviceId?: string): baton.PortConfig.$Properties[] {
  const ports = spec.endpoint?.ports ?? [];
  for (const p of ports) validate(p);
  const used = portsInUse(store, serviceId);
  const mine = new Set<string>();
  for (const p of ports) {
    const published = Number(p.publishedPort ?? 0);
    if (published === 0) continue;
    const key = label(published, proto(p));
    if (mine.has(key)) throw new BatonError('INVALID_ARGUMENT', `port ${key} is published twice`);
    mine.add(key);
    const other = used.get(key);
    // Host ports of two services may coexist on different nodes; anything with ingress may not.
    if (other !== undefined && (!isHost(p) || !other.host)) {
      throw new BatonError('ALREADY_EXISTS', `port ${key} is already in use by service ${other.service}`);
    }
  }
  const previous = serviceId === undefined ? [] : (store.get('service', serviceId)?.endpoint?.ports ?? []);
  const taken = (port: number, protocol: string): boolean => used.has(label(port, protocol)) || mine.has(label(port, protocol));
  const out: baton.PortConfig.$Properties[] = [];
  for (const p of ports) {
    let published = Number(p.publishedPort ?? 0);
    const protocol = proto(p);
    if (published === 0 && !isHost(p)) {
      const kept = previous.find((q) => !isHost(q) && proto(q) === protocol && q.targetPort === p.targetPort && (q.publishedPort ?? 0) > 0);
      published = kept !== undefined && !taken(Number(kept.publishedPort), protocol) ? Number(kept.publishedPort) : freePort(protocol, taken);
      mine.add(label(published, protocol));
    }
    out.push({
      protocol: p.protocol ?? baton.PortProtocol.TCP,
      targetPort: Number(p.targetPort),
      publishedPort: published,
      publishMode: p.publishMode ?? baton.PublishMode.INGRESS,
      // The mesh reads it from the allocated endpoint (dispatcher/mesh-table.ts).
      ...(p.proxyProtocol ? { proxyProtocol: p.proxyProtocol } : {}),
    });
  }
  return out;
}

function freePort(protocol: string, taken: (port: number, protocol: string) => boolean): number {
  for (let port = PORT_RANGE_START; port <= PORT_RANGE_END; port++) if (!taken(port, protocol)) return port;
  throw new BatonError('FAILED_PRECONDITION', `no free published port left in ${PORT_RANGE_START}-${PORT_RANGE_END} for ${protocol}`);
}

/**
 * The service's allocated endpoint: its ports (allocatePorts) and its exposed ports, which the
 * tasks carry so their nodes bind them for other tasks of the service's networks.
 */
export function allocateEndpoint(store: ClusterStore, spec: Spec, serviceId?: string): baton.Endpoint.$Properties {
  const expose = (spec.endpoint?.expose ?? []).map((p) => ({ targetPort: p.targetPort ?? 0, protocol: p.protocol ?? baton.PortProtocol.TCP }));
  return { ports: allocatePorts(store, spec, serviceId), ...(expose.length > 0 ? { expose } : {}) };
}
