// How every ls/ps prints its rows: `-q` (IDs), `--format table` (the default columns), a Go
// template over each row's fields (`table ...` with a header row), or `--format json`: as
// Docker's, one flat JSON object per line, the row's template fields as keys in Go's order
// (sorted), the same object `{{json .}}` prints (docker/cli formatter: JSONFormat is "{{json .}}",
// https://docs.docker.com/engine/cli/formatting/). The full objects are `inspect`'s.
import type { Argv } from 'yargs';
import { json, print, table } from './output.js';
import { parseTemplate, headerOf, GO_JSON, type GoRow } from './format-template.js';

/** A field's value as Docker's row context returns it: text, or a bool (node ls's Self). */
export type RowValue = string | boolean;
export type Row = Record<string, RowValue>;

export interface ListView<T> {
  /** A row's fields by Docker's names (ID, Name, ...): what `{{.Name}}` reads, and `json` prints. */
  row: (item: T) => Row;
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

/**
 * A row as Go's json.Marshal prints a map: keys sorted, <, > and & escaped (Docker's row contexts
 * marshal through it, so `docker service ls --format json` prints "*:8080-\u003e80/tcp").
 */
export function rowJson(row: Row): string {
  const sorted = Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(sorted).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The row a template reads: its fields, and its own `{{json .}}`. */
function templateRow(row: Row): Row & GoRow {
  return Object.assign({ ...row }, { [GO_JSON]: () => rowJson(row) });
}

export function renderList<T>(args: ListArgs, items: T[], view: ListView<T>): string {
  if (args.quiet) return items.map(view.id).join('\n');
  const format = args.format ?? 'table';
  if (format === 'json') return items.map((i) => rowJson(view.row(i))).join('\n');
  const text = (v: RowValue | undefined): string => (v === undefined ? '' : String(v));
  if (format === 'table' || format === '') {
    // Each row once: a row's fields are not free (a task's state, age and image text).
    const cells = (row: Row): string[] => view.columns.map((c) => text(row[c]));
    return table(view.columns.map((c) => view.headers[c] ?? c), items.map((i) => cells(view.row(i))));
  }
  const template = parseTemplate(format);
  const lines = items.map((i) => template.render(templateRow(view.row(i))));
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
