// `baton network create|ls|inspect|rm`: cluster-scoped networks (Docker's overlay, the only
// driver), in Docker's shapes: `ls` with NETWORK ID/NAME/DRIVER/SCOPE, `inspect` a JSON array
// of Docker's fields, `rm` printing each network removed and going on past a refused one.
import type { Argv } from 'yargs';
import { BatonError, type baton } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { json, print } from './output.js';
import { labelMatches, parseFilters, type FilterKeys, type ParsedFilters } from './filters.js';
import { printList } from './list-format.js';
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

/**
 * `--filter` of `network ls`, Docker's keys: name= and id= match part of the name or id, label=K
 * or K=V (every one given must match), driver= and scope= the driver and scope.
 */
const NETWORK_FILTERS: FilterKeys<Network> = {
  name: (n, x) => (n.spec?.annotations?.name ?? '').includes(x),
  id: (n, x) => (n.meta?.id ?? '').includes(x),
  label: (n, x) => labelMatches(n.spec?.annotations?.labels, x),
  driver: (n, x) => (n.spec?.driver || NETWORK_DRIVER) === x,
  scope: (_n, x) => x === SCOPE,
};

export function parseNetworkFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(NETWORK_FILTERS), {}, ['label']);
}

export function filterNetworks(list: readonly Network[], filters: ParsedFilters): Network[] {
  return filters.apply(list, NETWORK_FILTERS);
}

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
        c
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'only IDs' })
          .option('format', { type: 'string', requiresArg: true, describe: "table (default), json, or a Go template: '{{.ID}} {{.Name}}'" })
          .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'name=PART, id=PART, label=K[=V], driver=overlay, scope=swarm (repeatable)' }),
      (args) => {
        const filters = parseNetworkFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const list = filterNetworks(await client.listNetworks({ labels: [...filters.get('label')] }), filters);
          list.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
          // Docker's fields for --format templates; the default table as before.
          const row = (n: Network): Record<string, string> => ({
            ID: n.meta?.id ?? '',
            Name: n.spec?.annotations?.name ?? '',
            Driver: n.spec?.driver || NETWORK_DRIVER,
            Scope: SCOPE,
            Internal: String(n.spec?.internal ?? false),
            Labels: Object.entries(n.spec?.annotations?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
          });
          const headers = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Internal: 'INTERNAL', Labels: 'LABELS' };
          printList(args, list, { json: inspectNetwork, id: (n) => n.meta?.id ?? '', headers, columns: ['ID', 'Name', 'Driver', 'Scope'], row });
        });
      },
    )
    .command<GlobalArgs & { refs: string[] }>(
      'inspect <refs..>',
      'Show networks in detail (a JSON array, as Docker)',
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }),
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
          if (out.length > 0 || missing.length === 0) print(json(out.map(inspectNetwork)));
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
