// What a dockerode failure means for the agent: the engine's HTTP status when it answered, or
// a socket error when it did not (then the runtime is unavailable, not the task at fault).
import { ExecutorError, errorMessage } from './types.js';

export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return undefined;
  return typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/** The engine's own words (its JSON `message`), without dockerode's "(HTTP code N) ..." prefix. */
export function engineMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'json' in err) {
    const json = err.json;
    if (typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string') {
      return json.message.trim();
    }
  }
  return errorMessage(err).trim();
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** Rethrows ExecutorErrors as they are; an engine that cannot be reached becomes RUNTIME_UNAVAILABLE. */
export function rethrow(err: unknown, what: string): never {
  if (err instanceof ExecutorError) throw err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (httpStatus(err) === undefined && UNREACHABLE.has(code)) {
    throw new ExecutorError('RUNTIME_UNAVAILABLE', `docker engine unreachable while trying to ${what}: ${errorMessage(err)}`, { cause: err });
  }
  throw new Error(`docker: ${what}: ${engineMessage(err)}`, { cause: err });
}

/** Runs an engine call, treating the given HTTP statuses as "nothing to do" (undefined). */
export async function tolerate<T>(statuses: number[], call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    const status = httpStatus(err);
    if (status !== undefined && statuses.includes(status)) return undefined;
    throw err;
  }
}
