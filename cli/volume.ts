// `baton volume ls|inspect|rm`: the named volumes baton made, on every node of the cluster, in
// Docker's shapes plus the node each is on: `ls` with DRIVER/VOLUME NAME/NODE, `inspect` a JSON
// array of Docker's fields, `rm` printing each volume removed and going on past a refused one. A
// node that did not answer is a warning on stderr; the others' volumes are still shown.
import type { Argv } from 'yargs';
import { BatonError, type baton } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { labelMatches, oneOf, parseFilters, type FilterKeys, type ParsedFilters } from './filters.js';
import { print } from './output.js';
import { printList, renderInspect, type ListView, type Row } from './list-format.js';
import { echo } from '../spec/index.js';
import { volumeChangeCommands } from './volume-create.js';

type Volume = baton.Volume.$Properties;

/**
 * `--filter` of `volume ls`, as Docker's: name= matches part of the name, label=K or K=V (every
 * one given must match), driver= the driver, dangling=true what no task or container uses; and
 * node= the node's id, an id prefix or hostname. Several values of another key: any of them.
 */
const VOLUME_FILTERS: FilterKeys<Volume> = {
  name: (v, x) => (v.name ?? '').includes(x),
  label: (v, x) => labelMatches(v.labels, x),
  driver: (v, x) => v.driver === x,
  node: (v, x) => x !== '' && ((v.nodeId ?? '').startsWith(x) || v.node === x),
  // Docker takes true/false and 1/0.
  dangling: (v, x) => ((v.usedBy ?? []).length === 0) === (x === 'true' || x === '1'),
};

export function parseVolumeFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(VOLUME_FILTERS), { dangling: oneOf('dangling', ['true', 'false', '1', '0']) });
}

export function filterVolumes(list: readonly Volume[], filters: ParsedFilters): Volume[] {
  return filters.apply(list, VOLUME_FILTERS);
}

/** Docker's `volume inspect` fields, and the node the volume is on. */
export function inspectVolume(v: Volume): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt ?? '',
    Driver: v.driver ?? '',
    Labels: { ...(v.labels ?? {}) },
    Mountpoint: v.mountpoint ?? '',
    Name: v.name ?? '',
    Options: { ...(v.options ?? {}) },
    Scope: v.scope || 'local',
    Node: { ID: v.nodeId ?? '', Name: v.node ?? '' },
    UsedBy: [...(v.usedBy ?? [])],
  };
}

/**
 * A `volume ls` row: Docker's fields (docker/cli formatter/volume.go: Availability, Driver, Group,
 * Labels, Links, Mountpoint, Name, Scope, Size, Status; the cluster-volume ones and the usage
 * ones N/A as Docker's for local volumes), and baton's Node: one row per volume per node.
 */
export function volumeRow(v: Volume): Row {
  return {
    Name: v.name ?? '',
    Driver: v.driver ?? '',
    Scope: v.scope || 'local',
    Mountpoint: v.mountpoint ?? '',
    Labels: Object.entries(v.labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','),
    Links: 'N/A',
    Size: 'N/A',
    Group: 'N/A',
    Availability: 'N/A',
    Status: 'N/A',
    Node: v.node ?? '',
  };
}

/** `volume ls`'s listing: Docker's columns DRIVER and VOLUME NAME, then the node. */
export const VOLUME_VIEW: ListView<Volume> = {
  id: (v) => v.name ?? '',
  headers: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Group: 'GROUP', Availability: 'AVAILABILITY', Status: 'STATUS', Node: 'NODE' },
  columns: ['Driver', 'Name', 'Node'],
  row: volumeRow,
};

/** `-q`: each name once, whatever the number of nodes that have it. */
export function volumeNames(list: readonly Volume[]): string {
  return [...new Set(list.map((v) => v.name ?? ''))].join('\n');
}

/** The names `inspect` was given that no node answered with. */
export function missingVolumes(names: readonly string[], found: readonly Volume[]): string[] {
  return names.filter((n) => !found.some((v) => v.name === n));
}

function warn(warnings: readonly string[] | null | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`Warning: ${w}\n`);
}

type NodeArgs = GlobalArgs & { names: string[]; node?: string; format?: string };

export function volumeCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return volumeChangeCommands(y)
    .command<GlobalArgs & { quiet?: boolean; format?: string; filter?: string | string[] }>(
      ['ls', 'list'],
      'List the volumes baton made, on every node',
      (c) =>
        c
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'only names' })
          .option('format', { type: 'string', requiresArg: true, describe: "table (default), json, or a Go template: '{{.Name}} {{.Node}}'" })
          .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'name=PART, label=K[=V], driver=D, node=ID|HOSTNAME, dangling=true|false (repeatable)' }),
      (args) => {
        const filters = parseVolumeFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const res = await client.control.call('ListVolumes', {});
          warn(res.warnings);
          const list = filterVolumes(res.volumes ?? [], filters);
          if (args.quiet) return print(volumeNames(list));
          printList(args, list, VOLUME_VIEW);
        });
      },
    )
    .command<NodeArgs>(
      'inspect <names..>',
      'Show volumes in detail (a JSON array, as Docker; one entry per node that has the name)',
      (c) =>
        c
          .positional('names', { type: 'string', array: true, demandOption: true })
          .option('node', { type: 'string', requiresArg: true, describe: 'only on this node (id or hostname)' })
          .option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' }),
      (args) =>
        withClient(args, async (client) => {
          const res = await client.control.call('ListVolumes', { names: args.names, node: args.node ?? '' });
          warn(res.warnings);
          const found = res.volumes ?? [];
          // As Docker: the volumes found are printed, then one error naming the others.
          const missing = missingVolumes(args.names, found);
          if (found.length > 0 || missing.length === 0) print(renderInspect(args.format, found.map(inspectVolume)));
          if (missing.length > 0) throw new BatonError('NOT_FOUND', missing.map((n) => `no such volume: ${echo(n)}`).join('; '));
        }),
    )
    .command<NodeArgs & { force?: boolean }>(
      ['rm <names..>', 'remove <names..>'],
      'Remove volumes from every node that has them (refused while a task uses one)',
      (c) =>
        c
          .positional('names', { type: 'string', array: true, demandOption: true })
          .option('node', { type: 'string', requiresArg: true, describe: 'only on this node (id or hostname)' })
          .option('force', { alias: 'f', type: 'boolean', describe: 'a volume that is not there is no error (one in use still is, as Docker)' }),
      (args) =>
        withClient(args, async (client) => {
          await removeEach(
            args.names,
            async (name) => {
              const res = await client.control.call('RemoveVolume', { name, node: args.node ?? '', force: args.force ?? false });
              warn(res.warnings);
            },
            print,
          );
        }),
    )
    .demandCommand(1, 'baton volume needs a subcommand: create, ls, inspect, rm, prune');
}
