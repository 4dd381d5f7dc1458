// `baton secret|config create|ls|inspect|rm`: one command set for both kinds, Docker's output.
// A secret's data never comes back from the managers; a config's is shown by inspect.
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { BatonError, type BatonClient } from '../client/index.js';
import { removeEach, repeated, withClient, type GlobalArgs } from './context.js';
import { json, print } from './output.js';
import { ago } from './task-object.js';
import { printList } from './list-format.js';
import { MAX_DATA_BYTES } from '../spec/index.js';

export type DataKind = 'secret' | 'config';

interface DataObject {
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

function parseFilters(values: string[]): { ids: string[]; names: string[]; labels: string[] } {
  const f = { ids: [] as string[], names: [] as string[], labels: [] as string[] };
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = v.slice(0, eq);
    const value = v.slice(eq + 1);
    if (key === 'id') f.ids.push(value);
    else if (key === 'name') f.names.push(value);
    else if (key === 'label') f.labels.push(value);
    else throw new BatonError('INVALID_ARGUMENT', `bad --filter "${v}" (want id=, name= or label=)`);
  }
  return f;
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
      (c) =>
        c
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'only IDs' })
          .option('format', { type: 'string', requiresArg: true, describe: "table (default), json, or a Go template: '{{.ID}} {{.Name}}'" })
          .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=PREFIX, name=N, label=K[=V] (repeatable)' }),
      (args) =>
        withClient(args, async (client) => {
          const list = await api.list(client, parseFilters(repeated(args.filter)));
          list.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
          // Docker's fields for --format templates; the default table as before.
          const row = (o: DataObject): Record<string, string> => ({
            ID: o.meta?.id ?? '',
            Name: o.spec?.annotations?.name ?? '',
            CreatedAt: ago(Number(o.meta?.createdAt ?? 0)),
            UpdatedAt: ago(Number(o.meta?.updatedAt ?? 0)),
            Labels: Object.entries(o.spec?.annotations?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
          });
          const headers = { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' };
          printList(args, list, { json: (o) => inspectObject(kind, o), id: (o) => o.meta?.id ?? '', headers, columns: ['ID', 'Name', 'CreatedAt', 'UpdatedAt'], row });
        }),
    )
    .command<GlobalArgs & { refs: string[]; pretty?: boolean }>(
      `inspect <refs..>`,
      `Show ${kind}s in detail (JSON, or --pretty)${kind === 'secret' ? '; the data is never shown' : ''}`,
      (c) => c.positional('refs', { type: 'string', array: true, demandOption: true }).option('pretty', { type: 'boolean' }),
      (args) =>
        withClient(args, async (client) => {
          const out: DataObject[] = [];
          for (const ref of args.refs) out.push(await api.get(client, ref));
          print(args.pretty ? out.map((o) => pretty(kind, o)).join('\n\n') : json(out.map((o) => inspectObject(kind, o))));
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
