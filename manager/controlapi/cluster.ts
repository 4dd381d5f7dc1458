// Cluster calls of the Control service: the cluster object, join tokens, who leads, and Raft
// membership of a manager that has just joined.
import { softwareVersion } from '../../rpc/version.js';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { generateJoinToken, openJoinTokens, sealJoinTokens } from '../ca/index.js';
import type { Manager } from '../manager.js';
import { updateAction, type Stored } from '../store/index.js';
import type { ControlHandlers } from './entry.js';

export interface ClusterDeps {
  manager: Manager;
  clusterId: string;
  /** The managers' sealing key: the join tokens are stored sealed with it. */
  managerKey: Uint8Array;
  now?: () => number;
}

export type ClusterMethods = 'GetCluster' | 'RotateJoinToken' | 'Info' | 'AddRaftMember';

export function clusterHandlers(deps: ClusterDeps): ControlHandlers<ClusterMethods> {
  const { manager } = deps;
  const now = deps.now ?? Date.now;

  function cluster(): Stored<'cluster'> {
    const c = manager.store.list('cluster')[0];
    if (!c) throw new BatonError('UNAVAILABLE', 'the cluster is still initializing; retry');
    return c;
  }

  return {
    async GetCluster() {
      return publicCluster(cluster(), deps.managerKey);
    },

    async RotateJoinToken(req) {
      const c = cluster();
      const root = c.rootCa;
      if (!root?.caCertDigest) throw new BatonError('INTERNAL', 'cluster has no root CA');
      const tokens = openJoinTokens(deps.managerKey, root);
      if (req.worker) tokens.worker = generateJoinToken(root.caCertDigest);
      if (req.manager) tokens.manager = generateJoinToken(root.caCertDigest);
      const rootCa = { ...root, ...sealJoinTokens(deps.managerKey, tokens) };
      const updated = { ...(c as baton.Cluster), meta: { ...c.meta, updatedAt: now() }, rootCa };
      const [stored] = await manager.propose([updateAction('cluster', updated)]);
      return publicCluster(stored!.object as Stored<'cluster'>, deps.managerKey);
    },

    async Info() {
      return {
        clusterId: deps.clusterId,
        nodeId: manager.nodeId,
        leaderId: manager.leaderId(),
        managers: managerPeers(manager),
        ...softwareVersion(),
        raft: manager.raftSettings(),
      };
    },

    async AddRaftMember(req, { caller }) {
      const nodeId = req.nodeId ?? '';
      if (caller.role !== 'local' && caller.nodeId !== nodeId) {
        throw new BatonError('PERMISSION_DENIED', `node ${caller.nodeId} cannot add ${nodeId} to Raft`);
      }
      const node = manager.store.get('node', nodeId);
      if (!node) throw new BatonError('NOT_FOUND', `node ${nodeId} is not part of the cluster`);
      if ((node.spec?.desiredRole ?? baton.NodeRole.WORKER) !== baton.NodeRole.MANAGER) {
        throw new BatonError('PERMISSION_DENIED', `node ${nodeId} is not meant to be a manager`);
      }
      const addr = req.addr ?? '';
      if (!manager.raftStatus().conf.voters.includes(nodeId)) await manager.addVoter(nodeId, addr);
      const current = manager.store.get('node', nodeId)!;
      await manager.propose([
        updateAction('node', {
          ...(current as baton.Node),
          meta: { ...current.meta, updatedAt: now() },
          role: baton.NodeRole.MANAGER,
          managerStatus: { addr },
        }),
      ]);
      return {};
    },
  };
}

/**
 * The cluster as the API shows it: never the (sealed) root CA key; the join tokens opened, as
 * `baton join-token` prints them (the caller's role was checked by the entry).
 */
function publicCluster(c: Stored<'cluster'>, managerKey: Uint8Array): baton.GetClusterResponse.$Properties {
  const copy = baton.Cluster.fromObject(baton.Cluster.toObject(c as baton.Cluster));
  if (copy.rootCa) {
    copy.rootCa.encryptedCaKey = new Uint8Array(0);
    copy.rootCa.joinTokens = openJoinTokens(managerKey, copy.rootCa);
    copy.rootCa.sealedJoinTokens = new Uint8Array(0);
  }
  // Sealed, but still only for `baton unlock-key`.
  copy.sealedUnlockKey = new Uint8Array(0);
  return { cluster: copy };
}

/**
 * Managers and their addresses, the leader first, the others by id (nodes compare the list with
 * the one they hold, so its order must be stable). Every heartbeat reply carries it: the node
 * table is scanned, not listed, because list() sorts every node by id, ~0.9 ms per heartbeat at
 * 1,000 nodes (38 s of the leader's CPU in a 1,000-node bench:scale run), to keep three.
 */
export function managerPeers(manager: Manager): baton.ManagerPeer.$Properties[] {
  const leader = manager.leaderId();
  const peers: { nodeId: string; addr: string }[] = [];
  for (const n of manager.store.scan('node')) {
    const addr = n.role === baton.NodeRole.MANAGER ? n.managerStatus?.addr : undefined;
    if (addr) peers.push({ nodeId: n.meta.id, addr });
  }
  return peers.sort((a, b) => Number(b.nodeId === leader) - Number(a.nodeId === leader) || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}
