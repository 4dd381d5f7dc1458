// IPv4 arithmetic for the node's bridges, and the layout of one bridge's subnet. Each baton
// network gets a /22 on each node that runs a task on it, cut in four /24s:
//
//   x.x.0.0/24   Docker's IP range: the gateway .0.1 (the node's DNS server for the network)
//                and the containers (.0.2 onwards, handed out by Docker's IPAM)
//   x.x.1.0/24   service addresses (VIPs) the node adds to the bridge with `ip addr add …/32`
//   x.x.2.0/23   stand-in addresses, one per task, for DNSRR and tasks.<service> answers
//
// Everything stays inside the one /22 so that Docker's `internal` isolation (which drops what
// leaves the subnet) still lets containers reach the node's DNS and service addresses.

/** A parsed CIDR block: `network` is the first address (host bits zero), as an unsigned 32-bit number. */
export interface Cidr {
  network: number;
  prefix: number;
}

/** The size of one bridge's subnet. */
export const BRIDGE_PREFIX = 22;

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** An IPv4 address in dotted-quad form as an unsigned 32-bit number; throws one line on anything else. */
export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p) && Number(p) <= 255)) {
    throw new Error(`${JSON.stringify(text.slice(0, 64))} is not an IPv4 address`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${n} is not an IPv4 address number`);
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** The number of addresses in a block of this prefix length. */
function sizeOf(prefix: number): number {
  return 2 ** (32 - prefix);
}

/**
 * `a.b.c.d/n`. With `strict` the address must be the block's first (as Docker wants a subnet);
 * without, host bits are dropped (an interface's `10.0.0.5/24` is the block 10.0.0.0/24).
 */
export function parseCidr(text: string, strict = true): Cidr {
  const slash = text.indexOf('/');
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > 32) {
    throw new Error(`${JSON.stringify(text.slice(0, 64))} is not an IPv4 CIDR block (a.b.c.d/n)`);
  }
  const prefix = Number(prefixText);
  const address = parseIpv4(text.slice(0, slash));
  const size = sizeOf(prefix);
  const network = address - (address % size);
  if (strict && network !== address) {
    throw new Error(`${JSON.stringify(text.slice(0, 64))} has host bits set (the block starts at ${formatIpv4(network)})`);
  }
  return { network, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.network && ip < c.network + sizeOf(c.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + sizeOf(b.prefix) && b.network < a.network + sizeOf(a.prefix);
}

/** How many bridge subnets (/22) a pool holds; 0 when the pool is smaller than one. */
export function blockCount(pool: Cidr): number {
  return pool.prefix > BRIDGE_PREFIX ? 0 : sizeOf(pool.prefix) / sizeOf(BRIDGE_PREFIX);
}

/** The pool's index-th /22 (0-based). */
export function blockAt(pool: Cidr, index: number): Cidr {
  if (!Number.isInteger(index) || index < 0 || index >= blockCount(pool)) {
    throw new Error(`block ${index} is outside pool ${formatCidr(pool)} (${blockCount(pool)} blocks of /${BRIDGE_PREFIX})`);
  }
  return { network: pool.network + index * sizeOf(BRIDGE_PREFIX), prefix: BRIDGE_PREFIX };
}

function requireBridgeSubnet(subnet: Cidr): void {
  if (subnet.prefix !== BRIDGE_PREFIX) throw new Error(`${formatCidr(subnet)} is not a bridge subnet (/${BRIDGE_PREFIX})`);
}

/** .0.1: the bridge's own address, where the node's DNS server for the network listens. */
export function gatewayAddress(subnet: Cidr): number {
  requireBridgeSubnet(subnet);
  return subnet.network + 1;
}

/** The first /24: Docker's IP range for the containers (it hands out .0.2 onwards). */
export function containerRange(subnet: Cidr): Cidr {
  requireBridgeSubnet(subnet);
  return { network: subnet.network, prefix: 24 };
}

/** Containers get .0.2–.0.254 (the gateway is .0.1). */
export const CONTAINER_CAPACITY = 253;

/** Service addresses: the whole second /24 (none of it is the /22's network or broadcast address). */
export const SERVICE_ADDRESS_CAPACITY = 256;

/** Stand-in addresses: the third and fourth /24, but for the /22's broadcast address at the very end. */
export const STAND_IN_CAPACITY = 511;

function slot(subnet: Cidr, offset: number, index: number, capacity: number, what: string): number {
  requireBridgeSubnet(subnet);
  if (!Number.isInteger(index) || index < 0 || index >= capacity) {
    throw new Error(`${what} ${index} is out of range (a bridge has ${capacity}: 0-${capacity - 1})`);
  }
  return subnet.network + offset + index;
}

/** The index-th service address (VIP) of a bridge subnet: .1.0 onwards. */
export function serviceAddress(subnet: Cidr, index: number): number {
  return slot(subnet, 256, index, SERVICE_ADDRESS_CAPACITY, 'service address');
}

/** The index-th per-task stand-in address of a bridge subnet: .2.0 onwards. */
export function standInAddress(subnet: Cidr, index: number): number {
  return slot(subnet, 512, index, STAND_IN_CAPACITY, 'stand-in address');
}
