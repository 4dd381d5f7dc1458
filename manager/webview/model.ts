// The web view's state (web/model.ts) read from a manager's store: nodes, services and the tasks
// worth drawing (those meant to run, and those still winding down), with Docker's words.
import { baton } from '../../proto/gen/baton.js';
import { availabilityName, imageText, nodeStateName, portsText, taskStateName, updateStateName } from '../../spec/index.js';
import type { ViewNode, ViewService, ViewTask } from '../../web/model.js';
import type { ClusterStore, Stored } from '../store/index.js';

const S = baton.TaskState;

const HEALTH: Partial<Record<baton.HealthState, string>> = {
  [baton.HealthState.HEALTH_STARTING]: 'starting',
  [baton.HealthState.HEALTH_HEALTHY]: 'healthy',
  [baton.HealthState.HEALTH_UNHEALTHY]: 'unhealthy',
};

/** `leaderId`: Raft's leader as this manager knows it (the store does not record who leads). */
export function viewNode(n: Stored<'node'>, leaderId: string): ViewNode {
  return {
    id: n.meta.id,
    hostname: n.description?.hostname ?? '',
    role: n.role === baton.NodeRole.MANAGER ? 'manager' : 'worker',
    state: nodeStateName(n.status?.state),
    availability: availabilityName(n.spec?.availability),
    leader: n.meta.id === leaderId,
    addr: n.status?.addr ?? '',
  };
}

/** Drawn: a task meant to run, or one whose container may still be there (not yet terminal). */
export function drawn(t: Stored<'task'>): boolean {
  const state = t.status?.state ?? S.TASK_NEW;
  return t.desiredState === S.TASK_RUNNING || (state < S.TASK_COMPLETE && t.nodeId !== '');
}

export function viewTask(t: Stored<'task'>): ViewTask {
  return {
    id: t.meta.id,
    serviceId: t.serviceId ?? '',
    name: t.annotations?.name ?? t.meta.id,
    slot: Number(t.slot ?? 0),
    nodeId: t.nodeId ?? '',
    state: taskStateName(t.status?.state),
    desired: taskStateName(t.desiredState),
    health: HEALTH[t.status?.health ?? baton.HealthState.HEALTH_NONE] ?? '',
    image: imageText(t.spec),
    message: t.status?.err || t.status?.message || '',
  };
}

function modeOf(s: Stored<'service'>): string {
  if (s.spec?.globalJob) return 'global job';
  if (s.spec?.replicatedJob) return 'replicated job';
  return s.spec?.global ? 'global' : 'replicated';
}

/** `running`: tasks of the service running now (counted by the caller from the store). */
export function viewService(s: Stored<'service'>, running: number): ViewService {
  const global = Boolean(s.spec?.global || s.spec?.globalJob);
  return {
    id: s.meta.id,
    name: s.spec?.annotations?.name ?? s.meta.id,
    mode: modeOf(s),
    desired: global ? running : Number(s.spec?.replicas ?? 0),
    running,
    image: imageText(s.spec?.task),
    ports: portsText(s.endpoint?.ports).split(', ').filter(Boolean),
    update: updateStateName(s.updateStatus?.state),
  };
}

/** Counted in a service's running figure: running and meant to. */
export function isRunning(t: Stored<'task'>): boolean {
  return t.status?.state === S.TASK_RUNNING && t.desiredState === S.TASK_RUNNING;
}

/** Running tasks per service id, over the whole store. */
export function runningByService(store: ClusterStore): Map<string, number> {
  const running = new Map<string, number>();
  for (const t of store.list('task')) if (isRunning(t)) running.set(t.serviceId ?? '', (running.get(t.serviceId ?? '') ?? 0) + 1);
  return running;
}

/** The name an event shows: the service's, the task's (`web.2`), the node's hostname. */
export function objectName(change: { kind: string; object: unknown }): string {
  const o = change.object as { meta?: { id?: string }; spec?: { annotations?: { name?: string } }; annotations?: { name?: string }; description?: { hostname?: string } };
  const name = change.kind === 'node' ? o.description?.hostname : change.kind === 'task' ? o.annotations?.name : o.spec?.annotations?.name;
  return name || o.meta?.id || '';
}
