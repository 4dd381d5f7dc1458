// Docker-style references (id, name or unique id prefix) to stored objects, with the store's
// errors turned into API errors that repeat at most a short prefix of the reference.
import { BatonError } from '../../rpc/errors.js';
import { echo } from '../../spec/index.js';
import type { Manager } from '../manager.js';
import type { Kind, Stored } from '../store/index.js';

export function resolveObject<K extends Kind>(manager: Manager, kind: K, ref: string): Stored<K> {
  if (!ref) throw new BatonError('INVALID_ARGUMENT', `a ${kind} id or name is required`);
  try {
    return manager.store.resolve(kind, ref);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'NOT_FOUND') throw new BatonError('NOT_FOUND', `${kind} ${echo(ref)} not found`);
    throw new BatonError('INVALID_ARGUMENT', err instanceof Error ? err.message : String(err));
  }
}
