// What every parser of spec/ returns: the value, or one line saying what is wrong with the text
// typed. spec/ sits under rpc/ (it may import only proto/), so it cannot throw the project's
// BatonError; each caller turns a problem into its own error (a CLI line, a Compose path).

export type Parsed<T> = { ok: true; value: T } | Problem;

export interface Problem {
  ok: false;
  /** The whole line: what is wrong, for what, and the text typed. */
  problem: string;
  /** Just the reason (`missing a unit`, `at most 10000 replicas per service`). */
  why: string;
  /** True when the text was well formed but beyond a limit (spec/limits.ts). */
  overLimit: boolean;
}

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function problem(line: string, why = line, overLimit = false): Problem {
  return { ok: false, problem: line, why, overLimit };
}

/** The text a user typed, quoted as an error line shows it (numbers bare, long text cut by echo). */
export function typed(value: string | number): string {
  return typeof value === 'number' ? String(value) : `"${echo(value)}"`;
}

/** How many characters of a user's text an error message repeats. */
export const ECHO_CHARS = 64;

/**
 * User text as an error message repeats it: at most `max` (ECHO_CHARS) characters, then how long the
 * whole was, e.g. `aaaa…(100000 bytes)`. Every message that names an input goes through here,
 * on the CLI and in the manager alike: an echo of a huge input would make the message too
 * large for a gRPC status (the status travels in HTTP/2 trailers, limited to about 64 KiB).
 */
export function echo(text: string, max = ECHO_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…(${Buffer.byteLength(text)} bytes)`;
}
