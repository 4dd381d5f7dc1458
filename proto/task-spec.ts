// Whether a task still matches its service: the question behind every rolling update, asked by
// the manager's updater and by the CLI's progress alike, so both live here beside the types.
// A task is up to date when its task spec (force_update included) and its endpoint equal the
// service's. Equality is of content: a field left unset and one set to its default value (0,
// '', false, an empty list or message) are the same, and map keys compare in any order.
import { baton } from './gen/baton.js';

type Plain = null | undefined | boolean | number | string | Plain[] | { [k: string]: Plain };

/** Drops defaults recursively; undefined when nothing but defaults is left. */
function prune(v: Plain): Plain {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return undefined;
  if (Array.isArray(v)) {
    // Elements keep their place: a list of defaults is not an empty list.
    const items = v.map((x) => prune(x) ?? null);
    return items.length === 0 ? undefined : items;
  }
  if (typeof v === 'object') {
    const out: { [k: string]: Plain } = {};
    for (const k of Object.keys(v).sort()) {
      const p = prune(v[k]);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v;
}

const OPTIONS = { longs: Number, bytes: String } as const;

/** A stable text for a task spec: equal for equal content. */
export function taskSpecKey(spec: object | null | undefined): string {
  const obj = baton.TaskSpec.toObject(baton.TaskSpec.fromObject(spec ?? {}), OPTIONS) as Plain;
  return JSON.stringify(prune(obj) ?? {});
}

/** A stable text for the ports a task was given. */
export function endpointKey(endpoint: object | null | undefined): string {
  const obj = baton.Endpoint.toObject(baton.Endpoint.fromObject(endpoint ?? {}), OPTIONS) as Plain;
  return JSON.stringify(prune(obj) ?? {});
}

/** What a task made from this service now would carry, as one comparable string. */
export function serviceTaskKey(service: { readonly spec?: { readonly task?: object | null } | null; readonly endpoint?: object | null }): string {
  return `${taskSpecKey(service.spec?.task)}|${endpointKey(service.endpoint)}`;
}

/** The same for an existing task. */
export function taskKey(task: { readonly spec?: object | null; readonly endpoint?: object | null }): string {
  return `${taskSpecKey(task.spec)}|${endpointKey(task.endpoint)}`;
}

/**
 * True when a task differs from what its service would make now only in the placement
 * (constraints, preferences, max replicas per node): Swarm's IsTaskDirtyPlacementConstraintsOnly.
 * Such a task may be brought up to date where it runs, if its node still fits.
 */
export function differsOnlyInPlacement(
  service: { readonly spec?: { readonly task?: { readonly placement?: unknown } | null } | null; readonly endpoint?: object | null },
  task: { readonly spec?: { readonly placement?: unknown } | null; readonly endpoint?: object | null },
): boolean {
  if (endpointKey(service.endpoint) !== endpointKey(task.endpoint)) return false;
  const wanted = service.spec?.task ?? {};
  if (taskSpecKey({ placement: wanted.placement ?? null }) === taskSpecKey({ placement: task.spec?.placement ?? null })) return false;
  return taskSpecKey({ ...wanted, placement: task.spec?.placement ?? null }) === taskSpecKey(task.spec);
}
