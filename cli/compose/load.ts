// Compose files from disk to one merged tree: YAML 1.2 (with Docker's octal `0440` and `<<`
// merge keys), variables
// interpolated per file, paths (`file:`, `env_file:`) made relative to the file that wrote them,
// then merged in order (mappings key by key, later files win; lists and scalars are replaced).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, type ScalarTag } from 'yaml';
import { BatonError } from '../../client/index.js';
import { interpolateTree, type Env } from './interpolate.js';
import type { Origin } from './reader.js';

export interface LoadedFiles {
  tree: Record<string, unknown>;
  origin: Origin;
  /** The first file's directory: Docker resolves relative bind sources from it. */
  dir: string;
}

// Docker's YAML readers take a leading-zero integer as octal (`mode: 0440`); YAML 1.2 would not.
const octalInt: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^0[0-7]+$/,
  resolve: (s) => parseInt(s, 8),
};

/** Parse one file's text; a syntax error is one line with its position. */
export function parseYaml(text: string, file: string): Record<string, unknown> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, customTags: (tags) => [octalInt, ...tags], uniqueKeys: true, merge: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const first = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new BatonError('INVALID_ARGUMENT', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${first}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) throw new BatonError('INVALID_ARGUMENT', `${file}: the file is empty`);
  if (typeof value !== 'object' || Array.isArray(value)) throw new BatonError('INVALID_ARGUMENT', `${file}: the top level must be a mapping (services: ...)`);
  return value as Record<string, unknown>;
}

export function loadFiles(files: readonly string[], env: Env, warn: (line: string) => void): LoadedFiles {
  if (files.length === 0) throw new BatonError('INVALID_ARGUMENT', 'a compose file is required (-c compose.yml)');
  const origins = new Map<string, string>();
  let tree: Record<string, unknown> = {};
  for (const file of files) {
    let text: string;
    try {
      text = decodeText(readFileSync(file), file);
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw new BatonError('INVALID_ARGUMENT', `${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const warned = new Set<string>();
    const parsed = interpolateTree(parseYaml(text, file), '', {
      env,
      unset: (name) => {
        if (!warned.has(name)) warn(`${file}: the "${name}" variable is not set, defaulting to a blank string`);
        warned.add(name);
      },
      fail: (path, message) => {
        throw new BatonError('INVALID_ARGUMENT', `${file}: ${path}: ${message}`);
      },
    }) as Record<string, unknown>;
    resolvePaths(parsed, dirname(resolve(file)));
    recordOrigins(parsed, '', file, origins);
    tree = merge(tree, parsed) as Record<string, unknown>;
  }
  return {
    tree,
    dir: dirname(resolve(files[0]!)),
    origin: {
      fileOf(path) {
        // The deepest recorded prefix of the path: the file that set that part last.
        for (let p = path; p; p = parentPath(p)) {
          const f = origins.get(p);
          if (f) return f;
        }
        return files[files.length - 1]!;
      },
      warn,
    },
  };
}

/**
 * The file's text: UTF-8 with or without a byte order mark, or UTF-16 (LE or BE) with one, as
 * Docker's loader reads them (Windows editors save UTF-16 with a BOM).
 */
export function decodeText(bytes: Buffer, file: string): string {
  // Every other byte zero in the first line: UTF-16 saved without its byte order mark.
  const head = bytes.subarray(0, 64);
  const zeros = head.filter((b) => b === 0).length;
  if (head.length >= 8 && bytes[0] !== 0xff && bytes[0] !== 0xfe && zeros >= head.length / 3) {
    throw new BatonError('INVALID_ARGUMENT', `${file}: the file looks like UTF-16 without a byte order mark (compose files are UTF-8, or UTF-16 with a byte order mark): save it as UTF-8`);
  }
  const [encoding, skip] =
    bytes[0] === 0xff && bytes[1] === 0xfe ? ['utf-16le', 2] : bytes[0] === 0xfe && bytes[1] === 0xff ? ['utf-16be', 2] : bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? ['utf-8', 3] : ['utf-8', 0];
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes.subarray(skip));
  } catch {
    throw new BatonError('INVALID_ARGUMENT', `${file}: the file is not valid ${encoding.toUpperCase()} (compose files are UTF-8, or UTF-16 with a byte order mark)`);
  }
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut < 0 ? '' : path.slice(0, cut);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `file:` of top-level secrets/configs and services' `env_file:` become absolute. */
function resolvePaths(tree: Record<string, unknown>, dir: string): void {
  const abs = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? resolve(dir, p) : p);
  for (const section of ['secrets', 'configs']) {
    const decls = tree[section];
    if (!isMapping(decls)) continue;
    for (const decl of Object.values(decls)) if (isMapping(decl) && 'file' in decl) decl.file = abs(decl.file);
  }
  if (!isMapping(tree.services)) return;
  for (const svc of Object.values(tree.services)) {
    if (!isMapping(svc) || !('env_file' in svc)) continue;
    svc.env_file = Array.isArray(svc.env_file) ? svc.env_file.map(abs) : abs(svc.env_file);
  }
}

function recordOrigins(value: unknown, path: string, file: string, origins: Map<string, string>): void {
  if (path) origins.set(path, file);
  if (Array.isArray(value)) value.forEach((v, i) => recordOrigins(v, `${path}[${i}]`, file, origins));
  else if (isMapping(value)) for (const [k, v] of Object.entries(value)) recordOrigins(v, path ? `${path}.${k}` : k, file, origins);
}

/** Mappings merge key by key; anything else from `over` replaces `base`. */
export function merge(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}
