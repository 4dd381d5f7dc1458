// List filters, with the meaning Docker's `ls --filter` gives them. Different filters must
// all match (AND); the values of one filter are alternatives (OR).
import type { baton } from '../../proto/gen/baton.js';
import type { Kind, Stored } from './kinds.js';
import { labelsOf, nameOf } from './kinds.js';

export interface ListFilter {
  /** id prefixes, as `docker service ls --filter id=abc` */
  ids?: readonly string[];
  /** exact names, compared case-insensitively like the names themselves */
  names?: readonly string[];
  namePrefixes?: readonly string[];
  /** `key` (label present) or `key=value`; every one must match */
  labels?: readonly string[];
  /** tasks only: a filter on a field another kind lacks matches nothing of that kind */
  serviceIds?: readonly string[];
  nodeIds?: readonly string[];
  desiredStates?: readonly baton.TaskState[];
}

/** Names are unique and looked up ignoring case (as in swarmkit), so `Web` and `web` clash. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

function labelsMatch(labels: Readonly<Record<string, string>>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return Object.prototype.hasOwnProperty.call(labels, w);
    const key = w.slice(0, eq);
    return Object.prototype.hasOwnProperty.call(labels, key) && labels[key] === w.slice(eq + 1);
  });
}

function taskFieldsMatch(kind: Kind, obj: Stored<Kind>, f: ListFilter): boolean {
  if (f.serviceIds === undefined && f.nodeIds === undefined && f.desiredStates === undefined) return true;
  if (kind !== 'task') return false;
  const t = obj as Stored<'task'>;
  if (f.serviceIds !== undefined && !f.serviceIds.includes(t.serviceId)) return false;
  if (f.nodeIds !== undefined && !f.nodeIds.includes(t.nodeId)) return false;
  if (f.desiredStates !== undefined && !f.desiredStates.includes(t.desiredState)) return false;
  return true;
}

export function matches(kind: Kind, obj: Stored<Kind>, f: ListFilter): boolean {
  if (f.ids !== undefined && !f.ids.some((p) => obj.meta.id.startsWith(p))) return false;
  if (f.names !== undefined || f.namePrefixes !== undefined) {
    const name = nameKey(nameOf(kind, obj));
    if (f.names !== undefined && !f.names.some((n) => nameKey(n) === name)) return false;
    if (f.namePrefixes !== undefined && !f.namePrefixes.some((p) => name.startsWith(nameKey(p)))) return false;
  }
  if (f.labels !== undefined && !labelsMatch(labelsOf(kind, obj), f.labels)) return false;
  return taskFieldsMatch(kind, obj, f);
}
