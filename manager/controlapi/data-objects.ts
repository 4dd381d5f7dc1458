// Secrets and configs share Docker's model: a named, immutable blob with labels, created once,
// referenced by services, removable only when no service uses it. This module holds what both
// kinds' handlers (secrets.ts, configs.ts) do alike; the kinds differ in how the data is kept
// (a secret's is sealed and never returned, a config's is plain and shown by inspect).
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId, type Stored } from '../store/index.js';
import { resolveObject } from './resolve.js';
import { MAX_DATA_BYTES, describeProblems, validateDataSpec as dataSpecProblems } from '../../spec/index.js';

export type DataKind = 'secret' | 'config';

/** Docker's limit for both kinds: 500 KiB (spec/limits.ts). */
export { MAX_DATA_BYTES };

export interface DataDeps {
  manager: Manager;
  now?: () => number;
}

/** Checks a create request's spec (spec/validate.ts: every problem at once); returns a clean copy. */
export function validateDataSpec(kind: DataKind, spec: baton.SecretSpec.$Properties | null | undefined): { name: string; labels: Record<string, string>; data: Uint8Array } {
  const problems = dataSpecProblems(kind, spec);
  if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', describeProblems(problems));
  const name = spec?.annotations?.name ?? '';
  const data = spec?.data ?? new Uint8Array(0);
  return { name, labels: { ...(spec?.annotations?.labels ?? {}) }, data };
}

/** The names of the services whose spec references the object. */
export function servicesUsing(manager: Manager, kind: DataKind, id: string): string[] {
  return manager.store
    .list('service')
    .filter((s) => {
      const c = s.spec?.task?.container;
      const refs = kind === 'secret' ? (c?.secrets ?? []).map((r) => r.secretId) : (c?.configs ?? []).map((r) => r.configId);
      return refs.includes(id);
    })
    .map((s) => s.spec?.annotations?.name ?? s.meta.id)
    .sort();
}

/** Create and remove, the same for both kinds; `storeData` turns the given data into what is stored. */
export function dataWrites<K extends DataKind>(deps: DataDeps, kind: K, storeData: (data: Uint8Array) => Uint8Array) {
  const { manager } = deps;
  const now = deps.now ?? Date.now;

  async function create(spec: baton.SecretSpec.$Properties | null | undefined): Promise<Stored<K>> {
    const { name, labels, data } = validateDataSpec(kind, spec);
    // The store refuses a taken name too (at apply); this says it before a Raft round, clearly.
    if (manager.store.list(kind, { names: [name] }).length > 0) throw new BatonError('ALREADY_EXISTS', `${kind} ${name} already exists`);
    const t = now();
    const object = { meta: { id: newObjectId(), createdAt: t, updatedAt: t }, spec: { annotations: { name, labels }, data: storeData(data) } };
    const [stored] = await manager.propose([createAction(kind, object as never)]);
    return stored!.object as Stored<K>;
  }

  async function remove(ref: string): Promise<void> {
    const obj = resolveObject(manager, kind, ref);
    const name = obj.spec?.annotations?.name ?? obj.meta.id;
    const users = servicesUsing(manager, kind, obj.meta.id);
    if (users.length > 0) {
      throw new BatonError('FAILED_PRECONDITION', `${kind} ${name} is in use by service${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    }
    await manager.propose([deleteAction(kind, obj)]);
  }

  return { create, remove };
}

/** What the API shows of a secret or config without its data. */
export interface DataView {
  meta: baton.Meta.$Properties & { id: string };
  spec: { annotations: baton.Annotations.$Properties | null };
}

/** The object as the API shows it: without its data (secrets always; configs in lists). */
export function withoutData(obj: { readonly meta: { readonly id: string }; readonly spec?: { readonly annotations?: object | null } | null }): DataView {
  return { meta: obj.meta, spec: { annotations: obj.spec?.annotations ?? null } };
}
