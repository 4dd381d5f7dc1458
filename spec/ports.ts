// Published ports, as `--publish` and Compose's `ports:` write them: the short form
// `[published:]target[/protocol]` and the long form `mode=host,target=80,published=8080,
// protocol=udp` (the CLI's; Compose's long form is a YAML mapping and uses the pieces below).
import { baton } from '../proto/gen/baton.js';
import { echo, ok, problem, type Parsed } from './parsed.js';

const PROXY: Record<string, baton.ProxyProtocol> = { none: baton.ProxyProtocol.PROXY_NONE, v1: baton.ProxyProtocol.PROXY_V1, v2: baton.ProxyProtocol.PROXY_V2 };

/** A port number 1-65535, as text or a YAML number. */
export function parsePortNumber(text: string | number): Parsed<number> {
  const s = String(text).trim();
  if (!/^\d+$/.test(s)) {
    if (/^\d+-\d+$/.test(s)) return problem(`uses a port range ("${s}"), which is not supported: list each port`);
    return problem(`must be a port number 1-65535 (got "${s}")`);
  }
  const n = Number(s);
  if (n < 1 || n > 65535) return problem(`must be a port number 1-65535 (got ${s})`, undefined, true);
  return ok(n);
}

/** tcp (the default when absent) or udp. */
export function parsePortProtocol(text: string | undefined): Parsed<baton.PortProtocol> {
  if (text === undefined || text === 'tcp') return ok(baton.PortProtocol.TCP);
  if (text === 'udp') return ok(baton.PortProtocol.UDP);
  return problem(`has protocol "${text}" (want tcp or udp)`);
}

/** ingress (the routing mesh, the default when absent) or host. */
export function parsePublishMode(text: string | undefined): Parsed<baton.PublishMode> {
  if (text === undefined || text === 'ingress') return ok(baton.PublishMode.INGRESS);
  if (text === 'host') return ok(baton.PublishMode.HOST);
  return problem(`has mode "${text}" (want ingress or host)`);
}

/**
 * `8080:80`, `80`, `8080:80/udp`, or `mode=host,target=80,published=8080,protocol=tcp` (long
 * syntax, which also takes `proxy-protocol=v1|v2`: the mesh tells the task the client's
 * address). Problems read `bad --publish "TEXT": why` with `what` as the flag.
 */
export function parsePublish(text: string, what = '--publish'): Parsed<baton.PortConfig.$Properties> {
  const bad = (why: string): Parsed<never> => problem(`bad ${what} "${text}": ${why}`, why);
  const port = (s: string | undefined, which: string): Parsed<number> => {
    const p = parsePortNumber(s ?? '');
    return p.ok ? p : bad(`${which} port must be 1-65535`);
  };
  const proto = (s: string | undefined): Parsed<baton.PortProtocol> => {
    const p = parsePortProtocol(s);
    return p.ok ? p : bad('protocol must be tcp or udp');
  };
  if (text.includes('=')) {
    const kv: Record<string, string> = {};
    for (const part of text.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) return bad(`"${part}" is not KEY=VALUE`);
      const key = part.slice(0, eq);
      if (!['mode', 'target', 'published', 'protocol', 'proxy-protocol'].includes(key)) return bad(`unknown key "${key}"`);
      kv[key] = part.slice(eq + 1);
    }
    const mode = kv.mode ?? 'ingress';
    if (mode !== 'ingress' && mode !== 'host') return bad('mode must be ingress or host');
    const proxy = kv['proxy-protocol'];
    if (proxy !== undefined && !(proxy in PROXY)) return bad('proxy-protocol must be v1, v2 or none');
    if (proxy !== undefined && proxy !== 'none' && mode === 'host') return bad('proxy-protocol needs the routing mesh (mode=ingress)');
    if (proxy !== undefined && proxy !== 'none' && kv.protocol === 'udp') return bad('proxy-protocol is for tcp ports only');
    if (kv.target === undefined) return bad('needs target=PORT');
    const target = port(kv.target, 'target');
    if (!target.ok) return target;
    const published = kv.published ? port(kv.published, 'published') : ok(0);
    if (!published.ok) return published;
    const protocol = proto(kv.protocol);
    if (!protocol.ok) return protocol;
    return ok({
      targetPort: target.value,
      publishedPort: published.value,
      protocol: protocol.value,
      publishMode: mode === 'host' ? baton.PublishMode.HOST : baton.PublishMode.INGRESS,
      ...(proxy !== undefined && proxy !== 'none' ? { proxyProtocol: PROXY[proxy]! } : {}),
    });
  }
  const slash = text.split('/');
  if (slash.length > 2) return bad('want [published:]target[/protocol]');
  const parts = slash[0]!.split(':');
  if (parts.length > 2) return bad('want [published:]target[/protocol]');
  const target = port(parts[parts.length - 1], 'target');
  if (!target.ok) return target;
  const published = parts.length === 2 ? port(parts[0], 'published') : ok(0);
  if (!published.ok) return published;
  const protocol = proto(slash[1]);
  if (!protocol.ok) return protocol;
  return ok({ targetPort: target.value, publishedPort: published.value, protocol: protocol.value, publishMode: baton.PublishMode.INGRESS });
}

/**
 * `--expose PORT[/tcp|udp]` (baton's flag) and Compose's `expose:` items: a target port other
 * tasks on the service's networks reach through its name, published on no node.
 */
export function parseExpose(text: string | number, what = '--expose'): Parsed<baton.PortConfig.$Properties> {
  const s = String(text).trim();
  const bad = (why: string): Parsed<never> => problem(`bad ${what} "${echo(s)}": ${why}`, why);
  const slash = s.split('/');
  if (slash.length > 2) return bad('want PORT[/tcp|udp]');
  const port = parsePortNumber(slash[0]!);
  if (!port.ok) return bad(port.why);
  const proto = parsePortProtocol(slash[1]);
  if (!proto.ok) return bad('protocol must be tcp or udp');
  return ok({ targetPort: port.value, protocol: proto.value });
}
