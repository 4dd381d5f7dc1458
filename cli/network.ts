// `baton network create|ls|inspect|rm`: cluster-scoped networks (Docker's overlay, the only
// driver), in Docker's shapes: `ls` with NETWORK ID/NAME/DRIVER/SCOPE, `inspect` a JSON array
// of Docker's fields, `rm` printing each network removed and going on past a refused one.
import type { Argv } from 'yargs';
import { BatonError, type baton } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { print } from './output.js';
import { labelMatches, oneOf, parseFilters, type FilterKeys, type ParsedFilters, type ValueChecks } from './filters.js';
import { formatOptions, printList, renderInspect, type ListView, type Row } from './list-format.js';
import { NETWORK_DRIVER, echo, validateNetworkSpec } from '../spec/index.js';

type Network = baton.Network.$Properties;

/** Every network here is cluster-wide, Docker's "swarm" scope. */
const SCOPE = 'swarm';

/** `--label KEY=VALUE` (or KEY, an empty value), problems noted in `p`. */
export function parseLabels(values: string[], p: FlagProblems): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of values) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (!key) p.add(`bad --label "${echo(l)}" (want KEY=VALUE)`);
    else labels[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return labels;
}

/** The spec `network create`'s flags describe, checked as the manager will (every problem at once). */
export function networkSpecFromFlags(f: { name: string; driver?: string | undefined; attachable?: boolean | undefined; internal?: boolean | undefined; label?: string | string[] | undefined }): baton.NetworkSpec.$Properties {
  const p = new FlagProblems();
  const spec: baton.NetworkSpec.$Properties = {
    annotations: { name: f.name, labels: parseLabels(repeated(f.label), p) },
    driver: f.driver ?? NETWORK_DRIVER,
    attachable: f.attachable ?? false,
    internal: f.internal ?? false,
  };
  for (const problem of validateNetworkSpec(spec)) p.add(problem);
  p.check();
  return spec;
}

/** A network as `network ls` filters it: and whether a service joins it (for dangling=). */
export interface ListedNetwork {
  network: Network;
  inUse: boolean;
}

const TRUE = ['true', '1'];

/**
 * `--filter` of `network ls`, Docker's keys: name= and id= match part of the name or id, label=K
 * or K=V (every one given must match), driver= and scope= the driver and scope; type=custom|builtin
 * (every network here is made by a user: Docker's builtin ones, bridge, host, none and ingress,
 * have no counterpart in the list), dangling=true|false (true: no service joins it; Docker's
 * "not used by any container or service", builtin ones never dangling).
 */
const NETWORK_FILTERS: FilterKeys<ListedNetwork> = {
  name: ({ network: n }, x) => (n.spec?.annotations?.name ?? '').includes(x),
  id: ({ network: n }, x) => (n.meta?.id ?? '').includes(x),
  label: ({ network: n }, x) => labelMatches(n.spec?.annotations?.labels, x),
  driver: ({ network: n }, x) => (n.spec?.driver || NETWORK_DRIVER) === x,
  scope: (_n, x) => x === SCOPE,
  type: (_n, x) => x === 'custom',
  dangling: ({ inUse }, x) => !inUse === TRUE.includes(x.toLowerCase()),
};

/** Docker's words for a bad value: "invalid filter 'type=x'". */
const NETWORK_CHECKS: ValueChecks = { type: oneOf('type', ['custom', 'builtin']), dangling: oneOf('dangling', ['true', 'false', '1', '0']) };

export function parseNetworkFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(NETWORK_FILTERS), NETWORK_CHECKS);
}

/** The networks the filters keep; `services` (any, when no dangling= is given) tell which are used. */
export function filterNetworks(list: readonly Network[], filters: ParsedFilters, services: readonly baton.Service.$Properties[] = []): Network[] {
  const used = new Set(services.flatMap((s) => (s.spec?.task?.networks ?? []).map((a) => a.target ?? '')));
  const listed = list.map((network) => ({ network, inUse: used.has(network.meta?.id ?? '') || used.has(network.spec?.annotations?.name ?? '') }));
  return filters.apply(listed, NETWORK_FILTERS).map((l) => l.network);
}

/** Go's time.String() of a UTC time, as `network ls`'s CreatedAt: 2026-12-07 04:09:57.12 +0000 UTC. */
export function goTimeText(ms: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}

/**
 * A `network ls` row: Docker's fields (docker/cli network/formatter.go: CreatedAt, Driver, ID,
 * IPv4, IPv6, Internal, Labels, Name, Scope). Overlay networks here carry IPv4 only.
 */
export function networkRow(n: Network): Row {
  return {
    ID: n.meta?.id ?? '',
    Name: n.spec?.annotations?.name ?? '',
    Driver: n.spec?.driver || NETWORK_DRIVER,
    Scope: SCOPE,
    IPv4: 'true',
    IPv6: 'false',
    Internal: String(n.spec?.internal ?? false),
    Labels: Object.entries(n.spec?.annotations?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    CreatedAt: goTimeText(Number(n.meta?.createdAt ?? 0)),
  };
}

export const NETWORK_VIEW: ListView<Network> = {
  id: (n) => n.meta?.id ?? '',
  headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' },
  columns: ['ID', 'Name', 'Driver', 'Scope'],
  row: networkRow,
};

/** Docker's `network inspect` fields. */
export function inspectNetwork(n: Network): Record<string, unknown> {
  return {
    Name: n.spec?.annotations?.name ?? '',
    Id: n.meta?.id ?? '',
    Created: new Date(Number(n.meta?.createdAt ?? 0)).toISOString(),
    Scope: SCOPE,
    Driver: n.spec?.driver || NETWORK_DRIVER,
    Internal: n.spec?.internal ?? false,
    Attachable: n.spec?.attachable ?? false,
    Ingress: false,
    Labels: { ...(n.spec?.annotations?.labels ?? {}) },
  };
}

type CreateArgs = GlobalArgs & { name: string; driver?: string; attachable?: boolean; internal?: boolean; label?: string | string[] };

export function networkCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<CreateArgs>(
      'create <name>',
      'Create a network services can join to reach each other by name',
      (c) =>
        c
          .positional('name', { type: 'string', demandOption: true })
          .option('driver', { alias: 'd', type: 'string', requiresArg: true, describe: 'overlay (the default, and the only one: the network spans the cluster)' })
          .option('attachable', { type: 'boolean', describe: "accepted and shown, as Docker's (baton runs no standalone containers)" })
          .option('internal', { type: 'boolean', describe: 'no route out of the nodes: tasks reach only each other' })
          .option('label', { type: 'string', requiresArg: true, describe: 'KEY=VALUE (repeatable)' }),
      (args) => {
        // Checked before connecting: a bad flag is one line and nothing is sent.
        const spec = networkSpecFromFlags(args);
        return withClient(args, async (client) => {
          const created = await client.createNetwork(spec);
          print(created.meta?.id ?? '');
        });
      },
    )
    .command<GlobalArgs & { quiet?: boolean; format?: string; filter?: string | string[] }>(
      ['ls', 'list'],
      'List networks',
      (c) =>
        formatOptions(c).option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'name=PART, id=PART, label=K[=V], driver=overlay, scope=swarm, type=custom|builtin, dangling=true|false (repeatable)' }),
      (args) => {
        const filters = parseNetworkFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const networks = await client.listNetworks({ labels: [...filters.get('label')] });
          // Which networks services join is asked only when dangling= needs it.
          const services = filters.get('dangling').length > 0 ? await client.list('ListServices') : [];
          const list = filterNetworks(networks, filters, services);
          list.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
          printList(args, list, NETWORK_VIEW);
        });
      },
    )
    .command<GlobalArgs & { refs: string[]; format?: string }>(
      'inspect <refs..>',
      'Show networks in detail (a JSON array, as Docker, or --format)',
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }).option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' }),
      (args) =>
        withClient(args, async (client) => {
          // As Docker: the networks found are printed, then one error naming the others.
          const out: Network[] = [];
          const missing: string[] = [];
          for (const ref of args.refs) {
            try {
              out.push(await client.getNetwork(ref));
            } catch (err) {
              if (!(err instanceof BatonError) || err.code !== 'NOT_FOUND') throw err;
              missing.push(err.message);
            }
          }
          if (out.length > 0 || missing.length === 0) print(renderInspect(args.format, out.map(inspectNetwork)));
          if (missing.length > 0) throw new BatonError('NOT_FOUND', missing.join('; '));
        }),
    )
    .command<GlobalArgs & { refs: string[] }>(
      ['rm <refs..>', 'remove <refs..>'],
      'Remove networks (refused while a service uses one)',
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }),
      (args) =>
        withClient(args, async (client) => {
          await removeEach(args.refs, (ref) => client.removeNetwork(ref), print);
        }),
    )
    .demandCommand(1, 'baton network needs a subcommand: create, ls, inspect, rm');
}
