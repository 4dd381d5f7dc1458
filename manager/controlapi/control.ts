// The Control service (proto/control.proto): reads are served by any manager after a Raft read
// barrier (linearizable); writes run on the leader, followers forward them.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { controlService } from '../../rpc/services.js';
import type { Caller, Guard } from '../../rpc/caller.js';
import { generateJoinToken } from '../ca/index.js';
import type { LeaderForwarder } from '../forward.js';
import type { Manager } from '../manager.js';
import { deleteAction, updateAction, type ListFilter, type Stored } from '../store/index.js';
import { keepsQuorum, nodeView } from './nodes.js';
import { resolveObject } from './resolve.js';
import type { SecretMethods } from './secrets.js';
import type { ConfigMethods } from './configs.js';
import { describeProblems, validateLabels } from '../../spec/index.js';

export interface ControlDeps {
  manager: Manager;
  forwarder: LeaderForwarder;
  guard: Guard;
  clusterId: string;
  now?: () => number;
}

const MANAGERS = ['manager'] as const;

type ServiceMethods = 'CreateService' | 'GetService' | 'ListServices' | 'UpdateService' | 'RemoveService' | 'ListTasks';
/** Secrets and configs: secrets.ts, configs.ts. */
type DataMethods = SecretMethods | ConfigMethods;

/** Nodes, cluster, join tokens and Raft membership; services are in services.ts. */
export function clusterHandlers(deps: ControlDeps): Omit<Handlers<ControlService>, ServiceMethods | DataMethods> {
  const { manager, forwarder, guard } = deps;
  const now = deps.now ?? Date.now;

  /** Run on the leader: here if we are it, else forwarded with the caller's identity. */
  async function onLeader<K extends keyof ControlService>(
    method: K,
    request: Parameters<Handlers<ControlService>[K]>[0],
    caller: Caller,
    run: () => Promise<Awaited<ReturnType<Handlers<ControlService>[K]>>>,
  ): Promise<Awaited<ReturnType<Handlers<ControlService>[K]>>> {
    if (manager.isLeader()) return run();
    return forwarder.forward(controlService, method, request as never, caller) as never;
  }

  function cluster(): Stored<'cluster'> {
    const c = manager.store.list('cluster')[0];
    if (!c) throw new BatonError('UNAVAILABLE', 'the cluster is still initializing; retry');
    return c;
  }

  function publicCluster(c: Stored<'cluster'>): baton.GetClusterResponse.$Properties {
    const copy = baton.Cluster.fromObject(baton.Cluster.toObject(c as baton.Cluster));
    if (copy.rootCa) copy.rootCa.encryptedCaKey = new Uint8Array(0);
    return { cluster: copy };
  }

  return {
    async GetNode(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return nodeView(manager, resolveNode(req.id ?? ''));
    },

    async ListNodes(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      const f = req.filters ?? {};
      const filter: ListFilter = {
        ...(f.ids?.length ? { ids: f.ids } : {}),
        ...(f.names?.length ? { names: f.names } : {}),
        ...(f.labels?.length ? { labels: f.labels } : {}),
      };
      const roles = (f.roles ?? []).map((r) => (r === 'manager' ? baton.NodeRole.MANAGER : baton.NodeRole.WORKER));
      const nodes = manager.store.list('node', filter).filter((n) => roles.length === 0 || roles.includes(n.role ?? baton.NodeRole.WORKER));
      return { nodes: nodes.map((n) => nodeView(manager, n)) };
    },

    async UpdateNode(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader('UpdateNode', req, caller, async () => {
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
            return forwarder.forward(controlService, 'UpdateNode', req, caller);
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
      });
    },

    async RemoveNode(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader('RemoveNode', req, caller, async () => {
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
      });
    },

    async GetCluster(_req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return publicCluster(cluster());
    },

    async RotateJoinToken(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader('RotateJoinToken', req, caller, async () => {
        const c = cluster();
        const root = c.rootCa;
        if (!root?.caCertDigest) throw new BatonError('INTERNAL', 'cluster has no root CA');
        const tokens = { worker: root.joinTokens?.worker ?? '', manager: root.joinTokens?.manager ?? '' };
        if (req.worker) tokens.worker = generateJoinToken(root.caCertDigest);
        if (req.manager) tokens.manager = generateJoinToken(root.caCertDigest);
        const updated = { ...(c as baton.Cluster), meta: { ...c.meta, updatedAt: now() }, rootCa: { ...root, joinTokens: tokens } };
        const [stored] = await manager.propose([updateAction('cluster', updated)]);
        return publicCluster(stored!.object);
      });
    },

    async Info(_req, call) {
      guard(call, ['manager', 'worker']);
      return {
        clusterId: deps.clusterId,
        nodeId: manager.nodeId,
        leaderId: manager.leaderId(),
        managers: managerPeers(manager),
      };
    },

    async AddRaftMember(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader('AddRaftMember', req, caller, async () => {
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
      });
    },
  };

  function resolveNode(ref: string): Stored<'node'> {
    return resolveObject(manager, 'node', ref);
  }

}

/** A voter other than `except` whose heartbeats arrive: where to hand leadership. */
function reachableVoter(manager: Manager, except: string): string {
  const id = manager
    .raftStatus()
    .conf.voters.find((v) => v !== except && manager.store.get('node', v)?.status?.state === baton.NodeState.NODE_READY);
  if (!id) throw new BatonError('FAILED_PRECONDITION', 'no other reachable manager to hand leadership to');
  return id;
}

/** Managers and their addresses, the leader first. */
export function managerPeers(manager: Manager): baton.ManagerPeer.$Properties[] {
  const leader = manager.leaderId();
  return manager.store
    .list('node')
    .filter((n) => n.role === baton.NodeRole.MANAGER && n.managerStatus?.addr)
    .map((n) => ({ nodeId: n.meta.id, addr: n.managerStatus!.addr! }))
    .sort((a, b) => Number(b.nodeId === leader) - Number(a.nodeId === leader));
}
