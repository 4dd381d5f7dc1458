// Durations on the command line, the Docker way: 500ms, 30s, 5m, 24h, 90d.
import { BatonError } from '../../rpc/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new BatonError('INVALID_ARGUMENT', `bad duration "${text}" for ${flag} (want e.g. 500ms, 30s, 5m, 24h, 90d)`);
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  if (ms <= 0) throw new BatonError('INVALID_ARGUMENT', `${flag} must be positive`);
  return ms;
}
