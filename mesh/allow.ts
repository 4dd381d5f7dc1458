// Who may connect to a service address (a VIP on a network's bridge): the source of each TCP
// connection or UDP datagram must lie in one of the service's networks. The host accepts
// packets for any of its local addresses whatever interface they came in on, so a container on
// network B could otherwise reach a VIP of network A; this list is what keeps networks apart.
//
// The check runs on every accepted connection and every datagram of a service address, so the
// list is parsed once into integer pairs (network, mask) and a source is parsed from its text
// without allocating.

/** An IPv4 address in dotted-quad form as an unsigned 32-bit integer; -1 when it is not one. */
export function ipv4ToInt(text: string): number {
  let start = 0;
  // Node reports IPv4 clients of a dual-stack socket as "::ffff:a.b.c.d".
  if (text.length > 7 && text.charCodeAt(0) === 58 /* : */ && text.startsWith('::ffff:')) start = 7;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return -1;
    // No leading zeros ("010" would be octal to some parsers): refuse rather than guess.
    if (digits === 1 && part === 0) return -1;
    part = part * 10 + d;
    if (part > 255) return -1;
    digits++;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/** The sources allowed to reach one service address. */
export class AllowList {
  /** Network and mask of each entry, unsigned 32-bit, side by side. */
  private readonly nets: Uint32Array;
  private readonly masks: Uint32Array;
  /** Every entry as given, canonical (for comparing lists and for logs). */
  readonly text: string;
  /** Entries that are not an IPv4 address or CIDR (ignored). */
  readonly malformed: string[];
  /**
   * True for an empty list: every source is allowed. A list whose entries were all malformed
   * allows nothing (it was meant to restrict; failing open would join the networks).
   */
  readonly allowsAll: boolean;

  constructor(entries: readonly string[]) {
    const nets: number[] = [];
    const masks: number[] = [];
    const malformed: string[] = [];
    const canon: string[] = [];
    for (const entry of entries) {
      const parsed = parseCidr(entry);
      if (!parsed) {
        malformed.push(entry);
        continue;
      }
      nets.push(parsed.net);
      masks.push(parsed.mask);
      canon.push(`${intToIpv4(parsed.net)}/${parsed.bits}`);
    }
    this.nets = Uint32Array.from(nets);
    this.masks = Uint32Array.from(masks);
    this.malformed = malformed;
    this.allowsAll = entries.length === 0;
    this.text = canon.join(',');
  }

  /** Whether a connection or datagram from `source` (as the socket reports it) is let in. */
  allows(source: string | undefined): boolean {
    if (this.allowsAll) return true;
    if (source === undefined) return false;
    const ip = ipv4ToInt(source);
    if (ip < 0) return false; // IPv6 (or unknown) sources: the networks are IPv4
    const nets = this.nets;
    const masks = this.masks;
    for (let i = 0; i < nets.length; i++) if ((ip & masks[i]!) >>> 0 === nets[i]) return true;
    return false;
  }
}

/** "10.0.1.0/24" or "10.0.1.5" (a /32); undefined when neither. */
function parseCidr(entry: string): { net: number; mask: number; bits: number } | undefined {
  const slash = entry.indexOf('/');
  const addr = ipv4ToInt(slash < 0 ? entry.trim() : entry.slice(0, slash).trim());
  if (addr < 0) return undefined;
  let bits = 32;
  if (slash >= 0) {
    const t = entry.slice(slash + 1).trim();
    if (!/^\d{1,2}$/.test(t)) return undefined;
    bits = Number(t);
    if (bits > 32) return undefined;
  }
  // A shift by 32 is a shift by 0 in JavaScript: /0 needs its own case.
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  // "10.0.1.7/24" means the network 10.0.1.0/24, as `ip route` reads it.
  return { net: (addr & mask) >>> 0, mask, bits };
}

function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
