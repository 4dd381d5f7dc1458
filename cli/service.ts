// `baton service create|ls|ps|inspect|scale|logs|rm` (update and rollback: ./service-update.ts).
import type { Argv } from 'yargs';
import { baton, BatonError, type BatonClient } from '../client/index.js';
import { numeric, repeated, withClient, type GlobalArgs } from './context.js';
import { bytesText, durationText, print } from './output.js';
import { parseReplicas, specFromFlags, type CreateFlags } from './service-spec.js';
import { DEFAULT_RESTART_DELAY_MS, DEFAULT_RUNTIME, DEFAULT_UPDATE_MONITOR_MS, mountTypeName } from '../spec/index.js';
import { healthOptions, healthText, type HealthFlags } from './health-flags.js';
import { waitForConvergence } from './progress.js';
import { imageText, portsText, rebalanceModeText } from '../spec/index.js';
import { updateCommands, updateConfigOptions, type UpdateConfigFlags } from './service-update.js';
import { endpointModeText } from './network-flags.js';
import { placementCreateOptions, placementText } from './placement-flags.js';
import { isJobService, jobModeText } from './job-view.js';
import { counted, filterServices, parseServiceFilters, serviceView } from './service-list.js';
import { formatOptions, printList, renderInspect, type ListArgs } from './list-format.js';
import { parseSince, timestampText } from './log-options.js';
import { parseTaskFilters, printTasks, taskListOptions, type TaskListArgs } from './task-table.js';
import { CONTAINER_BOOLEAN_FLAGS, containerCreateOptions, containerHostFlags, containerOptionLines } from './container-flags.js';
import { dnsCreateOptions, dnsOptionLines } from './dns-flags.js';
import { autoscaleOptions, autoscalePretty, autoscaleScaleNote } from './autoscale-flags.js';

export { imageText, portsText };

export function serviceObject(s: baton.Service.$Properties): Record<string, unknown> {
  return baton.Service.toObject(baton.Service.fromObject(s), { enums: String, longs: Number, defaults: true });
}

export { ago, taskObject } from './task-object.js';

async function tasksOf(client: BatonClient, service: string): Promise<baton.Task.$Properties[]> {
  return await client.list('ListTasks', { serviceId: service });
}

type CreateArgs = GlobalArgs & CreateFlags & HealthFlags & UpdateConfigFlags & { detach?: boolean; quiet?: boolean; 'resolve-image'?: boolean };

const CREATE_BOOLEANS = new Set(['--detach', '-d', '--quiet', '-q', '--help', '--no-resolve-image', '--no-healthcheck', '--healthcheck', ...CONTAINER_BOOLEAN_FLAGS]);

/**
 * `service create [OPTIONS] IMAGE [COMMAND] [ARG...]`: as with Docker, everything from the image
 * on belongs to the task (`httpd -f -p 80` must not be read as baton's -p). Inserts the `--`
 * that tells the parser so.
 */
export function separateTaskCommand(input: string[]): string[] {
  // Global options may come first (`baton --data-dir D service create …`), as with Docker's -H.
  let start = 0;
  while (start < input.length && input[start]!.startsWith('-')) start += input[start]!.includes('=') ? 1 : 2;
  if (input[start] !== 'service' || input[start + 1] !== 'create') return input;
  const argv = containerHostFlags(input, start + 2);
  if (argv.includes('--')) return argv;
  for (let i = start + 2; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-')) return [...argv.slice(0, i), '--', ...argv.slice(i)];
    // An option without `=` and not a boolean takes the next word as its value.
    if (!word.includes('=') && !CREATE_BOOLEANS.has(word)) i++;
  }
  return argv;
}

export function serviceCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return updateCommands(y)
    .command<CreateArgs>(
      'create [image] [command..]',
      'Create a service (docker: IMAGE [ARG...]; --runtime process: COMMAND [ARG...])',
      (c) =>
        autoscaleOptions(updateConfigOptions(placementCreateOptions(c)))
          .positional('image', { type: 'string', describe: 'image (docker) or program (process)' })
          .positional('command', { type: 'string', array: true })
          .option('name', { type: 'string', demandOption: true })
          .option('replicas', { type: 'string', requiresArg: true })
          .option('mode', { type: 'string', describe: 'replicated (default), global, replicated-job or global-job' })
          .option('max-concurrent', { type: 'string', requiresArg: true, describe: 'replicated-job: job tasks run at once (default: --replicas, the total completions)' })
          .option('publish', { alias: 'p', type: 'string', requiresArg: true, describe: '[published:]target[/udp] or mode=host|ingress,target=80,published=8080,protocol=tcp,proxy-protocol=v1|v2 (repeatable)' })
          .option('env', { alias: 'e', type: 'string', requiresArg: true, describe: 'KEY=VALUE (repeatable)' })
          .option('limit-memory', { type: 'string' })
          .option('limit-cpu', { type: 'string' })
          .option('reserve-memory', { type: 'string' })
          .option('reserve-cpu', { type: 'string' })
          .option('constraint', { type: 'string', requiresArg: true, describe: 'node.labels.zone==a (repeatable)' })
          .option('restart-condition', { type: 'string', describe: 'any (default), on-failure, none' })
          .option('restart-delay', { type: 'string', describe: 'default 5s' })
          .option('restart-max-attempts', { type: 'string', requiresArg: true })
          .option('restart-window', { type: 'string' })
          .option('runtime', { type: 'string', describe: 'docker (default) or process' })
          .option('workdir', { alias: 'w', type: 'string' })
          .option('stop-grace-period', { type: 'string', describe: 'default 10s' })
          .option('secret', { type: 'string', requiresArg: true, describe: 'NAME or source=NAME,target=FILE,mode=0400: at /run/secrets/FILE (repeatable)' })
          .option('config', { type: 'string', requiresArg: true, describe: 'NAME or source=NAME,target=/PATH,mode=0444 (repeatable)' })
          .option('mount', { type: 'string', requiresArg: true, describe: 'type=volume|bind|tmpfs,source=NAME|/PATH,target=/PATH[,readonly][,volume-opt=K=V][,tmpfs-size=64m] (repeatable)' })
          .options(healthOptions)
          .options(containerCreateOptions)
          .options(dnsCreateOptions)
          .option('balance', { type: 'string', describe: 'how the routing mesh spreads new connections: round-robin (default) or least-connections' })
          .option('network', { type: 'string', requiresArg: true, describe: 'a network to join: NAME or name=NAME,alias=ALIAS[,alias=...] (repeatable); other services on it reach this one by name' })
          .option('endpoint-mode', { type: 'string', requiresArg: true, describe: 'how the name resolves on its networks: vip (default: one address, balanced by the mesh) or dnsrr (one address per task)' })
          .option('expose', { type: 'string', requiresArg: true, describe: "baton's: PORT[/tcp|udp] other services on the service's networks may reach, published on no node (repeatable)" })
          .option('rebalance', { type: 'string', requiresArg: true, describe: "baton's: auto (move tasks start-first to even the spread when a node becomes available) or off (default)" })
          .option('detach', { alias: 'd', type: 'boolean', describe: 'return at once instead of waiting for the service to converge' })
          .option('resolve-image', { type: 'boolean', default: true, describe: 'check that the image exists before creating the service (--no-resolve-image skips it)' })
          .option('quiet', { alias: 'q', type: 'boolean' }),
      (args) =>
        withClient(args, async (client) => {
          // After `--` yargs leaves the words in `_` (behind the command names): they are the command.
          const rest = (args._ ?? []).slice(2).map(String);
          const [image, ...command] = [...(args.image ? [args.image] : []), ...(args.command ?? []).map(String), ...rest];
          // Every flag, the health check and update configs included: all problems at once.
          const spec = specFromFlags({ ...args, image, command });
          const svc = await client.control.call('CreateService', { spec, noResolveImage: args['resolve-image'] === false });
          const id = svc.meta?.id ?? '';
          print(id);
          if (!args.detach) await waitForConvergence(client, id, args.quiet ?? false);
        }),
    )
    .command<GlobalArgs & ListArgs & { filter?: string | string[] }>(
      ['ls', 'list'],
      'List services',
      (c) => formatOptions(c).option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'id=, name=, label=K[=V], mode=replicated|global|replicated-job|global-job (repeatable)' }),
      (args) => {
        const filters = parseServiceFilters(repeated(args.filter));
        return withClient(args, async (client) => {
          // The counts come with the services (status): every task of the cluster is not fetched.
          const services = filterServices(await client.list('ListServices', {}, undefined, { status: true }), filters);
          const tasks = args.quiet || counted(services) ? [] : await client.list('ListTasks');
          printList(args, services, serviceView(tasks));
        });
      },
    )
    .command<GlobalArgs & TaskListArgs & { service: string }>(
      'ps <service>',
      'List the tasks of a service',
      (c) => taskListOptions(c.positional('service', { type: 'string', demandOption: true })),
      (args) => {
        parseTaskFilters(args);
        return withClient(args, async (client) => printTasks(client, args, await tasksOf(client, args.service)));
      },
    )
    .command<GlobalArgs & { services: string[]; pretty?: boolean; format?: string }>(
      'inspect <services..>',
      "Show services in detail (JSON, --pretty, or --format '{{.Spec.Name}}')",
      (c) => c.positional('services', { type: 'string', array: true, demandOption: true }).option('pretty', { type: 'boolean' }).option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'json (default) or a Go template' }),
      (args) =>
        withClient(args, async (client) => {
          const out = [];
          for (const ref of args.services) out.push(await client.control.call('GetService', { id: ref }));
          if (!args.pretty) return print(renderInspect(args.format, out.map(serviceObject)));
          // The spec holds network ids; --pretty shows names, as Docker's does.
          const joined = out.some((s) => (s.spec?.task?.networks ?? []).length > 0);
          const names = new Map((joined ? await client.listNetworks() : []).map((n) => [n.meta?.id ?? '', n.spec?.annotations?.name ?? '']));
          print(out.map((s) => pretty(s, (id) => names.get(id) || id)).join('\n\n'));
        }),
    )
    .command<GlobalArgs & { pairs: string[]; detach?: boolean }>(
      'scale <pairs..>',
      'Scale services: SERVICE=REPLICAS ...',
      (c) =>
        c.positional('pairs', { type: 'string', array: true, demandOption: true }).option('detach', { alias: 'd', type: 'boolean' }),
      (args) =>
        withClient(args, async (client) => {
          const targets = args.pairs.map((p) => {
            const m = /^([^=]+)=(.*)$/.exec(p);
            if (!m) throw new BatonError('INVALID_ARGUMENT', `bad scale "${p}" (want SERVICE=REPLICAS with REPLICAS >= 0)`);
            const replicas = parseReplicas(m[2]!, `replica count for ${m[1]!}`);
            if (!replicas.ok) throw new BatonError('INVALID_ARGUMENT', replicas.problem);
            return { ref: m[1]!, replicas: replicas.value };
          });
          for (const { ref, replicas } of targets) {
            // Redone on the newest version if the service moved meanwhile (its autoscaler, say).
            const svc = await client.modifyService(ref, (spec) => {
              if (spec.global || spec.globalJob) throw new BatonError('FAILED_PRECONDITION', `${ref}: scale can only be used with replicated or replicated-job mode`);
              // A replicated job scales its total completions (Docker's), which reruns it.
              return spec.replicatedJob ? { ...spec, replicatedJob: { ...spec.replicatedJob, totalCompletions: replicas } } : { ...spec, replicas };
            });
            print(`${ref} scaled to ${replicas}`);
            const note = autoscaleScaleNote(ref, svc.spec?.autoscale);
            if (note) print(note);
          }
          if (!args.detach) for (const { ref } of targets) await waitForConvergence(client, ref, false);
        }),
    )
    .command<GlobalArgs & { service: string; follow?: boolean; tail?: number; timestamps?: boolean; since?: string }>(
      'logs <service>',
      "Show the output of a service's tasks",
      (c) =>
        c
          .positional('service', { type: 'string', demandOption: true })
          .option('follow', { alias: 'f', type: 'boolean', describe: 'keep streaming' })
          .option('tail', { alias: 'n', type: 'string', requiresArg: true, coerce: numeric('--tail'), describe: 'only the last N lines of each task' })
          .option('timestamps', { alias: 't', type: 'boolean', describe: 'show an RFC3339Nano time before each line' })
          .option('since', { type: 'string', requiresArg: true, describe: 'only lines since a time (2026-01-02T15:04:05Z) or a duration back (10m)' }),
      (args) =>
        withClient(args, async (client) => {
          if (args.tail !== undefined && (!Number.isInteger(args.tail) || args.tail < 0)) {
            throw new BatonError('INVALID_ARGUMENT', `bad --tail ${String(args.tail)} (want a whole number of lines >= 0)`);
          }
          const since = args.since === undefined ? 0 : parseSince(args.since);
          const nodes = await client.list('ListNodes');
          const host = new Map(nodes.map((n) => [n.meta?.id ?? '', n.description?.hostname ?? '']));
          for await (const line of client.serviceLogs({ service: args.service, follow: args.follow ?? false, tail: args.tail ?? 0 })) {
            if (Number(line.timestamp ?? 0) < since) continue;
            const prefix = `${args.timestamps ? `${timestampText(Number(line.timestamp ?? 0))} ` : ''}${line.taskName ?? ''}@${host.get(line.nodeId ?? '') || line.nodeId} | `;
            const text = Buffer.from(line.data ?? new Uint8Array(0)).toString('utf8');
            const out = line.stderr ? process.stderr : process.stdout;
            for (const l of text.split('\n').filter((x, i, all) => x !== '' || i < all.length - 1)) out.write(`${prefix}${l}\n`);
          }
        }),
    )
    .command<GlobalArgs & { services: string[] }>(
      ['rm <services..>', 'remove <services..>'],
      'Remove services',
      (c) => c.positional('services', { type: 'string', array: true, demandOption: true }),
      (args) =>
        withClient(args, async (client) => {
          for (const ref of args.services) {
            await client.control.call('RemoveService', { id: ref });
            print(ref);
          }
        }),
    )
    .demandCommand(1, 'baton service needs a subcommand: create, ls, ps, inspect, scale, update, rollback, rebalance, logs, rm');
}

/** `service inspect --pretty`: the spec as a person reads it. */
function pretty(s: baton.Service.$Properties, networkName: (id: string) => string): string {
  const spec = s.spec ?? {};
  const task = spec.task ?? {};
  const c = task.container ?? {};
  const r = task.restart ?? {};
  const res = task.resources ?? {};
  const lines: [string, string | undefined][] = [
    ['ID', s.meta?.id ?? ''],
    ['Name', spec.annotations?.name ?? ''],
    ['Mode', jobModeText(s) ?? (spec.global ? 'Global' : `Replicated\n Replicas:\t${Number(spec.replicas ?? 0)}`)],
    ['Autoscale', autoscalePretty(spec.autoscale, s.autoscaleStatus)],
    ['Runtime', task.runtime || DEFAULT_RUNTIME],
    ['Image', c.image || undefined],
    ['Command', (c.command ?? []).join(' ') || undefined],
    ['Args', (c.args ?? []).join(' ') || undefined],
    ['Env', (c.env ?? []).join(' ') || undefined],
    ['Healthcheck', healthText(c.healthcheck, task.runtime || DEFAULT_RUNTIME)],
    ...containerOptionLines(task),
    ...dnsOptionLines(task),
    ['Placement', placementText(task.placement)],
    ['Restart policy', `${['any', 'on-failure', 'none'][r.condition ?? 0]} (delay ${durationText(Number(r.delayMs ?? 0) || DEFAULT_RESTART_DELAY_MS)}, max attempts ${Number(r.maxAttempts ?? 0) || 'unlimited'})`],
    ['Limits', res.limits && (Number(res.limits.memoryBytes) || Number(res.limits.nanoCpus)) ? resourcesText(res.limits) : undefined],
    ['Reservations', res.reservations && (Number(res.reservations.memoryBytes) || Number(res.reservations.nanoCpus)) ? resourcesText(res.reservations) : undefined],
    ['Networks', (task.networks ?? []).map((n) => `${networkName(n.target ?? '')}${(n.aliases ?? []).length ? ` (aliases: ${(n.aliases ?? []).join(', ')})` : ''}`).join(', ') || undefined],
    ['Endpoint Mode', endpointModeText(spec.endpoint?.mode)],
    ['Ports', portsText(s.endpoint?.ports) || undefined],
    ['Exposed', (spec.endpoint?.expose ?? []).map((p) => `${p.targetPort ?? 0}/${p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp'}`).join(', ') || undefined],
    ['Secrets', (c.secrets ?? []).map((r) => `${r.secretName ?? ''} -> /run/secrets/${r.target ?? ''} (${fileMode(r.mode)})`).join(', ') || undefined],
    ['Configs', (c.configs ?? []).map((r) => `${r.configName ?? ''} -> ${r.target ?? ''} (${fileMode(r.mode)})`).join(', ') || undefined],
    // Docker's layout: one Target block per mount.
    ['Mounts', (c.mounts ?? []).map((m) => `\n Target:\t${m.target ?? ''}\n  Source:\t${m.source ?? ''}\n  ReadOnly:\t${m.readOnly ? 'true' : 'false'}\n  Type:\t${mountTypeName(m.type)}`).join('') || undefined],
    ['Balance', s.endpoint?.ports?.some((p) => p.publishMode !== baton.PublishMode.HOST) ? (spec.endpoint?.balance === baton.BalanceMode.LEAST_CONNECTIONS ? 'least-connections' : 'round-robin') : undefined],
    ['Rebalance', spec.global || spec.replicatedJob || spec.globalJob ? undefined : rebalanceModeText(spec.rebalance)],
    ['UpdateStatus', updateStatusText(s.updateStatus)],
    // A job has no update or rollback config (its flags are refused), and Docker shows none.
    ['UpdateConfig', isJobService(s) ? undefined : updateConfigText(spec.update)],
    ['RollbackConfig', isJobService(s) ? undefined : updateConfigText(spec.rollback)],
  ];
  return lines.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}:\t${v}`).join('\n');
}

function updateStatusText(u: baton.UpdateStatus.$Properties | null | undefined): string | undefined {
  if (!u?.state) return undefined;
  const state = baton.UpdateState[u.state].toLowerCase();
  const when = (label: string, ms: unknown): string => (Number(ms) > 0 ? `\n ${label}:\t${new Date(Number(ms)).toISOString()}` : '');
  return `\n State:\t${state}${when('Started', u.startedAt)}${when('Completed', u.completedAt)}\n Message:\t${u.message ?? ''}`;
}

function updateConfigText(c: baton.UpdateConfig.$Properties | null | undefined): string {
  const parallelism = Number(c?.parallelism ?? 0);
  const action = ['pause', 'continue', 'rollback'][c?.failureAction ?? 0];
  return [
    '',
    ` Parallelism:\t${parallelism === 0 ? 'all at once' : parallelism}`,
    ` Delay:\t${durationText(Number(c?.delayMs ?? 0))}`,
    ` On failure:\t${action}`,
    ` Monitoring Period:\t${durationText(Number(c?.monitorMs ?? 0) || DEFAULT_UPDATE_MONITOR_MS)}`,
    ` Max failure ratio:\t${+Number(c?.maxFailureRatio ?? 0).toPrecision(6)}`,
    ` Update order:\t${c?.order === baton.UpdateOrder.START_FIRST ? 'start-first' : 'stop-first'}`,
  ].join('\n');
}

/** Limits or reservations: what is set of memory and CPUs. */
function resourcesText(r: baton.Resources.$Properties): string {
  const memory = Number(r.memoryBytes ?? 0);
  const cpus = Number(r.nanoCpus ?? 0) / 1e9;
  return [memory ? `memory ${bytesText(memory)}` : '', cpus ? `cpu ${cpus}` : ''].filter(Boolean).join(', ');
}

function fileMode(mode: number | null | undefined): string {
  return `0${(mode || 0o444).toString(8)}`;
}
