// The task listing of `service ps` and `node ps`, as Docker prints it: ID NAME IMAGE NODE
// DESIRED STATE CURRENT STATE ERROR PORTS; older tasks of a slot under the current one with
// ` \_ `; ids cut to 12 characters and errors to 30 (quoted) unless --no-trunc
// (Docker's cli/command/formatter task context and cli/command/task/print.go, as documented in
// https://docs.docker.com/reference/cli/docker/service/ps/).
import type { Argv } from 'yargs';
import { baton, type BatonClient } from '../client/index.js';
import { imageText } from '../spec/index.js';
import { ago } from './task-object.js';
import { healthSuffix, taskStateName } from './task-state.js';
import { formatOptions, printList, type ListArgs, type ListView } from './list-format.js';
import { parseFilters, labelMatches, oneOf, prefixMatches, type FilterKeys } from './filters.js';
import { repeated } from './context.js';

type Task = baton.Task.$Properties;
type Node = baton.Node.$Properties;

export const ID_LENGTH = 12;
const ERROR_LENGTH = 30;

export interface TaskListArgs extends ListArgs {
  filter?: string | string[] | undefined;
  /** false with --no-trunc (yargs reads --no-X as X=false). */
  trunc?: boolean | undefined;
}

export function taskListOptions<T>(y: Argv<T>) {
  return formatOptions(y)
    .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=, name=, node=, label=, desired-state=running|shutdown|accepted (repeatable)' })
    .option('trunc', { type: 'boolean', default: true, describe: '--no-trunc: full ids and errors' });
}

export const TASK_HEADERS: Record<string, string> = {
  ID: 'ID',
  Name: 'NAME',
  Image: 'IMAGE',
  Node: 'NODE',
  DesiredState: 'DESIRED STATE',
  CurrentState: 'CURRENT STATE',
  Error: 'ERROR',
  Ports: 'PORTS',
};

function capitalized(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** A task's error (or the reason it is pending), cut to 30 characters and quoted, as Docker's. */
export function taskErrorText(status: baton.TaskStatus.$Properties | null | undefined, truncate: boolean): string {
  let text = status?.err || (status?.state === baton.TaskState.TASK_PENDING ? status.message ?? '' : '');
  if (truncate && [...text].length > ERROR_LENGTH) text = `${[...text].slice(0, ERROR_LENGTH - 1).join('')}…`;
  return text ? `"${text}"` : '';
}

/** The host ports a task publishes itself (mode=host), as Docker's PORTS: *:8080->80/tcp. */
function taskPorts(t: Task): string {
  const host = (t.endpoint?.ports ?? []).filter((p) => p.publishMode === baton.PublishMode.HOST);
  return host.map((p) => `*:${p.publishedPort ?? 0}->${p.targetPort ?? 0}/${p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp'}`).join(',');
}

/**
 * Task names compared as Docker orders slots: numbers by value (web.2 before web.10). One
 * collator for every comparison: String#localeCompare with options builds a collator per call,
 * which made sorting 10,000 tasks take seconds.
 */
const byName = new Intl.Collator(undefined, { numeric: true }).compare;

/** Slot by slot, newest first within a slot (Docker's order), so history sits under its task. */
export function sortTasks(tasks: Task[]): Task[] {
  const keyed = tasks.map((t) => ({ t, name: t.annotations?.name ?? '', created: Number(t.meta?.createdAt ?? 0) }));
  keyed.sort((a, b) => byName(a.name, b.name) || b.created - a.created);
  return keyed.map((k) => k.t);
}

/**
 * The rows' fields by Docker's names (docker/cli formatter/task.go: CurrentState, DesiredState,
 * Error, ID, Image, Name, Node, Ports), the ` \_ ` of older tasks already in Name.
 */
export function taskView(tasks: Task[], nodes: Node[], truncate: boolean): ListView<Task> {
  const host = new Map(nodes.map((n) => [n.meta?.id ?? '', n.description?.hostname ?? '']));
  const names = new Map<Task, string>();
  let previous: string | undefined;
  for (const t of tasks) {
    const name = t.annotations?.name ?? '';
    names.set(t, name === previous ? ` \\_ ${name}` : name);
    previous = name;
  }
  const cut = (id: string): string => (truncate ? id.slice(0, ID_LENGTH) : id);
  return {
    id: (t) => t.meta?.id ?? '',
    headers: TASK_HEADERS,
    columns: Object.keys(TASK_HEADERS),
    row: (t) => {
      const status = t.status ?? {};
      return {
        ID: cut(t.meta?.id ?? ''),
        Name: names.get(t) ?? t.annotations?.name ?? '',
        Image: imageText(t.spec),
        Node: t.nodeId ? host.get(t.nodeId) || t.nodeId : '',
        DesiredState: capitalized(taskStateName(t.desiredState)),
        CurrentState: `${capitalized(taskStateName(status.state))} ${ago(Number(status.timestamp ?? 0)).toLowerCase()}${healthSuffix(status)}`,
        Error: taskErrorText(status, truncate),
        Ports: taskPorts(t),
      };
    },
  };
}

const DESIRED: Record<string, baton.TaskState[]> = {
  running: [baton.TaskState.TASK_RUNNING],
  shutdown: [baton.TaskState.TASK_SHUTDOWN, baton.TaskState.TASK_COMPLETE],
  accepted: [baton.TaskState.TASK_ACCEPTED, baton.TaskState.TASK_ASSIGNED, baton.TaskState.TASK_PENDING, baton.TaskState.TASK_NEW],
};

/** `service ps`/`node ps` filters: id, name, node (id, hostname or self), label, desired-state. */
export function taskFilterKeys(nodes: Node[], self: string): FilterKeys<Task> {
  return {
    id: (t, v) => prefixMatches(t.meta?.id, v),
    name: (t, v) => prefixMatches(t.annotations?.name, v),
    label: (t, v) => labelMatches(t.spec?.container?.labels ?? t.annotations?.labels, v),
    node: (t, v) => {
      const node = nodes.find((n) => n.meta?.id === t.nodeId);
      return (v === 'self' && t.nodeId === self) || prefixMatches(t.nodeId, v) || node?.description?.hostname === v;
    },
    'desired-state': (t, v) => (DESIRED[v.toLowerCase()] ?? []).includes(t.desiredState ?? baton.TaskState.TASK_NEW),
  };
}

export const TASK_FILTER_NAMES = ['id', 'name', 'node', 'label', 'desired-state'];

/** Reads --filter before anything is asked of the cluster: a bad filter is one line. */
export function parseTaskFilters(args: TaskListArgs) {
  return parseFilters(repeated(args.filter), TASK_FILTER_NAMES, { 'desired-state': oneOf('desired-state', Object.keys(DESIRED)) });
}

/** Filters, sorts and prints tasks as `service ps` and `node ps` do. */
export async function printTasks(client: BatonClient, args: TaskListArgs, tasks: Task[]): Promise<void> {
  const filters = parseTaskFilters(args);
  const [nodes, info] = await Promise.all([client.list('ListNodes'), client.control.call('Info', {})]);
  const shown = sortTasks(filters.apply(tasks, taskFilterKeys(nodes, info.nodeId ?? '')));
  printList(args, shown, taskView(shown, nodes, args.trunc !== false));
}
