// How every ls/ps prints its rows: `-q` (IDs), `--format json` (the objects), `--format table`
// (the default columns), or a Go template over each row's fields, `table ...` with a header row.
import type { Argv } from 'yargs';
import { json, print, table } from './output.js';
import { parseTemplate, headerOf } from './format-template.js';

export interface ListView<T> {
  /** The object `--format json` prints. */
  json: (item: T) => unknown;
  /** A row's fields by Docker's names (ID, Name, ...): what `{{.Name}}` reads. */
  row: (item: T) => Record<string, string>;
  /** Header text of a field (CurrentState → CURRENT STATE), as Docker's table prints it. */
  headers: Record<string, string>;
  /** The fields of the default table, in order. */
  columns: string[];
  id: (item: T) => string;
}

export interface ListArgs {
  quiet?: boolean | undefined;
  format?: string | undefined;
}

/** The `-q` and `--format` flags of a listing (any value: table, json or a template). */
export function formatOptions<T>(y: Argv<T>) {
  return y
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'only IDs' })
    .option('format', { type: 'string', requiresArg: true, describe: "table (default), json, or a Go template: '{{.ID}} {{.Name}}', 'table {{.ID}}\\t{{.Name}}'" });
}

export function renderList<T>(args: ListArgs, items: T[], view: ListView<T>): string {
  if (args.quiet) return items.map(view.id).join('\n');
  const format = args.format ?? 'table';
  if (format === 'json') return json(items.map(view.json));
  if (format === 'table' || format === '') return table(view.columns.map((c) => view.headers[c] ?? c), items.map((i) => view.columns.map((c) => view.row(i)[c] ?? '')));
  const template = parseTemplate(format);
  const lines = items.map((i) => template.render(view.row(i)));
  if (!template.table) return lines.join('\n');
  const header = template.render(headerOf(format, view.headers));
  const split = (line: string): string[] => line.split('\t');
  return table(split(header), lines.map(split));
}

export function printList<T>(args: ListArgs, items: T[], view: ListView<T>): void {
  const text = renderList(args, items, view);
  // An empty listing prints nothing (a table keeps its header), as Docker's.
  if (text !== '') print(text);
}

/** `inspect --format`: json (the default), or a template over each object as our JSON has it. */
export function renderInspect(format: string | undefined, objects: unknown[]): string {
  if (format === undefined || format === '' || format === 'json') return json(objects);
  const template = parseTemplate(format);
  return objects.map((o) => template.render(o)).join('\n');
}
