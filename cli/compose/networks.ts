// Networks of a stack, as Docker's `stack deploy` makes them: the top-level `networks:` (each
// created as STACK_key, or the `name:` given, labelled with the stack; `external: true` ones
// must exist), a STACK_default network for the services that name none, and each service's
// `networks:` (a list, or a mapping with `aliases`), its short name added as an alias on every
// one so that `db` resolves inside the stack. Only networks some service uses are created.
//
// `driver: bridge` (a node-local network, Compose's default outside a swarm): Docker's stack
// deploy creates it and then fails at the first service ("The network X cannot be used with
// services. Only networks scoped to the swarm can be used, such as those created with the
// overlay driver."), leaving the network behind. Here the file is refused before anything is
// written, with those words and the fix.
import { BatonError, type baton } from '../../client/index.js';
import { DNS_COMPONENT_PATTERN, MAX_NAME_LENGTH, NETWORK_DRIVER, describeProblems, validateNetworkSpec } from '../../spec/index.js';
import type { Node } from './reader.js';
import { labels } from './values.js';

/** The network services join when they name none (Docker's). */
export const DEFAULT_NETWORK = 'default';

export interface NetworkDecl {
  /** The key under top-level `networks:` (or `default`). */
  key: string;
  /** The cluster network's name: STACK_key, the `name:` given, or the external name. */
  name: string;
  external: boolean;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  /** Where it was declared, for messages: `compose.yml: networks.front`. */
  where: string;
}

export function readNetworkDecls(section: Node, stack: string): NetworkDecl[] {
  return section.entries().map(([key, n]) => {
    // Compose allows `front:` with nothing under it: a network with every default.
    if (n.present && !n.isMap()) n.fail(`must be a mapping${n.got()}`);
    // Addresses and driver options belong to each node's own bridge here: harmless to ignore.
    n.checkKeys(['driver', 'external', 'name', 'internal', 'attachable', 'labels'], ['driver_opts', 'ipam', 'enable_ipv6']);
    const ext = n.child('external');
    const external = ext.isMap() ? (ext.checkKeys(['name']), true) : ext.present ? ext.bool() : false;
    const name = n.child('name').present ? n.child('name').string() : ext.isMap() && ext.child('name').present ? ext.child('name').string() : undefined;
    if (external) {
      // Docker's: "conflicting parameters "external" and "driver" specified for network".
      for (const k of ['driver', 'internal', 'attachable', 'labels']) if (n.child(k).present) n.child(k).fail('cannot be used with external: true (an external network is used as it is)');
    }
    const driver = n.child('driver');
    if (driver.present) {
      const d = driver.string();
      if (d === 'bridge' || d === 'host' || d === 'macvlan' || d === 'ipvlan' || d === 'none') {
        driver.fail(`is ${d}: the network ${name ?? `${stack}_${key}`} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver (write driver: overlay, or leave driver: out)`);
      }
      if (d !== NETWORK_DRIVER) driver.fail(`must be ${NETWORK_DRIVER} (got "${d}"): the only driver, a network that spans the cluster`);
    }
    const decl: NetworkDecl = {
      key,
      name: name ?? (external ? key : `${stack}_${key}`),
      external,
      internal: n.child('internal').present ? n.child('internal').bool() : false,
      attachable: n.child('attachable').present ? n.child('attachable').bool() : false,
      labels: labels(n.child('labels')),
      where: `${n.file}: ${n.path}`,
    };
    if (!external) checkName(decl, n);
    return decl;
  });
}

/** The network the managers will be asked to create must pass their check: said now, by path. */
function checkName(decl: NetworkDecl, n: Node): void {
  const problems = validateNetworkSpec({ annotations: { name: decl.name, labels: decl.labels }, driver: NETWORK_DRIVER });
  if (problems.length > 0) n.fail(`makes a network the manager would refuse: ${describeProblems(problems)}`);
}

/** The implicit STACK_default network, unless the file declares `default` itself. */
export function defaultNetwork(stack: string, decls: ReadonlyMap<string, NetworkDecl>, at: Node): NetworkDecl {
  const declared = decls.get(DEFAULT_NETWORK);
  if (declared) return declared;
  const decl: NetworkDecl = { key: DEFAULT_NETWORK, name: `${stack}_${DEFAULT_NETWORK}`, external: false, internal: false, attachable: false, labels: {}, where: `${at.file}: networks.${DEFAULT_NETWORK}` };
  const problems = validateNetworkSpec({ annotations: { name: decl.name }, driver: NETWORK_DRIVER });
  if (problems.length > 0) {
    throw new BatonError('INVALID_ARGUMENT', `stack ${stack}: its default network (for the services that name no network) would be ${decl.name}, which the manager would refuse: ${describeProblems(problems)}`);
  }
  return decl;
}

/**
 * A service's `networks:` as attachments by network name (the ids are filled in at deploy),
 * sorted by name as Docker's are; the service's short name is an alias on each. `used` collects
 * the declarations the stack needs.
 */
export function readServiceNetworks(
  key: string,
  n: Node,
  decls: ReadonlyMap<string, NetworkDecl>,
  fallback: () => NetworkDecl,
  used: Map<string, NetworkDecl>,
): baton.NetworkAttachmentConfig.$Properties[] {
  const list = n.child('networks');
  const named: [string, Node | undefined][] = list.isMap() ? list.entries().map(([k, v]) => [k, v]) : list.items().map((item) => [item.string(), item]);
  // None named (absent or empty): the stack's default network, as Docker's.
  const entries: [string, Node | undefined][] = named.length > 0 ? named : [[DEFAULT_NETWORK, undefined]];
  // The short name is an alias only when a DNS name can hold it (`web.v2` cannot).
  const shortAlias = key.length <= MAX_NAME_LENGTH && DNS_COMPONENT_PATTERN.test(key);
  if (!shortAlias) n.warn("has a name that is not a DNS name component (letters, digits, '-' and '_'), so it is not an alias on its networks: other services reach it by its full service name");
  const out = entries.map(([net, at]) => {
    const decl = net === DEFAULT_NETWORK ? fallback() : decls.get(net);
    if (!decl) return (at ?? list).fail(`refers to network "${net}", which is not declared under top-level networks:`);
    used.set(decl.key, decl);
    const aliases: string[] = [];
    if (at?.isMap()) {
      at.checkKeys(['aliases'], ['ipv4_address', 'ipv6_address', 'link_local_ips', 'priority', 'mac_address', 'driver_opts']);
      aliases.push(...at.child('aliases').stringList());
    } else if (at?.present && list.isMap()) {
      at.fail(`must be a mapping (aliases: [...]) or empty${at.got()}`);
    }
    if (shortAlias && !aliases.includes(key)) aliases.push(key);
    return { target: decl.name, aliases };
  });
  return out.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** A network on the cluster, as the stack sees it. */
export interface StoredNetwork {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface NetworkPlan {
  /** name → id of every network the stack's services join (new ones filled in by apply). */
  ids: Map<string, string>;
  create: { decl: NetworkDecl; spec: baton.NetworkSpec.$Properties }[];
}

/**
 * What the stack's networks need on the cluster: existing ones are kept (a re-deploy creates
 * only what is missing), external ones must exist, and a network of that name outside the
 * stack is not taken over. Every problem before anything is written.
 */
export function planNetworks(stack: string, used: readonly NetworkDecl[], stored: readonly StoredNetwork[], namespaceLabel: string): NetworkPlan {
  const byName = new Map(stored.map((n) => [n.name, n]));
  const plan: NetworkPlan = { ids: new Map(), create: [] };
  const problems: string[] = [];
  for (const decl of used) {
    const current = byName.get(decl.name) ?? (decl.external ? stored.find((n) => n.id === decl.name) : undefined);
    if (decl.external) {
      if (!current) problems.push(`network "${decl.name}" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`);
      else plan.ids.set(decl.name, current.id);
      continue;
    }
    if (current) {
      if (current.labels[namespaceLabel] !== stack) problems.push(`${decl.where}: a network named ${decl.name} already exists and is not part of stack ${stack} (declare it external: true to use it)`);
      else plan.ids.set(decl.name, current.id);
      continue;
    }
    plan.create.push({
      decl,
      spec: { annotations: { name: decl.name, labels: { ...decl.labels, [namespaceLabel]: stack } }, driver: NETWORK_DRIVER, internal: decl.internal, attachable: decl.attachable },
    });
  }
  if (problems.length > 0) throw new BatonError(problems.every((p) => p.includes('could not be found')) ? 'NOT_FOUND' : 'FAILED_PRECONDITION', describeProblems(problems));
  return plan;
}
