// `baton node ls|inspect|update|promote|demote|rm`.
import type { Argv } from 'yargs';
import { baton, BatonError, type BatonClient } from '../client/index.js';
import { repeated, withClient, type GlobalArgs } from './context.js';
import { capitalize, print } from './output.js';
import { formatOptions, printList, renderInspect, type Row } from './list-format.js';
import { filterNodes, nodePsCommand, nodeView, parseNodeFilters } from './node-ps.js';

const STATE: Record<number, string> = {
  [baton.NodeState.NODE_UNKNOWN]: 'Unknown',
  [baton.NodeState.NODE_DOWN]: 'Down',
  [baton.NodeState.NODE_READY]: 'Ready',
  [baton.NodeState.NODE_DISCONNECTED]: 'Disconnected',
};
const AVAILABILITY: Record<string, baton.NodeAvailability> = {
  active: baton.NodeAvailability.ACTIVE,
  pause: baton.NodeAvailability.PAUSE,
  drain: baton.NodeAvailability.DRAIN,
};

export function nodeObject(n: baton.Node.$Properties): Record<string, unknown> {
  return baton.Node.toObject(baton.Node.fromObject(n), { enums: String, longs: Number, defaults: true });
}

function managerStatus(n: baton.Node.$Properties): string {
  if (n.role !== baton.NodeRole.MANAGER || !n.managerStatus) return '';
  if (n.managerStatus.leader) return 'Leader';
  return n.managerStatus.reachability === baton.Reachability.REACHABLE ? 'Reachable' : 'Unreachable';
}

/**
 * A `node ls` row: Docker's fields (docker/cli node/formatter.go: Availability, EngineVersion,
 * Hostname, ID, ManagerStatus, Self, Status, TLSStatus) and baton's Address. The default table
 * marks the node the CLI talks to with `*` after its ID, as Docker's. TLSStatus is Docker's
 * "Unknown": nodes do not report which root their certificate chains to.
 */
export function nodeRow(n: baton.Node.$Properties, selfId: string, marked = false): Row {
  const self = n.meta?.id === selfId;
  return {
    ID: `${n.meta?.id ?? ''}${self && marked ? ' *' : ''}`,
    Hostname: n.description?.hostname ?? '',
    Status: STATE[n.status?.state ?? 0] ?? 'Unknown',
    Availability: capitalize(baton.NodeAvailability[n.spec?.availability ?? 0] ?? ''),
    ManagerStatus: managerStatus(n),
    EngineVersion: n.description?.engineVersion ?? '',
    Self: self,
    TLSStatus: 'Unknown',
    Address: n.status?.addr ?? '',
  };
}

/** `self`, as Docker's: the node the CLI talks to; any other reference as given. */
async function resolveSelf(client: BatonClient, ref: string): Promise<string> {
  return ref === 'self' ? ((await client.control.call('Info', {})).nodeId ?? ref) : ref;
}

async function getNode(client: BatonClient, ref: string): Promise<baton.Node.$Properties> {
  return client.control.call('GetNode', { id: await resolveSelf(client, ref) });
}

/** The change made on a copy of the node's newest spec; redone if another write got in between. */
async function updateSpec(client: BatonClient, ref: string, change: (spec: baton.NodeSpec.$Properties) => void): Promise<baton.Node.$Properties> {
  return client.modifyNode(await resolveSelf(client, ref), (current) => {
    const spec = baton.NodeSpec.fromObject(baton.NodeSpec.toObject(baton.NodeSpec.fromObject(current)));
    change(spec);
    return spec;
  });
}

interface LsArgs extends GlobalArgs {
  quiet?: boolean;
  format?: string;
  filter?: string | string[];
}


export function nodeCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return nodePsCommand(y)
    .command<LsArgs>(
      ['ls', 'list'],
      'List nodes',
      (c) => formatOptions(c).option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=, name=, label=, node.label=K[=V], role=manager|worker, membership=accepted (repeatable)' }),
      (args) => {
        const filters = parseNodeFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const [nodes, info] = await Promise.all([client.list('ListNodes'), client.control.call('Info', {})]);
          printList(args, filterNodes(nodes, filters), nodeView((n) => nodeRow(n, info.nodeId ?? '', [undefined, '', 'table'].includes(args.format))));
        });
      },
    )
    .command<GlobalArgs & { nodes: string[]; format?: string }>(
      'inspect <nodes..>',
      "Show nodes in detail (JSON, or --format '{{.Status.Addr}}')",
      (c) => c.positional('nodes', { type: 'string', array: true, demandOption: true }).option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' }),
      (args) =>
        withClient(args, async (client) => {
          const nodes = [];
          for (const ref of args.nodes) nodes.push(nodeObject(await getNode(client, ref)));
          print(renderInspect(args.format, nodes));
        }),
    )
    .command<GlobalArgs & { node: string; availability?: string; 'label-add'?: string | string[]; 'label-rm'?: string | string[] }>(
      'update <node>',
      'Update a node (availability, labels)',
      (c) =>
        c
          .positional('node', { type: 'string', demandOption: true })
          .option('availability', { type: 'string', choices: Object.keys(AVAILABILITY) })
          .option('label-add', { type: 'string', requiresArg: true, describe: 'key=value (repeatable)' })
          .option('label-rm', { type: 'string', requiresArg: true, describe: 'key (repeatable)' }),
      (args) =>
        withClient(args, async (client) => {
          if (!args.availability && !args['label-add'] && !args['label-rm']) {
            throw new BatonError('INVALID_ARGUMENT', 'nothing to update: give --availability, --label-add or --label-rm');
          }
          const node = await updateSpec(client, args.node, (spec) => {
            if (args.availability) spec.availability = AVAILABILITY[args.availability]!;
            const labels: Record<string, string> = { ...(spec.annotations?.labels ?? {}) };
            for (const kv of repeated(args['label-add'])) {
              const at = kv.indexOf('=');
              if (at === 0 || !kv) throw new BatonError('INVALID_ARGUMENT', `bad label "${kv}" (want key=value)`);
              if (at < 0) labels[kv] = '';
              else labels[kv.slice(0, at)] = kv.slice(at + 1);
            }
            for (const k of repeated(args['label-rm'])) {
              if (!(k in labels)) throw new BatonError('NOT_FOUND', `node has no label "${k}"`);
              delete labels[k];
            }
            spec.annotations = { ...(spec.annotations ?? {}), labels };
          });
          print(node.meta?.id ?? '');
        }),
    )
    .command<GlobalArgs & { nodes: string[] }>(
      'promote <nodes..>',
      'Promote workers to managers',
      (c) => c.positional('nodes', { type: 'string', array: true, demandOption: true }),
      (args) => setRole(args, baton.NodeRole.MANAGER),
    )
    .command<GlobalArgs & { nodes: string[] }>(
      'demote <nodes..>',
      'Demote managers to workers',
      (c) => c.positional('nodes', { type: 'string', array: true, demandOption: true }),
      (args) => setRole(args, baton.NodeRole.WORKER),
    )
    .command<GlobalArgs & { nodes: string[]; force?: boolean }>(
      ['rm <nodes..>', 'remove <nodes..>'],
      'Remove nodes from the cluster',
      (c) =>
        c
          .positional('nodes', { type: 'string', array: true, demandOption: true })
          .option('force', { alias: 'f', type: 'boolean', describe: 'remove a node that is up, or a manager' }),
      (args) =>
        withClient(args, async (client) => {
          for (const ref of args.nodes) {
            const res = await client.control.call('RemoveNode', { id: ref, force: args.force ?? false });
            if (res.warning) process.stderr.write(`Warning: ${res.warning}\n`);
            print(ref);
          }
        }),
    )
    .demandCommand(1, 'baton node needs a subcommand: ls, ps, inspect, update, promote, demote, rm');
}

async function setRole(args: GlobalArgs & { nodes: string[] }, role: baton.NodeRole): Promise<void> {
  await withClient(args, async (client) => {
    for (const ref of args.nodes) {
      const node = await getNode(client, ref);
      const id = node.meta?.id ?? ref;
      if ((node.spec?.desiredRole ?? baton.NodeRole.WORKER) === role) {
        print(`Node ${id} is already a ${role === baton.NodeRole.MANAGER ? 'manager' : 'worker'}.`);
        continue;
      }
      await updateSpec(client, id, (spec) => {
        spec.desiredRole = role;
      });
      print(role === baton.NodeRole.MANAGER ? `Node ${id} promoted to a manager in the cluster.` : `Manager ${id} demoted in the cluster.`);
    }
  });
}
