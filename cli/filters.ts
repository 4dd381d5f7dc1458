// `--filter key=value` of the ls/ps commands, as Docker reads them: values of one key are OR'ed,
// different keys AND'ed, except label= and node.label=, whose values must ALL match (Docker's
// daemon and swarmkit match labels as a set: `--filter label=a --filter label=b` is a AND b);
// an unknown key is "invalid filter 'key'", every bad filter in one line.
// Matching is done here (client-side) so every listing means the same as Docker's:
// id = id prefix, name = name prefix (swarm objects), label = key or key=value.
import { BatonError } from '../client/index.js';

export type Matcher<T> = (item: T, value: string) => boolean;
export type FilterKeys<T> = Record<string, Matcher<T>>;
/** Optional checks of a key's value: a problem line, or undefined when the value is good. */
export type ValueChecks = Record<string, (value: string) => string | undefined>;

/** The keys whose several values must all match, in every listing. */
export const LABEL_KEYS: readonly string[] = ['label', 'node.label'];

export class ParsedFilters {
  constructor(
    readonly values: ReadonlyMap<string, readonly string[]>,
    /** Keys whose values must all match, not any. */
    private readonly allOf: readonly string[] = LABEL_KEYS,
  ) {}

  get(key: string): readonly string[] {
    return this.values.get(key) ?? [];
  }

  apply<T>(items: readonly T[], keys: FilterKeys<T>): T[] {
    return items.filter((item) =>
      [...this.values].every(([key, values]) => (this.allOf.includes(key) ? values.every((v) => keys[key]!(item, v)) : values.some((v) => keys[key]!(item, v)))),
    );
  }
}

/**
 * Reads the `--filter` words against the keys a command knows; throws one line naming every bad
 * one.
 */
export function parseFilters(words: readonly string[], known: readonly string[], checks: ValueChecks = {}): ParsedFilters {
  const values = new Map<string, string[]>();
  const problems: string[] = [];
  for (const word of words) {
    const at = word.indexOf('=');
    if (at <= 0) {
      problems.push(`bad format of filter (expected name=value)`);
      continue;
    }
    const key = word.slice(0, at).trim().toLowerCase();
    const value = word.slice(at + 1);
    if (!known.includes(key)) {
      problems.push(`invalid filter '${key}'`);
      continue;
    }
    const problem = checks[key]?.(value);
    if (problem) problems.push(problem);
    else values.set(key, [...(values.get(key) ?? []), value]);
  }
  if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', [...new Set(problems)].join('; '));
  return new ParsedFilters(values);
}

/** `label=key` (has the key) or `label=key=value`. */
export function labelMatches(labels: Record<string, string> | null | undefined, filter: string): boolean {
  const at = filter.indexOf('=');
  const key = at < 0 ? filter : filter.slice(0, at);
  if (!labels || !(key in labels)) return false;
  return at < 0 || labels[key] === filter.slice(at + 1);
}

export function prefixMatches(text: string | null | undefined, prefix: string): boolean {
  return (text ?? '').startsWith(prefix);
}

/** A value that must be one of a few words, in Docker's phrasing of the refusal. */
export function oneOf(key: string, allowed: readonly string[]): (value: string) => string | undefined {
  return (value) => (allowed.includes(value.toLowerCase()) ? undefined : `invalid filter '${key}=${value}'`);
}
