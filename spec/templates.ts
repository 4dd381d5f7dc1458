// Docker's service templates: `{{.Service.Name}}-{{.Task.Slot}}` in a hostname, an env value or a
// mount source, expanded for each task by the agent of its node (which knows its hostname and
// platform). Only the field forms Docker's template context offers are accepted; a spec holding
// anything else is refused when it comes in (validateServiceSpec), so expansion cannot fail later.
import { echo, ok, problem, type Parsed } from './parsed.js';

/** What a template may name, as Docker's context: `.Service.ID` … `.Task.Slot`. */
export const TEMPLATE_FIELDS = [
  'Service.ID',
  'Service.Name',
  'Service.Labels',
  'Node.ID',
  'Node.Hostname',
  'Node.Platform.OS',
  'Node.Platform.Architecture',
  'Task.ID',
  'Task.Name',
  'Task.Slot',
] as const;

export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

/** The values of one task's template context. */
export type TemplateContext = Record<TemplateField, string>;

type Piece = string | { field: TemplateField };

const KNOWN = new Set<string>(TEMPLATE_FIELDS);
// Go's action delimiters allow spaces around the pipeline: `{{ .Task.Slot }}`.
const ACTION = /^\s*\.([A-Za-z]+(?:\.[A-Za-z]+)*)\s*$/;

/** The text cut into literal pieces and fields; a problem names the first bad action. */
export function parseTemplate(text: string, what: string): Parsed<Piece[]> {
  const pieces: Piece[] = [];
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    const close = text.indexOf('}}', at);
    if (open < 0) {
      if (close >= 0) return bad(text, what, "unexpected '}}'");
      pieces.push(text.slice(at));
      return ok(pieces.filter((p) => p !== ''));
    }
    if (close >= 0 && close < open) return bad(text, what, "unexpected '}}'");
    pieces.push(text.slice(at, open));
    const end = text.indexOf('}}', open + 2);
    if (end < 0) return bad(text, what, "unclosed action (no '}}')");
    const inner = text.slice(open + 2, end);
    const m = ACTION.exec(inner);
    if (!m) return bad(text, what, `{{${echo(inner, 32)}}} is not a field (want one of ${fieldList()})`);
    if (!KNOWN.has(m[1]!)) return bad(text, what, `unknown field .${echo(m[1]!, 32)} (want one of ${fieldList()})`);
    pieces.push({ field: m[1] as TemplateField });
    at = end + 2;
  }
}

function fieldList(): string {
  return TEMPLATE_FIELDS.map((f) => `.${f}`).join(', ');
}

function bad(text: string, what: string, why: string): Parsed<Piece[]> {
  return problem(`bad template in ${what} "${echo(text)}": ${why}`, why);
}

/** Whether the text holds a template action at all (plain text needs no context). */
export function isTemplate(text: string): boolean {
  return text.includes('{{') || text.includes('}}');
}

/**
 * The text with its fields replaced by the context's values. Text that does not parse is
 * returned as it is: validateServiceSpec refuses it before any task is made of it.
 */
export function expandTemplate(text: string, context: TemplateContext): string {
  if (!isTemplate(text)) return text;
  const parsed = parseTemplate(text, 'a template');
  if (!parsed.ok) return text;
  return parsed.value.map((p) => (typeof p === 'string' ? p : context[p.field])).join('');
}

/** A map printed as Go's fmt prints one, which is what `{{.Service.Labels}}` shows: `map[a:1 b:2]`. */
export function goMapText(map: Record<string, string> | null | undefined): string {
  const entries = Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `map[${entries.map(([k, v]) => `${k}:${v}`).join(' ')}]`;
}
