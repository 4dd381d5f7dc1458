// The stack's secrets and configs on the cluster, through the Control API's secret and config
// calls (the same model for both: a named, immutable blob with labels).
import type { BatonClient } from '../../client/index.js';
import type { ObjectKind } from './objects.js';
import { NAMESPACE_LABEL } from './service.js';
import type { ObjectStore, StoredObject } from './sync-objects.js';

type Listed = { meta?: { id?: string | null } | null; spec?: { annotations?: { name?: string | null; labels?: Record<string, string> | null } | null } | null };

function stored(o: Listed): StoredObject {
  return { id: o.meta?.id ?? '', name: o.spec?.annotations?.name ?? '', labels: { ...(o.spec?.annotations?.labels ?? {}) } };
}

export function stackObjectStore(client: BatonClient): ObjectStore {
  const c = client.control;
  return {
    async list(kind) {
      const objects = kind === 'secret' ? await client.list('ListSecrets') : await client.list('ListConfigs');
      return objects.map(stored);
    },
    async create(kind, name, data, labels) {
      const spec = { annotations: { name, labels }, data };
      const created = kind === 'secret' ? await c.call('CreateSecret', { spec }) : await c.call('CreateConfig', { spec });
      return created.meta?.id ?? '';
    },
    async remove(kind, id) {
      await (kind === 'secret' ? c.call('RemoveSecret', { id }) : c.call('RemoveConfig', { id }));
    },
  };
}

/** `stack rm`: the secrets and configs the stack created (external ones carry no label). */
export async function removeStackObjects(store: ObjectStore, stack: string, say: (line: string) => void): Promise<number> {
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
