// What a recovered store says about the managers it lost: `init --force-new-cluster` (this
// manager alone from its own log) and `init --restore` (a new manager from a backup) both end
// with one manager, so every other manager node is written down as a worker that is down. Its
// node object stays (its tasks, its history), `baton node rm` removes it like any down worker,
// and the control API takes its certificate for a worker's: the store's role decides
// (rpc/caller.ts). Raft membership is this manager alone, so the core ignores the lost ones.
import { baton } from '../proto/gen/baton.js';
import { EntryType } from '../raft/index.js';
import { BatonError } from '../rpc/errors.js';
import { ClusterStore, createAction, encodeBatch, updateAction, type StoreActionT } from './store/index.js';

export interface RecoveredManager {
  nodeId: string;
  /** host:port other nodes reach it at. */
  addr: string;
  /** For a manager new to the store (a restore): how it describes itself. */
  description?: baton.NodeDescription.$Properties;
}

export interface Recovered {
  /** The store's snapshot with the change applied, at `index`. */
  data: Uint8Array;
  /** The managers written down as lost workers. */
  lost: { nodeId: string; name: string; addr: string }[];
}

/**
 * Applies, at `index`, the one batch that leaves `self` the only manager: every other manager
 * demoted and down, `self` a ready manager at its address (created when the store lacks it).
 */
export function recoverAsOnlyManager(store: ClusterStore, self: RecoveredManager, index: number, term: number, now: number): Recovered {
  const actions: StoreActionT[] = [];
  const lost: Recovered['lost'] = [];
  for (const node of store.list('node')) {
    if (node.meta.id === self.nodeId) continue;
    const wasManager = node.role === baton.NodeRole.MANAGER || node.spec?.desiredRole === baton.NodeRole.MANAGER;
    if (!wasManager) continue;
    lost.push({ nodeId: node.meta.id, name: node.spec?.annotations?.name || node.description?.hostname || '', addr: node.managerStatus?.addr ?? node.status?.addr ?? '' });
    actions.push(
      updateAction('node', {
        ...(node as baton.Node),
        meta: { ...node.meta, updatedAt: now },
        spec: { ...(node.spec as baton.NodeSpec), desiredRole: baton.NodeRole.WORKER },
        role: baton.NodeRole.WORKER,
        managerStatus: null,
        status: { ...(node.status as baton.NodeStatus), state: baton.NodeState.NODE_DOWN, message: 'a manager lost when the cluster was recovered' },
      }),
    );
  }
  const existing = store.get('node', self.nodeId);
  const status = { state: baton.NodeState.NODE_READY, addr: self.addr, lastHeartbeat: now };
  if (existing) {
    actions.push(
      updateAction('node', {
        ...(existing as baton.Node),
        meta: { ...existing.meta, updatedAt: now },
        spec: { ...(existing.spec as baton.NodeSpec), desiredRole: baton.NodeRole.MANAGER },
        role: baton.NodeRole.MANAGER,
        status: { ...(existing.status as baton.NodeStatus), ...status },
        managerStatus: { addr: self.addr },
      }),
    );
  } else {
    actions.push(
      createAction('node', {
        meta: { id: self.nodeId, createdAt: now, updatedAt: now },
        spec: { annotations: { labels: {} }, desiredRole: baton.NodeRole.MANAGER, availability: baton.NodeAvailability.ACTIVE },
        description: self.description ?? {},
        status,
        role: baton.NodeRole.MANAGER,
        managerStatus: { addr: self.addr },
      }),
    );
  }
  const result = store.apply({ index, term, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions) });
  // The batch only touches objects it read from this very store: a refusal is a bug, not input.
  if (!result.ok) throw new BatonError('INTERNAL', `cannot rewrite the managers in the store: ${result.error.message}`);
  return { data: store.snapshot(), lost };
}
