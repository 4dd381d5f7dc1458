// `node ls` rows and filters as Docker's, and `node ps [NODE...]`: the tasks of nodes (default
// `self`, the node the CLI talks to) with service ps's columns and filters.
import type { Argv } from 'yargs';
import { baton } from '../client/index.js';
import { repeated, withClient, type GlobalArgs } from './context.js';
import { labelMatches, oneOf, parseFilters, prefixMatches, type FilterKeys, type ParsedFilters } from './filters.js';
import { parseTaskFilters, printTasks, taskListOptions, type TaskListArgs } from './task-table.js';
import type { ListView, Row } from './list-format.js';

type Node = baton.Node.$Properties;

export const NODE_HEADERS: Record<string, string> = {
  ID: 'ID',
  Hostname: 'HOSTNAME',
  Status: 'STATUS',
  Availability: 'AVAILABILITY',
  ManagerStatus: 'MANAGER STATUS',
  Address: 'ADDRESS',
  EngineVersion: 'ENGINE VERSION',
  Self: '',
  TLSStatus: 'TLS STATUS',
};

export function nodeView(row: (n: Node) => Row): ListView<Node> {
  return { id: (n) => n.meta?.id ?? '', headers: NODE_HEADERS, columns: ['ID', 'Hostname', 'Status', 'Availability', 'ManagerStatus', 'Address'], row };
}

const ROLE = (n: Node): string => (n.role === baton.NodeRole.MANAGER ? 'manager' : 'worker');

const NODE_FILTERS: FilterKeys<Node> = {
  id: (n, v) => prefixMatches(n.meta?.id, v),
  name: (n, v) => prefixMatches(n.description?.hostname, v),
  label: (n, v) => labelMatches(n.description?.engineLabels, v),
  'node.label': (n, v) => labelMatches(n.spec?.annotations?.labels, v),
  role: (n, v) => ROLE(n) === v.toLowerCase(),
  // A node listed is in the cluster: baton keeps no pending members.
  membership: (_n, v) => v.toLowerCase() === 'accepted',
};

export function parseNodeFilters(words: readonly string[]): ParsedFilters {
  return parseFilters(words, Object.keys(NODE_FILTERS), { role: oneOf('role', ['manager', 'worker']), membership: oneOf('membership', ['accepted', 'pending']) });
}

export function filterNodes(nodes: Node[], filters: ParsedFilters): Node[] {
  return filters.apply(nodes, NODE_FILTERS);
}

export function nodePsCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command<GlobalArgs & TaskListArgs & { nodes?: string[] }>(
    'ps [nodes..]',
    'List the tasks of nodes (default: self, the node the CLI talks to)',
    (c) => taskListOptions(c.positional('nodes', { type: 'string', array: true })),
    (args) => {
      parseTaskFilters(args);
      return withClient(args, async (client) => {
        const refs = repeated(args.nodes).length > 0 ? repeated(args.nodes) : ['self'];
        const ids: string[] = [];
        for (const ref of refs) {
          const id = ref === 'self' ? (await client.control.call('Info', {})).nodeId ?? ref : ref;
          ids.push((await client.control.call('GetNode', { id })).meta?.id ?? id);
        }
        const tasks = [];
        for (const nodeId of new Set(ids)) tasks.push(...(await client.list('ListTasks', { nodeId })));
        await printTasks(client, args, tasks);
      });
    },
  );
}
