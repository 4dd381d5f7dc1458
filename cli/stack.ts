// `baton stack deploy|ls|services|ps|rm`: Compose files deployed as a group of services, client
// side as Docker's stack is (the cluster only sees services, secrets and configs labelled
// com.docker.stack.namespace=NAME).
import type { Argv } from 'yargs';
import { baton, BatonError, type BatonClient } from '../client/index.js';
import { repeated, withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';
import { formatOptions, printList, type ListView } from './list-format.js';
import { counted, filterServices, parseServiceFilters, serviceView } from './service-list.js';
import { waitForConvergence, waitForUpdate } from './progress.js';
import { printTasks, taskListOptions, type TaskListArgs } from './task-table.js';
import { deployStack, stackServices, type ResolveImage } from './compose/apply.js';
import { checkStackName, loadStack } from './compose/project.js';
import { NAMESPACE_LABEL } from './compose/service.js';
import { removeStackObjects, stackObjectStore } from './compose/object-store.js';

type DeployArgs = GlobalArgs & { stack: string; 'compose-file'?: string | string[]; prune?: boolean; detach?: boolean; 'resolve-image': ResolveImage };
type StackArgs = GlobalArgs & TaskListArgs & { stack: string; format?: string; quiet?: boolean };

const warn = (line: string): void => void process.stderr.write(`Warning: ${line}\n`);

/** A row of `stack ls`: a stack's name and how many services carry it. */
export interface StackRow {
  name: string;
  services: number;
}

/** The stacks the services' namespace labels name, by name. */
export function stackRows(services: readonly baton.Service.$Properties[]): StackRow[] {
  const counts = new Map<string, number>();
  for (const s of services) {
    const stack = s.spec?.annotations?.labels?.[NAMESPACE_LABEL] ?? '';
    counts.set(stack, (counts.get(stack) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, services]) => ({ name, services }));
}

/**
 * `stack ls` in Docker's columns and template fields, .Name and .Services (docker/cli
 * stack/formatter; Docker 20 also had .Orchestrator, always Swarm, dropped with Kubernetes).
 */
export const STACK_VIEW: ListView<StackRow> = {
  id: (s) => s.name,
  headers: { Name: 'NAME', Services: 'SERVICES' },
  columns: ['Name', 'Services'],
  row: (s) => ({ Name: s.name, Services: String(s.services) }),
};

export function stackCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<DeployArgs>(
      ['deploy <stack>', 'up <stack>'],
      'Deploy or update a stack from Compose files',
      (c) =>
        c
          .positional('stack', { type: 'string', demandOption: true })
          .option('compose-file', { alias: 'c', type: 'string', requiresArg: true, demandOption: true, describe: 'Compose file (repeatable: later files override earlier ones)' })
          .option('prune', { type: 'boolean', describe: 'remove services of the stack that are no longer in the file' })
          .option('resolve-image', { type: 'string', choices: ['always', 'changed', 'never'] as const, default: 'always' as const, describe: 'check the images: always, only changed ones, or never' })
          .option('detach', { alias: 'd', type: 'boolean', default: true, describe: 'return at once (--detach=false waits until every changed service converges)' }),
      (args) => {
        // Parse and check everything before connecting: a bad file changes nothing.
        const def = loadStack(repeated(args['compose-file']), args.stack, process.env, warn);
        return withClient(args, (client) =>
          deployStack(client, stackObjectStore(client), def, {
            prune: args.prune ?? false,
            resolveImage: args['resolve-image'],
            ...(args.detach ? {} : { changed: (svc, how) => (how === 'updated' ? waitForUpdate(client, svc, false) : waitForConvergence(client, svc.meta?.id ?? '', false)) }),
          }, { line: print, warn }),
        );
      },
    )
    .command<StackArgs>(
      ['ls', 'list'],
      'List stacks',
      // Docker's stack ls has --format and no --filter.
      (c) => c.option('format', { type: 'string', requiresArg: true, describe: "table (default), json, or a Go template: '{{.Name}}: {{.Services}}'" }),
      (args) =>
        withClient(args, async (client) => {
          const stacks = stackRows(await client.list('ListServices', { labels: [NAMESPACE_LABEL] }));
          printList({ format: args.format }, stacks, STACK_VIEW);
        }),
    )
    .command<StackArgs & { filter?: string | string[] }>(
      'services <stack>',
      'List the services of a stack',
      (c) => formatOptions(c.positional('stack', { type: 'string', demandOption: true })).option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=, name=, label=K[=V], mode=replicated|global|replicated-job|global-job (repeatable)' }),
      (args) => {
        const filters = parseServiceFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          const services = filterServices(await servicesByName(client, args.stack, true), filters);
          // As Docker's: said on stderr (not an error), and not at all with -q.
          if (services.length === 0) return args.quiet ? undefined : nothingFound(args.stack);
          // The counts come with the services; a server without them: the stack's own tasks.
          printList(args, services, serviceView(args.quiet || counted(services) ? [] : await tasksOf(client, services)));
        });
      },
    )
    .command<StackArgs>(
      'ps <stack>',
      'List the tasks of a stack',
      (c) => taskListOptions(c.positional('stack', { type: 'string', demandOption: true })),
      (args) => withClient(args, (client) => printStackTasks(client, args)),
    )
    .command<GlobalArgs & { stacks: string[] }>(
      ['rm <stacks..>', 'remove <stacks..>', 'down <stacks..>'],
      'Remove one or more stacks: their services, then the secrets, configs and networks they created',
      (c) => c.positional('stacks', { type: 'string', array: true, demandOption: true }),
      (args) =>
        withClient(args, async (client) => {
          // As Docker's: each stack in turn, in the order given.
          for (const stack of args.stacks.map(String)) {
            const services = await servicesByName(client, stack);
            for (const s of services) {
              print(`Removing service ${s.spec?.annotations?.name ?? ''}`);
              await client.control.call('RemoveService', { id: s.meta?.id ?? '' });
            }
            const removed = await removeStackObjects(stackObjectStore(client), stack, print);
            const networks = await removeStackNetworks(client, stack);
            if (services.length === 0 && removed === 0 && networks === 0) nothingFound(stack);
          }
        }),
    )
    .demandCommand(1, 'baton stack needs a subcommand: deploy, ls, services, ps, rm');
}

/**
 * The stack's networks (external ones carry no label), after its services, as Docker's: each
 * one tried, a refused one (another stack's service joined it) reported and the rest removed,
 * then one error naming every failure.
 */
async function removeStackNetworks(client: BatonClient, stack: string): Promise<number> {
  const networks = await client.listNetworks({ labels: [`${NAMESPACE_LABEL}=${stack}`] });
  networks.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
  const failed: string[] = [];
  for (const n of networks) {
    const name = n.spec?.annotations?.name ?? '';
    print(`Removing network ${name}`);
    try {
      await client.removeNetwork(n.meta?.id ?? '');
    } catch (err) {
      failed.push(`failed to remove network ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (failed.length > 0) throw new BatonError('FAILED_PRECONDITION', `failed to remove some resources from stack ${stack}: ${failed.join('; ')}`);
  return networks.length;
}

function nothingFound(stack: string): void {
  process.stderr.write(`Nothing found in stack: ${stack}\n`);
}

/** `stack ps`: the tasks of every service of the stack, as `docker stack ps` shows them. */
async function printStackTasks(client: BatonClient, args: StackArgs): Promise<void> {
  const services = await servicesByName(client, args.stack);
  // As `docker stack ps`: an error (while `stack services` only says so).
  if (services.length === 0) throw new BatonError('NOT_FOUND', `nothing found in stack: ${args.stack}`);
  // service ps's columns, --filter and --format (cli/task-table.ts).
  await printTasks(client, args, await tasksOf(client, services));
}

/** The services of a stack (once its name is known to be valid), sorted by name. */
async function servicesByName(client: BatonClient, stack: string, status = false): Promise<baton.Service.$Properties[]> {
  checkStackName(stack);
  const services = await stackServices(client, stack, status);
  return services.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
}

async function tasksOf(client: BatonClient, services: baton.Service.$Properties[]): Promise<baton.Task.$Properties[]> {
  const all: baton.Task.$Properties[] = [];
  for (const s of services) {
    const tasks = await client.list('ListTasks', { serviceId: s.meta?.id ?? '' });
    // Per slot, the current task first, then its history (newest first), as `service ps`.
    tasks.sort((a, b) => Number(a.slot ?? 0) - Number(b.slot ?? 0) || Number(b.meta?.createdAt ?? 0) - Number(a.meta?.createdAt ?? 0));
    all.push(...tasks);
  }
  return all;
}
