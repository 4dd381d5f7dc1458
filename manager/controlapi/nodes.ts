// Node views and safety rules shared by the control API handlers: what `node ls` shows for a
// manager, and whether removing a voter would leave the cluster without a quorum.
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../manager.js';
import type { Stored } from '../store/index.js';

/** A stored node with its live manager status (leader flag, reachability) filled in. */
export function nodeView(manager: Manager, node: Stored<'node'>): baton.Node.$Properties {
  const view = baton.Node.fromObject(baton.Node.toObject(node as baton.Node));
  if (node.role === baton.NodeRole.MANAGER) {
    const ready = node.status?.state === baton.NodeState.NODE_READY;
    view.managerStatus = {
      addr: node.managerStatus?.addr ?? '',
      leader: manager.leaderId() === node.meta.id,
      reachability: ready ? baton.Reachability.REACHABLE : baton.Reachability.UNREACHABLE,
    };
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
