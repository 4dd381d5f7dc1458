// The routing mesh's data plane (docs/routing-mesh.md): every node listens on every published port and
// relays each connection (TCP) or datagram flow (UDP) to a running task of the service on any
// node. The control plane (dispatcher → worker session) hands it the whole table with apply().
import type { Logger } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { renderMetrics, type PortStats } from './metrics.js';
import { POOL_SIZE } from './preconnect.js';
import type { ProxyMode, TcpPortOptions } from './tcp-port.js';
import { UdpPort } from './udp-port.js';
import { defaultEngine, engineAvailable, newTcpPort, type MeshEngine, type PublishedTcpPort } from './engines.js';
import { MeshWorkers } from './workers.js';
import { Backend } from './backend-set.js';
import type { BackendCounters, PortConfig } from './worker-protocol.js';

export { MESH_ENGINES, type MeshEngine } from './engines.js';

export interface MeshOptions {
  /** Where published ports listen (--data-path-addr), e.g. 127.0.0.2, or 0.0.0.0. */
  bindAddress: string;
  logger: Logger;
  /**
   * Idle pre-opened connections kept per TCP backend while connections keep coming (see
   * preconnect.ts); 0 turns it off. Default POOL_SIZE.
   */
  preconnect?: number;
  /**
   * TCP relay engine under the one relay core (tcp-port.ts): 'libuv' (default when Node's
   * bindings are there, libuv-engine.ts) or 'net' (node:net sockets, net-engine.ts). Same
   * behaviour; docs/routing-mesh.md has the figures.
   */
  engine?: MeshEngine;
  /**
   * Processes relaying TCP, this one included (default 1). More than 1 forks worker processes
   * that share the listening sockets (workers.ts), to use more cores; with either engine.
   */
  workers?: number;
}

export interface RoutingMesh {
  /**
   * Replaces the whole routing table (SessionMessage.mesh, sent with mesh_set = true).
   * Opens listeners for new published ports (TCP and UDP), closes those no longer present
   * (freeing the port), swaps backend sets in place: established connections are untouched,
   * new ones use the new set. A port with zero backends stays bound and resets new
   * connections at once (TCP RST) / drops datagrams. Never throws because of one port: a
   * port that cannot be bound is logged and retried on the next apply.
   */
  apply(table: baton.MeshService.$Properties[]): void;
  /** Prometheus text exposition: connections open/total, bytes in/out, backend failures, per service and backend. */
  metricsText(): string;
  /** Resolves once every port of the last apply() is bound or has failed to bind (for tests and start-up). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function createRoutingMesh(opts: MeshOptions): RoutingMesh {
  const engine = opts.engine ?? defaultEngine();
  if (!engineAvailable(engine)) throw new Error(`mesh engine '${engine}' unavailable in this Node version`);
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  const logger = opts.logger.child({ component: 'mesh' });
  const preconnect = opts.preconnect ?? POOL_SIZE;
  return new Mesh(opts.bindAddress, logger, { preconnect }, engine, workers > 1 ? new MeshWorkers(workers - 1, logger, preconnect, engine) : undefined);
}

/** The worker processes' ids of a mesh made with `workers` > 1 (for benchmarks' CPU accounting). */
export function meshWorkerPids(mesh: RoutingMesh): number[] {
  return mesh instanceof Mesh ? (mesh.workerSet?.pids ?? []) : [];
}

type Protocol = 'tcp' | 'udp';

interface Entry {
  protocol: Protocol;
  listener: PublishedTcpPort | UdpPort;
  state: 'binding' | 'listening' | 'failed' | 'closed';
  bound: Promise<void>;
}

/** What the table says about one published port. */
interface Wanted {
  protocol: Protocol;
  port: number;
  serviceName: string;
  leastConnections: boolean;
  proxy: ProxyMode;
  backends: string[];
}

function proxyMode(p: baton.ProxyProtocol | null | undefined): ProxyMode {
  if (p === baton.ProxyProtocol.PROXY_V1) return 'v1';
  if (p === baton.ProxyProtocol.PROXY_V2) return 'v2';
  return 'none';
}

/** The table flattened to one entry per protocol/port; a port listed twice keeps its first service. */
function flatten(table: baton.MeshService.$Properties[], logger: Logger): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  for (const svc of table) {
    const serviceName = svc.serviceName || svc.serviceId || '';
    for (const p of svc.ports ?? []) {
      const port = p.publishedPort ?? 0;
      if (!Number.isInteger(port) || port <= 0 || port > 65535) {
        logger.warn({ service: serviceName, port }, 'mesh table: invalid published port ignored');
        continue;
      }
      const protocol: Protocol = p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp';
      const key = `${protocol}/${port}`;
      if (out.has(key)) {
        logger.warn({ service: serviceName, port, protocol }, 'mesh table: port listed twice; first service kept');
        continue;
      }
      out.set(key, {
        protocol,
        port,
        serviceName,
        leastConnections: svc.balance === baton.BalanceMode.LEAST_CONNECTIONS,
        proxy: proxyMode(p.proxyProtocol),
        backends: (p.backends ?? []).map((b) => b.addr ?? '').filter((a) => a !== ''),
      });
    }
  }
  return out;
}

class Mesh implements RoutingMesh {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly bindAddress: string,
    private readonly logger: Logger,
    private readonly tcpOptions: TcpPortOptions,
    private readonly engine: MeshEngine,
    readonly workerSet: MeshWorkers | undefined,
  ) {}

  apply(table: baton.MeshService.$Properties[]): void {
    if (this.closed) return;
    const wanted = flatten(table, this.logger);
    for (const [key, entry] of this.entries) {
      if (wanted.has(key)) continue;
      this.entries.delete(key);
      this.workerSet?.removePort(key);
      void this.closeEntry(entry, false);
    }
    for (const [key, w] of wanted) {
      let entry = this.entries.get(key);
      if (!entry || entry.state === 'failed') {
        const listener =
          w.protocol === 'udp'
            ? new UdpPort(this.bindAddress, w.port, this.logger)
            : newTcpPort(this.engine, this.bindAddress, w.port, this.logger, this.tcpOptions);
        entry = { protocol: w.protocol, listener, state: 'binding', bound: Promise.resolve() };
        this.entries.set(key, entry);
        entry.bound = this.bind(key, entry);
      }
      const l = entry.listener;
      l.serviceName = w.serviceName;
      if (!(l instanceof UdpPort)) l.proxy = w.proxy;
      const bad = l.backends.replace(w.backends, w.leastConnections);
      if (bad.length) this.logger.warn({ service: w.serviceName, port: w.port, backends: bad }, 'mesh table: malformed backend addresses ignored');
      if (l instanceof UdpPort) l.dropInactiveFlows();
      else l.backendsChanged();
    }
    if (this.workerSet) {
      const ports: PortConfig[] = [];
      for (const [key, w] of wanted) {
        if (w.protocol === 'tcp') ports.push({ key, port: w.port, serviceName: w.serviceName, proxy: w.proxy, leastConnections: w.leastConnections, backends: w.backends });
      }
      this.workerSet.setTable(ports);
    }
  }

  /** Binds the entry's port; the promise never rejects (a failure is logged and retried later). */
  private bind(key: string, entry: Entry): Promise<void> {
    const l = entry.listener;
    return l.listen().then(
      () => {
        if (entry.state === 'closed') return l.close(true);
        entry.state = 'listening';
        if (this.workerSet && !(l instanceof UdpPort) && l.shared !== undefined) this.workerSet.addPort(key, l.shared);
        this.logger.info({ service: l.serviceName, protocol: entry.protocol, port: l.port, address: this.bindAddress }, 'mesh port listening');
        return undefined;
      },
      (err: unknown) => {
        if (entry.state === 'closed') return;
        entry.state = 'failed';
        this.logger.error({ err, service: l.serviceName, protocol: entry.protocol, port: l.port, address: this.bindAddress, key }, 'mesh port cannot be bound; retried on the next table');
      },
    );
  }

  private closeEntry(entry: Entry, dropConnections: boolean): Promise<void> {
    const wasBinding = entry.state === 'binding';
    entry.state = 'closed';
    if (wasBinding) return entry.bound; // bind() closes it when listen() completes
    const l = entry.listener;
    this.logger.info({ service: l.serviceName, protocol: entry.protocol, port: l.port }, 'mesh port closed');
    return l instanceof UdpPort ? l.close() : l.close(dropConnections);
  }

  metricsText(): string {
    const ports: PortStats[] = [];
    for (const [key, entry] of this.entries) {
      const l = entry.listener;
      const extra = this.workerSet && entry.protocol === 'tcp' ? this.workerSet.counters(key) : undefined;
      ports.push({ service: l.serviceName, protocol: entry.protocol, port: l.port, backends: extra?.size ? merged(l.backends.known.values(), extra) : l.backends.known.values() });
    }
    return renderMetrics(ports);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.bound));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all([...all.map((e) => this.closeEntry(e, true)), this.workerSet?.close()]);
  }
}

/** This process's backends with the workers' counters added (a backend only workers know included). */
function merged(own: Iterable<Backend>, extra: Map<string, BackendCounters>): Backend[] {
  const out = new Map<string, Backend>();
  for (const b of own) {
    const m = new Backend(b.addr, b.host, b.port);
    Object.assign(m, { open: b.open, connectionsTotal: b.connectionsTotal, failuresTotal: b.failuresTotal, bytesIn: b.bytesIn, bytesOut: b.bytesOut });
    out.set(b.addr, m);
  }
  for (const c of extra.values()) {
    let m = out.get(c.addr);
    if (!m) {
      m = new Backend(c.addr, '', 0);
      out.set(c.addr, m);
    }
    m.open += c.open;
    m.connectionsTotal += c.connectionsTotal;
    m.failuresTotal += c.failuresTotal;
    m.bytesIn += c.bytesIn;
    m.bytesOut += c.bytesOut;
  }
  return [...out.values()];
}
