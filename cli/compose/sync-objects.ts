// The secrets and configs of a stack against the cluster: which exist, which to create, which
// changed. Everything is checked before anything is written, so a missing external secret or
// an unreadable file leaves the cluster as it was.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BatonError, type baton } from '../../client/index.js';
import type { ObjectDecl, ObjectKind } from './objects.js';
import { NAMESPACE_LABEL } from './service.js';

/** A digest of the data we created an object from, to tell on re-deploy whether the file changed. */
export const DIGEST_LABEL = 'com.baton.stack.digest';

export interface StoredObject {
  id: string;
  name: string;
  labels: Record<string, string>;
}

/** The secret/config calls the stack needs (the Control API's, or a test's). */
export interface ObjectStore {
  list(kind: ObjectKind): Promise<StoredObject[]>;
  create(kind: ObjectKind, name: string, data: Uint8Array, labels: Record<string, string>): Promise<string>;
  remove(kind: ObjectKind, id: string): Promise<void>;
}

export interface ObjectPlan {
  /** name → id of every object the stack's services refer to (ids of new ones filled in by apply). */
  ids: Map<string, string>;
  create: { decl: ObjectDecl; data: Uint8Array; labels: Record<string, string> }[];
  /** Existing objects of the stack whose file changed and that no service uses: replaced. */
  replace: StoredObject[];
}

function digest(data: Uint8Array): string {
  return createHash('sha256').update('baton-stack\0').update(data).digest('hex');
}

/** Which services (by name) refer to an object id. */
function users(kind: ObjectKind, id: string, services: readonly baton.Service.$Properties[]): string[] {
  return services
    .filter((s) => {
      const c = s.spec?.task?.container;
      return kind === 'secret' ? (c?.secrets ?? []).some((r) => r.secretId === id) : (c?.configs ?? []).some((r) => r.configId === id);
    })
    .map((s) => s.spec?.annotations?.name ?? '');
}

export function planObjects(
  stack: string,
  decls: readonly ObjectDecl[],
  stored: readonly StoredObject[],
  services: readonly baton.Service.$Properties[],
): ObjectPlan {
  const byName = new Map(stored.map((o) => [o.name, o]));
  const plan: ObjectPlan = { ids: new Map(), create: [], replace: [] };
  for (const decl of decls) {
    const current = byName.get(decl.name);
    if (decl.external) {
      if (!current) throw new BatonError('NOT_FOUND', `${decl.where}: external ${decl.kind} "${decl.name}" not found (create it with baton ${decl.kind} create)`);
      plan.ids.set(decl.name, current.id);
      continue;
    }
    let data: Uint8Array;
    try {
      data = readFileSync(decl.file ?? '');
    } catch (err) {
      throw new BatonError('INVALID_ARGUMENT', `${decl.where}.file: cannot read ${decl.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (data.length === 0) throw new BatonError('INVALID_ARGUMENT', `${decl.where}.file: ${decl.file} is empty (a ${decl.kind} needs data)`);
    const labels = { ...decl.labels, [NAMESPACE_LABEL]: stack, [DIGEST_LABEL]: digest(data) };
    if (current) {
      if (current.labels[NAMESPACE_LABEL] !== stack) {
        throw new BatonError('ALREADY_EXISTS', `${decl.where}: a ${decl.kind} named ${decl.name} already exists and is not part of stack ${stack}`);
      }
      if (current.labels[DIGEST_LABEL] === labels[DIGEST_LABEL]) {
        plan.ids.set(decl.name, current.id);
        continue;
      }
      const usedBy = users(decl.kind, current.id, services);
      if (usedBy.length > 0) {
        throw new BatonError(
          'FAILED_PRECONDITION',
          `${decl.where}: the data of ${decl.kind} ${decl.name} changed, but it is in use by ${usedBy.join(', ')} and a ${decl.kind} cannot be changed in place; give it a new name (e.g. ${decl.key}_v2) or remove the stack first`,
        );
      }
      plan.replace.push(current);
    }
    plan.create.push({ decl, data, labels });
  }
  return plan;
}
