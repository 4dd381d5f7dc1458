// The network flags of `service create` and `service update`, Docker's way: `--network NAME` or
// the long form `--network name=NAME,alias=A,alias=B`; `--endpoint-mode vip|dnsrr`; and baton's
// `--expose PORT[/tcp|udp]`. Names are resolved to ids by the managers.
import { baton } from '../client/index.js';
import { echo, ok, parseExpose, problem, type Parsed } from '../spec/index.js';
import { repeated } from './context.js';
import type { FlagProblems } from './flag-problems.js';

export interface NetworkFlags {
  network?: string | string[] | undefined;
  'endpoint-mode'?: string | undefined;
  expose?: string | string[] | undefined;
}

/** `NAME` or `name=NAME,alias=A,...` (Docker's keys; `target` is taken for `name` too). */
export function parseNetworkFlag(text: string, flag = '--network'): Parsed<baton.NetworkAttachmentConfig.$Properties> {
  const bad = (why: string): Parsed<never> => problem(`bad ${flag} "${echo(text)}": ${why}`, why);
  if (!text.includes('=')) return text.trim() === '' ? bad('a network name is required') : ok({ target: text.trim(), aliases: [] });
  let target = '';
  const aliases: string[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return bad(`"${echo(part)}" is not KEY=VALUE (want name=NETWORK,alias=NAME)`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'name' || key === 'target') target = value;
    else if (key === 'alias') aliases.push(value);
    else if (key === 'driver-opt' || key === 'ip' || key === 'ip6' || key === 'link-local-ip') return bad(`${key} is not supported (each node gives its own addresses)`);
    else return bad(`unknown key "${echo(key)}" (want name, alias)`);
  }
  if (target === '') return bad('a network name is required (name=NETWORK)');
  return ok({ target, aliases });
}

const MODES: Record<string, baton.EndpointMode> = { vip: baton.EndpointMode.VIP, dnsrr: baton.EndpointMode.DNSRR };

export function parseEndpointMode(text: string): Parsed<baton.EndpointMode> {
  const mode = MODES[text];
  return mode === undefined ? problem(`bad --endpoint-mode "${echo(text)}" (want vip or dnsrr)`) : ok(mode);
}

/** The networks of `--network` flags, problems noted in `p`. */
export function networksFromFlags(values: string | string[] | undefined, p: FlagProblems, flag = '--network'): baton.NetworkAttachmentConfig.$Properties[] {
  return repeated(values).flatMap((text) => {
    const parsed = parseNetworkFlag(text, flag);
    if (parsed.ok) return [parsed.value];
    p.add(parsed.problem);
    return [];
  });
}

/** The ports of `--expose` flags, problems noted in `p`. */
export function exposeFromFlags(values: string | string[] | undefined, p: FlagProblems): baton.PortConfig.$Properties[] {
  return repeated(values).flatMap((text) => {
    const parsed = parseExpose(text);
    if (parsed.ok) return [parsed.value];
    p.add(parsed.problem);
    return [];
  });
}

/** `vip`/`dnsrr` as `service inspect --pretty` shows it (Docker's words). */
export function endpointModeText(mode: baton.EndpointMode | null | undefined): string {
  return mode === baton.EndpointMode.DNSRR ? 'dnsrr' : 'vip';
}
