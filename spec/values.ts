// The value formats of a service spec, one parser each, shared by the CLI flags, Compose files
// and the daemon's flags: durations, byte sizes, CPU counts and whole-number counts. Each takes
// the text typed (or a YAML number) and the name of what it is for (`--restart-delay`, a Compose
// path), and returns the value or one line naming both.
import { baton } from '../proto/gen/baton.js';
import { MAX_COUNT, MAX_DURATION_MS, MAX_MEMORY_BYTES, MAX_NANO_CPUS, MAX_CPUS } from './limits.js';
import { ok, problem, typed, type Parsed } from './parsed.js';

/** Milliseconds per unit. `d` (days) is baton's addition to Go's units, for --cert-expiry 90d. */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/y;
const DURATION_EXAMPLES = 'e.g. 500ms, 10s, 1m30s, 2h';

/**
 * A duration in Go's time.ParseDuration grammar, which Docker's flags and Compose files use:
 * one or more number+unit parts (`1m30s`, `1.5h`, `500ms`, `10us`), units ns, us (µs), ms, s, m,
 * h, and d for days. A bare number is refused (Go's "missing unit"), except 0. Negative values
 * are refused. baton keeps whole milliseconds: a value with a fraction of a millisecond rounds
 * up (10us is 1ms), so a duration that is not zero never becomes 0, which means "the default".
 */
export function parseDuration(text: string | number, what: string): Parsed<number> {
  const s = String(text).trim();
  const bad = (why: string, over = false): Parsed<number> => problem(`bad duration ${typed(text)} for ${what}: ${why}`, why, over);
  if (s === '') return bad(`empty (want ${DURATION_EXAMPLES})`);
  if (/^[+-]?0+(\.0*)?$/.test(s)) return ok(0);
  if (s.startsWith('-')) return bad('cannot be negative');
  const body = s.startsWith('+') ? s.slice(1) : s;
  if (/^(\d+(\.\d*)?|\.\d+)$/.test(body)) return bad(`missing a unit (want ${DURATION_EXAMPLES})`);
  let total = 0;
  let at = 0;
  while (at < body.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(body);
    if (!m) return bad(`want ${DURATION_EXAMPLES}`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = DURATION_PART.lastIndex;
  }
  // Whole nanoseconds first, so float noise (0.1s is 100.00000000000001 ms) is not rounded up.
  const ms = Number.isInteger(total) ? total : Math.ceil(Math.round(total * 1e6) / 1e6);
  if (!(ms <= MAX_DURATION_MS)) return bad(`longer than the longest duration (${MAX_DURATION_MS} ms, about 292 years)`, true);
  return ok(ms);
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size in bytes as Docker's --memory takes it (go-units RAMInBytes): a number and an optional
 * binary unit k, m, g, t, p, optionally followed by `i` and/or `b`, any case (`64m`, `1g`,
 * `512k`, `64MiB`, `1.5GB`, `64 MB`); a bare number, or a YAML number, is bytes.
 */
export function parseBytes(text: string | number, what: string): Parsed<number> {
  const bad = (why: string, over = false): Parsed<number> => problem(`bad size ${typed(text)} for ${what}: ${why}`, why, over);
  let n: number;
  if (typeof text === 'number') {
    n = text;
  } else {
    const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?)(b?)$/i.exec(text.trim());
    if (!m || (m[2] === '' && m[3] !== '')) return bad('want e.g. 64m, 1g, 512k, 64MiB');
    n = Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!;
  }
  if (!Number.isFinite(n) || n < 0) return bad('want a size of 0 or more, e.g. 64m');
  const bytes = Math.round(n);
  if (bytes > MAX_MEMORY_BYTES) return bad(`more than the limit of ${MAX_MEMORY_BYTES} bytes (16 TiB)`, true);
  return ok(bytes);
}

/** Digits after the decimal point that matter (trailing zeros dropped, the exponent applied): 1.50 → 1, 2e-10 → 10. */
function decimalPlaces(decimal: string): number {
  const m = /^\d*(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(decimal);
  if (!m) return 0;
  return (m[1] ?? '').replace(/0+$/, '').length - Number(m[2] ?? 0);
}

/**
 * A number of CPUs (`0.5`, `2`, or a YAML number) as nano-CPUs, Docker's unit. 0 means no limit
 * (or no reservation). More than MAX_CPUS is refused rather than multiplied past what an
 * integer holds.
 */
export function parseCpus(text: string | number, what: string): Parsed<number> {
  const s = String(text).trim();
  // Decimal, with an exponent as Docker's (big.Rat) takes it: 1e20 is refused by its size.
  const n = typeof text === 'number' ? text : /^(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(s) ? Number(s) : NaN;
  const bad = (why: string, over = false): Parsed<number> => problem(`bad CPU count ${typed(text)} for ${what}: ${why}`, why, over);
  if (!Number.isFinite(n) || n < 0) return bad('want a number of CPUs like 0.5 or 2');
  // As Docker: a value that is not a whole number of nano-CPUs is refused, not rounded (0.0000000001 would be 0, no limit).
  if (decimalPlaces(String(text).trim()) > 9) return bad('value is too precise (at most 9 decimal places: nano-CPUs)');
  const nano = Math.round(n * 1e9);
  if (n > MAX_CPUS || nano > MAX_NANO_CPUS) return bad(`at most ${MAX_CPUS} CPUs`, true);
  return ok(nano);
}

/**
 * A whole number from `min` to `max` (default MAX_COUNT), as typed: digits only, so
 * 99999999999999999999 is refused by its value, not first rounded to a double and wrapped.
 * `limit` names the limit in the message (e.g. "replicas per service").
 */
export function parseCount(text: string | number, what: string, opts: { min?: number; max?: number; limit?: string } = {}): Parsed<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? MAX_COUNT;
  const s = String(text).trim();
  const bad = (why: string, over = false): Parsed<number> => problem(`bad ${what} ${typed(text)}: ${why}`, why, over);
  if (typeof text === 'number' ? !Number.isInteger(text) : !/^[+-]?\d+$/.test(s)) return bad(`want a whole number from ${min} to ${max}`);
  // Compared as text too: a 25-digit number is over the limit whatever a double makes of it.
  const n = Number(s);
  if (n < min) return bad(`want a whole number from ${min} to ${max}`);
  if (n > max || s.replace(/^\+?0*/, '').length > String(max).length) {
    return bad(`at most ${max}${opts.limit ? ` ${opts.limit}` : ''}`, true);
  }
  return ok(n);
}

/** A fraction from 0 to 1 (a failure ratio). */
export function parseRatio(text: string | number, what: string): Parsed<number> {
  const s = String(text).trim();
  const n = typeof text === 'number' ? text : /^(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n <= 1)) return problem(`bad ${what} ${typed(text)}: want a number from 0 to 1`, 'want a number from 0 to 1');
  return ok(n);
}

const REBALANCE_MODES: Readonly<Record<string, baton.RebalanceMode>> = { auto: baton.RebalanceMode.REBALANCE_AUTO, off: baton.RebalanceMode.REBALANCE_OFF };

/** `--rebalance auto|off` (and Compose's `x-baton-rebalance`). */
export function parseRebalanceMode(text: string | number, what: string): Parsed<baton.RebalanceMode> {
  const mode = typeof text === 'string' ? REBALANCE_MODES[text.trim()] : undefined;
  return mode === undefined ? problem(`bad ${what} ${typed(text)}: want auto or off`, 'want auto or off') : ok(mode);
}

/** How `service inspect --pretty` and Compose say a rebalance mode. */
export function rebalanceModeText(mode: baton.RebalanceMode | null | undefined): string {
  return mode === baton.RebalanceMode.REBALANCE_AUTO ? 'auto' : 'off';
}
