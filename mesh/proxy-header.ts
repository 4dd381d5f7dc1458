// PROXY protocol headers (haproxy's proxy-protocol.txt, versions 1 and 2): the first bytes a
// backend receives on a mesh connection when its published port opts in, so it learns the
// client's real address instead of the mesh's.
import { isIP } from 'node:net';
import { unmapIPv4 } from './address.js';

/** The four addresses of a proxied TCP connection, as Node reports them. */
export interface ConnectionEnds {
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
  destAddress: string | undefined;
  destPort: number | undefined;
}

interface Normalized {
  family: 4 | 6;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
}

/** Both ends in one address family, or undefined (the header then says UNKNOWN / LOCAL). */
function normalize(ends: ConnectionEnds): Normalized | undefined {
  if (!ends.sourceAddress || !ends.destAddress || ends.sourcePort === undefined || ends.destPort === undefined) return undefined;
  let src = ends.sourceAddress;
  let dst = ends.destAddress;
  let sf = isIP(src);
  let df = isIP(dst);
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d: say TCP4 when both ends allow it.
  if (sf !== df || sf === 6) {
    const us = unmapIPv4(src);
    const ud = unmapIPv4(dst);
    if (isIP(us) === 4 && isIP(ud) === 4) {
      src = us;
      dst = ud;
      sf = df = 4;
    }
  }
  if (sf === 0 || sf !== df) return undefined;
  return { family: sf as 4 | 6, src, dst, srcPort: ends.sourcePort, dstPort: ends.destPort };
}

/** "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (version 1, text). */
export function proxyV1Header(ends: ConnectionEnds): Buffer {
  const n = normalize(ends);
  if (!n) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP${n.family} ${n.src} ${n.dst} ${n.srcPort} ${n.dstPort}\r\n`, 'latin1');
}

/** The 12-byte signature that opens every version 2 header. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Version 2 (binary): signature, 0x21 (v2, PROXY), family/transport, length, addresses, ports. */
export function proxyV2Header(ends: ConnectionEnds): Buffer {
  const n = normalize(ends);
  if (!n) {
    // LOCAL command, no address block: the backend uses the connection's own addresses.
    const local = Buffer.alloc(16);
    PROXY_V2_SIGNATURE.copy(local, 0);
    local[12] = 0x20;
    local[13] = 0x00;
    local.writeUInt16BE(0, 14);
    return local;
  }
  const addrLen = n.family === 4 ? 12 : 36;
  const buf = Buffer.alloc(16 + addrLen);
  PROXY_V2_SIGNATURE.copy(buf, 0);
  buf[12] = 0x21; // version 2, command PROXY
  buf[13] = n.family === 4 ? 0x11 : 0x21; // AF_INET / AF_INET6, STREAM
  buf.writeUInt16BE(addrLen, 14);
  const ipLen = n.family === 4 ? 4 : 16;
  writeIp(buf, 16, n.src, n.family);
  writeIp(buf, 16 + ipLen, n.dst, n.family);
  buf.writeUInt16BE(n.srcPort, 16 + 2 * ipLen);
  buf.writeUInt16BE(n.dstPort, 18 + 2 * ipLen);
  return buf;
}

function writeIp(buf: Buffer, offset: number, ip: string, family: 4 | 6): void {
  if (family === 4) {
    ip.split('.').forEach((part, i) => (buf[offset + i] = Number(part)));
    return;
  }
  ipv6Bytes(ip).copy(buf, offset);
}

/** The 16 bytes of an IPv6 address in any textual form (with "::" and a dotted IPv4 tail). */
export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const groups = (s: string): number[] => {
    if (s === '') return [];
    return s.split(':').flatMap((g) => {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        return [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
      }
      return [parseInt(g, 16)];
    });
  };
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  all.forEach((g, i) => out.writeUInt16BE(g & 0xffff, i * 2));
  return out;
}

/** The header for a proxy mode, or undefined for 'none'. */
export function proxyHeader(mode: 'none' | 'v1' | 'v2', ends: ConnectionEnds): Buffer | undefined {
  if (mode === 'v1') return proxyV1Header(ends);
  if (mode === 'v2') return proxyV2Header(ends);
  return undefined;
}

export type ProxyMode = 'none' | 'v1' | 'v2';
