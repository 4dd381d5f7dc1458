// The Docker engine's own labels (`docker info` Labels, set in daemon.json or with dockerd
// --label), which a node reports in its description for `engine.labels.KEY` constraints and
// preferences, as Swarm does. A node without an engine reports none.
import Docker from 'dockerode';
import type { Logger } from 'pino';

const INFO_TIMEOUT_MS = 5_000;

/** "key=value" entries as a map; an entry without '=' is a key with an empty value. */
export function labelMap(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at === 0) continue;
    if (at < 0) out[entry] = '';
    else out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/** The engine's labels; empty (logged) when the engine does not answer in time. */
export async function readEngineLabels(logger: Logger, docker: { info(): Promise<unknown> } = new Docker(), timeoutMs = INFO_TIMEOUT_MS): Promise<Record<string, string>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`docker info did not answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const info = (await Promise.race([docker.info(), timeout])) as { Labels?: unknown } | null;
    const raw = info?.Labels;
    const labels = Array.isArray(raw) ? raw.filter((l): l is string => typeof l === 'string') : [];
    return labelMap(labels);
  } catch (err) {
    logger.warn({ err }, 'cannot read the Docker engine\'s labels; reporting none');
    return {};
  } finally {
    clearTimeout(timer);
  }
}
