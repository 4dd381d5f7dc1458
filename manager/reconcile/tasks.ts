// Task facts shared by the orchestrators and the scheduler: which states are final, what an
// active task is, how a new task of a service looks, and which task of a slot is the latest.
import { baton } from '../../proto/gen/baton.js';
import { isFinished, newObjectId, type DeepReadonly, type Stored } from '../store/index.js';

export { isFinished };

const S = baton.TaskState;

/** A task as stored, or a copy being changed in the current pass. */
export type TaskView = DeepReadonly<baton.Task.$Properties>;

export function stateOf(t: TaskView): baton.TaskState {
  return t.status?.state ?? S.TASK_NEW;
}


/** Still meant to run: desired RUNNING (or an earlier state). */
export function isWanted(t: TaskView): boolean {
  return (t.desiredState ?? S.TASK_NEW) <= S.TASK_RUNNING;
}

/** Counts toward a node's load: wanted and not finished. */
export function isActive(t: TaskView): boolean {
  return isWanted(t) && !isFinished(stateOf(t));
}

/** Ids like Docker's: 25 lowercase base36 characters (rejection sampling keeps them uniform). */
export const newTaskId = newObjectId;

function createdAt(t: TaskView): number {
  return t.meta?.createdAt ?? 0;
}

/** Newest first: by creation time, then by the version of the last change. */
export function newestFirst(a: TaskView, b: TaskView): number {
  return createdAt(b) - createdAt(a) || (b.meta?.version ?? 0) - (a.meta?.version ?? 0);
}

export function latest<T extends TaskView>(tasks: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const t of tasks) if (best === undefined || newestFirst(t, best) < 0) best = t;
  return best;
}

/** The version of the service's last spec change (status-only writes keep it). */
export function specVersionOf(s: Stored<'service'>): number {
  return Number(s.specVersion ?? 0) || s.meta.version;
}

export interface NewTask {
  service: Stored<'service'>;
  /** Replicated: 1..replicas; global: 0. */
  slot: number;
  /**
   * Global: the node it is for (created ASSIGNED); replicated: '' (created PENDING), or the node
   * a rebalance moves the slot to.
   */
  nodeId: string;
  labels: Record<string, string>;
  now: number;
  /** Jobs: the service's job iteration the task runs for. */
  jobIteration?: number | undefined;
}

/** A fresh task made from the service's current spec, wanted RUNNING. */
export function newTask(n: NewTask): TaskView {
  const name = n.service.spec?.annotations?.name ?? n.service.meta.id;
  const assigned = n.nodeId !== '';
  return {
    meta: { id: newTaskId(), createdAt: n.now, updatedAt: n.now },
    annotations: { name: n.slot === 0 ? `${name}.${n.nodeId}` : `${name}.${n.slot}`, labels: n.labels },
    serviceId: n.service.meta.id,
    serviceAnnotations: { name, labels: { ...n.service.spec?.annotations?.labels } },
    slot: n.slot,
    nodeId: n.nodeId,
    spec: n.service.spec?.task ?? {},
    specVersion: specVersionOf(n.service),
    endpoint: n.service.endpoint ?? {},
    desiredState: S.TASK_RUNNING,
    ...(n.jobIteration !== undefined ? { jobIteration: n.jobIteration } : {}),
    status: assigned
      ? { state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: n.now }
      : { state: S.TASK_PENDING, message: 'pending task scheduling', timestamp: n.now },
  };
}
