// The node's Docker bridges: one bridge network per baton network this node runs tasks on.
// Several baton nodes may share one engine (every multi-node test on one machine), so each
// bridge belongs to one node: its name, its interface name and its labels all carry the node,
// and a node only ever lists, reuses or removes bridges labelled with its own cluster and node.
// Nothing is kept in memory that the engine does not know: after a restart the same bridge is
// found again by its labels.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import type Docker from 'dockerode';
import pino, { type Logger } from 'pino';
import { engineMessage, httpStatus } from '../executor/docker-errors.js';
import { errorMessage } from '../executor/types.js';
import {
  BRIDGE_PREFIX,
  blockAt,
  blockCount,
  cidrsOverlap,
  containerRange,
  formatCidr,
  formatIpv4,
  gatewayAddress,
  parseCidr,
  parseIpv4,
  type Cidr,
} from './subnet.js';

export const BRIDGE_LABEL = {
  cluster: 'baton.cluster',
  node: 'baton.node',
  network: 'baton.network',
  networkName: 'baton.network.name',
  internal: 'baton.network.internal',
} as const;

/** Docker's option naming the bridge's interface on the host. */
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** How often, and how far apart, a create refused over a name looks for this node's own bridge. */
const OWN_LOOKS = 20;
const OWN_LOOK_MS = 100;
/**
 * A baton network made internal is a bridge without NAT to the outside, not Docker's
 * `Internal`: Docker publishes no port of a container whose networks are all internal, and the
 * mesh reaches every task by a published (ephemeral) port of its node. Without masquerading,
 * a container's packets to the outside leave with its private address and get no answer.
 */
const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';

export const DEFAULT_POOL = '10.213.0.0/16';

// Another node on the same engine may take the /22 this one picked between our look and our
// create; the engine then refuses ours and we move on to the next free one, this many times.
const MAX_CREATE_ATTEMPTS = 16;

// `ip` answers at once; a hung one (a wedged netlink) must not hang the node.
const IP_TIMEOUT_MS = 10_000;

// Linux interface names: at most 15 characters; ours are 12, the test's may be others.
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export interface NodeBridgesOptions {
  docker: Docker;
  clusterId: string;
  nodeId: string;
  logger?: Logger;
  /** Where bridge subnets (/22 each) are taken from. Default 10.213.0.0/16. */
  pool?: string;
  /** Added to every bridge (tests mark theirs); baton's own labels always win. */
  extraLabels?: Readonly<Record<string, string>>;
}

export interface BatonNetworkRef {
  /** The cluster's network ID. */
  id: string;
  /** Its name, kept as a label so `docker network ls` says what a bridge is for. */
  name: string;
  internal: boolean;
}

export interface NodeBridge {
  /** The Docker network's ID: what a container joins (HostConfig.NetworkMode, network connect). */
  dockerNetwork: string;
  /** The host's interface name, for `ip addr`. */
  bridge: string;
  /** The /22, as a.b.c.d/22. */
  subnet: string;
  /** .0.1 of the subnet: the bridge's own address. */
  gateway: string;
}

export interface OwnBridge extends NodeBridge {
  /** The baton network it is for. */
  networkId: string;
  networkName: string;
  internal: boolean;
}

/** A problem with the node's bridges, in one line. */
export class BridgeError extends Error {
  override readonly name = 'BridgeError';
}

/** `bt` + 10 hex characters: unique per (node, network), within Linux's 15-character limit. */
export function bridgeInterfaceName(nodeId: string, networkId: string): string {
  return `bt${createHash('sha256').update(`${nodeId}\0${networkId}`).digest('hex').slice(0, 10)}`;
}

/** `baton_<network id, 12>_<node id, 12>`, with what Docker refuses in a name replaced by '_'. */
export function bridgeNetworkName(nodeId: string, networkId: string): string {
  return `baton_${networkId.slice(0, 12)}_${nodeId.slice(0, 12)}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

function isEngineRefusal(err: unknown, pattern: RegExp): boolean {
  return httpStatus(err) !== undefined && pattern.test(engineMessage(err));
}

/** Runs `ip` with these arguments; resolves with its stdout, or rejects with its first line of complaint. */
function runIp(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout);
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'the `ip` command (iproute2) is not installed'
          : err.killed
            ? `no answer within ${IP_TIMEOUT_MS} ms`
            : (stderr.trim().split('\n')[0] ?? '') || err.message.split('\n')[0] || 'failed';
      reject(new BridgeError(`ip ${args.join(' ')}: ${why}`));
    });
  });
}

export class NodeBridges {
  private readonly docker: Docker;
  private readonly clusterId: string;
  private readonly nodeId: string;
  private readonly logger: Logger;
  private readonly pool: Cidr;
  private readonly extraLabels: Readonly<Record<string, string>>;
  // Every change to this node's bridges runs here, one at a time: two tasks of one network
  // starting together must find one bridge, not make two, and two networks must not both
  // pick the same free /22.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: NodeBridgesOptions) {
    if (opts.clusterId === '' || opts.nodeId === '') throw new BridgeError('bridges need a cluster and a node ID');
    this.docker = opts.docker;
    this.clusterId = opts.clusterId;
    this.nodeId = opts.nodeId;
    this.logger = (opts.logger ?? pino({ enabled: false })).child({ component: 'bridges' });
    const poolText = opts.pool ?? DEFAULT_POOL;
    try {
      this.pool = parseCidr(poolText);
    } catch (err) {
      throw new BridgeError(`bridge address pool: ${errorMessage(err)}`);
    }
    if (blockCount(this.pool) === 0) throw new BridgeError(`bridge address pool ${poolText} is smaller than one /${BRIDGE_PREFIX}`);
    this.extraLabels = opts.extraLabels ?? {};
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private ownLabels(): string[] {
    return [`${BRIDGE_LABEL.cluster}=${this.clusterId}`, `${BRIDGE_LABEL.node}=${this.nodeId}`];
  }

  private async engine<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError(`docker: ${what}: ${engineMessage(err)}`, { cause: err });
    }
  }

  /** The bridge of this node for a baton network, made if it does not exist yet. Idempotent. */
  ensure(net: BatonNetworkRef): Promise<NodeBridge> {
    if (net.id === '') return Promise.reject(new BridgeError('a network ID is required'));
    return this.serialized(async () => {
      const existing = await this.findOwn(net.id);
      if (existing) {
        if (existing.internal !== net.internal) {
          // Docker cannot change a network's isolation, and a cluster network's is fixed at
          // creation, so this is a leftover of something else: say so rather than guess.
          this.logger.warn({ network: net.id, bridge: existing.bridge, internal: existing.internal }, 'reusing a bridge whose internal flag differs from its network');
        }
        return pick(existing);
      }
      return pick(await this.create(net));
    });
  }

  /** Removes this node's bridge of a network unless a container is attached (then false). Absent: true. */
  remove(networkId: string): Promise<boolean> {
    return this.serialized(async () => {
      const existing = await this.findOwn(networkId);
      return existing ? this.removeBridge(existing) : true;
    });
  }

  /** Every bridge of this node (by its labels). */
  own(): Promise<OwnBridge[]> {
    return this.listOwn();
  }

  /** Removes this node's bridges that no container uses; best effort, each failure logged. */
  close(): Promise<void> {
    return this.serialized(async () => {
      let bridges: OwnBridge[];
      try {
        bridges = await this.listOwn();
      } catch (err) {
        this.logger.warn({ err: errorMessage(err) }, 'cannot list bridges to remove them');
        return;
      }
      for (const b of bridges) {
        try {
          if (!(await this.removeBridge(b))) this.logger.info({ bridge: b.bridge, network: b.networkId }, 'bridge kept: containers still use it');
        } catch (err) {
          this.logger.warn({ bridge: b.bridge, network: b.networkId, err: errorMessage(err) }, 'cannot remove bridge');
        }
      }
    });
  }

  /** Adds ip/32 to the bridge's interface; one already there is fine. */
  async addAddress(bridge: string, ip: string): Promise<void> {
    checkAddressArgs(bridge, ip);
    try {
      await runIp(['addr', 'add', `${ip}/32`, 'dev', bridge]);
    } catch (err) {
      // iproute2's words for "already there" differ between versions ("File exists", "Address
      // already assigned"): ask the device instead. A missing device fails here too, with its own line.
      if (err instanceof BridgeError && (await this.has(bridge, ip)) === true) return;
      throw err;
    }
  }

  /** Removes ip/32 from the bridge's interface; one not there is fine. */
  async removeAddress(bridge: string, ip: string): Promise<void> {
    checkAddressArgs(bridge, ip);
    try {
      await runIp(['addr', 'del', `${ip}/32`, 'dev', bridge]);
    } catch (err) {
      // Not there (in whatever words this iproute2 says it) is what we wanted.
      if (err instanceof BridgeError && (await this.has(bridge, ip)) === false) return;
      throw err;
    }
  }

  /** Whether the device has the address; undefined when that cannot be told (the first error says why). */
  private has(bridge: string, ip: string): Promise<boolean | undefined> {
    return this.addresses(bridge).then(
      (ips) => ips.includes(ip),
      () => undefined,
    );
  }

  /** Every IPv4 address of the bridge's interface (the gateway's and those added), without prefix. */
  async addresses(bridge: string): Promise<string[]> {
    if (!INTERFACE_NAME.test(bridge)) throw new BridgeError(`${JSON.stringify(bridge.slice(0, 64))} is not an interface name`);
    const out = await runIp(['-j', 'addr', 'show', 'dev', bridge]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(out);
    } catch {
      throw new BridgeError(`ip -j addr show dev ${bridge}: the answer is not JSON`);
    }
    const ips: string[] = [];
    for (const link of Array.isArray(parsed) ? (parsed as unknown[]) : []) {
      const info = (link as { addr_info?: unknown }).addr_info;
      for (const a of Array.isArray(info) ? (info as unknown[]) : []) {
        const { family, local } = a as { family?: unknown; local?: unknown };
        if (family === 'inet' && typeof local === 'string') ips.push(local);
      }
    }
    return ips;
  }

  private async listOwn(): Promise<OwnBridge[]> {
    const found = await this.engine('list bridges', () => this.docker.listNetworks({ filters: { label: this.ownLabels() } }));
    const out: OwnBridge[] = [];
    for (const n of found) {
      const b = describe(n);
      if (b) out.push(b);
      else this.logger.warn({ dockerNetwork: n.Id, name: n.Name }, 'a network labelled as this node\'s bridge has no IPv4 subnet; ignored');
    }
    return out.sort((a, b) => a.networkId.localeCompare(b.networkId) || a.dockerNetwork.localeCompare(b.dockerNetwork));
  }

  private async findOwn(networkId: string): Promise<OwnBridge | undefined> {
    const found = await this.engine(`look up the bridge of network ${networkId}`, () =>
      this.docker.listNetworks({ filters: { label: [...this.ownLabels(), `${BRIDGE_LABEL.network}=${networkId}`] } }),
    );
    for (const n of found) {
      const b = describe(n);
      if (b) return b;
    }
    return undefined;
  }

  /** The subnets this node must not take: every Docker network's and every local interface's. */
  private async usedSubnets(): Promise<Cidr[]> {
    const used: Cidr[] = [];
    const nets = await this.engine('list networks', () => this.docker.listNetworks());
    for (const n of nets) {
      for (const c of n.IPAM?.Config ?? []) {
        const subnet = c.Subnet;
        if (subnet === undefined || subnet.includes(':')) continue;
        try {
          used.push(parseCidr(subnet, false));
        } catch {
          // Not an IPv4 block we can read; the engine will refuse an overlap itself.
        }
      }
    }
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (a.family !== 'IPv4' || a.cidr === null) continue;
        try {
          used.push(parseCidr(a.cidr, false));
        } catch {
          // Same as above.
        }
      }
    }
    return used;
  }

  private async create(net: BatonNetworkRef): Promise<OwnBridge> {
    const name = bridgeNetworkName(this.nodeId, net.id);
    const bridge = bridgeInterfaceName(this.nodeId, net.id);
    const used = await this.usedSubnets();
    const blocks = blockCount(this.pool);
    let attempts = 0;
    for (let i = 0; i < blocks && attempts < MAX_CREATE_ATTEMPTS; i++) {
      const subnet = blockAt(this.pool, i);
      if (used.some((u) => cidrsOverlap(u, subnet))) continue;
      attempts++;
      const gateway = formatIpv4(gatewayAddress(subnet));
      try {
        const created = await this.docker.createNetwork({
          Name: name,
          CheckDuplicate: true,
          Driver: 'bridge',
          IPAM: { Driver: 'default', Config: [{ Subnet: formatCidr(subnet), IPRange: formatCidr(containerRange(subnet)), Gateway: gateway }] },
          Options: { [BRIDGE_NAME_OPTION]: bridge, ...(net.internal ? { [MASQUERADE_OPTION]: 'false' } : {}) },
          Labels: {
            ...this.extraLabels,
            [BRIDGE_LABEL.cluster]: this.clusterId,
            [BRIDGE_LABEL.node]: this.nodeId,
            [BRIDGE_LABEL.network]: net.id,
            [BRIDGE_LABEL.networkName]: net.name,
            ...(net.internal ? { [BRIDGE_LABEL.internal]: 'true' } : {}),
          },
        });
        this.logger.info({ network: net.id, dockerNetwork: created.id, bridge, subnet: formatCidr(subnet) }, 'bridge created');
        return { dockerNetwork: created.id, bridge, subnet: formatCidr(subnet), gateway, networkId: net.id, networkName: net.name, internal: net.internal };
      } catch (err) {
        // Another node took this block since we looked (the engine checks under its own lock).
        if (isEngineRefusal(err, /overlaps/i)) {
          this.logger.debug({ subnet: formatCidr(subnet) }, 'subnet taken meanwhile, trying the next');
          continue;
        }
        // The name or the interface name is taken: by this node's bridge made meanwhile outside
        // this instance (an old and a new daemon of one node overlapping), which is then the
        // one to use.
        if (isEngineRefusal(err, /already exists|same bridge name/i)) {
          // The engine refuses the name while the other create is still under way, before the
          // network shows in its list: look a few times (bounded) before calling it foreign.
          for (let look = 0; look < OWN_LOOKS; look++) {
            const theirs = await this.findOwn(net.id);
            if (theirs) return theirs;
            await new Promise((resolve) => setTimeout(resolve, OWN_LOOK_MS));
          }
        }
        // Otherwise the name or the interface name belongs to someone else's network.
        throw new BridgeError(`cannot create bridge ${name} (${bridge}) for network ${JSON.stringify(net.name.slice(0, 64))}: ${engineMessage(err)}`, { cause: err });
      }
    }
    throw new BridgeError(
      `no free /${BRIDGE_PREFIX} left in the bridge address pool ${formatCidr(this.pool)} for network ${JSON.stringify(net.name.slice(0, 64))}` +
        (attempts >= MAX_CREATE_ATTEMPTS ? ` (the engine refused ${attempts} in a row as overlapping)` : ''),
    );
  }

  private async removeBridge(b: OwnBridge): Promise<boolean> {
    const net = this.docker.getNetwork(b.dockerNetwork);
    let name: string;
    try {
      name = (await net.inspect()).Name;
    } catch (err) {
      if (httpStatus(err) === 404) return true;
      throw new BridgeError(`docker: inspect bridge ${b.bridge}: ${engineMessage(err)}`, { cause: err });
    }
    // A container that was created on the bridge but is not running holds no endpoint, so the
    // engine would let the bridge go and that container could never start: ask for every
    // container that names the network, running or not. A created container knows its
    // networks only by the name or ID it was given, hence both.
    const users = await this.engine(`list the containers on bridge ${b.bridge}`, () =>
      this.docker.listContainers({ all: true, filters: { network: [b.dockerNetwork, name] } }),
    );
    if (users.length > 0) return false;
    try {
      await net.remove();
    } catch (err) {
      if (httpStatus(err) === 404) return true;
      // A container joined between our look and the removal.
      if (isEngineRefusal(err, /active endpoints/i)) return false;
      throw new BridgeError(`docker: remove bridge ${b.bridge}: ${engineMessage(err)}`, { cause: err });
    }
    this.logger.info({ network: b.networkId, bridge: b.bridge }, 'bridge removed');
    return true;
  }
}

function checkAddressArgs(bridge: string, ip: string): void {
  if (!INTERFACE_NAME.test(bridge)) throw new BridgeError(`${JSON.stringify(bridge.slice(0, 64))} is not an interface name`);
  try {
    parseIpv4(ip);
  } catch (err) {
    throw new BridgeError(errorMessage(err));
  }
}

function pick(b: OwnBridge): NodeBridge {
  return { dockerNetwork: b.dockerNetwork, bridge: b.bridge, subnet: b.subnet, gateway: b.gateway };
}

/** What a listed network says of itself as one of our bridges; undefined without an IPv4 subnet. */
function describe(n: Docker.NetworkInspectInfo): OwnBridge | undefined {
  const config = (n.IPAM?.Config ?? []).find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
  if (config?.Subnet === undefined) return undefined;
  let subnet: Cidr;
  try {
    subnet = parseCidr(config.Subnet, false);
  } catch {
    return undefined;
  }
  const bridge = n.Options?.[BRIDGE_NAME_OPTION] ?? '';
  return {
    dockerNetwork: n.Id,
    bridge,
    subnet: formatCidr(subnet),
    gateway: config.Gateway !== undefined && config.Gateway !== '' ? config.Gateway : subnet.prefix === BRIDGE_PREFIX ? formatIpv4(gatewayAddress(subnet)) : '',
    networkId: n.Labels?.[BRIDGE_LABEL.network] ?? '',
    networkName: n.Labels?.[BRIDGE_LABEL.networkName] ?? '',
    internal: n.Labels?.[BRIDGE_LABEL.internal] === 'true',
  };
}
