// `baton secret|config create|ls|inspect|rm`: one command set for both kinds, Docker's output.
// A secret's data never comes back from the managers; a config's is shown by inspect.
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { BatonError, type BatonClient } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';
import { ago } from './task-object.js';
import { formatOptions, printList, renderInspect, type ListView, type Row } from './list-format.js';
import { labelMatches, parseFilters, prefixMatches, type FilterKeys, type ParsedFilters } from './filters.js';
import { MAX_DATA_BYTES } from '../spec/index.js';

export type DataKind = 'secret' | 'config';

export interface DataObject {
  meta?: { id?: string | null; version?: number | null; createdAt?: number | null; updatedAt?: number | null } | null;
  spec?: { annotations?: { name?: string | null; labels?: Record<string, string> | null } | null; data?: Uint8Array | null } | null;
}

/** The calls of one kind, typed alike. */
interface KindApi {
  create(client: BatonClient, name: string, labels: Record<string, string>, data: Uint8Array): Promise<DataObject>;
  get(client: BatonClient, ref: string): Promise<DataObject>;
  list(client: BatonClient, filters: { ids: string[]; names: string[]; labels: string[] }): Promise<DataObject[]>;
  remove(client: BatonClient, ref: string): Promise<unknown>;
}

const API: Record<DataKind, KindApi> = {
  secret: {
    create: (c, name, labels, data) => c.control.call('CreateSecret', { spec: { annotations: { name, labels }, data } }),
    get: (c, ref) => c.control.call('GetSecret', { id: ref }),
    list: async (c, filters) => await c.list('ListSecrets', filters),
    remove: (c, ref) => c.control.call('RemoveSecret', { id: ref }),
  },
  config: {
    create: (c, name, labels, data) => c.control.call('CreateConfig', { spec: { annotations: { name, labels }, data } }),
    get: (c, ref) => c.control.call('GetConfig', { id: ref }),
    list: async (c, filters) => await c.list('ListConfigs', filters),
    remove: (c, ref) => c.control.call('RemoveConfig', { id: ref }),
  },
};

function readData(kind: DataKind, file: string): Uint8Array {
  // yargs hands a lone "-" over as "".
  const stdin = file === '-' || file === '';
  let data: Buffer;
  try {
    data = readFileSync(stdin ? 0 : file);
  } catch (err) {
    throw new BatonError('INVALID_ARGUMENT', `cannot read ${stdin ? 'standard input' : file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  // The managers refuse more (500 KiB, as Docker); checked here too so a big file fails clearly
  // instead of at gRPC's message size limit.
  if (data.length > MAX_DATA_BYTES) throw new BatonError('INVALID_ARGUMENT', `${kind} data is ${data.length} bytes, more than the limit of ${MAX_DATA_BYTES} (500 KiB)`);
  return new Uint8Array(data);
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of values) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (!key) throw new BatonError('INVALID_ARGUMENT', `bad --label "${l}" (want KEY=VALUE)`);
    labels[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return labels;
}

/**
 * `--filter` of `secret ls`/`config ls`, Docker's keys: id= and name= match the start of the id
 * or name, label=K or K=V (every one given must match, as every ls).
 */
const DATA_FILTERS: FilterKeys<DataObject> = {
  id: (o, v) => prefixMatches(o.meta?.id, v),
  name: (o, v) => prefixMatches(o.spec?.annotations?.name, v),
  label: (o, v) => labelMatches(o.spec?.annotations?.labels, v),
};

export function parseDataFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(DATA_FILTERS));
}

export function filterData<T extends DataObject>(list: readonly T[], filters: ParsedFilters): T[] {
  return filters.apply(list, DATA_FILTERS);
}

const labelsText = (labels: Record<string, string> | null | undefined): string => Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');

/**
 * A `secret ls`/`config ls` row: Docker's fields (docker/cli secret/formatter.go: CreatedAt,
 * Driver, ID, Labels, Name, UpdatedAt; config/formatter.go the same without Driver). Secrets here
 * are kept by the managers, Docker's default of no driver.
 */
export function dataRow(kind: DataKind, o: DataObject, now = Date.now()): Row {
  return {
    ID: o.meta?.id ?? '',
    Name: o.spec?.annotations?.name ?? '',
    ...(kind === 'secret' ? { Driver: '' } : {}),
    CreatedAt: ago(Number(o.meta?.createdAt ?? 0), now),
    UpdatedAt: ago(Number(o.meta?.updatedAt ?? 0), now),
    Labels: labelsText(o.spec?.annotations?.labels),
  };
}

/** The listing of a kind: Docker's default columns (secret ls has DRIVER, config ls not). */
export function dataView(kind: DataKind, now = Date.now()): ListView<DataObject> {
  const headers = { ID: 'ID', Name: 'NAME', Driver: 'DRIVER', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' };
  const columns = kind === 'secret' ? ['ID', 'Name', 'Driver', 'CreatedAt', 'UpdatedAt'] : ['ID', 'Name', 'CreatedAt', 'UpdatedAt'];
  return { id: (o) => o.meta?.id ?? '', headers, columns, row: (o) => dataRow(kind, o, now) };
}

const iso = (ms: number | null | undefined): string => new Date(Number(ms ?? 0)).toISOString();

/** Docker's inspect shape; configs carry their data, base64 as Docker prints it. */
function inspectObject(kind: DataKind, o: DataObject): Record<string, unknown> {
  const spec: Record<string, unknown> = { Name: o.spec?.annotations?.name ?? '', Labels: o.spec?.annotations?.labels ?? {} };
  if (kind === 'config') spec.Data = Buffer.from(o.spec?.data ?? new Uint8Array(0)).toString('base64');
  return { ID: o.meta?.id ?? '', Version: { Index: Number(o.meta?.version ?? 0) }, CreatedAt: iso(o.meta?.createdAt), UpdatedAt: iso(o.meta?.updatedAt), Spec: spec };
}

function pretty(kind: DataKind, o: DataObject): string {
  const labels = Object.entries(o.spec?.annotations?.labels ?? {});
  const lines = [
    `ID:\t\t${o.meta?.id ?? ''}`,
    `Name:\t\t${o.spec?.annotations?.name ?? ''}`,
    ...(labels.length ? ['Labels:', ...labels.map(([k, v]) => ` - ${k}=${v}`)] : []),
    `Created at:\t${iso(o.meta?.createdAt)}`,
    `Updated at:\t${iso(o.meta?.updatedAt)}`,
  ];
  if (kind === 'config') lines.push('Data:', Buffer.from(o.spec?.data ?? new Uint8Array(0)).toString('utf8'));
  return lines.join('\n');
}

export function dataCommand(kind: DataKind, y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  const api = API[kind];
  return y
    .command<GlobalArgs & { name: string; file: string; label?: string | string[] }>(
      'create <name> <file>',
      `Create a ${kind} from a file or standard input ("-")`,
      (c) =>
        c
          .positional('name', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true, describe: 'a file, or - for standard input' })
          .option('label', { alias: 'l', type: 'string', requiresArg: true, describe: 'KEY=VALUE (repeatable)' }),
      (args) =>
        withClient(args, async (client) => {
          const data = readData(kind, args.file);
          const created = await api.create(client, args.name, parseLabels(repeated(args.label)), data);
          print(created.meta?.id ?? '');
        }),
    )
    .command<GlobalArgs & { quiet?: boolean; format?: string; filter?: string | string[] }>(
      ['ls', 'list'],
      `List ${kind}s`,
      (c) => formatOptions(c).option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=PREFIX, name=PREFIX, label=K[=V] (repeatable; every label must match)' }),
      (args) => {
        // Checked before connecting: a bad filter is one line and nothing is asked.
        const filters = parseDataFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          // Labels narrowed on the manager too (it keeps only what has every one given).
          const list = filterData(await api.list(client, { ids: [], names: [], labels: [...filters.get('label')] }), filters);
          list.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
          printList(args, list, dataView(kind));
        });
      },
    )
    .command<GlobalArgs & { refs: string[]; pretty?: boolean; format?: string }>(
      `inspect <refs..>`,
      `Show ${kind}s in detail (JSON, or --pretty)${kind === 'secret' ? '; the data is never shown' : ''}`,
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }).option('pretty', { type: 'boolean' }).option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' }),
      (args) =>
        withClient(args, async (client) => {
          const out: DataObject[] = [];
          for (const ref of args.refs) out.push(await api.get(client, ref));
          print(args.pretty ? out.map((o) => pretty(kind, o)).join('\n\n') : renderInspect(args.format, out.map((o) => inspectObject(kind, o))));
        }),
    )
    .command<GlobalArgs & { refs: string[] }>(
      ['rm <refs..>', 'remove <refs..>'],
      `Remove ${kind}s (refused while a service uses one)`,
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }),
      (args) =>
        withClient(args, async (client) => {
          await removeEach(args.refs, (ref) => api.remove(client, ref), print);
        }),
    )
    .demandCommand(1, `baton ${kind} needs a subcommand: create, ls, inspect, rm`);
}
