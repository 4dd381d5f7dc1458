// Node calls of the Control service, and the rules they keep: what `node ls` shows for a
// manager, and no demotion or removal that leaves the voters without a reachable quorum.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Manager } from '../manager.js';
import { deleteAction, updateAction, type Stored } from '../store/index.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';
import { resolveObject } from './resolve.js';
import { describeProblems, validateLabels } from '../../spec/index.js';

export interface NodeDeps {
  manager: Manager;
  now?: () => number;
}

export type NodeMethods = 'GetNode' | 'ListNodes' | 'UpdateNode' | 'RemoveNode';

export function nodeHandlers(deps: NodeDeps): ControlHandlers<NodeMethods> {
  const { manager } = deps;
  const now = deps.now ?? Date.now;
  const resolveNode = (ref: string): Stored<'node'> => resolveObject(manager, 'node', ref);

  return {
    async GetNode(req) {
      return nodeView(manager, resolveNode(req.id ?? ''));
    },

    async ListNodes(req) {
      const roles = (req.filters?.roles ?? []).map((r) => (r === 'manager' ? baton.NodeRole.MANAGER : baton.NodeRole.WORKER));
      const nodes = manager.store
        .list('node', listFilterOf(req.filters))
        .filter((n) => roles.length === 0 || roles.includes(n.role ?? baton.NodeRole.WORKER))
        .map((n) => nodeView(manager, n) as baton.Node & { meta: { id: string } });
      const { items, nextPageToken } = page(nodes, req, (n) => encodedSize(baton.Node, n));
      return { nodes: items, nextPageToken };
    },

    async UpdateNode(req, ctx) {
      const node = resolveNode(req.id ?? '');
      const spec = req.spec;
      if (!spec) throw new BatonError('INVALID_ARGUMENT', 'node update needs a spec');
      const labelProblems = validateLabels('node labels', spec.annotations?.labels);
      if (labelProblems.length > 0) throw new BatonError('INVALID_ARGUMENT', describeProblems(labelProblems));
      const version = req.version ? Number(req.version) : node.meta.version;
      // Refused here rather than after a Raft round trip; the store checks again at apply.
      if (version !== node.meta.version) {
        throw new BatonError('VERSION_CONFLICT', `update of node ${node.meta.id}: version ${version} is stale, current is ${node.meta.version}`);
      }
      const wasManager = (node.spec?.desiredRole ?? baton.NodeRole.WORKER) === baton.NodeRole.MANAGER;
      const demoting = wasManager && spec.desiredRole === baton.NodeRole.WORKER;
      if (demoting) {
        const q = keepsQuorum(manager, node.meta.id);
        if (!q.ok) {
          throw new BatonError(
            'FAILED_PRECONDITION',
            `demoting ${node.meta.id} would leave ${q.reachable} reachable manager(s) where ${q.needed} are needed for a quorum`,
          );
        }
        if (node.meta.id === manager.nodeId) {
          // A leader cannot take itself out of Raft and still answer: hand over, and let the
          // new leader carry out the demotion.
          await manager.transferLeadership(reachableVoter(manager, node.meta.id));
          return ctx.toLeader(req);
        }
        // Out of the Raft voters first: only then may the node learn it is a worker and drop
        // its Raft state (the other order can leave a voter with no log behind it).
        if (manager.raftStatus().conf.voters.includes(node.meta.id)) await manager.removeMember(node.meta.id);
        const current = manager.store.get('node', node.meta.id)!;
        const [demoted] = await manager.propose([
          updateAction('node', {
            ...(current as baton.Node),
            meta: { ...current.meta, updatedAt: now() },
            spec,
            role: baton.NodeRole.WORKER,
            managerStatus: null,
          }),
        ]);
        return nodeView(manager, demoted!.object as Stored<'node'>);
      }
      const updated = { ...(node as baton.Node), meta: { ...node.meta, version, updatedAt: now() }, spec };
      const [stored] = await manager.propose([updateAction('node', updated)]);
      return nodeView(manager, stored!.object as Stored<'node'>);
    },

    async RemoveNode(req) {
      const node = resolveNode(req.id ?? '');
      const id = node.meta.id;
      let warning = '';
      const isManager = node.role === baton.NodeRole.MANAGER;
      if (isManager) {
        if (!req.force) {
          throw new BatonError('FAILED_PRECONDITION', `node ${id} is a manager: demote it first (or use --force)`);
        }
        const q = keepsQuorum(manager, id);
        if (!q.ok) warning = `removing manager ${id} leaves ${q.reachable} reachable manager(s) where ${q.needed} are needed: the cluster may lose its quorum`;
        if (id === manager.nodeId) throw new BatonError('FAILED_PRECONDITION', `node ${id} is the leader answering this call; remove it from another manager`);
        if (manager.raftStatus().conf.voters.includes(id)) await manager.removeMember(id);
      } else if (node.status?.state === baton.NodeState.NODE_READY && !req.force) {
        throw new BatonError('FAILED_PRECONDITION', `node ${id} is not down and can't be removed (use --force)`);
      }
      await manager.propose([deleteAction('node', node)]);
      return { warning };
    },
  };
}

/** A stored node with its live manager status (leader flag, reachability) filled in. */
export function nodeView(manager: Manager, node: Stored<'node'>): baton.Node {
  const view = baton.Node.fromObject(baton.Node.toObject(node as baton.Node));
  if (node.role === baton.NodeRole.MANAGER) {
    const ready = node.status?.state === baton.NodeState.NODE_READY;
    view.managerStatus = baton.ManagerStatus.fromObject({
      addr: node.managerStatus?.addr ?? '',
      leader: manager.leaderId() === node.meta.id,
      reachability: ready ? baton.Reachability.REACHABLE : baton.Reachability.UNREACHABLE,
    });
  }
  return view;
}

/**
 * Would the voters left after removing `nodeId` still have a reachable majority? Reachable means
 * the node's heartbeats arrive (status READY) or it is this manager.
 */
export function keepsQuorum(manager: Manager, nodeId: string): { ok: boolean; reachable: number; needed: number } {
  const voters = manager.raftStatus().conf.voters.filter((id) => id !== nodeId);
  const reachable = voters.filter(
    (id) => id === manager.nodeId || manager.store.get('node', id)?.status?.state === baton.NodeState.NODE_READY,
  ).length;
  const needed = Math.floor(voters.length / 2) + 1;
  return { ok: voters.length > 0 && reachable >= needed, reachable, needed };
}

/** A voter other than `except` whose heartbeats arrive: where to hand leadership. */
function reachableVoter(manager: Manager, except: string): string {
  const id = manager
    .raftStatus()
    .conf.voters.find((v) => v !== except && manager.store.get('node', v)?.status?.state === baton.NodeState.NODE_READY);
  if (!id) throw new BatonError('FAILED_PRECONDITION', 'no other reachable manager to hand leadership to');
  return id;
}
