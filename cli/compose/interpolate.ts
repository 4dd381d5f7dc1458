// Variable interpolation in Compose files, as Docker does it, on string values only (keys are
// left alone): $VAR, ${VAR}, ${VAR:-default} / ${VAR-default} (unset or empty / unset),
// ${VAR:?error} / ${VAR?error}, ${VAR:+alt} / ${VAR+alt}, nested ${A:-${B}}, and $$ for a "$".

export type Env = Readonly<Record<string, string | undefined>>;

export interface InterpolateContext {
  env: Env;
  /** Called once per variable that is unset and has no default (Docker warns, uses ""). */
  unset(name: string): void;
  /** Throws the caller's error for `path` (a malformed expression or a ${VAR?err}). */
  fail(path: string, message: string): never;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A deep copy of `value` with every string interpolated; `path` names it in errors. */
export function interpolateTree(value: unknown, path: string, ctx: InterpolateContext): unknown {
  if (typeof value === 'string') return interpolate(value, path, ctx);
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, `${path}[${i}]`, ctx));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, path ? `${path}.${k}` : k, ctx)]));
  }
  return value;
}

export function interpolate(text: string, path: string, ctx: InterpolateContext): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) ctx.fail(path, `invalid interpolation format "${text}": unclosed \${`);
      out += expression(text.slice(i + 2, end), text, path, ctx);
      i = end + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
      if (!m) ctx.fail(path, `invalid interpolation format "${text}": "$" must be followed by a name, {, or $`);
      out += lookup(m[0], ctx);
      i += 1 + m[0].length;
    }
  }
  return out;
}

/** Index of the `}` that closes an expression starting at `from`, counting nested `${`. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (text[i] === '}' && --depth === 0) {
      return i;
    }
  }
  return -1;
}

function expression(inner: string, whole: string, path: string, ctx: InterpolateContext): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner);
  if (!m || !NAME.test(m[1]!)) ctx.fail(path, `invalid interpolation format "${whole}"`);
  const [, name, op, rest = ''] = m;
  const value = ctx.env[name!];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (op) {
    case undefined:
      return lookup(name!, ctx);
    case ':-':
      return nonEmpty ? value : interpolate(rest, path, ctx);
    case '-':
      return set ? value : interpolate(rest, path, ctx);
    case ':+':
      return nonEmpty ? interpolate(rest, path, ctx) : '';
    case '+':
      return set ? interpolate(rest, path, ctx) : '';
    case ':?':
      if (nonEmpty) return value;
      return ctx.fail(path, `required variable ${name} is ${set ? 'empty' : 'missing'}${rest ? `: ${interpolate(rest, path, ctx)}` : ''}`);
    default: // '?'
      if (set) return value;
      return ctx.fail(path, `required variable ${name} is missing${rest ? `: ${interpolate(rest, path, ctx)}` : ''}`);
  }
}

function lookup(name: string, ctx: InterpolateContext): string {
  const value = ctx.env[name];
  if (value === undefined) {
    ctx.unset(name);
    return '';
  }
  return value;
}
