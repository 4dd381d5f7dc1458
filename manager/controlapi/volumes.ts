// Volume calls of the Control service (`baton volume`). Volumes are no cluster object: each node
// keeps its own (worker/volumes.ts), so a manager asks every node that is up over NodeAgent (mTLS,
// as `service logs` does), each with its own deadline, and merges the answers. A node that does
// not answer in time, or is down, is a warning of the answer, not its failure.
import { baton } from '../../proto/gen/baton.js';
import { BatonError, type ErrorCode } from '../../rpc/errors.js';
import type { RpcClient } from '../../rpc/client.js';
import type { NodeAgentService } from '../../rpc/services.js';
import { echo, volumeNameProblem } from '../../spec/index.js';
import type { Manager } from '../manager.js';
import type { Stored } from '../store/index.js';
import type { ControlHandlers } from './entry.js';
import { resolveObject } from './resolve.js';

type Volume = baton.Volume.$Properties;
type Node = Stored<'node'>;

export type VolumeMethods = 'ListVolumes' | 'RemoveVolume' | 'CreateVolume' | 'PruneVolumes';

/** How long one node has to answer before it is a warning. */
export const NODE_VOLUMES_DEADLINE_MS = 3_000;
/**
 * The same for a create or a prune: the engine looks an unknown volume driver up for 15 s before
 * it says there is none, and a prune measures and deletes what it removes.
 */
export const NODE_VOLUME_CHANGE_DEADLINE_MS = 30_000;

export interface VolumeDeps {
  manager: Manager;
  /** A NodeAgent client for a node's address (mTLS with this manager's certificate). */
  dialNode?: (addr: string) => RpcClient<NodeAgentService>;
  nodeDeadlineMs?: number;
  nodeChangeDeadlineMs?: number;
}

/**
 * One node's answer: its volumes, or why it has none to give: `refused` (the node's error code)
 * when it answered with a refusal of its own (a bad driver, a name taken), not when it could not
 * be reached.
 */
export type NodeAnswer = { node: Node; volumes: Volume[] } | NodeProblem;
type NodeProblem = { node: Node; problem: string; refused?: ErrorCode };

export function volumeHandlers(deps: VolumeDeps): ControlHandlers<VolumeMethods> {
  return {
    ListVolumes: async (req) => {
      const names = req.names ?? [];
      const answers = await askNodes(deps, targetNodes(deps.manager, req.node ?? ''), (client) => client.call('ListVolumes', { names }, deadline(deps)).then((r) => r.volumes ?? []));
      return mergeAnswers(answers, deps.manager.store.list('node'));
    },
    RemoveVolume: async (req) => {
      const name = req.name ?? '';
      if (!name) throw new BatonError('INVALID_ARGUMENT', 'a volume name is required');
      const force = req.force ?? false;
      const nodes = targetNodes(deps.manager, req.node ?? '');
      const all = deps.manager.store.list('node');
      // Looked at first everywhere: in use on one node, it is removed on none.
      const found = mergeAnswers(await askNodes(deps, nodes, (client) => client.call('ListVolumes', { names: [name] }, deadline(deps)).then((r) => r.volumes ?? [])), all);
      const volumes = found.volumes ?? [];
      const warnings = found.warnings ?? [];
      if (volumes.length === 0) {
        if (force) return { removed: [], warnings };
        throw new BatonError('NOT_FOUND', `no such volume: ${echo(name)}${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`);
      }
      // A task is named with its node when the volume is on several (each node's is another volume).
      const onSeveral = new Set(volumes.map((v) => v.nodeId)).size > 1;
      const users = volumes.flatMap((v) => (v.usedBy ?? []).map((u) => (onSeveral ? `${u} on ${v.node}` : u)));
      if (users.length > 0) throw new BatonError('FAILED_PRECONDITION', `remove ${echo(name)}: volume is in use - [${[...new Set(users)].join(', ')}]`);
      const holders = nodes.filter((n) => volumes.some((v) => v.nodeId === n.meta.id));
      const removed = await askNodes(deps, holders, (client) => client.call('RemoveVolume', { name, force }, deadline(deps)).then((r) => r.removed ?? []));
      const merged = mergeAnswers(removed, all);
      const failures = removed.filter((a): a is { node: Node; problem: string } => 'problem' in a);
      if (failures.length > 0) throw new BatonError('FAILED_PRECONDITION', failures.map((a) => `${nodeLabel(a.node, all)}: ${a.problem}`).join('; '));
      return { removed: merged.volumes ?? [], warnings };
    },
    // Every node when none is named: a volume is of one node, and a service's task may land on
    // any, so the volume (its driver, options and labels) is there for whichever node runs it.
    CreateVolume: async (req) => {
      const name = req.name ?? '';
      const problem = volumeNameProblem(name);
      if (problem) throw new BatonError('INVALID_ARGUMENT', problem);
      const runtime = req.runtime ?? '';
      if (runtime !== '' && runtime !== 'docker' && runtime !== 'process') throw new BatonError('INVALID_ARGUMENT', `unknown runtime ${echo(runtime)} (want docker or process)`);
      const ask = { name, driver: req.driver ?? '', options: { ...req.options }, labels: { ...req.labels }, runtime };
      const nodes = targetNodes(deps.manager, req.node ?? '');
      const answers = await askNodes(deps, nodes, (client) => client.call('CreateVolume', ask, changeDeadline(deps)).then((r) => r.created ?? []), changeDeadline(deps));
      return { created: settled(answers, deps, 'made', Boolean(req.node)), warnings: unreached(answers, deps, 'made') };
    },
    PruneVolumes: async (req) => {
      const ask = { labels: req.labels ?? [], notLabels: req.notLabels ?? [] };
      let spaceReclaimed = 0;
      const answers = await askNodes(deps, targetNodes(deps.manager, req.node ?? ''), (client) =>
        client.call('PruneVolumes', ask, changeDeadline(deps)).then((r) => {
          spaceReclaimed += Number(r.spaceReclaimed ?? 0);
          return r.deleted ?? [];
        }),
        changeDeadline(deps),
      );
      return { deleted: settled(answers, deps, 'pruned', Boolean(req.node)), spaceReclaimed, warnings: unreached(answers, deps, 'pruned') };
    },
  };
}

/**
 * The volumes of the nodes that answered, merged. A node's own refusal fails the call, naming
 * every node that refused; a node out of reach is a warning, unless it was the one node asked or
 * no node at all was reached.
 */
function settled(answers: readonly NodeAnswer[], deps: VolumeDeps, done: string, oneNode: boolean): Volume[] {
  const all = deps.manager.store.list('node');
  const failed = answers.filter((a): a is NodeProblem => 'problem' in a);
  const refused = failed.filter((a) => a.refused);
  const noneReached = failed.length === answers.length;
  const fatal = refused.length > 0 ? refused : oneNode || noneReached ? failed : [];
  if (fatal.length > 0) {
    const first = fatal[0]!;
    // One node, or all saying the same: the node's words and code as they are (Docker's, for one node).
    if ((fatal.length === 1 && oneNode) || (fatal.length === answers.length && fatal.every((a) => a.problem === first.problem))) {
      throw new BatonError(first.refused ?? 'UNAVAILABLE', first.problem);
    }
    throw new BatonError('FAILED_PRECONDITION', `${fatal.map((a) => `node ${nodeLabel(a.node, all)}: ${a.problem}`).join('; ')}${failed.length < answers.length ? ` (${done} on the others)` : ''}`);
  }
  return mergeAnswers(answers.filter((a) => !('problem' in a)), all).volumes ?? [];
}

function unreached(answers: readonly NodeAnswer[], deps: VolumeDeps, done: string): string[] {
  const all = deps.manager.store.list('node');
  return answers.filter((a) => 'problem' in a && !a.refused).map((a) => `node ${nodeLabel(a.node, all)}: ${'problem' in a ? a.problem : ''}; not ${done} there`);
}

function deadline(deps: VolumeDeps): number {
  return deps.nodeDeadlineMs ?? NODE_VOLUMES_DEADLINE_MS;
}

function changeDeadline(deps: VolumeDeps): number {
  return deps.nodeChangeDeadlineMs ?? NODE_VOLUME_CHANGE_DEADLINE_MS;
}

/** Every node, or the one `ref` names (an id, a unique id prefix, or a hostname). */
export function targetNodes(manager: Manager, ref: string): Node[] {
  const nodes = manager.store.list('node');
  if (!ref) return nodes;
  const byHost = nodes.filter((n) => n.description?.hostname === ref);
  if (byHost.length === 1) return byHost;
  if (byHost.length > 1) throw new BatonError('INVALID_ARGUMENT', `node ${echo(ref)} is ambiguous: ${byHost.length} nodes have that hostname (give an id)`);
  return [resolveObject(manager, 'node', ref)];
}

/** Asks each node at once; a node down, without an address or not answering is a problem of its own. */
async function askNodes(deps: VolumeDeps, nodes: readonly Node[], ask: (client: RpcClient<NodeAgentService>) => Promise<Volume[]>, ms = deadline(deps)): Promise<NodeAnswer[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeAnswer> => {
      const addr = node.status?.addr ?? '';
      if (node.status?.state === baton.NodeState.NODE_DOWN) return { node, problem: 'node is down' };
      if (!addr) return { node, problem: 'node has no address yet' };
      if (!deps.dialNode) return { node, problem: 'this manager cannot reach nodes' };
      const client = deps.dialNode(addr);
      try {
        return { node, volumes: await ask(client) };
      } catch (err) {
        // NOT_FOUND and in-use refusals keep their words; a node that did not answer says so.
        const e = err instanceof BatonError ? err : undefined;
        if (e && (e.code === 'DEADLINE_EXCEEDED' || e.code === 'UNAVAILABLE')) return { node, problem: `did not answer (${e.code === 'DEADLINE_EXCEEDED' ? `within ${ms} ms` : e.message.split('\n')[0]})` };
        return { node, problem: err instanceof Error ? err.message : String(err), refused: e?.code ?? 'INTERNAL' };
      }
      finally {
        client.close();
      }
    }),
  );
}

/**
 * The nodes' answers as one list, each volume with its node (the hostname, or the id when
 * several nodes share the hostname), ordered by name then node; a node without an answer is a
 * warning naming it.
 */
export function mergeAnswers(answers: readonly NodeAnswer[], allNodes: readonly Node[]): baton.ListVolumesResponse.$Properties {
  const volumes: Volume[] = [];
  const warnings: string[] = [];
  for (const a of answers) {
    const label = nodeLabel(a.node, allNodes);
    if ('problem' in a) warnings.push(`node ${label}: ${a.problem}; its volumes are not shown`);
    else for (const v of a.volumes) volumes.push({ ...v, nodeId: a.node.meta.id, node: label });
  }
  volumes.sort((x, y) => (x.name ?? '').localeCompare(y.name ?? '') || (x.node ?? '').localeCompare(y.node ?? '') || (x.driver ?? '').localeCompare(y.driver ?? ''));
  return { volumes, warnings };
}

/** The node as `volume ls` shows it: its hostname when no other node has it, else its id. */
export function nodeLabel(node: Node, allNodes: readonly Node[]): string {
  const host = node.description?.hostname ?? '';
  if (!host) return node.meta.id;
  const shared = allNodes.some((n) => n.meta.id !== node.meta.id && n.description?.hostname === host);
  return shared ? node.meta.id : host;
}
