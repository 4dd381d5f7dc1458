// Which tasks a rolling update still has to replace: those whose spec or endpoint differs from
// their service's (proto/task-spec.ts says what "differs" means). Stored objects never change
// in place, so each comparable text is computed once and cached on the object itself; and a
// task stamped with a spec version (the service version it was made from, or brought up to in
// place) carries what every task of that service and version carries, so the answer is kept
// per service object and spec version. Each status report stores a new task object: a cache
// by task object alone made the text again for every report of every task (10 s of the
// leader's CPU at 100,000 tasks, most of it in the WeakMap of 100,000 entries).
import { differsOnlyInPlacement, serviceTaskKey, taskKey } from '../../proto/task-spec.js';

const keys = new WeakMap<object, string>();
/** Per service object: spec version of a task → up to date. */
const byVersion = new WeakMap<object, Map<number, boolean>>();
/** Per service object: spec version of a task → differs from it only in the placement. */
const placementOnlyByVersion = new WeakMap<object, Map<number, boolean>>();

function cached(obj: object, make: () => string): string {
  let k = keys.get(obj);
  if (k === undefined) {
    k = make();
    keys.set(obj, k);
  }
  return k;
}

interface ServiceLike {
  readonly spec?: { readonly task?: object | null } | null;
  readonly endpoint?: object | null;
}

interface TaskLike {
  readonly spec?: object | null;
  readonly endpoint?: object | null;
  readonly specVersion?: number | null;
}

/** True when `task` carries what a task made from `service` now would: nothing to update. */
export function isUpToDate(service: ServiceLike, task: TaskLike): boolean {
  const version = Number(task.specVersion ?? 0);
  const serviceKey = cached(service, () => serviceTaskKey(service));
  // 0: a task from before spec versions (or made by hand): compared on its own.
  if (version === 0) return serviceKey === cached(task, () => taskKey(task));
  return perVersion(byVersion, service, version, () => serviceKey === taskKey(task));
}

/** The answer for (service object, spec version), made once by `answer`. */
function perVersion(cache: WeakMap<object, Map<number, boolean>>, service: object, version: number, answer: () => boolean): boolean {
  let known = cache.get(service);
  if (known === undefined) cache.set(service, (known = new Map<number, boolean>()));
  let a = known.get(version);
  if (a === undefined) {
    a = answer();
    known.set(version, a);
  }
  return a;
}

/**
 * differsOnlyInPlacement (proto/task-spec.ts), kept per service object and spec version as
 * isUpToDate is: every pass of a rolling update (of any field) asked it anew for each old
 * task, 10,000 per service at scale (a third of the updater's CPU in bench:leader-costs).
 */
export function onlyPlacementDiffers(service: Parameters<typeof differsOnlyInPlacement>[0], task: Parameters<typeof differsOnlyInPlacement>[1] & TaskLike): boolean {
  const version = Number(task.specVersion ?? 0);
  if (version === 0) return differsOnlyInPlacement(service, task);
  return perVersion(placementOnlyByVersion, service, version, () => differsOnlyInPlacement(service, task));
}

// Labels the updater puts on tasks (task annotations, which workers ignore).

/** On a task stopped by a stop-first update: its slot is refilled once it has stopped. */
export const UPDATE_STOP_LABEL = 'baton.update-stop';
/** On an old task being replaced start-first: the id of its replacement. */
export const REPLACED_BY_LABEL = 'baton.replaced-by';
/**
 * On a live task a rebalance moves (../orchestrator/rebalance/): the node its replacement is
 * for. The updater replaces it start-first like a task of an old spec.
 */
export const REBALANCE_TO_LABEL = 'baton.rebalance-to';

interface LabelledTask extends TaskLike {
  readonly annotations?: { readonly labels?: { readonly [k: string]: string } | null } | null;
}

/** A rebalance marked the task to move. */
export function isMoving(task: LabelledTask): boolean {
  return task.annotations?.labels?.[REBALANCE_TO_LABEL] !== undefined;
}

/** The rolling updater still has to replace the task: an old spec, or marked to move. */
export function mustReplace(service: ServiceLike, task: LabelledTask): boolean {
  return !isUpToDate(service, task) || isMoving(task);
}
