// A Compose service's container options, mapped as Docker's stack deploy maps them onto the
// service's ContainerSpec (hostname, user, group_add, labels, init, read_only, cap_add/cap_drop,
// sysctls, ulimits, stop_signal, extra_hosts, tty, dns, dns_search, dns_opt) and its task's log
// driver (logging).
import type { baton } from '../../client/index.js';
import { labels, stringMap } from './values.js';
import type { Node } from './reader.js';
import { parseDnsNameserver, parseDnsOption, parseDnsSearch, type Parsed } from '../../spec/index.js';

export const CONTAINER_OPTION_KEYS = [
  'hostname', 'user', 'group_add', 'labels', 'init', 'read_only', 'cap_add', 'cap_drop', 'sysctls',
  'ulimits', 'stop_signal', 'extra_hosts', 'tty', 'logging', 'dns', 'dns_search', 'dns_opt',
];

export interface ContainerOptions {
  container: Pick<
    baton.ContainerSpec.$Properties,
    'hostname' | 'user' | 'groups' | 'labels' | 'init' | 'readOnly' | 'capabilityAdd' | 'capabilityDrop' | 'sysctls' | 'ulimits' | 'stopSignal' | 'hosts' | 'tty' | 'dnsConfig'
  >;
  logDriver: baton.LogDriver.$Properties | undefined;
}

/** `namespaceLabel` goes on the containers too, as Docker puts the stack's label on them. */
export function readContainerOptions(n: Node, namespaceLabel: Record<string, string>): ContainerOptions {
  const text = (key: string): string => (n.child(key).present ? n.child(key).text() : '');
  const flag = (key: string): boolean => (n.child(key).present ? n.child(key).bool() : false);
  const caps = capabilities(n.child('cap_add'), n.child('cap_drop'));
  return {
    container: {
      hostname: text('hostname'),
      user: text('user'),
      groups: n.child('group_add').items().map((g) => g.text()),
      labels: { ...labels(n.child('labels')), ...namespaceLabel },
      init: flag('init'),
      readOnly: flag('read_only'),
      capabilityAdd: caps.add,
      capabilityDrop: caps.drop,
      sysctls: keyValues(n.child('sysctls')),
      ulimits: ulimits(n.child('ulimits')),
      stopSignal: text('stop_signal'),
      hosts: extraHosts(n.child('extra_hosts')),
      tty: flag('tty'),
      dnsConfig: {
        nameservers: dnsList(n.child('dns'), parseDnsNameserver),
        search: dnsList(n.child('dns_search'), parseDnsSearch),
        options: dnsList(n.child('dns_opt'), parseDnsOption),
      },
    },
    logDriver: logging(n.child('logging')),
  };
}

/**
 * Docker's normalisation: upper case, CAP_ prefixed (ALL as it is), each once; a capability both
 * added and dropped is added; ALL on one side stands alone.
 */
function capabilities(addNode: Node, dropNode: Node): { add: string[]; drop: string[] } {
  const norm = (list: Node): string[] => {
    const out = list.items().map((item) => {
      const cap = item.text().trim().toUpperCase();
      if (cap === '') item.fail('must not be empty');
      return cap === 'ALL' || cap.startsWith('CAP_') ? cap : `CAP_${cap}`;
    });
    return [...new Set(out)].sort();
  };
  let add = norm(addNode);
  let drop = norm(dropNode);
  if (add.includes('ALL')) add = ['ALL'];
  if (drop.includes('ALL')) drop = ['ALL'];
  drop = drop.filter((c) => !add.includes(c));
  return { add, drop };
}

/** `sysctls:` as a mapping or a list of `k=v`. */
function keyValues(n: Node): Record<string, string> {
  if (n.isMap() || !n.present) return stringMap(n);
  return Object.fromEntries(
    n.items().map((item) => {
      const s = item.text();
      const eq = s.indexOf('=');
      if (eq <= 0) item.fail(`must be NAME=VALUE${item.got()}`);
      return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
    }),
  );
}

/** `nofile: 1024` (soft and hard) or `nofile: {soft: 1024, hard: 2048}`; sorted by name. */
function ulimits(n: Node): baton.Ulimit.$Properties[] {
  return n
    .entries()
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, v]) => {
      if (!v.isMap()) {
        const both = v.int(0, Number.MAX_SAFE_INTEGER);
        return { name, soft: both, hard: both };
      }
      v.checkKeys(['soft', 'hard']);
      if (!v.child('soft').present || !v.child('hard').present) v.fail('needs both soft and hard (or one number for both)');
      const soft = v.child('soft').int(0, Number.MAX_SAFE_INTEGER);
      const hard = v.child('hard').int(0, Number.MAX_SAFE_INTEGER);
      if (soft > hard) v.fail(`has a soft limit (${soft}) above its hard limit (${hard})`);
      return { name, soft, hard };
    });
}

/** `dns:`, `dns_search:`, `dns_opt:`: a string or a list of them, each checked as the flags are. */
function dnsList(n: Node, parse: (text: string, flag: string) => Parsed<string>): string[] {
  const items = n.present && !Array.isArray(n.value) ? [n] : n.items();
  return items.map((item) => {
    const parsed = parse(item.text(), 'value');
    return parsed.ok ? parsed.value : item.fail(`is ${parsed.why}${item.got()}`);
  });
}

/** `extra_hosts:` as `host:ip` / `host=ip` items or a `host: ip` mapping → "HOST:IP" lines. */
function extraHosts(n: Node): string[] {
  if (n.isMap()) return n.entries().map(([host, ip]) => hostLine(host, ip.text(), ip));
  return n.items().map((item) => {
    const s = item.text().trim();
    const cut = s.search(/[:=]/);
    if (cut <= 0) return item.fail(`must be HOST:IP${item.got()}`);
    return hostLine(s.slice(0, cut), s.slice(cut + 1), item);
  });
}

function hostLine(host: string, ip: string, at: Node): string {
  const address = ip.trim().replace(/^\[(.*)\]$/, '$1');
  if (host.trim() === '' || address === '') at.fail(`must be HOST:IP${at.got()}`);
  return `${host.trim()}:${address}`;
}

function logging(n: Node): baton.LogDriver.$Properties | undefined {
  if (!n.present) return undefined;
  n.checkKeys(['driver', 'options']);
  const driver = n.child('driver');
  const options = keyValues(n.child('options'));
  // Options without a driver go to the engine's default driver, as Docker sends them.
  return { name: driver.present ? driver.string() : '', options };
}
