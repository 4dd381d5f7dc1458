// The routing mesh's data plane (docs/routing-mesh.md): every node listens on every published port and
// relays each connection (TCP) or datagram flow (UDP) to a running task of the service on any
// node. The control plane (dispatcher → worker session) hands it the whole table with apply().
// Service addresses (east-west: a VIP on a network's bridge, per node) are a second set of
// listeners, handed over whole with applyInternal() by the node's network manager.
import { isIP } from 'node:net';
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
import { AllowList } from './allow.js';

export { MESH_ENGINES, type MeshEngine } from './engines.js';

/**
 * Service addresses dial each backend per client connection, with no pre-connected pool. A
 * pool keeps connections open ahead of need, and the backend only sees them as connections
 * in its accept queue: with a small backlog (busybox httpd listens with 9, so 10 queued) and
 * its accepting process starved of CPU, the pool's refills plus the callers' own connections
 * overflow that queue, the kernel drops SYNs, and the callers wait out a 1 s retransmission
 * (measured: the api task's ListenOverflows rose by 21 in one bench:mesh --east-west-path run,
 * p99 through the VIP 0.8-1.06 s against 0.1-0.4 s for the same task without the mesh). Without
 * the pool a backend never has more connections from the mesh than the callers have open.
 */
const SERVICE_ADDRESS_TCP: TcpPortOptions = { preconnect: 0 };

export interface MeshOptions {
  /** Where published ports listen (--data-path-addr), e.g. 127.0.0.2, or 0.0.0.0. */
  bindAddress: string;
  logger: Logger;
  /**
   * Idle pre-opened connections kept per TCP backend of a published port while connections
   * keep coming (see preconnect.ts); 0 turns it off. Default POOL_SIZE. Service addresses
   * never pre-connect (SERVICE_ADDRESS_TCP).
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
  /**
   * The first wait before a port that could not be bound is tried again (default 1 s); it
   * doubles per failed try up to BIND_RETRY_MAX_MS. Tests set it short.
   */
  bindRetryMs?: number;
}

/**
 * One listener on a service address (east-west): a service's VIP on a network's bridge, or the
 * stand-in address of one task (DNSRR, tasks.<service>), with the port other tasks reach.
 */
export interface InternalPort {
  /** The address listened on (already on one of the node's interfaces), e.g. 10.0.1.2. */
  address: string;
  protocol: 'tcp' | 'udp';
  port: number;
  serviceName: string;
  leastConnections: boolean;
  /** Where connections go: "host:port" of each task (its node's address, its host port). */
  backends: string[];
  /**
   * The sources that may connect: IPv4 CIDRs ("10.0.1.0/24") or addresses ("10.0.1.7"), the
   * subnets of the service's networks on this node. An EMPTY list allows every source; a
   * non-empty list whose entries are all malformed allows none. A refused TCP connection is
   * reset before any backend is dialled, a refused datagram dropped; both are counted
   * (baton_mesh_refused_total).
   */
  allowFrom: string[];
  /**
   * Connections to this address and port that the node's kernel NAT rules sent straight to a
   * task (worker/network/vip-nat.ts), cumulative: counted with the service's connections
   * (heartbeats, the autoscaler) and exported as baton_mesh_kernel_connections_total.
   */
  kernelConnections?: number;
}

export interface RoutingMesh {
  /**
   * Replaces the whole routing table (SessionMessage.mesh, sent with mesh_set = true).
   * Opens listeners for new published ports (TCP and UDP), closes those no longer present
   * (freeing the port), swaps backend sets in place: established connections are untouched,
   * new ones use the new set. A port with zero backends stays bound and resets new
   * connections at once (TCP RST) / drops datagrams. Never throws because of one port: a
   * port that cannot be bound is logged and tried again, on the next apply and on a timer
   * (1 s, doubling up to 30 s) until it binds or leaves the table.
   */
  apply(table: baton.internal.MeshService.$Properties[]): void;
  /** Connections accepted per service (by name) since the mesh started: heartbeats carry them to the autoscaler. */
  connectionTotals(): Map<string, number>;
  /**
   * Replaces the whole set of service-address listeners, independently of apply() (neither
   * touches the other's listeners). Same semantics as apply(), keyed by protocol/address/port:
   * new ones opened, missing ones closed, backends and allow lists swapped in place
   * (established TCP connections go on, new ones and every datagram meet the new list), zero
   * backends → TCP reset / UDP drop, a bind failure (e.g. the address not yet on its
   * interface) logged and tried again as apply() does. They run in this process only, even with
   * `workers` > 1 (see there).
   */
  applyInternal(ports: InternalPort[]): void;
  /** Prometheus text exposition: connections open/total, bytes in/out, backend failures, per service and backend. */
  metricsText(): string;
  /** Resolves once every port of the last apply() and applyInternal() is bound or has failed to bind (for tests and start-up). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function createRoutingMesh(opts: MeshOptions): RoutingMesh {
  const engine = opts.engine ?? defaultEngine();
  if (!engineAvailable(engine)) throw new Error(`mesh engine '${engine}' unavailable in this Node version`);
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  const logger = opts.logger.child({ component: 'mesh' });
  const preconnect = opts.preconnect ?? POOL_SIZE;
  return new Mesh(opts.bindAddress, logger, { preconnect }, engine, workers > 1 ? new MeshWorkers(workers - 1, logger, preconnect, engine) : undefined, opts.bindRetryMs ?? BIND_RETRY_MS);
}

/** The worker processes' ids of a mesh made with `workers` > 1 (for benchmarks' CPU accounting). */
export function meshWorkerPids(mesh: RoutingMesh): number[] {
  return mesh instanceof Mesh ? (mesh.workerSet?.pids ?? []) : [];
}

type Protocol = 'tcp' | 'udp';

interface Entry {
  protocol: Protocol;
  /** The address listened on (the data-path address, or a service address). */
  address: string;
  /** A service address (applyInternal): never shared with worker processes. */
  internal: boolean;
  listener: PublishedTcpPort | UdpPort;
  state: 'binding' | 'listening' | 'failed' | 'closed';
  bound: Promise<void>;
  /** Service addresses: connections the kernel took instead (InternalPort.kernelConnections). */
  kernel?: number;
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
function flatten(table: baton.internal.MeshService.$Properties[], logger: Logger): Map<string, Wanted> {
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

/** The service addresses keyed by protocol/address/port; malformed ones and repeats are logged and skipped. */
function flattenInternal(ports: readonly InternalPort[], logger: Logger): Map<string, InternalPort> {
  const out = new Map<string, InternalPort>();
  for (const p of ports) {
    if (!Number.isInteger(p.port) || p.port <= 0 || p.port > 65535 || isIP(p.address) === 0 || (p.protocol !== 'tcp' && p.protocol !== 'udp')) {
      logger.warn({ service: p.serviceName, address: p.address, port: p.port, protocol: p.protocol }, 'service address: invalid address, port or protocol ignored');
      continue;
    }
    const key = `${p.protocol}/${p.address}/${p.port}`;
    if (out.has(key)) {
      logger.warn({ service: p.serviceName, address: p.address, port: p.port, protocol: p.protocol }, 'service address listed twice; first service kept');
      continue;
    }
    out.set(key, p);
  }
  return out;
}

/**
 * Why a timer and not only the next table: a port is often taken for a moment (a client's
 * outgoing connection holding it as its local port, a process that exits), and a cluster at
 * rest sends no new table, so a published port would stay unbound until the service changed.
 */
const BIND_RETRY_MS = 1_000;
const BIND_RETRY_MAX_MS = 30_000;

class Mesh implements RoutingMesh {
  /** Published ports, keyed protocol/port. */
  private readonly entries = new Map<string, Entry>();
  /**
   * Service addresses, keyed protocol/address/port. Only this process accepts on them, even
   * with worker processes: those share the listening sockets of published ports, which are few,
   * on one address and stable; service addresses are one per service and network (one per task
   * for DNSRR), per address, and come and go with tasks. Sharing them would mean a socket
   * transfer per listener and worker, routing and allow-list messages with every change, and
   * counters that lag by the workers' report interval; here they stay in one place.
   */
  private readonly internal = new Map<string, Entry>();
  private closed = false;
  /** The last tables given, re-applied by the retry timer: applying replaces failed entries. */
  private lastTable: baton.internal.MeshService.$Properties[] = [];
  private lastInternal: InternalPort[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;

  constructor(
    private readonly bindAddress: string,
    private readonly logger: Logger,
    private readonly tcpOptions: TcpPortOptions,
    private readonly engine: MeshEngine,
    readonly workerSet: MeshWorkers | undefined,
    private readonly bindRetryMs: number,
  ) {
    this.retryDelayMs = bindRetryMs;
  }

  apply(table: baton.internal.MeshService.$Properties[]): void {
    if (this.closed) return;
    this.lastTable = table;
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
        entry = { protocol: w.protocol, address: this.bindAddress, internal: false, listener, state: 'binding', bound: Promise.resolve() };
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

  applyInternal(ports: InternalPort[]): void {
    if (this.closed) return;
    this.lastInternal = ports;
    const wanted = flattenInternal(ports, this.logger);
    for (const [key, entry] of this.internal) {
      if (wanted.has(key)) continue;
      this.internal.delete(key);
      void this.closeEntry(entry, false);
    }
    for (const [key, w] of wanted) {
      let entry = this.internal.get(key);
      if (!entry || entry.state === 'failed') {
        const listener =
          w.protocol === 'udp' ? new UdpPort(w.address, w.port, this.logger) : newTcpPort(this.engine, w.address, w.port, this.logger, SERVICE_ADDRESS_TCP);
        entry = { protocol: w.protocol, address: w.address, internal: true, listener, state: 'binding', bound: Promise.resolve() };
        this.internal.set(key, entry);
        entry.bound = this.bind(key, entry);
      }
      const l = entry.listener;
      l.serviceName = w.serviceName;
      if (w.kernelConnections !== undefined) entry.kernel = w.kernelConnections;
      const allow = new AllowList(w.allowFrom);
      if (allow.malformed.length) this.logger.warn({ service: w.serviceName, address: w.address, port: w.port, allowFrom: allow.malformed }, 'service address: malformed allowFrom entries ignored');
      l.allow = allow;
      const bad = l.backends.replace(w.backends, w.leastConnections);
      if (bad.length) this.logger.warn({ service: w.serviceName, address: w.address, port: w.port, backends: bad }, 'service address: malformed backend addresses ignored');
      if (l instanceof UdpPort) l.dropInactiveFlows();
      else l.backendsChanged();
    }
  }

  /** Binds the entry's port; the promise never rejects (a failure is logged and retried later). */
  private bind(key: string, entry: Entry): Promise<void> {
    const l = entry.listener;
    return l.listen().then(
      () => {
        if (entry.state === 'closed') return l.close(true);
        entry.state = 'listening';
        if (!this.anyFailed()) this.retryDelayMs = this.bindRetryMs;
        if (this.workerSet && !entry.internal && !(l instanceof UdpPort) && l.shared !== undefined) this.workerSet.addPort(key, l.shared);
        this.logger.info({ service: l.serviceName, protocol: entry.protocol, port: l.port, address: entry.address }, 'mesh port listening');
        return undefined;
      },
      (err: unknown) => {
        if (entry.state === 'closed') return;
        entry.state = 'failed';
        const retryInMs = this.scheduleRetry();
        this.logger.error({ err, service: l.serviceName, protocol: entry.protocol, port: l.port, address: entry.address, key, retryInMs }, 'mesh port cannot be bound; tried again later');
      },
    );
  }

  private anyFailed(): boolean {
    for (const e of this.entries.values()) if (e.state === 'failed') return true;
    for (const e of this.internal.values()) if (e.state === 'failed') return true;
    return false;
  }

  /** One timer for every failed port: re-applies the last tables if some port is still failed. Returns its delay. */
  private scheduleRetry(): number {
    const delay = this.retryDelayMs;
    if (this.retryTimer || this.closed) return delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || !this.anyFailed()) return;
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, BIND_RETRY_MAX_MS);
      this.apply(this.lastTable);
      this.applyInternal(this.lastInternal);
    }, delay);
    this.retryTimer.unref();
    return delay;
  }

  private closeEntry(entry: Entry, dropConnections: boolean): Promise<void> {
    const wasBinding = entry.state === 'binding';
    entry.state = 'closed';
    if (wasBinding) return entry.bound; // bind() closes it when listen() completes
    const l = entry.listener;
    this.logger.info({ service: l.serviceName, protocol: entry.protocol, port: l.port, address: entry.address }, 'mesh port closed');
    return l instanceof UdpPort ? l.close() : l.close(dropConnections);
  }

  metricsText(): string {
    return renderMetrics(this.portStats());
  }

  /** Connections accepted per service (by name) since the mesh started, for the autoscaler. */
  connectionTotals(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const p of this.portStats()) {
      let n = totals.get(p.service) ?? 0;
      n += p.kernel ?? 0;
      for (const b of p.backends) n += b.connectionsTotal;
      totals.set(p.service, n);
    }
    return totals;
  }

  private portStats(): PortStats[] {
    const ports: PortStats[] = [];
    for (const [key, entry] of this.entries) {
      const l = entry.listener;
      const extra = this.workerSet && entry.protocol === 'tcp' ? this.workerSet.counters(key) : undefined;
      ports.push({ service: l.serviceName, protocol: entry.protocol, port: l.port, backends: extra?.size ? merged(l.backends.known.values(), extra) : [...l.backends.known.values()] });
    }
    for (const entry of this.internal.values()) {
      const l = entry.listener;
      ports.push({ service: l.serviceName, protocol: entry.protocol, port: l.port, address: entry.address, refused: l.refused, backends: [...l.backends.known.values()], ...(entry.kernel !== undefined ? { kernel: entry.kernel } : {}) });
    }
    return ports;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.entries.values(), ...this.internal.values()].map((e) => e.bound));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const all = [...this.entries.values(), ...this.internal.values()];
    this.entries.clear();
    this.internal.clear();
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
