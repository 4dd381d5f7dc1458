// `baton volume ls|inspect|rm`: the named volumes baton made, on every node of the cluster, in
// Docker's shapes plus the node each is on: `ls` with DRIVER/VOLUME NAME/NODE, `inspect` a JSON
// array of Docker's fields, `rm` printing each volume removed and going on past a refused one. A
// node that did not answer is a warning on stderr; the others' volumes are still shown.
import type { Argv } from 'yargs';
import { BatonError, type baton } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { json, print, table } from './output.js';
import { echo } from '../spec/index.js';
import { volumeChangeCommands } from './volume-create.js';

type Volume = baton.Volume.$Properties;

/** `--filter` of `volume ls`: Docker's keys, and node= (an id, id prefix or hostname). */
export interface VolumeFilters {
  names: string[];
  labels: string[];
  drivers: string[];
  nodes: string[];
  dangling?: boolean;
}

export function parseVolumeFilters(values: readonly string[]): VolumeFilters {
  const f: VolumeFilters = { names: [], labels: [], drivers: [], nodes: [] };
  const p = new FlagProblems();
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    const value = v.slice(eq + 1);
    if (eq < 0) p.add(`bad --filter "${echo(v)}" (want KEY=VALUE)`);
    else if (key === 'name') f.names.push(value);
    else if (key === 'label') f.labels.push(value);
    else if (key === 'driver') f.drivers.push(value);
    else if (key === 'node') f.nodes.push(value);
    else if (key === 'dangling') {
      // Docker takes true/false and 1/0.
      if (value === 'true' || value === '1') f.dangling = true;
      else if (value === 'false' || value === '0') f.dangling = false;
      else p.add(`bad --filter "${echo(v)}" (dangling= wants true or false)`);
    } else p.add(`bad --filter "${echo(v)}" (want name=, label=, driver=, node= or dangling=)`);
  }
  p.check();
  return f;
}

/**
 * Whether a volume passes the filters, as Docker's: name= matches part of the name, label=K or
 * K=V, driver= the driver; node= the node's id, an id prefix or hostname; dangling=true what no
 * task or container uses. Several values of one key: any of them; different keys: all.
 */
export function matchesVolumeFilters(v: Volume, f: VolumeFilters): boolean {
  const name = v.name ?? '';
  const labels = v.labels ?? {};
  if (f.names.length > 0 && !f.names.some((x) => name.includes(x))) return false;
  if (f.drivers.length > 0 && !f.drivers.includes(v.driver ?? '')) return false;
  if (f.nodes.length > 0 && !f.nodes.some((x) => x !== '' && ((v.nodeId ?? '').startsWith(x) || v.node === x))) return false;
  for (const l of f.labels) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (!(key in labels) || (eq >= 0 && labels[key] !== l.slice(eq + 1))) return false;
  }
  if (f.dangling !== undefined && ((v.usedBy ?? []).length === 0) !== f.dangling) return false;
  return true;
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

/** `volume ls`'s table: Docker's columns, then the node (one row per volume per node). */
export function volumeTable(list: readonly Volume[]): string {
  return table(['DRIVER', 'VOLUME NAME', 'NODE'], list.map((v) => [v.driver ?? '', v.name ?? '', v.node ?? '']));
}

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

type NodeArgs = GlobalArgs & { names: string[]; node?: string };

export function volumeCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return volumeChangeCommands(y)
    .command<GlobalArgs & { quiet?: boolean; format?: string; filter?: string | string[] }>(
      ['ls', 'list'],
      'List the volumes baton made, on every node',
      (c) =>
        c
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'only names' })
          .option('format', { type: 'string', choices: ['table', 'json'], default: 'table' })
          .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'name=PART, label=K[=V], driver=D, node=ID|HOSTNAME, dangling=true|false (repeatable)' }),
      (args) => {
        const filters = parseVolumeFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const res = await client.control.call('ListVolumes', {});
          warn(res.warnings);
          const list = (res.volumes ?? []).filter((v) => matchesVolumeFilters(v, filters));
          if (args.quiet) return print(volumeNames(list));
          if (args.format === 'json') return print(json(list.map(inspectVolume)));
          print(volumeTable(list));
        });
      },
    )
    .command<NodeArgs>(
      'inspect <names..>',
      'Show volumes in detail (a JSON array, as Docker; one entry per node that has the name)',
      (c) =>
        c
          .positional('names', { type: 'string', array: true, demandOption: true })
          .option('node', { type: 'string', requiresArg: true, describe: 'only on this node (id or hostname)' }),
      (args) =>
        withClient(args, async (client) => {
          const res = await client.control.call('ListVolumes', { names: args.names, node: args.node ?? '' });
          warn(res.warnings);
          const found = res.volumes ?? [];
          // As Docker: the volumes found are printed, then one error naming the others.
          const missing = missingVolumes(args.names, found);
          if (found.length > 0 || missing.length === 0) print(json(found.map(inspectVolume)));
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
