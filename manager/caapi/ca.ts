// The CA service (proto/internal.proto): the only calls a node without a certificate may make.
// Joining checks the token against the cluster's current tokens (so a rotated token stops
// working at once), records the node, and signs its CSR with the root key unsealed in memory.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Handlers } from '../../rpc/define.js';
import { caService, type CAService } from '../../rpc/services.js';
import type { Guard } from '../../rpc/caller.js';
import { CAError, JoinTokenError, openJoinTokens, parseJoinToken, tokenMatches } from '../ca/index.js';
import type { LeaderForwarder } from '../forward.js';
import type { Manager } from '../manager.js';
import { createAction, newObjectId } from '../store/index.js';
import { managerPeers } from '../controlapi/cluster.js';
import { clusterSigner, hostOf } from './signer.js';

export const DEFAULT_CERT_VALIDITY_MS = 7 * 24 * 3600 * 1000;

export interface CADeps {
  manager: Manager;
  forwarder: LeaderForwarder;
  guard: Guard;
  clusterId: string;
  caPem: string;
  /** The managers' sealing key (unseals the root CA key). */
  managerKey: Uint8Array;
  now?: () => number;
}


export function caHandlers(deps: CADeps): Handlers<CAService> {
  const { manager, forwarder, guard } = deps;
  const now = deps.now ?? Date.now;
  const { cluster, signer } = clusterSigner(manager, deps.managerKey);

  /** `advertise` (host:port) names the node in its certificate too, so clients can check the host they dialled. */
  async function issue(csrPem: string, nodeId: string, role: 'manager' | 'worker', advertise: string): Promise<string> {
    const c = cluster();
    const validity = Number(c.spec?.nodeCertExpiryMs ?? 0) || DEFAULT_CERT_VALIDITY_MS;
    const hosts = [hostOf(advertise)].filter((h) => h !== '');
    try {
      return await (await signer()).issueNodeCertificate(csrPem, { nodeId, role, clusterId: deps.clusterId, hosts }, validity, new Date(now()));
    } catch (err) {
      if (err instanceof CAError) throw new BatonError('INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  return {
    async GetRootCACertificate() {
      return { caCertPem: deps.caPem };
    },

    async Join(req, call) {
      if (!manager.isLeader()) return forwarder.forward(caService, 'Join', req, { nodeId: '', role: 'local' });
      // The token is checked against this leader's store, which must hold every acknowledged
      // rotation: a leader that has not yet applied what its predecessors committed waits for
      // its read barrier. A caught-up leader needs none: its node record commits in this
      // leader's term or the Join fails, and nothing, the certificate included, is answered
      // before that. If it commits, no other leader acknowledged a write in between (a deposed
      // leader commits nothing after its successor's election, which a rotation acknowledged
      // by that successor follows), so the check saw every rotation ordered before the Join.
      // The node id is new (newObjectId): no record to find first. Without the barrier, a
      // Join is one Raft round, not two; with thousands of nodes joining at once on a loaded
      // leader, the barrier's round was what timed out (docs/scale.md).
      if (!manager.leaderCaughtUp()) await manager.readBarrier();
      const c = cluster();
      const root = c.rootCa!;
      let parsed;
      try {
        parsed = parseJoinToken(req.token ?? '');
      } catch (err) {
        if (err instanceof JoinTokenError) throw new BatonError('INVALID_ARGUMENT', `invalid join token: ${err.message}`);
        throw err;
      }
      if (parsed.digest !== root.caCertDigest) {
        throw new BatonError('INVALID_ARGUMENT', 'the join token is for another cluster (its CA digest does not match)');
      }
      const token = req.token!.trim();
      const tokens = openJoinTokens(deps.managerKey, root);
      const role = tokenMatches(token, tokens.manager)
        ? 'manager'
        : tokenMatches(token, tokens.worker)
          ? 'worker'
          : undefined;
      if (!role) throw new BatonError('PERMISSION_DENIED', 'the join token is not valid (it may have been rotated)');
      const advertise = req.advertiseAddr ?? '';
      if (!/^[^\s:]+:\d+$/.test(advertise)) throw new BatonError('INVALID_ARGUMENT', `bad advertise address "${advertise}" (want host:port)`);
      const nodeId = newObjectId();
      const certPem = await issue(req.csrPem ?? '', nodeId, role, advertise);
      const t = now();
      await manager.propose([
        createAction('node', {
          meta: { id: nodeId, createdAt: t, updatedAt: t },
          spec: {
            annotations: { labels: {} },
            desiredRole: role === 'manager' ? baton.NodeRole.MANAGER : baton.NodeRole.WORKER,
            availability: baton.NodeAvailability.ACTIVE,
          },
          description: req.description ?? {},
          status: { state: baton.NodeState.NODE_READY, addr: advertise, lastHeartbeat: t },
          // A joining manager counts as one once it is a Raft member (AddRaftMember).
          role: baton.NodeRole.WORKER,
        }),
      ]);
      void call;
      return {
        nodeId,
        clusterId: deps.clusterId,
        role: role === 'manager' ? baton.NodeRole.MANAGER : baton.NodeRole.WORKER,
        certPem,
        caCertPem: deps.caPem,
        managers: managerPeers(manager),
        managerKey: role === 'manager' ? deps.managerKey : new Uint8Array(0),
      };
    },

    async Renew(req, call) {
      const caller = guard(call, ['manager', 'worker']);
      if (!manager.isLeader()) return forwarder.forward(caService, 'Renew', req, caller);
      const node = manager.store.get('node', caller.nodeId);
      if (!node) throw new BatonError('PERMISSION_DENIED', `node ${caller.nodeId} is not part of the cluster (it was removed)`);
      const role = node.spec?.desiredRole === baton.NodeRole.MANAGER ? 'manager' : 'worker';
      const certPem = await issue(req.csrPem ?? '', caller.nodeId, role, node.status?.addr ?? '');
      return {
        certPem,
        role: role === 'manager' ? baton.NodeRole.MANAGER : baton.NodeRole.WORKER,
        managerKey: role === 'manager' ? deps.managerKey : new Uint8Array(0),
      };
    },
  };
}
