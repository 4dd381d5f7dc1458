// `service create` flags to a ServiceSpec, the Docker way; each bad value is one clear error.
import { baton, BatonError } from '../client/index.js';
import { repeated } from './context.js';
import { parseConfigRef, parseSecretRef } from './data-refs.js';

export interface CreateFlags {
  name?: string | undefined;
  replicas?: number | undefined;
  mode?: string | undefined;
  publish?: string | string[] | undefined;
  env?: string | string[] | undefined;
  'limit-memory'?: string | undefined;
  'limit-cpu'?: string | undefined;
  'reserve-memory'?: string | undefined;
  'reserve-cpu'?: string | undefined;
  constraint?: string | string[] | undefined;
  'restart-condition'?: string | undefined;
  'restart-delay'?: string | undefined;
  'restart-max-attempts'?: number | undefined;
  'restart-window'?: string | undefined;
  runtime?: string | undefined;
  workdir?: string | undefined;
  'stop-grace-period'?: string | undefined;
  secret?: string | string[] | undefined;
  config?: string | string[] | undefined;
  balance?: string | undefined;
  image?: string | undefined;
  command?: (string | number)[] | undefined;
}

export function parseBytes(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(text.trim());
  if (!m) throw new BatonError('INVALID_ARGUMENT', `bad size "${text}" for ${flag} (want e.g. 64m, 1g)`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

export function parseCpus(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new BatonError('INVALID_ARGUMENT', `bad CPU count "${text}" for ${flag} (want e.g. 0.5)`);
  return Math.round(n * 1e9);
}

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new BatonError('INVALID_ARGUMENT', `bad duration "${text}" for ${flag} (want e.g. 500ms, 5s, 1m)`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]!]!);
}

const PROXY: Record<string, baton.ProxyProtocol> = { none: baton.ProxyProtocol.PROXY_NONE, v1: baton.ProxyProtocol.PROXY_V1, v2: baton.ProxyProtocol.PROXY_V2 };

const BALANCE: Record<string, baton.BalanceMode> = {
  'round-robin': baton.BalanceMode.ROUND_ROBIN,
  'least-connections': baton.BalanceMode.LEAST_CONNECTIONS,
};

/** `--balance round-robin|least-connections`: how the mesh picks a task for a new connection. */
export function parseBalance(text: string | undefined): baton.BalanceMode {
  if (text === undefined) return baton.BalanceMode.ROUND_ROBIN;
  const mode = BALANCE[text];
  if (mode === undefined) throw new BatonError('INVALID_ARGUMENT', `bad --balance "${text}" (want round-robin or least-connections)`);
  return mode;
}

/**
 * `8080:80`, `80`, `8080:80/udp`, or `mode=host,target=80,published=8080,protocol=tcp` (long
 * syntax, which also takes `proxy-protocol=v1|v2`: the mesh tells the task the client's address).
 */
export function parsePort(text: string): baton.PortConfig.$Properties {
  const bad = (why: string): never => {
    throw new BatonError('INVALID_ARGUMENT', `bad --publish "${text}": ${why}`);
  };
  const port = (s: string | undefined, what: string): number => {
    const n = Number(s);
    if (!s || !Number.isInteger(n) || n < 1 || n > 65535) bad(`${what} port must be 1-65535`);
    return n;
  };
  const proto = (s: string | undefined): baton.PortProtocol => {
    if (s === undefined || s === 'tcp') return baton.PortProtocol.TCP;
    if (s === 'udp') return baton.PortProtocol.UDP;
    return bad('protocol must be tcp or udp');
  };
  if (text.includes('=')) {
    const kv = Object.fromEntries(text.split(',').map((p) => p.split('=') as [string, string]));
    for (const k of Object.keys(kv)) if (!['mode', 'target', 'published', 'protocol', 'proxy-protocol'].includes(k)) bad(`unknown key "${k}"`);
    const mode = kv.mode ?? 'ingress';
    if (mode !== 'ingress' && mode !== 'host') bad('mode must be ingress or host');
    const proxy = kv['proxy-protocol'];
    if (proxy !== undefined && !(proxy in PROXY)) bad('proxy-protocol must be v1, v2 or none');
    if (proxy !== undefined && proxy !== 'none' && mode === 'host') bad('proxy-protocol needs the routing mesh (mode=ingress)');
    if (proxy !== undefined && proxy !== 'none' && kv.protocol === 'udp') bad('proxy-protocol is for tcp ports only');
    return {
      targetPort: port(kv.target, 'target'),
      publishedPort: kv.published ? port(kv.published, 'published') : 0,
      protocol: proto(kv.protocol),
      publishMode: mode === 'host' ? baton.PublishMode.HOST : baton.PublishMode.INGRESS,
      ...(proxy !== undefined && proxy !== 'none' ? { proxyProtocol: PROXY[proxy]! } : {}),
    };
  }
  const [ports, protocol] = text.split('/');
  const parts = (ports ?? '').split(':');
  if (parts.length > 2) bad('want [published:]target[/protocol]');
  const target = port(parts[parts.length - 1], 'target');
  const published = parts.length === 2 ? port(parts[0], 'published') : 0;
  return { targetPort: target, publishedPort: published, protocol: proto(protocol), publishMode: baton.PublishMode.INGRESS };
}

const CONDITIONS: Record<string, baton.RestartCondition> = {
  any: baton.RestartCondition.RESTART_ANY,
  'on-failure': baton.RestartCondition.RESTART_ON_FAILURE,
  none: baton.RestartCondition.RESTART_NONE,
};

export function specFromFlags(f: CreateFlags): baton.ServiceSpec.$Properties {
  const runtime = f.runtime ?? 'docker';
  const words = (f.command ?? []).map(String);
  if (f.mode !== undefined && f.mode !== 'replicated' && f.mode !== 'global') {
    throw new BatonError('INVALID_ARGUMENT', `bad --mode "${f.mode}" (want replicated or global)`);
  }
  if (f.replicas !== undefined && (!Number.isInteger(f.replicas) || f.replicas < 0)) {
    throw new BatonError('INVALID_ARGUMENT', `bad --replicas ${String(f.replicas)} (want a whole number >= 0)`);
  }
  const condition = f['restart-condition'];
  if (condition !== undefined && !(condition in CONDITIONS)) {
    throw new BatonError('INVALID_ARGUMENT', `bad --restart-condition "${condition}" (want any, on-failure or none)`);
  }
  const container: baton.ContainerSpec.$Properties =
    runtime === 'process'
      ? { command: [f.image ?? '', ...words].filter(Boolean), args: [] }
      : { image: f.image ?? '', args: words };
  container.env = repeated(f.env);
  if (f.workdir) container.dir = f.workdir;
  container.secrets = repeated(f.secret).map(parseSecretRef);
  container.configs = repeated(f.config).map(parseConfigRef);
  if (f['stop-grace-period']) container.stopGraceMs = parseDuration(f['stop-grace-period'], '--stop-grace-period');
  return {
    annotations: { name: f.name ?? '' },
    global: f.mode === 'global',
    ...(f.mode !== 'global' ? { replicas: f.replicas ?? 1 } : {}),
    task: {
      runtime,
      container,
      resources: {
        limits: {
          memoryBytes: f['limit-memory'] ? parseBytes(f['limit-memory'], '--limit-memory') : 0,
          nanoCpus: f['limit-cpu'] ? parseCpus(f['limit-cpu'], '--limit-cpu') : 0,
        },
        reservations: {
          memoryBytes: f['reserve-memory'] ? parseBytes(f['reserve-memory'], '--reserve-memory') : 0,
          nanoCpus: f['reserve-cpu'] ? parseCpus(f['reserve-cpu'], '--reserve-cpu') : 0,
        },
      },
      restart: {
        condition: CONDITIONS[condition ?? 'any']!,
        delayMs: f['restart-delay'] ? parseDuration(f['restart-delay'], '--restart-delay') : 5000,
        maxAttempts: f['restart-max-attempts'] ?? 0,
        windowMs: f['restart-window'] ? parseDuration(f['restart-window'], '--restart-window') : 0,
      },
      placement: { constraints: repeated(f.constraint) },
    },
    endpoint: { ports: repeated(f.publish).map(parsePort), balance: parseBalance(f.balance) },
  };
}
