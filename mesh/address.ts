// Addresses as the mesh meets them: "host:port" strings from the routing table and the
// IPv4-mapped IPv6 form Node reports for IPv4 clients of a dual-stack listener.
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** "10.0.0.1:80", "[::1]:80" or "::1:80" (last colon) → host and port; undefined when malformed. */
export function parseHostPort(addr: string): HostPort | undefined {
  const colon = addr.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(addr.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || host === '') return undefined;
  return { host, port };
}

/** "::ffff:1.2.3.4" → "1.2.3.4"; other addresses unchanged. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
