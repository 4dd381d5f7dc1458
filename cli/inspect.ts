// `baton inspect [--type T] REF...`: Docker's `docker inspect` for the cluster's objects, by id,
// unique id prefix or name, whatever their kind: nodes, services, tasks and networks, a JSON
// array (or --format over each), as the kind's own `inspect` prints them. Tasks have no inspect
// of their own, as in Docker, so this is how a script sees the whole task behind a `ps` row:
// `baton inspect $(baton service ps -q web)`. Missing refs are printed after the found objects,
// in one error, as Docker's "No such object".
import type { Argv } from 'yargs';
import { BatonError, type BatonClient } from '../client/index.js';
import { withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';
import { renderInspect } from './list-format.js';
import { nodeObject } from './node.js';
import { serviceObject } from './service.js';
import { taskObject } from './task-object.js';
import { inspectNetwork } from './network.js';

export const INSPECT_TYPES = ['node', 'service', 'task', 'network'] as const;
type InspectType = (typeof INSPECT_TYPES)[number];

type InspectArgs = GlobalArgs & { refs: string[]; type?: InspectType; format?: string };

/** A task by full id or unique id prefix (tasks have no unique names). */
async function getTask(client: BatonClient, ref: string): Promise<Record<string, unknown>> {
  const found = await client.list('ListTasks', { ids: [ref] });
  const exact = found.find((t) => t.meta?.id === ref);
  if (exact) return taskObject(exact);
  if (found.length === 1) return taskObject(found[0]!);
  throw new BatonError('NOT_FOUND', found.length === 0 ? `task ${ref} not found` : `task ${ref} is ambiguous (${found.length} matches)`);
}

const GETTERS: Record<InspectType, (client: BatonClient, ref: string) => Promise<unknown>> = {
  node: async (c, ref) => nodeObject(await c.control.call('GetNode', { id: ref === 'self' ? ((await c.control.call('Info', {})).nodeId ?? ref) : ref })),
  service: async (c, ref) => serviceObject(await c.control.call('GetService', { id: ref })),
  task: getTask,
  network: async (c, ref) => inspectNetwork(await c.getNetwork(ref)),
};

/** The first kind (in `types`' order) that has `ref`, or undefined. */
async function find(client: BatonClient, ref: string, types: readonly InspectType[]): Promise<unknown> {
  for (const type of types) {
    try {
      return await GETTERS[type](client, ref);
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== 'NOT_FOUND') throw err;
    }
  }
  return undefined;
}

export function inspectCommand(y: Argv<GlobalArgs>): Argv<InspectArgs> {
  return y
    .positional('refs', { type: 'string', array: true, demandOption: true })
    .option('type', { type: 'string', choices: INSPECT_TYPES, describe: 'only this kind of object' })
    .option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' });
}

export async function runInspect(args: InspectArgs): Promise<void> {
  await withClient(args, async (client) => {
    const types = args.type ? [args.type] : INSPECT_TYPES;
    const found: unknown[] = [];
    const missing: string[] = [];
    for (const ref of args.refs.map(String)) {
      const object = await find(client, ref, types);
      if (object === undefined) missing.push(ref);
      else found.push(object);
    }
    if (found.length > 0 || missing.length === 0) print(renderInspect(args.format, found));
    if (missing.length > 0) throw new BatonError('NOT_FOUND', missing.map((r) => `no such object: ${r}`).join('; '));
  });
}
