// The node's own resolvers, where its DNS server sends the names it does not own: the
// `nameserver` lines of /etc/resolv.conf, or BATON_DNS_UPSTREAM when it is set.
//
// A loopback resolver in resolv.conf (systemd-resolved's 127.0.0.53, a local dnsmasq or
// unbound on 127.0.0.1, ::1) is kept as it is. Docker must drop such entries from a
// container's own resolv.conf, because 127.0.0.53 inside the container's network namespace is
// nobody; but the forwarding here is done by the baton daemon in the host's namespace, where
// that address is the host's resolver and answers like any other. Containers still get the
// host's resolution, including what systemd-resolved knows (per-link DNS, search domains it
// resolves, /etc/hosts via its stub), without baton reading /run/systemd/resolve/.
//
// A resolv.conf with no usable nameserver line gives no upstream: forwarded names are then
// answered SERVFAIL (glibc would fall back to 127.0.0.1, which is no resolver on most hosts).
import { readFile } from 'node:fs/promises';
import { isIP, isIPv6 } from 'node:net';
import type { Upstream } from './dns-forward.js';

export type { Upstream } from './dns-forward.js';

export const RESOLV_CONF = '/etc/resolv.conf';
export const UPSTREAM_ENV = 'BATON_DNS_UPSTREAM';
/** glibc's MAXNS: the system's resolver reads no more nameserver lines than this. */
export const MAX_NAMESERVERS = 3;
/** Lines of resolv.conf read at most: a real one has a handful. */
const MAX_LINES = 1000;
/** Entries of BATON_DNS_UPSTREAM read at most. */
const MAX_ENV_ENTRIES = 16;

export interface NodeResolvers {
  upstreams: Upstream[];
  /** Where they came from, for the log line that says so. */
  source: 'env' | 'resolv.conf';
  /** Entries that were ignored, each with its reason (for a warning; none of them is fatal). */
  problems: string[];
}

/** The `nameserver` addresses of a resolv.conf text, port 53, in order, the first three. */
export function parseResolvConf(text: string): { upstreams: Upstream[]; problems: string[] } {
  const upstreams: Upstream[] = [];
  const problems: string[] = [];
  for (const raw of text.split('\n').slice(0, MAX_LINES)) {
    // Comments start with '#' or ';' (resolv.conf(5)), also after a value.
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, value] = line.split(/\s+/);
    if (keyword !== 'nameserver') continue;
    if (value === undefined || isIP(value) === 0) {
      problems.push(`resolv.conf: nameserver ${value === undefined ? '(no address)' : JSON.stringify(value.slice(0, 64))} is not an IP address`);
      continue;
    }
    if (upstreams.length === MAX_NAMESERVERS) {
      problems.push(`resolv.conf: nameserver ${value} ignored: the system's resolver uses only the first ${MAX_NAMESERVERS}`);
      continue;
    }
    upstreams.push({ host: value, port: 53 });
  }
  return { upstreams, problems };
}

/**
 * BATON_DNS_UPSTREAM: `host:port[,host:port]`, an IPv6 host in brackets (`[::1]:53`); a host
 * without a port means port 53.
 */
export function parseUpstreamList(text: string): { upstreams: Upstream[]; problems: string[] } {
  const upstreams: Upstream[] = [];
  const problems: string[] = [];
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length > MAX_ENV_ENTRIES) problems.push(`${UPSTREAM_ENV}: only the first ${MAX_ENV_ENTRIES} entries are read`);
  for (const entry of entries.slice(0, MAX_ENV_ENTRIES)) {
    const parsed = parseHostPort(entry);
    if (typeof parsed === 'string') problems.push(`${UPSTREAM_ENV}: ${JSON.stringify(entry.slice(0, 64))}: ${parsed}`);
    else upstreams.push(parsed);
  }
  return { upstreams, problems };
}

function parseHostPort(entry: string): Upstream | string {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIPv6(entry)) {
    // A bare IPv6 address: its colons are not a port separator.
    host = entry;
  } else {
    const colon = entry.lastIndexOf(':');
    host = colon < 0 ? entry : entry.slice(0, colon);
    portText = colon < 0 ? undefined : entry.slice(colon + 1);
  }
  if (isIP(host) === 0) return 'not an IP address (host:port, [IPv6]:port)';
  if (portText === undefined) return { host, port: 53 };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return `port ${JSON.stringify(portText.slice(0, 16))} is not 1-65535`;
  return { host, port: Number(portText) };
}

/**
 * The node's resolvers: BATON_DNS_UPSTREAM when set and not empty, else resolv.conf's. A
 * missing or unreadable resolv.conf gives none, with the reason among the problems.
 */
export async function nodeResolvers(opts: { env?: NodeJS.ProcessEnv; path?: string } = {}): Promise<NodeResolvers> {
  const override = (opts.env ?? process.env)[UPSTREAM_ENV];
  if (override !== undefined && override.trim() !== '') return { ...parseUpstreamList(override), source: 'env' };
  const path = opts.path ?? RESOLV_CONF;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { upstreams: [], source: 'resolv.conf', problems: [`cannot read ${path}: ${code}`] };
  }
  return { ...parseResolvConf(text), source: 'resolv.conf' };
}
