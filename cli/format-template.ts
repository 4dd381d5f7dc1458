// `--format` as Docker reads it: a subset of Go's text/template, our own engine.
// Supported: literal text, `{{.Field}}` / `{{.A.B}}` / `{{.}}`, string and number literals,
// pipelines (`{{.Name | upper}}`), `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{range}}` (with
// `{{else}}` for an empty list) and `{{with}}`, Docker's functions (json, upper, lower, title,
// split, join, pad, truncate: docker/cli's templates package, documented at
// https://docs.docker.com/engine/cli/formatting/) and Go's println, len, index, not, and, or,
// eq, ne; and the `table` prefix (a header row, then tab-separated cells aligned as Docker's).
// `\t` and `\n` typed in the format become a tab and a newline, as Docker's CLI does.
// Variables (`$x :=`), `define`, `template` and `block` are refused in one line.
import { BatonError } from '../client/index.js';

type Value = unknown;
type Arg = { kind: 'field'; path: string[]; text: string } | { kind: 'literal'; value: Value } | { kind: 'call'; name: string; args: Arg[] };
/** Where an action stands in the format, for Go's error messages. */
interface Where {
  text: string;
  column: number;
}
type Pipeline = Arg[][];
/** The parsed template: text, actions, and the blocks (if, range, with) holding more of them. */
type Part =
  | { kind: 'text'; text: string }
  | ({ kind: 'action'; pipeline: Pipeline } & Where)
  | ({ kind: 'if' | 'range' | 'with'; pipeline: Pipeline; body: Part[]; otherwise: Part[] } & Where);

/**
 * A listing's row carries its own `{{json .}}`: Docker's rows are Go structs whose MarshalJSON
 * goes through json.Marshal, which escapes <, > and & (docker/cli formatter/reflect.go), while
 * `{{json .Field}}` does not (the templates package turns HTML escaping off).
 */
export const GO_JSON = Symbol('goJson');
export interface GoRow {
  [GO_JSON]: () => string;
}
function isGoRow(v: Value): v is GoRow {
  return typeof v === 'object' && v !== null && GO_JSON in v;
}

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  // Docker's (docker/cli templates): argument order as there, e.g. join LIST SEP, pad TEXT BEFORE AFTER.
  json: ([v]) => (isGoRow(v) ? v[GO_JSON]() : JSON.stringify(v ?? null)),
  upper: ([v]) => goText(v).toUpperCase(),
  lower: ([v]) => goText(v).toLowerCase(),
  title: ([v]) => goText(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  split: ([v, sep]) => goText(v).split(goText(sep)),
  join: ([list, sep]) => (Array.isArray(list) ? list.map(goText).join(goText(sep)) : goText(list)),
  // An empty text stays empty (Docker's padWithSpace).
  pad: ([v, before, after]) => (goText(v) === '' ? '' : `${' '.repeat(Math.max(0, Number(before)))}${goText(v)}${' '.repeat(Math.max(0, Number(after)))}`),
  truncate: ([v, n]) => [...goText(v)].slice(0, Number(n)).join(''),
  // Go's own.
  println: (args) => `${args.map(goText).join(' ')}\n`,
  len: ([v]) => (Array.isArray(v) ? v.length : typeof v === 'string' ? [...v].length : v !== null && typeof v === 'object' ? Object.keys(v).length : 0),
  index: ([v, ...keys]) => keys.reduce<Value>((at, k) => (at !== null && typeof at === 'object' ? (at as Record<string, Value>)[goText(k)] : undefined), v),
  not: ([v]) => !truth(v),
  and: (args) => args.find((v) => !truth(v)) ?? args[args.length - 1],
  or: (args) => args.find((v) => truth(v)) ?? args[args.length - 1],
  eq: ([a, ...others]) => others.some((b) => comparable(a) === comparable(b)),
  ne: ([a, b]) => comparable(a) !== comparable(b),
};

/** Go's truth of a value in if/with/and/or/not: false, 0, nil and empty are false. */
function truth(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Our rows hold numbers as text (Replicas "1/1", Services "3"): eq compares what Go would print. */
function comparable(v: Value): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : goText(v);
}

/** A parsed `--format`; `table` when it began with the word table. */
export interface Template {
  readonly table: boolean;
  render(data: Value): string;
}

/** Go's way of printing a value with `{{.X}}`: maps as map[k:v], slices as [a b], nothing as <no value>. */
export function goText(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(goText).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, Value>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, x]) => `${k}:${goText(x)}`).join(' ')}]`;
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

/** Docker's escapes of a format typed in a shell: a literal backslash-t is a tab. */
function unescape(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

function parseError(message: string): BatonError {
  return new BatonError('INVALID_ARGUMENT', `template parsing error: template: :1: ${message}`);
}

function tokenize(body: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||\(|\)|[^\s|()]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) tokens.push(m[1]!);
  if (body.slice(re.lastIndex).trim() !== '' && tokens.join('') === '') throw parseError(`unexpected "${body}" in command`);
  return tokens;
}

function parseOperand(tokens: string[], at: { i: number }): Arg {
  const t = tokens[at.i++];
  if (t === undefined) throw parseError('missing value for command');
  if (t === '(') {
    const inner = parseCommand(tokens, at, ')');
    if (tokens[at.i++] !== ')') throw parseError('unclosed left paren');
    return inner;
  }
  if (t === '.') return { kind: 'field', path: [], text: '.' };
  if (t.startsWith('.')) {
    const path = t.slice(1).split('.');
    if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) throw parseError(`bad character in field "${t}"`);
    return { kind: 'field', path, text: t };
  }
  if (t.startsWith('"')) return { kind: 'literal', value: JSON.parse(t) as string };
  if (t.startsWith('`')) return { kind: 'literal', value: t.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(t)) return { kind: 'literal', value: Number(t) };
  if (t === 'true' || t === 'false') return { kind: 'literal', value: t === 'true' };
  if (!(t in FUNCTIONS)) throw parseError(`function "${t}" not defined`);
  return { kind: 'call', name: t, args: [] };
}

/** One command of a pipeline: a function with its arguments, or a single operand. */
function parseCommand(tokens: string[], at: { i: number }, stop?: string): Arg {
  const first = parseOperand(tokens, at);
  const args: Arg[] = [];
  while (at.i < tokens.length && tokens[at.i] !== '|' && tokens[at.i] !== stop) args.push(parseOperand(tokens, at));
  if (first.kind === 'call') return { ...first, args };
  if (args.length > 0) throw parseError(`can't give argument to non-function ${first.kind === 'field' ? first.text : goText(first.value)}`);
  return first;
}

function parseAction(body: string): Arg[][] {
  const tokens = tokenize(body.trim());
  if (tokens.length === 0) throw parseError('missing value for command');
  const at = { i: 0 };
  const pipeline: Arg[][] = [];
  for (;;) {
    pipeline.push([parseCommand(tokens, at)]);
    if (at.i >= tokens.length) return pipeline;
    if (tokens[at.i] !== '|') throw parseError(`unexpected "${tokens[at.i]!}" in command`);
    at.i++;
  }
}

/** The `{{...}}` actions and the text between them, flat, trim markers applied. */
function scan(format: string): ({ kind: 'text'; text: string } | ({ kind: 'raw'; body: string } & Where))[] {
  const parts: ({ kind: 'text'; text: string } | ({ kind: 'raw'; body: string } & Where))[] = [];
  let rest = format;
  let column = 0;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      parts.push({ kind: 'text', text: rest });
      break;
    }
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw parseError('unclosed action');
    if (open > 0) parts.push({ kind: 'text', text: rest.slice(0, open) });
    // Go's trim markers: `{{- ` and ` -}}` eat the spaces beside the action.
    let body = rest.slice(open + 2, close);
    if (body.startsWith('- ')) {
      body = body.slice(2);
      const last = parts[parts.length - 1];
      if (last?.kind === 'text') last.text = last.text.trimEnd();
    }
    let trimAfter = false;
    if (body.endsWith(' -')) {
      body = body.slice(0, -2);
      trimAfter = true;
    }
    parts.push({ kind: 'raw', body: body.trim(), text: body.trim(), column: column + open + 2 });
    column += close + 2;
    rest = rest.slice(close + 2);
    if (trimAfter) rest = rest.trimStart();
  }
  return parts;
}

const KEYWORD = /^(if|range|with|else|end|define|template|block)\b\s*/;

/** Builds the tree: each if/range/with holds its parts up to its else and end. */
function parse(format: string): Part[] {
  const flat = scan(format);
  let i = 0;
  // Parses parts until an {{else}} or {{end}}, which it returns (undefined at the end of the format).
  const list = (into: Part[]): { word: 'else' | 'end'; rest: string } | undefined => {
    while (i < flat.length) {
      const p = flat[i++]!;
      if (p.kind === 'text') {
        into.push(p);
        continue;
      }
      const m = KEYWORD.exec(p.body);
      if (m === null) {
        if (p.body.startsWith('$')) throw parseError('variables are not supported by baton\'s --format');
        into.push({ kind: 'action', pipeline: parseAction(p.body), text: p.text, column: p.column });
        continue;
      }
      const word = m[1]!;
      const rest = p.body.slice(m[0].length);
      if (word === 'else' || word === 'end') return { word, rest };
      if (word !== 'if' && word !== 'range' && word !== 'with') throw parseError(`"${word}" is not supported by baton's --format`);
      if (rest.startsWith('$')) throw parseError('variables are not supported by baton\'s --format');
      into.push(block(word, rest, p));
    }
    return undefined;
  };
  const block = (word: 'if' | 'range' | 'with', rest: string, at: Where): Part => {
    if (rest === '') throw parseError(`missing value for ${word}`);
    const part: Part = { kind: word, pipeline: parseAction(rest), body: [], otherwise: [], text: at.text, column: at.column };
    const stop = list(part.body);
    if (stop === undefined) throw parseError('unexpected EOF');
    if (stop.word === 'else') {
      // `{{else if x}}` (if only, as Go's range and with take a plain else here) opens a nested if sharing this end.
      const chained = /^if\b\s*/.exec(stop.rest);
      if (chained && word === 'if') {
        part.otherwise.push(block('if', stop.rest.slice(chained[0].length), at));
        return part;
      }
      if (stop.rest !== '') throw parseError(`unexpected "${stop.rest}" in else`);
      const end = list(part.otherwise);
      if (end === undefined) throw parseError('unexpected EOF');
      if (end.word !== 'end') throw parseError('unexpected {{else}}');
    }
    return part;
  };
  const top: Part[] = [];
  const stray = list(top);
  if (stray !== undefined) throw parseError(`unexpected {{${stray.word}}}`);
  return top;
}

/**
 * A field of an object as Go's template finds it in Docker's types: the exact key, else the key
 * with its first letter lowered (our JSON is camelCase: `.Spec` is `spec`), else any case. Docker's
 * types embed Meta (ID, Version, CreatedAt) and Annotations (Name, Labels): so do we, looking into
 * `meta` and `annotations` for a key the object itself lacks.
 */
function field(obj: Value, name: string): { found: boolean; value?: Value } {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { found: false };
  const o = obj as Record<string, Value>;
  const lowered = name[0]!.toLowerCase() + name.slice(1);
  for (const key of [name, lowered, name === 'ID' ? 'id' : '']) if (key && key in o) return { found: true, value: o[key] };
  const other = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  if (other !== undefined) return { found: true, value: o[other] };
  for (const embedded of ['meta', 'annotations']) {
    const inner = field(o[embedded], name);
    if (inner.found) return inner;
  }
  return { found: false };
}

function evaluate(arg: Arg, dot: Value, piped: Value[], where: Where): Value {
  if (arg.kind === 'literal') return arg.value;
  if (arg.kind === 'field') {
    let v = dot;
    for (const name of arg.path) {
      const next = field(v, name);
      if (!next.found) {
        const what = v === null || typeof v !== 'object' ? typeof v : 'object';
        throw new BatonError('INVALID_ARGUMENT', `template: :1:${where.column}: executing "" at <${arg.text}>: can't evaluate field ${name} in type ${what}`);
      }
      v = next.value;
    }
    return v;
  }
  const args = [...arg.args.map((a) => evaluate(a, dot, [], where)), ...piped];
  return FUNCTIONS[arg.name]!(args);
}

/** Parses a `--format` value; a parse error is one line, as Docker's "template parsing error". */
export function parseTemplate(format: string): Template {
  let text = unescape(format);
  const isTable = /^table(\s|$)/.test(text);
  if (isTable) text = text.slice('table'.length).trimStart();
  const parts = parse(text);
  return { table: isTable, render: (data: Value): string => execute(parts, data) };
}

function run(pipeline: Pipeline, dot: Value, where: Where): Value {
  let out: Value[] = [];
  for (const [command] of pipeline) out = [evaluate(command!, dot, out, where)];
  return out[0];
}

/** Go's execution: if/with on the truth of their value, range over a list's items or a map's values (by key). */
function execute(parts: readonly Part[], dot: Value): string {
  let out = '';
  for (const p of parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'action') out += goText(run(p.pipeline, dot, p));
    else {
      const v = run(p.pipeline, dot, p);
      if (p.kind === 'if') out += execute(truth(v) ? p.body : p.otherwise, dot);
      else if (p.kind === 'with') out += truth(v) ? execute(p.body, v) : execute(p.otherwise, dot);
      else {
        const items = rangeItems(v, p);
        out += items.length > 0 ? items.map((item) => execute(p.body, item)).join('') : execute(p.otherwise, dot);
      }
    }
  }
  return out;
}

function rangeItems(v: Value, where: Where): Value[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'object') {
    const o = v as Record<string, Value>;
    return Object.keys(o)
      .sort()
      .map((k) => o[k]);
  }
  throw new BatonError('INVALID_ARGUMENT', `template: :1:${where.column}: executing "" at <${where.text}>: range can't iterate over ${goText(v)}`);
}

/** The fields a template reads at its top level (`{{.Name}}` → Name), for a table's header row. */
export function headerOf(format: string, headers: Record<string, string>): Record<string, string> {
  const row: Record<string, string> = {};
  for (const m of unescape(format).matchAll(/\{\{[^}]*?\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = m[1]!;
    row[name] = headers[name] ?? name.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  }
  return row;
}
