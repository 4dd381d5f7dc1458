// `baton service update [flags] SERVICE`, `baton service rollback SERVICE` and `baton service
// rebalance SERVICE`. Flags change the current spec (read, changed, written back with its
// version; if the service moved meanwhile, the flags are applied again to the newest spec rather
// than overwriting it); every bad value is reported at once and the service is left untouched.
// The --update-* / --rollback-* flags, shared with `service create`, are in ./update-config-flags.ts.
import { autoscaleFromFlags, autoscaleOptions, type AutoscaleFlags } from './autoscale-flags.js';
import type { Argv } from 'yargs';
import { baton, BatonError } from '../client/index.js';
import { repeated, withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';
import { echo, parseBytes, parseCount, parseCpus, parseDuration, parsePublish, parseRebalanceMode } from '../spec/index.js';
import { mountsFromFlags, parseReplicas } from './service-spec.js';
import { applyJobUpdateFlags } from './job-flags.js';
import { validateServiceSpec } from '../spec/index.js';
import { FlagProblems } from './flag-problems.js';
import { healthFromFlags, healthOptions, type HealthFlags } from './health-flags.js';
import { updateConfigFromFlags, updateConfigOptions, type UpdateConfigFlags, type Which } from './update-config-flags.js';
import { waitForUpdate } from './progress.js';
import { applyDataRefFlags, type DataRefFlags } from './data-refs.js';
import { applyContainerUpdateFlags, containerUpdateOptions, shellWords, updatedServiceLabels, type ContainerUpdateFlags } from './container-flags.js';
import { applyDnsUpdateFlags, dnsUpdateOptions, type DnsUpdateFlags } from './dns-flags.js';
import { networksFromFlags, parseEndpointMode, parseNetworkFlag } from './network-flags.js';
import { applyPlacementFlags, placementUpdateOptions, type PlacementUpdateFlags } from './placement-flags.js';
import type { BatonClient } from '../client/index.js';

export { updateConfigFromFlags, updateConfigOptions, type UpdateConfigFlags };

export interface UpdateFlags extends AutoscaleFlags, UpdateConfigFlags, HealthFlags, DataRefFlags, PlacementUpdateFlags, ContainerUpdateFlags, DnsUpdateFlags {
  service: string;
  image?: string | undefined;
  'env-add'?: string | string[] | undefined;
  'env-rm'?: string | string[] | undefined;
  replicas?: string | number | undefined;
  'publish-add'?: string | string[] | undefined;
  'publish-rm'?: string | string[] | undefined;
  'constraint-add'?: string | string[] | undefined;
  'constraint-rm'?: string | string[] | undefined;
  'limit-memory'?: string | undefined;
  'limit-cpu'?: string | undefined;
  'reserve-memory'?: string | undefined;
  'reserve-cpu'?: string | undefined;
  'restart-condition'?: string | undefined;
  'restart-delay'?: string | undefined;
  'restart-max-attempts'?: string | number | undefined;
  'restart-window'?: string | undefined;
  'network-add'?: string | string[] | undefined;
  'network-rm'?: string | string[] | undefined;
  'mount-add'?: string | string[] | undefined;
  'mount-rm'?: string | string[] | undefined;
  'endpoint-mode'?: string | undefined;
  rebalance?: string | undefined;
  args?: string | undefined;
  force?: boolean | undefined;
  detach?: boolean | undefined;
  quiet?: boolean | undefined;
}

const CONDITIONS: Record<string, baton.RestartCondition> = {
  any: baton.RestartCondition.RESTART_ANY,
  'on-failure': baton.RestartCondition.RESTART_ON_FAILURE,
  none: baton.RestartCondition.RESTART_NONE,
};

/** Splits `--args "a 'b c' d"` into words as a shell would (quotes, no expansion). */
export function splitArgs(text: string): string[] {
  const words = shellWords(text, '--args');
  if (!words.ok) throw new BatonError('INVALID_ARGUMENT', words.problem);
  return words.value;
}

function samePort(a: baton.PortConfig.$Properties, b: baton.PortConfig.$Properties): boolean {
  return (a.targetPort ?? 0) === (b.targetPort ?? 0) && (a.protocol ?? 0) === (b.protocol ?? 0);
}

/** The networks named by --network-add and --network-rm (by name, id or prefix). */
export function networkRefs(f: UpdateFlags): string[] {
  const adds = repeated(f['network-add']).flatMap((text) => {
    const parsed = parseNetworkFlag(text, '--network-add');
    return parsed.ok ? [parsed.value.target ?? ''] : [];
  });
  return [...new Set([...adds, ...repeated(f['network-rm'])])];
}

/** Each reference's network id, for applyUpdateFlags; a network that does not exist is left out. */
export async function resolveNetworkRefs(client: BatonClient, refs: readonly string[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const ref of refs) {
    try {
      ids.set(ref, (await client.getNetwork(ref)).meta?.id ?? '');
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== 'NOT_FOUND') throw err;
    }
  }
  return ids;
}

/**
 * `--network-rm REF` then `--network-add REF|name=REF,alias=A`, Docker's order (so a network
 * may be removed and added again with other aliases). `ids` maps each reference to its
 * network's id (resolveNetworkRefs): the spec holds ids.
 */
function applyNetworkFlags(task: baton.TaskSpec.$Properties, f: UpdateFlags, ids: ReadonlyMap<string, string>, p: FlagProblems): void {
  const rm = new Set<string>();
  for (const ref of repeated(f['network-rm'])) {
    // As Docker's: a network to leave must exist (it cannot be gone while the service joins it).
    const id = ids.get(ref);
    if (id === undefined) p.add(`network ${echo(ref)} not found`);
    else rm.add(id);
  }
  const kept = (task.networks ?? []).filter((n) => !rm.has(n.target ?? ''));
  for (const add of networksFromFlags(f['network-add'], p, '--network-add')) {
    const ref = add.target ?? '';
    const id = ids.get(ref);
    if (id === undefined) p.add(`network ${echo(ref)} not found`);
    else if (kept.some((n) => n.target === id)) p.add(`service is already attached to network ${echo(ref)}`);
    else kept.push({ target: id, aliases: add.aliases ?? [] });
  }
  task.networks = kept;
}

/**
 * The current spec with the flags applied (a copy; `current` is left as it was). Every bad
 * value is reported at once, then the new spec is checked as the manager will check it.
 * `networkIds` holds the ids of the networks the flags name (resolveNetworkRefs).
 */
export function applyUpdateFlags(current: baton.ServiceSpec.$Properties, f: UpdateFlags, networkIds: ReadonlyMap<string, string> = new Map()): baton.ServiceSpec.$Properties {
  const p = new FlagProblems();
  const spec = baton.ServiceSpec.toObject(baton.ServiceSpec.fromObject(current), { longs: Number }) as baton.ServiceSpec.$Properties;
  const task = (spec.task ??= {});
  const container = (task.container ??= {});
  const isProcess = task.runtime === 'process';
  if (f.image !== undefined) {
    if (isProcess) p.add('--image does not apply to the process runtime (use --args)');
    else container.image = f.image;
  }
  if (f.args !== undefined) {
    const words = splitArgs(f.args);
    // The process runtime keeps its program and takes the new arguments after it.
    if (isProcess) container.command = [(container.command ?? [])[0] ?? '', ...words];
    else container.args = words;
  }
  const envRm = new Set(repeated(f['env-rm']).map((e) => e.split('=')[0]!));
  const envAdd = repeated(f['env-add']);
  for (const e of envAdd) if (!/^[^=\s]+=/.test(e)) p.add(`bad --env-add "${e}" (want KEY=VALUE)`);
  const added = new Set(envAdd.map((e) => e.split('=')[0]!));
  container.env = [...(container.env ?? []).filter((e) => !envRm.has(e.split('=')[0]!) && !added.has(e.split('=')[0]!)), ...envAdd];
  const autoscale = autoscaleFromFlags(f, p, spec.autoscale);
  if (autoscale && (spec.global || spec.replicatedJob || spec.globalJob)) p.add('--autoscale-* can only be used with replicated services');
  if (autoscale) spec.autoscale = autoscale;
  else delete spec.autoscale;
  if (!applyJobUpdateFlags(spec, f, p) && f.replicas !== undefined) {
    if (spec.global) p.add('--replicas can only be used with replicated services');
    else spec.replicas = p.take(parseReplicas(f.replicas), spec.replicas ?? 0);
  }
  const endpoint = (spec.endpoint ??= {});
  const ports = (flag: '--publish-add' | '--publish-rm', list: string[]): { text: string; port: baton.PortConfig.$Properties }[] =>
    list.flatMap((text) => {
      const port = parsePublish(text, flag);
      if (port.ok) return [{ text, port: port.value }];
      p.add(port.problem);
      return [];
    });
  const rm = ports('--publish-rm', repeated(f['publish-rm'])).map(({ text, port }) => ({ ...port, publishedPort: text.includes(':') || text.includes('published=') ? port.publishedPort : 0 }));
  let kept = (endpoint.ports ?? []).filter((q) => !rm.some((r) => samePort(q, r) && (!r.publishedPort || r.publishedPort === q.publishedPort)));
  for (const { port: add } of ports('--publish-add', repeated(f['publish-add']))) kept = [...kept.filter((q) => !samePort(q, add)), add];
  endpoint.ports = kept;
  if (f['endpoint-mode'] !== undefined) endpoint.mode = p.take(parseEndpointMode(f['endpoint-mode']), endpoint.mode ?? baton.EndpointMode.VIP);
  applyNetworkFlags(task, f, networkIds, p);
  const placement = (task.placement ??= {});
  const constraintRm = new Set(repeated(f['constraint-rm']));
  placement.constraints = [...(placement.constraints ?? []).filter((c) => !constraintRm.has(c)), ...repeated(f['constraint-add'])];
  applyPlacementFlags(placement, f, p);
  applyDataRefFlags(container, f);
  applyMountFlags(container, f, p);
  const resources = (task.resources ??= {});
  const limits = (resources.limits ??= {});
  const reservations = (resources.reservations ??= {});
  if (f['limit-memory'] !== undefined) limits.memoryBytes = p.take(parseBytes(f['limit-memory'], '--limit-memory'), 0);
  if (f['limit-cpu'] !== undefined) limits.nanoCpus = p.take(parseCpus(f['limit-cpu'], '--limit-cpu'), 0);
  if (f['reserve-memory'] !== undefined) reservations.memoryBytes = p.take(parseBytes(f['reserve-memory'], '--reserve-memory'), 0);
  if (f['reserve-cpu'] !== undefined) reservations.nanoCpus = p.take(parseCpus(f['reserve-cpu'], '--reserve-cpu'), 0);
  const restart = (task.restart ??= {});
  const condition = f['restart-condition'];
  if (condition !== undefined) {
    if (condition in CONDITIONS) restart.condition = CONDITIONS[condition]!;
    else p.add(`bad --restart-condition "${condition}" (want any, on-failure or none)`);
  }
  if (f['restart-delay'] !== undefined) restart.delayMs = p.take(parseDuration(f['restart-delay'], '--restart-delay'), 0);
  if (f['restart-max-attempts'] !== undefined) restart.maxAttempts = p.take(parseCount(f['restart-max-attempts'], '--restart-max-attempts'), 0);
  if (f['restart-window'] !== undefined) restart.windowMs = p.take(parseDuration(f['restart-window'], '--restart-window'), 0);
  const health = healthFromFlags(f, container.healthcheck, p);
  if (health) container.healthcheck = health;
  if (hasAny(f, 'update')) spec.update = updateConfigFromFlags(f, 'update', spec.update, p);
  if (hasAny(f, 'rollback')) spec.rollback = updateConfigFromFlags(f, 'rollback', spec.rollback, p);
  applyContainerUpdateFlags(task, f, p);
  applyDnsUpdateFlags(task, f, p);
  if (f['label-add'] !== undefined || f['label-rm'] !== undefined) spec.annotations = { ...spec.annotations, labels: updatedServiceLabels(spec.annotations?.labels, f, p) };
  if (f.force) task.forceUpdate = Number(task.forceUpdate ?? 0) + 1;
  if (f.rebalance !== undefined) spec.rebalance = p.take(parseRebalanceMode(f.rebalance, '--rebalance'), spec.rebalance ?? baton.RebalanceMode.REBALANCE_OFF);
  // The flags' problems and the spec's (a name, a constraint, an image…) in one line.
  for (const problem of validateServiceSpec(spec)) p.add(problem);
  p.check();
  return spec;
}

/**
 * `--mount-rm TARGET` then `--mount-add MOUNT`, Docker's semantics: a mount is removed by its
 * target (one not mounted is an error, as Docker's), and an added mount replaces one on the same
 * target. The spec's rules (a duplicate target…) are validateServiceSpec's.
 */
function applyMountFlags(container: baton.ContainerSpec.$Properties, f: UpdateFlags, p: FlagProblems): void {
  const clean = (target: string): string => (target.length > 1 ? target.replace(/\/+$/, '') : target);
  let mounts = container.mounts ?? [];
  for (const target of repeated(f['mount-rm'])) {
    const kept = mounts.filter((m) => clean(m.target ?? '') !== clean(target));
    if (kept.length === mounts.length) p.add(`--mount-rm ${echo(target)}: no mount has that target`);
    mounts = kept;
  }
  for (const add of mountsFromFlags(repeated(f['mount-add']), '--mount-add', p)) {
    mounts = [...mounts.filter((m) => clean(m.target ?? '') !== clean(add.target ?? '')), add];
  }
  container.mounts = mounts;
}

function hasAny(f: UpdateConfigFlags, which: Which): boolean {
  return Object.entries(f).some(([k, v]) => k.startsWith(`${which}-`) && v !== undefined);
}

/** Registers `update` and `rollback` on the `service` command. */
export function updateCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<GlobalArgs & UpdateFlags & { 'resolve-image'?: boolean }>(
      'update <service>',
      'Update a service (a rolling update of its tasks, as its update config says)',
      (c) =>
        autoscaleOptions(updateConfigOptions(
          placementUpdateOptions(c)
            .positional('service', { type: 'string', demandOption: true })
            .option('image', { type: 'string', requiresArg: true })
            .option('args', { type: 'string', requiresArg: true, describe: 'the command\'s arguments, e.g. --args="-c \'sleep 100\'"' })
            .option('env-add', { type: 'string', requiresArg: true, describe: 'KEY=VALUE (repeatable)' })
            .option('env-rm', { type: 'string', requiresArg: true, describe: 'KEY (repeatable)' })
            .option('replicas', { type: 'string', requiresArg: true })
            .option('max-concurrent', { type: 'string', requiresArg: true, describe: 'replicated-job: job tasks run at once' })
            .option('publish-add', { type: 'string', requiresArg: true, describe: '[published:]target[/udp] (repeatable)' })
            .option('publish-rm', { type: 'string', requiresArg: true, describe: 'target[/udp] or published:target (repeatable)' })
            .option('constraint-add', { type: 'string', requiresArg: true, describe: 'node.labels.zone==a (repeatable)' })
            .option('network-add', { type: 'string', requiresArg: true, describe: 'join a network: NAME or name=NAME,alias=ALIAS[,alias=...] (repeatable)' })
            .option('network-rm', { type: 'string', requiresArg: true, describe: 'leave a network, by name or id (repeatable)' })
            .option('endpoint-mode', { type: 'string', requiresArg: true, describe: 'vip or dnsrr: how the name resolves on its networks' })
            .option('constraint-rm', { type: 'string', requiresArg: true, describe: 'an existing constraint, as written (repeatable)' })
            .option('mount-add', { type: 'string', requiresArg: true, describe: 'a mount, as service create --mount takes it (repeatable)' })
            .option('mount-rm', { type: 'string', requiresArg: true, describe: 'a mount\'s target path (repeatable)' })
            .option('secret-add', { type: 'string', requiresArg: true, describe: 'NAME or source=NAME,target=FILE,mode=0400 (repeatable)' })
            .option('secret-rm', { type: 'string', requiresArg: true, describe: 'a secret\'s name (repeatable)' })
            .option('config-add', { type: 'string', requiresArg: true, describe: 'NAME or source=NAME,target=/PATH,mode=0444 (repeatable)' })
            .option('config-rm', { type: 'string', requiresArg: true, describe: 'a config\'s name (repeatable)' })
            .option('limit-memory', { type: 'string', requiresArg: true })
            .option('limit-cpu', { type: 'string', requiresArg: true })
            .option('reserve-memory', { type: 'string', requiresArg: true })
            .option('reserve-cpu', { type: 'string', requiresArg: true })
            .option('restart-condition', { type: 'string', requiresArg: true })
            .option('restart-delay', { type: 'string', requiresArg: true })
            .option('restart-max-attempts', { type: 'string', requiresArg: true })
            .option('restart-window', { type: 'string', requiresArg: true })
            .options(healthOptions)
            .options(containerUpdateOptions)
            .options(dnsUpdateOptions)
            .option('force', { type: 'boolean', describe: 'replace every task even if nothing changed' })
            .option('rebalance', { type: 'string', requiresArg: true, describe: "baton's: auto (move tasks start-first to even the spread when a node becomes available) or off" })
            .option('resolve-image', { type: 'boolean', default: true, describe: 'check a new image exists before updating (--no-resolve-image skips it)' })
            .option('detach', { alias: 'd', type: 'boolean', describe: 'return at once instead of following the update' })
            .option('quiet', { alias: 'q', type: 'boolean' }),
        )),
      (args) =>
        withClient(args, async (client) => {
          const networks = await resolveNetworkRefs(client, networkRefs(args));
          // The flags are applied again to the newest spec if the service moved meanwhile (its
          // autoscaler, an update's progress): Docker's "update out of sequence" is not the user's to retry.
          const updated = await client.modifyService(args.service, (spec) => applyUpdateFlags(spec, args, networks), 5, {
            noResolveImage: args['resolve-image'] === false,
          });
          print(args.service);
          if (!args.detach) await waitForUpdate(client, updated, args.quiet ?? false);
        }),
    )
    .command<GlobalArgs & { service: string; detach?: boolean; quiet?: boolean }>(
      'rollback <service>',
      'Return a service to its previous spec',
      (c) =>
        c
          .positional('service', { type: 'string', demandOption: true })
          .option('detach', { alias: 'd', type: 'boolean' })
          .option('quiet', { alias: 'q', type: 'boolean' }),
      (args) =>
        withClient(args, async (client) => {
          // To the previous spec of the service as read: redone while only its status moves (its
          // autoscaler), refused once someone wrote its spec meanwhile (see rollbackServiceAsRead).
          const updated = await client.rollbackServiceAsRead(args.service);
          print(args.service);
          if (!args.detach) await waitForUpdate(client, updated, args.quiet ?? false);
        }),
    )
    .command<GlobalArgs & { service: string; detach?: boolean; quiet?: boolean }>(
      'rebalance <service>',
      "Move the fewest tasks that even a replicated service's spread over its nodes, start-first (baton's)",
      (c) =>
        c
          .positional('service', { type: 'string', demandOption: true })
          .option('detach', { alias: 'd', type: 'boolean', describe: 'return at once instead of following the moves' })
          .option('quiet', { alias: 'q', type: 'boolean' }),
      (args) =>
        withClient(args, async (client) => {
          // The manager plans from the newest service: a version moved meanwhile is just read again.
          const { service: updated, moved } = await client.rebalanceService(args.service);
          print(args.service);
          // Nothing moved: the service is already as even as its placement allows.
          if (!moved) {
            if (!args.quiet) print('rebalance: nothing to move (already even)');
            return;
          }
          if (!args.detach) await waitForUpdate(client, updated, args.quiet ?? false);
          else if (!args.quiet) print(updated.updateStatus?.message ?? '');
        }),
    );
}
