// `service logs --timestamps --since`, as Docker's: an RFC3339Nano time before each line, and
// --since as a duration back from now (10m, 1h30m) or a timestamp (2026-01-02T15:04:05Z, or Unix
// seconds). Applied here, on the LogLine timestamps the stream carries.
import { BatonError } from '../client/index.js';
import { parseDuration } from '../spec/index.js';

/** --since as ms since the epoch; one line when it is neither a duration nor a time. */
export function parseSince(text: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return at;
  } else {
    const d = parseDuration(text, '--since');
    if (d.ok) return now - d.value;
  }
  throw new BatonError('INVALID_ARGUMENT', `bad --since "${text}" (want a duration like 10m or a time like 2006-01-02T15:04:05Z)`);
}

/** Go's RFC3339Nano of a ms timestamp: 2026-12-06T23:45:01.123Z (trailing zeros dropped, as Go). */
export function timestampText(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}
