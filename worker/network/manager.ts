// The node's side of service discovery (docs/networking.md). For every baton network a task of
// this node is on, the node keeps its own Docker bridge (bridges.ts), a DNS server on the
// bridge's gateway (dns-server.ts) and node-local addresses on the bridge: one per service of
// the network (its VIP, where the routing mesh relays the service's ports to its healthy tasks
// on any node) and one per task (its stand-in, for tasks.<service> and DNSRR). Everything is
// computed from what the session brings: the mesh table's east-west part, the networks, and the
// node's own tasks. Addresses are kept by index in a file, so a restarted daemon hands out the
// same ones (a client that resolved a VIP once keeps reaching the service).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { DnsServer, type DnsLookup, type Upstream } from './dns-server.js';
import { TYPE_A } from './dns-message.js';
import { searchDomainKey, withoutSearchDomain } from './dns-search.js';
import type { NodeBridge, NodeBridges } from './bridges.js';
import type { VipNat, VipNatRule } from './vip-nat.js';
import { cidrContains, formatIpv4, isIpv4, parseCidr, parseIpv4, serviceAddress, standInAddress, SERVICE_ADDRESS_CAPACITY, STAND_IN_CAPACITY } from './subnet.js';

/**
 * What the node's mesh listens on for east-west traffic: mesh/index.ts InternalPort, repeated
 * here because worker/ may not import mesh/ (the daemon hands one to the other).
 */
export interface InternalListener {
  address: string;
  protocol: 'tcp' | 'udp';
  port: number;
  serviceName: string;
  leastConnections: boolean;
  backends: string[];
  allowFrom: string[];
  /** VIP ports: connections the kernel path sent straight to a task (cumulative; see mesh/index.ts). */
  kernelConnections?: number;
}

/** What a task needs from its node's networks to run (worker/executor TaskRunSpec fields). */
export interface TaskAttachment {
  networks: { dockerNetwork: string }[];
  dns: string[];
  /** For process tasks: where the resolver and the services of its networks are. */
  env: string[];
}

export interface NodeNetworksOptions {
  bridges: NodeBridges;
  /** Where the addresses handed out are kept (a JSON file in the node's data dir). */
  stateFile: string;
  /** The node's mesh: the whole set of east-west listeners, each time it changes. */
  applyInternal: (listeners: InternalListener[]) => void;
  /** The node's own resolvers, where names that are not services are forwarded. */
  upstreams: () => Promise<Upstream[]>;
  /** The containers attached to a Docker network, to tell which task asks a question. */
  members: (dockerNetwork: string) => Promise<{ name: string; ip: string }[]>;
  /**
   * The kernel path of VIPs (vip-nat.ts): TCP VIP ports are NAT'd in the kernel to their tasks,
   * on the network's bridge or at another node's address. Without it the mesh relays every VIP.
   */
  vipNat?: VipNat;
  /** Port of the DNS servers (53; tests of a non-root setup could move it). */
  dnsPort?: number;
  logger: Logger;
}

/** How long attach() waits for the session to bring a network a task names. */
const NETWORK_WAIT_MS = 15_000;
/** Unwanted bridges that still had containers are retried this often. */
const RETRY_MS = 5_000;
/** How often the kernel path's counters are read while it has rules (connection rates for the autoscaler). */
const KERNEL_COUNT_MS = 2_000;
/** A VIP is stable for the service's life; task answers follow scaling at once. */
const VIP_TTL = 30;
const TASK_TTL = 0;

type AddressBook = Record<string, { services: Record<string, number>; tasks: Record<string, number> }>;

interface LocalNetwork {
  id: string;
  info: NodeBridge;
  dns: DnsServer | undefined;
  /** Addresses on the bridge besides the gateway, as last set. */
  addresses: Set<string>;
  /** Why the resolver could not listen, last time it was tried (a task cannot use the network). */
  problem?: string;
}

/** One name on one network: where it points. */
interface NameEntry {
  addresses: string[];
  ttl: number;
}

export class NodeNetworks {
  private networks = new Map<string, baton.Network.$Properties>();
  private table: baton.internal.MeshService.$Properties[] = [];
  /** This node's tasks (not removed), with the networks each joins. */
  private readonly tasks = new Map<string, string[]>();
  /** This node's tasks that have nameservers of their own (`--dns`): where their other names go. */
  private readonly taskResolvers = new Map<string, Upstream[]>();
  /** This node's tasks that have search domains of their own (`--dns-search`): lower case, no trailing dot. */
  private readonly taskSearch = new Map<string, string[]>();
  private readonly local = new Map<string, LocalNetwork>();
  private book: AddressBook = {};
  private bookLoaded = false;
  /** Per local network: lower-cased name → answer. */
  private names = new Map<string, Map<string, NameEntry>>();
  /** Container address → task id, from the engine (members()). */
  private owners = new Map<string, string>();
  private refreshing: Promise<void> | undefined;
  private turn = 0;
  /** Task id → its container's address on one of the node's bridges (the host reaches them all). */
  private containerAddrs = new Map<string, string>();
  /** Network id → task id → its container's address on that network's bridge (the kernel path's targets). */
  private bridgeAddrs = new Map<string, Map<string, string>>();
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the bridges an earlier daemon left have been looked at (after the first full set). */
  private swept = false;
  private fullSeen = false;
  private readonly waiters = new Set<() => void>();
  /** The listeners last handed to the mesh (re-sent with fresh kernel counts). */
  private lastListeners: InternalListener[] = [];
  private countTimer: NodeJS.Timeout | undefined;
  /** Services and tasks already said to have no address left (said once, not at every change). */
  private readonly warnedFull = new Set<string>();

  constructor(private readonly opts: NodeNetworksOptions) {}

  /** A session message: the table, the networks and this node's task changes. */
  apply(msg: baton.internal.SessionMessage.$Properties): void {
    if (msg.full) {
      this.tasks.clear();
      this.taskResolvers.clear();
      this.taskSearch.clear();
      this.fullSeen = true;
    }
    for (const t of msg.tasks ?? []) {
      const id = t.meta?.id ?? '';
      const nets = (t.spec?.networks ?? []).map((n) => n.target ?? '').filter((n) => n !== '');
      if (id !== '') this.tasks.set(id, nets);
      const resolvers = (t.spec?.container?.dnsConfig?.nameservers ?? []).map((host) => ({ host, port: 53 }));
      if (id !== '' && resolvers.length > 0) this.taskResolvers.set(id, resolvers);
      else if (id !== '') this.taskResolvers.delete(id);
      const search = (t.spec?.container?.dnsConfig?.search ?? []).map(searchDomainKey).filter((d) => d !== '');
      if (id !== '' && search.length > 0) this.taskSearch.set(id, search);
      else if (id !== '') this.taskSearch.delete(id);
    }
    for (const id of msg.removed ?? []) {
      this.tasks.delete(id);
      this.taskResolvers.delete(id);
      this.taskSearch.delete(id);
    }
    if (msg.meshSet) {
      this.table = (msg.mesh ?? []).filter((s) => (s.networks?.length ?? 0) > 0);
      // A network leaves the table when no service joins it any more, but the node's old tasks
      // may still run on it (a rolling update moving a service to another network): it stays
      // known while one of them does.
      const next = new Map((msg.networks ?? []).map((n) => [n.meta?.id ?? '', n]));
      for (const nets of this.tasks.values()) for (const n of nets) if (!next.has(n) && this.networks.has(n)) next.set(n, this.networks.get(n)!);
      this.networks = next;
    }
    for (const wake of this.waiters) wake();
    this.schedule();
  }

  /**
   * Makes the task's networks ready on this node (bridge, resolver) and says what its
   * executor needs. Throws a one-line Error when a network is unknown or cannot be made.
   */
  async attach(task: baton.Task.$Properties): Promise<TaskAttachment> {
    const targets = (task.spec?.networks ?? []).map((n) => n.target ?? '').filter((n) => n !== '');
    if (targets.length === 0) return { networks: [], dns: [], env: [] };
    await this.waitForNetworks(targets);
    this.schedule();
    await this.running;
    const infos = targets.map((t) => {
      const l = this.local.get(t);
      if (!l) throw new Error(`network ${this.networkName(t)} could not be set up on this node (see the node's log)`);
      if (l.problem) throw new Error(`network ${this.networkName(t)}: ${l.problem}`);
      return l;
    });
    const first = infos[0]!;
    return {
      networks: infos.map((l) => ({ dockerNetwork: l.info.dockerNetwork })),
      dns: [first.info.gateway],
      env: this.processEnv(infos),
    };
  }

  private networkName(id: string): string {
    return this.networks.get(id)?.spec?.annotations?.name || id;
  }

  private async waitForNetworks(targets: string[]): Promise<void> {
    const deadline = Date.now() + NETWORK_WAIT_MS;
    for (;;) {
      const missing = targets.filter((t) => !this.networks.has(t));
      if (missing.length === 0) return;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`network ${missing.join(', ')} is not known to this node`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /**
   * A process shares the node's network namespace: it cannot be given a resolver, so it is told
   * the resolver's address (on its first network) and each service's address on its networks,
   * as of its start (the addresses stay the service's for its life).
   */
  private processEnv(infos: LocalNetwork[]): string[] {
    const env = [`BATON_DNS_SERVER=${infos[0]!.info.gateway}`];
    const seen = new Set<string>();
    for (const l of infos) {
      for (const [name, entry] of this.names.get(l.id) ?? []) {
        if (name.startsWith('tasks.') || entry.addresses.length === 0) continue;
        const key = `BATON_ADDR_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
        if (seen.has(key)) continue;
        seen.add(key);
        env.push(`${key}=${entry.addresses[0]}`);
      }
    }
    return env;
  }

  /** Runs one reconcile after the current one; several requests while one runs make one more. */
  private schedule(): void {
    if (this.closed || this.pending) return;
    this.pending = true;
    this.running = this.running.then(async () => {
      this.pending = false;
      try {
        await this.reconcile();
      } catch (err) {
        this.opts.logger.error({ err }, 'networks: reconcile failed; retried');
        this.retryLater();
      }
    });
  }

  private retryLater(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.schedule();
    }, RETRY_MS);
  }

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    await this.loadBook();
    const wanted = new Set<string>();
    for (const nets of this.tasks.values()) for (const n of nets) if (this.networks.has(n)) wanted.add(n);
    let again = false;
    for (const id of wanted) {
      if (this.local.has(id)) continue;
      const net = this.networks.get(id)!;
      try {
        const info = await this.opts.bridges.ensure({ id, name: net.spec?.annotations?.name ?? id, internal: net.spec?.internal ?? false });
        this.local.set(id, { id, info, dns: undefined, addresses: new Set() });
      } catch (err) {
        this.opts.logger.error({ err, network: id }, 'networks: cannot make the bridge');
        again = true;
      }
    }
    const bookChanged = this.allocate();
    this.rebuildNames();
    for (const l of this.local.values()) {
      if (!wanted.has(l.id)) continue;
      if (!(await this.syncAddresses(l))) {
        again = true;
        // The bridge may be gone (removed outside baton): forget it, so it is made again.
        if (!(await this.bridgeExists(l))) {
          await l.dns?.close();
          this.local.delete(l.id);
          continue;
        }
      }
      if (!l.dns) {
        const dns = new DnsServer({
          address: l.info.gateway,
          ...(this.opts.dnsPort !== undefined ? { port: this.opts.dnsPort } : {}),
          lookup: this.lookupFor(l.id),
          upstreams: await this.opts.upstreams(),
          upstreamsFor: (from) => this.resolversOf(from),
          logger: this.opts.logger,
        });
        try {
          await dns.listen();
          l.dns = dns;
          delete l.problem;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          l.problem = `its DNS server cannot listen on ${l.info.gateway}:${this.opts.dnsPort ?? 53} (${code}${code === 'EACCES' ? ': the daemon needs root, or CAP_NET_BIND_SERVICE and CAP_NET_ADMIN' : ''})`;
          this.opts.logger.error({ err, network: l.id, address: l.info.gateway }, 'networks: the DNS server cannot listen');
          again = true;
        }
      }
    }
    if (this.local.size > 0) await this.refreshMembers();
    // Networks no task wants any more lose their listeners before their addresses go.
    const kernel: VipNatRule[] = [];
    this.lastListeners = this.listeners(wanted, kernel);
    this.opts.applyInternal(this.withKernelCounts(this.lastListeners));
    // The mesh listens first: a connection the rules no longer take finds it there.
    const inKernel = (await this.opts.vipNat?.apply(kernel)) === true && kernel.length > 0;
    this.countKernel(inKernel);
    for (const l of [...this.local.values()]) {
      if (wanted.has(l.id)) continue;
      // Still in use (a container kept as task history): tried again on the next change.
      await this.release(l);
    }
    if (bookChanged) await this.saveBook();
    if (this.fullSeen && !this.swept) await this.sweep(wanted);
    if (again) this.retryLater();
  }

  /**
   * Bridges an earlier daemon of this node made for networks none of its tasks is on now
   * (their tasks ended while no daemon ran): removed once nothing runs on them.
   */
  private async sweep(wanted: Set<string>): Promise<boolean> {
    let done = true;
    try {
      for (const b of await this.opts.bridges.own()) {
        if (wanted.has(b.networkId) || (!this.closed && this.local.has(b.networkId))) continue;
        if (!(await this.opts.bridges.remove(b.networkId))) done = false;
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'networks: cannot look at the bridges left by an earlier daemon');
      done = false;
    }
    this.swept = done;
    return done;
  }

  /** Gives every service (VIP mode) and every task of each local network an address index. */
  private allocate(): boolean {
    let changed = false;
    for (const l of this.local.values()) {
      const entry = (this.book[l.id] ??= { services: {}, tasks: {} });
      const services = new Set<string>();
      const tasks = new Set<string>();
      for (const s of this.table) {
        if (!(s.networks ?? []).some((n) => n.networkId === l.id)) continue;
        services.add(s.serviceId ?? '');
        for (const t of s.tasks ?? []) tasks.add(t);
      }
      const full = (what: string) => (k: string) => {
        if (this.warnedFull.has(k)) return;
        this.warnedFull.add(k);
        this.opts.logger.warn({ network: l.id, [what]: k }, `networks: no ${what} address left on this node's bridge for the network`);
      };
      changed = assign(entry.services, services, SERVICE_ADDRESS_CAPACITY, full('service')) || changed;
      changed = assign(entry.tasks, tasks, STAND_IN_CAPACITY, full('task')) || changed;
    }
    return changed;
  }

  private serviceAddr(l: LocalNetwork, serviceId: string): string | undefined {
    const i = this.book[l.id]?.services[serviceId];
    return i === undefined ? undefined : formatIpv4(serviceAddress(parseCidr(l.info.subnet), i));
  }

  private taskAddr(l: LocalNetwork, taskId: string): string | undefined {
    const i = this.book[l.id]?.tasks[taskId];
    return i === undefined ? undefined : formatIpv4(standInAddress(parseCidr(l.info.subnet), i));
  }

  private rebuildNames(): void {
    const all = new Map<string, Map<string, NameEntry>>();
    for (const l of this.local.values()) {
      const names = new Map<string, NameEntry>();
      for (const s of this.table) {
        const att = (s.networks ?? []).find((n) => n.networkId === l.id);
        if (!att) continue;
        const taskAddrs = (s.tasks ?? []).flatMap((t) => this.taskAddr(l, t) ?? []);
        const vip = this.serviceAddr(l, s.serviceId ?? '');
        const own: NameEntry =
          s.endpointMode === baton.EndpointMode.DNSRR ? { addresses: taskAddrs, ttl: TASK_TTL } : { addresses: vip ? [vip] : [], ttl: VIP_TTL };
        for (const name of [s.serviceName ?? '', ...(att.aliases ?? [])]) {
          const key = name.toLowerCase();
          if (key === '' || names.has(key)) continue;
          names.set(key, own);
          names.set(`tasks.${key}`, { addresses: taskAddrs, ttl: TASK_TTL });
        }
      }
      all.set(l.id, names);
    }
    this.names = all;
  }

  /**
   * Every east-west listener of the node: VIPs on each service's ports, stand-ins on their
   * task's. `kernel` receives the VIP ports the kernel path takes (kernelRule): TCP and
   * round-robin (least-connections needs the mesh's counts). The mesh listens on those too,
   * for the node's own processes and a task calling its own service.
   */
  private listeners(wanted: ReadonlySet<string>, kernel: VipNatRule[] = []): InternalListener[] {
    const out: InternalListener[] = [];
    const host = hostAddresses();
    for (const l of this.local.values()) {
      if (!wanted.has(l.id)) continue;
      // The network's tasks, and the node itself: its processes (process tasks among them)
      // connect from one of the host's own addresses, whichever the kernel picks.
      const allowFrom = [l.info.subnet, ...host];
      for (const s of this.table) {
        if (!(s.networks ?? []).some((n) => n.networkId === l.id)) continue;
        const serviceName = s.serviceName ?? '';
        const leastConnections = s.balance === baton.BalanceMode.LEAST_CONNECTIONS;
        const vip = s.endpointMode === baton.EndpointMode.DNSRR ? undefined : this.serviceAddr(l, s.serviceId ?? '');
        for (const p of s.internalPorts ?? []) {
          const protocol = p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp';
          const port = p.targetPort ?? 0;
          const backends = p.backends ?? [];
          // A task of this node is dialled at its container's address: its host port would go
          // through Docker's userland proxy, which costs a copy and, under load, adds a
          // second-long tail (bench/README.md, the east-west path).
          const dial = (b: baton.internal.MeshBackend.$Properties): string => {
            const local = this.containerAddrs.get(b.taskId ?? '');
            return local !== undefined ? `${local}:${port}` : (b.addr ?? '');
          };
          if (vip) out.push({ address: vip, protocol, port, serviceName, leastConnections, backends: backends.map(dial), allowFrom });
          if (vip && protocol === 'tcp' && !leastConnections) {
            const rule = this.kernelRule(l, vip, port, backends);
            if (rule) kernel.push(rule);
          }
          for (const b of backends) {
            const addr = this.taskAddr(l, b.taskId ?? '');
            if (addr) out.push({ address: addr, protocol, port, serviceName, leastConnections, backends: [dial(b)], allowFrom });
          }
        }
      }
    }
    return out;
  }

  /**
   * The kernel path's rule for one VIP port, or undefined when the mesh must keep it: a task of
   * this node is a target at its address on the network's bridge (none yet: the mesh, until the
   * engine says it), a task of another node at that node's address and the task's host port, as
   * the mesh dials it (a kube-proxy remote endpoint). Every backend or none: the shares are over all.
   */
  private kernelRule(l: LocalNetwork, vip: string, port: number, backends: baton.internal.MeshBackend.$Properties[]): VipNatRule | undefined {
    if (backends.length === 0) return undefined;
    const onBridge = this.bridgeAddrs.get(l.id);
    const targets: string[] = [];
    const remote: string[] = [];
    for (const b of backends) {
      const id = b.taskId ?? '';
      const local = onBridge?.get(id);
      if (local !== undefined) targets.push(`${local}:${port}`);
      else if (this.tasks.has(id) || !isHostPort(b.addr ?? '')) return undefined;
      else remote.push(b.addr!);
    }
    return { bridge: l.info.bridge, subnet: l.info.subnet, gateway: l.info.gateway, vip, port, targets, ...(remote.length > 0 ? { remote } : {}) };
  }

  /** The listeners with the kernel path's connection counts of their VIP ports. */
  private withKernelCounts(listeners: InternalListener[]): InternalListener[] {
    const counts = this.opts.vipNat?.connections();
    if (!counts || counts.size === 0) return listeners;
    return listeners.map((l) => {
      const n = counts.get(`${l.address}:${l.port}`);
      return n === undefined || l.protocol !== 'tcp' ? l : { ...l, kernelConnections: n };
    });
  }

  /** While the kernel path has rules, reads their counters every KERNEL_COUNT_MS and hands them to the mesh. */
  private countKernel(on: boolean): void {
    if (!on || this.closed) {
      if (this.countTimer) clearInterval(this.countTimer);
      this.countTimer = undefined;
      return;
    }
    this.countTimer ??= setInterval(() => {
      // In turn with reconciles: never a stale list handed over after a newer one.
      this.running = this.running.then(async () => {
        if (this.closed || !this.opts.vipNat) return;
        try {
          await this.opts.vipNat.refresh();
          this.opts.applyInternal(this.withKernelCounts(this.lastListeners));
        } catch (err) {
          this.opts.logger.warn({ err }, 'networks: cannot hand the kernel path counts to the mesh');
        }
      });
    }, KERNEL_COUNT_MS);
    this.countTimer.unref();
  }

  /** Puts on the bridge exactly the addresses its services and tasks have; false if some failed. */
  private async syncAddresses(l: LocalNetwork): Promise<boolean> {
    const want = new Set<string>();
    for (const s of this.table) {
      if (!(s.networks ?? []).some((n) => n.networkId === l.id)) continue;
      const vip = s.endpointMode === baton.EndpointMode.DNSRR ? undefined : this.serviceAddr(l, s.serviceId ?? '');
      if (vip) want.add(vip);
      for (const t of s.tasks ?? []) {
        const a = this.taskAddr(l, t);
        if (a) want.add(a);
      }
    }
    let ok = true;
    if (l.addresses.size === 0) {
      // After a daemon restart the bridge may still carry what the last process put there.
      try {
        for (const a of await this.opts.bridges.addresses(l.info.bridge)) if (a !== l.info.gateway && cidrContains(parseCidr(l.info.subnet), parseIpv4(a))) l.addresses.add(a);
      } catch (err) {
        this.opts.logger.warn({ err, bridge: l.info.bridge }, 'networks: cannot read the bridge addresses');
      }
    }
    for (const a of want) {
      if (l.addresses.has(a)) continue;
      try {
        await this.opts.bridges.addAddress(l.info.bridge, a);
        l.addresses.add(a);
      } catch (err) {
        this.opts.logger.error({ err, bridge: l.info.bridge, address: a }, 'networks: cannot add an address');
        ok = false;
      }
    }
    for (const a of [...l.addresses]) {
      if (want.has(a)) continue;
      try {
        await this.opts.bridges.removeAddress(l.info.bridge, a);
        l.addresses.delete(a);
      } catch (err) {
        this.opts.logger.warn({ err, bridge: l.info.bridge, address: a }, 'networks: cannot remove an address');
        ok = false;
      }
    }
    return ok;
  }

  private async bridgeExists(l: LocalNetwork): Promise<boolean> {
    try {
      return (await this.opts.bridges.own()).some((b) => b.dockerNetwork === l.info.dockerNetwork);
    } catch {
      return true; // cannot tell: keep it
    }
  }

  /** No task of the node uses the network any more: resolver, addresses and bridge go. */
  private async release(l: LocalNetwork): Promise<boolean> {
    await l.dns?.close();
    l.dns = undefined;
    for (const a of [...l.addresses]) {
      await this.opts.bridges.removeAddress(l.info.bridge, a).catch((err: unknown) => this.opts.logger.warn({ err, address: a }, 'networks: cannot remove an address'));
      l.addresses.delete(a);
    }
    const removed = await this.opts.bridges.remove(l.id).catch((err: unknown) => {
      this.opts.logger.warn({ err, network: l.id }, 'networks: cannot remove the bridge');
      return false;
    });
    if (!removed) return false;
    this.local.delete(l.id);
    delete this.book[l.id];
    this.names.delete(l.id);
    return true;
  }

  /**
   * The resolver of one local network: a name answers on the networks of the task asking (found
   * by its address), or, for an address the engine does not know yet, on this network only.
   * Only the network's own tasks and the node itself may ask: the host accepts packets for this
   * gateway from any interface, so a task of another network (or a host of the LAN with a
   * route) could otherwise read this network's names, or use the server as an open resolver.
   * Tasks whose networks are all internal get no forwarding either (no way out, not even DNS).
   */
  private lookupFor(networkId: string): DnsLookup {
    return async ({ name, type, from }) => {
      const l = this.local.get(networkId);
      const ip = parseIpv4OrUndefined(from);
      const inSubnet = l !== undefined && ip !== undefined && cidrContains(parseCidr(l.info.subnet), ip);
      if (!inSubnet && !hostAddresses().includes(from)) return 'nxdomain';
      let key = name.toLowerCase().replace(/\.$/, '');
      // A task's hostname is `<service>.<slot>.<task id>`: the system resolver takes what follows
      // its first dot as the search domain and asks `redis.1.<task id>` first (busybox's
      // nslookup asks nothing else). That domain is the task's own: its names are ours, and are
      // never leaked to the node's resolvers.
      const labels = key.split('.');
      const searched = labels.length >= 3 && this.tasks.has(labels[labels.length - 1]!);
      if (searched) key = labels.slice(0, -2).join('.');
      const nets = await this.networksOf(from, networkId, inSubnet);
      const internal = nets.every((n) => this.networks.get(n)?.spec?.internal === true);
      const own = this.answerOn(nets, key, type);
      if (own) return own;
      // A task with `--dns-search example.com` (and ndots:N, or busybox's nslookup) asks
      // `peer.example.com` before the bare `peer`, and Docker's embedded DNS never forwards a
      // one-label name when the task sets ndots (moby's resolver answers it empty itself,
      // leaving the search list to the client): the bare name would never reach us. On Swarm
      // the embedded DNS knows the service and answers the bare name; here the searched form is
      // ours instead, but only after the upstream (whose real host of that name wins).
      if (!searched) {
        const task = this.owners.get(from);
        const base = task === undefined ? undefined : withoutSearchDomain(key, this.taskSearch.get(task) ?? []);
        const viaSearch = base === undefined ? undefined : this.answerOn(nets, base, type);
        if (viaSearch) return internal ? viaSearch : { ...viaSearch, unlessUpstream: true };
      }
      // tasks.<x> is ours whether or not x exists here; internal networks have no way out.
      if (searched || key.startsWith('tasks.') || internal) return 'nxdomain';
      return undefined;
    };
  }

  /** The answer for `key` on the first of `nets` that has it. */
  private answerOn(nets: readonly string[], key: string, type: number): NameEntry | undefined {
    for (const n of nets) {
      const entry = this.names.get(n)?.get(key);
      if (!entry) continue;
      // A name of ours with no IPv4 question or no address: NODATA, so clients try A. Several
      // addresses come in turns, as Docker shuffles them: clients that take the first one
      // would otherwise all call the same task.
      if (type !== TYPE_A) return { addresses: [], ttl: entry.ttl };
      const turn = this.turn++ % Math.max(1, entry.addresses.length);
      return { addresses: [...entry.addresses.slice(turn), ...entry.addresses.slice(0, turn)], ttl: entry.ttl };
    }
    return undefined;
  }

  /**
   * The nameservers of the task that owns address `from` (its `--dns`), where the names it asks
   * that are not ours go; undefined for a task without any, or an address of no known task.
   * lookup() has just refreshed the owners for this address if it was unknown.
   */
  resolversOf(from: string): Upstream[] | undefined {
    const task = this.owners.get(from);
    return task === undefined ? undefined : this.taskResolvers.get(task);
  }

  /**
   * The networks a question from `from` may see: the network it came in on (`asked`, found by the
   * server it reached), and the other networks of the task that owns the address. An owner
   * that is not on `asked` is stale (the address was given to another container since):
   * the engine is asked again.
   */
  private async networksOf(from: string, asked: string, container: boolean): Promise<string[]> {
    let task = this.owners.get(from);
    const fresh = (t: string | undefined): boolean => t !== undefined && (this.tasks.get(t) ?? []).includes(asked);
    // A container the last look did not know (just started): look again, once for all those
    // asking at the same moment. The node's own processes are no container: never looked up.
    if (container && !fresh(task)) {
      this.refreshing ??= this.refreshMembers().finally(() => (this.refreshing = undefined));
      await this.refreshing;
      task = this.owners.get(from);
    }
    const nets = fresh(task) ? this.tasks.get(task!)! : [];
    return [asked, ...nets.filter((n) => n !== asked)];
  }

  /** Which local container has which address on the node's bridges, from the engine. */
  private async refreshMembers(): Promise<void> {
    const owners = new Map<string, string>();
    const addrs = new Map<string, string>();
    const byBridge = new Map<string, Map<string, string>>();
    for (const l of this.local.values()) {
      const onBridge = new Map<string, string>();
      byBridge.set(l.id, onBridge);
      try {
        for (const m of await this.opts.members(l.info.dockerNetwork)) {
          // Containers are named baton-<service>.<slot>.<task id> (worker/executor).
          const id = m.name.slice(m.name.lastIndexOf('.') + 1);
          if (id === '' || m.ip === '') continue;
          owners.set(m.ip, id);
          addrs.set(id, m.ip);
          onBridge.set(id, m.ip);
        }
      } catch (err) {
        this.opts.logger.debug({ err, network: l.id }, 'networks: cannot list the bridge members');
      }
    }
    this.owners = owners;
    this.containerAddrs = addrs;
    this.bridgeAddrs = byBridge;
  }

  private async loadBook(): Promise<void> {
    if (this.bookLoaded) return;
    this.bookLoaded = true;
    try {
      const parsed = JSON.parse(await readFile(this.opts.stateFile, 'utf8')) as unknown;
      if (isAddressBook(parsed)) this.book = parsed;
      else this.opts.logger.warn({ file: this.opts.stateFile }, 'networks: the address book is not one; starting afresh');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger.warn({ err, file: this.opts.stateFile }, 'networks: the address book is unreadable; starting afresh');
    }
  }

  private async saveBook(): Promise<void> {
    const tmp = `${this.opts.stateFile}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(this.book), { mode: 0o600 });
      await rename(tmp, this.opts.stateFile);
    } catch (err) {
      this.opts.logger.warn({ err, file: this.opts.stateFile }, 'networks: cannot save the address book');
    }
  }

  /**
   * Stops the resolvers. The bridges (with their addresses) of networks the node's tasks are on
   * stay: those tasks outlive the daemon, and the next one adopts them and finds their
   * addresses unchanged; the others go unless something still runs on them.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.countKernel(false);
    for (const wake of this.waiters) wake();
    await this.running;
    for (const l of this.local.values()) {
      await l.dns?.close();
      l.dns = undefined;
    }
    // The rules name this node's tasks: with the daemon gone nothing would follow their health.
    await this.opts.vipNat?.close();
    const wanted = new Set([...this.tasks.values()].flat());
    await this.sweep(wanted);
  }
}


function isAddressBook(v: unknown): v is AddressBook {
  const indexes = (o: unknown): boolean => typeof o === 'object' && o !== null && Object.values(o).every((i) => Number.isInteger(i) && (i as number) >= 0);
  return typeof v === 'object' && v !== null && Object.values(v).every((e) => typeof e === 'object' && e !== null && indexes((e as AddressBook[string]).services) && indexes((e as AddressBook[string]).tasks));
}

/** "a.b.c.d:port": what a DNAT rule can target. */
function isHostPort(addr: string): boolean {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  return i > 0 && isIpv4(addr.slice(0, i)) && Number.isInteger(port) && port > 0 && port < 65536;
}

function parseIpv4OrUndefined(text: string): number | undefined {
  return isIpv4(text) ? parseIpv4(text) : undefined;
}

/** The host's own IPv4 addresses (the bridges' gateways and service addresses among them). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

/** Keeps the indexes of `keys` in `book`, frees the others, gives new keys the lowest free index. */
function assign(book: Record<string, number>, keys: Set<string>, capacity: number, full: (key: string) => void): boolean {
  let changed = false;
  for (const k of Object.keys(book)) {
    if (keys.has(k)) continue;
    delete book[k];
    changed = true;
  }
  const used = new Set(Object.values(book));
  let next = 0;
  for (const k of [...keys].sort()) {
    if (book[k] !== undefined) continue;
    while (used.has(next)) next++;
    if (next >= capacity) {
      full(k);
      continue;
    }
    book[k] = next;
    used.add(next);
    changed = true;
  }
  return changed;
}
