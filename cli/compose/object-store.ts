// The stack's secrets and configs on the cluster, through the Control API's secret and config
// calls. Until the cluster has them, a stack that declares secrets or configs is refused.
import type { BatonClient } from '../../src/client/index.js';
import type { ObjectKind } from './objects.js';
import { NAMESPACE_LABEL } from './service.js';
import type { ObjectStore } from './sync-objects.js';

export function stackObjectStore(_client: BatonClient): ObjectStore | undefined {
  return undefined;
}

/** `stack rm`: the secrets and configs the stack created (external ones carry no label). */
export async function removeStackObjects(store: ObjectStore | undefined, stack: string, say: (line: string) => void): Promise<number> {
  if (!store) return 0;
  let removed = 0;
  for (const kind of ['secret', 'config'] as ObjectKind[]) {
    for (const o of await store.list(kind)) {
      if (o.labels[NAMESPACE_LABEL] !== stack) continue;
      say(`Removing ${kind} ${o.name}`);
      await store.remove(kind, o.id);
      removed++;
    }
  }
  return removed;
}
