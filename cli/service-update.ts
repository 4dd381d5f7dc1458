// `baton service update [flags] SERVICE` and `baton service rollback SERVICE`, and the
// --update-* / --rollback-* flags that `service create` accepts too. Flags change the current
// spec (read, changed, written back with its version, so a concurrent change is refused, not
// overwritten); each bad value is one clear error and the service is left untouched.
import type { Argv } from 'yargs';
import { baton, BatonError } from '../client/index.js';
import { numeric, repeated, withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';
import { parseBytes, parseCpus, parseDuration, parsePort } from './service-spec.js';
import { healthFromFlags, healthOptions, type HealthFlags } from './health-flags.js';
import { waitForUpdate } from './progress.js';
import { applyDataRefFlags, type DataRefFlags } from './data-refs.js';

type Which = 'update' | 'rollback';

export interface UpdateConfigFlags {
  'update-parallelism'?: number | undefined;
  'update-delay'?: string | undefined;
  'update-failure-action'?: string | undefined;
  'update-monitor'?: string | undefined;
  'update-max-failure-ratio'?: number | undefined;
  'update-order'?: string | undefined;
  'rollback-parallelism'?: number | undefined;
  'rollback-delay'?: string | undefined;
  'rollback-failure-action'?: string | undefined;
  'rollback-monitor'?: string | undefined;
  'rollback-max-failure-ratio'?: number | undefined;
  'rollback-order'?: string | undefined;
}

/** Adds the --update-* and --rollback-* options (create and update share them). */
export function updateConfigOptions<T>(y: Argv<T>): Argv<T & UpdateConfigFlags> {
  for (const which of ['update', 'rollback'] as const) {
    const what = which === 'update' ? 'an update' : 'a rollback';
    y.option(`${which}-parallelism`, { type: 'string', requiresArg: true, coerce: numeric(`--${which}-parallelism`), describe: `tasks replaced at once during ${what} (0: all; default 1)` })
      .option(`${which}-delay`, { type: 'string', requiresArg: true, describe: `wait between batches of ${what}, e.g. 10s (default 0s)` })
      .option(`${which}-failure-action`, { type: 'string', requiresArg: true, describe: which === 'update' ? 'pause (default), continue or rollback' : 'pause (default) or continue' })
      .option(`${which}-monitor`, { type: 'string', requiresArg: true, describe: 'how long each new task is watched for failure (default 5s)' })
      .option(`${which}-max-failure-ratio`, { type: 'string', requiresArg: true, coerce: numeric(`--${which}-max-failure-ratio`), describe: 'failures tolerated, as a fraction of the tasks (default 0)' })
      .option(`${which}-order`, { type: 'string', requiresArg: true, describe: 'stop-first (default) or start-first' });
  }
  return y as Argv<T & UpdateConfigFlags>;
}

const ACTIONS: Record<string, baton.UpdateFailureAction> = {
  pause: baton.UpdateFailureAction.FAILURE_PAUSE,
  continue: baton.UpdateFailureAction.FAILURE_CONTINUE,
  rollback: baton.UpdateFailureAction.FAILURE_ROLLBACK,
};
const ORDERS: Record<string, baton.UpdateOrder> = { 'stop-first': baton.UpdateOrder.STOP_FIRST, 'start-first': baton.UpdateOrder.START_FIRST };

/**
 * The update (or rollback) config: `base` with the flags given applied. Docker's defaults when
 * there is no base: parallelism 1, pause, monitor 5 s, stop-first.
 */
export function updateConfigFromFlags(f: UpdateConfigFlags, which: Which, base?: baton.UpdateConfig.$Properties | null): baton.UpdateConfig.$Properties {
  const c: baton.UpdateConfig.$Properties = { ...(base ?? { parallelism: 1 }) };
  const flag = (name: string): string => `--${which}-${name}`;
  const parallelism = f[`${which}-parallelism`];
  if (parallelism !== undefined) {
    if (!Number.isInteger(parallelism) || parallelism < 0) throw new BatonError('INVALID_ARGUMENT', `bad ${flag('parallelism')} ${String(parallelism)} (want a whole number >= 0)`);
    c.parallelism = parallelism;
  }
  const delay = f[`${which}-delay`];
  if (delay !== undefined) c.delayMs = parseDuration(delay, flag('delay'));
  const monitor = f[`${which}-monitor`];
  if (monitor !== undefined) c.monitorMs = parseDuration(monitor, flag('monitor'));
  const action = f[`${which}-failure-action`];
  if (action !== undefined) {
    const allowed = which === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
    if (!allowed.includes(action)) throw new BatonError('INVALID_ARGUMENT', `bad ${flag('failure-action')} "${action}" (want ${allowed.join(', ')})`);
    c.failureAction = ACTIONS[action]!;
  }
  const ratio = f[`${which}-max-failure-ratio`];
  if (ratio !== undefined) {
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new BatonError('INVALID_ARGUMENT', `bad ${flag('max-failure-ratio')} ${String(ratio)} (want a number from 0 to 1)`);
    c.maxFailureRatio = ratio;
  }
  const order = f[`${which}-order`];
  if (order !== undefined) {
    if (!(order in ORDERS)) throw new BatonError('INVALID_ARGUMENT', `bad ${flag('order')} "${order}" (want stop-first or start-first)`);
    c.order = ORDERS[order]!;
  }
  return c;
}

export interface UpdateFlags extends UpdateConfigFlags, HealthFlags, DataRefFlags {
  service: string;
  image?: string | undefined;
  'env-add'?: string | string[] | undefined;
  'env-rm'?: string | string[] | undefined;
  replicas?: number | undefined;
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
  'restart-max-attempts'?: number | undefined;
  'restart-window'?: string | undefined;
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
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word = (word ?? '') + ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + ch;
  }
  if (quote !== undefined) throw new BatonError('INVALID_ARGUMENT', `bad --args: unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

function samePort(a: baton.PortConfig.$Properties, b: baton.PortConfig.$Properties): boolean {
  return (a.targetPort ?? 0) === (b.targetPort ?? 0) && (a.protocol ?? 0) === (b.protocol ?? 0);
}

/** The current spec with the flags applied (a copy; `current` is left as it was). */
export function applyUpdateFlags(current: baton.ServiceSpec.$Properties, f: UpdateFlags): baton.ServiceSpec.$Properties {
  const spec = baton.ServiceSpec.toObject(baton.ServiceSpec.fromObject(current), { longs: Number }) as baton.ServiceSpec.$Properties;
  const task = (spec.task ??= {});
  const container = (task.container ??= {});
  const isProcess = task.runtime === 'process';
  if (f.image !== undefined) {
    if (isProcess) throw new BatonError('INVALID_ARGUMENT', '--image does not apply to the process runtime (use --args)');
    container.image = f.image;
  }
  if (f.args !== undefined) {
    const words = splitArgs(f.args);
    // The process runtime keeps its program and takes the new arguments after it.
    if (isProcess) container.command = [(container.command ?? [])[0] ?? '', ...words];
    else container.args = words;
  }
  const envRm = new Set(repeated(f['env-rm']).map((e) => e.split('=')[0]!));
  const envAdd = repeated(f['env-add']);
  for (const e of envAdd) if (!/^[^=\s]+=/.test(e)) throw new BatonError('INVALID_ARGUMENT', `bad --env-add "${e}" (want KEY=VALUE)`);
  const added = new Set(envAdd.map((e) => e.split('=')[0]!));
  container.env = [...(container.env ?? []).filter((e) => !envRm.has(e.split('=')[0]!) && !added.has(e.split('=')[0]!)), ...envAdd];
  if (f.replicas !== undefined) {
    if (spec.global) throw new BatonError('INVALID_ARGUMENT', '--replicas can only be used with replicated services');
    if (!Number.isInteger(f.replicas) || f.replicas < 0) throw new BatonError('INVALID_ARGUMENT', `bad --replicas ${String(f.replicas)} (want a whole number >= 0)`);
    spec.replicas = f.replicas;
  }
  const endpoint = (spec.endpoint ??= {});
  const rm = repeated(f['publish-rm']).map((p) => {
    const port = parsePort(p);
    return { ...port, publishedPort: p.includes(':') || p.includes('published=') ? port.publishedPort : 0 };
  });
  let ports = (endpoint.ports ?? []).filter((p) => !rm.some((r) => samePort(p, r) && (!r.publishedPort || r.publishedPort === p.publishedPort)));
  for (const add of repeated(f['publish-add']).map(parsePort)) ports = [...ports.filter((p) => !samePort(p, add)), add];
  endpoint.ports = ports;
  const placement = (task.placement ??= {});
  const constraintRm = new Set(repeated(f['constraint-rm']));
  placement.constraints = [...(placement.constraints ?? []).filter((c) => !constraintRm.has(c)), ...repeated(f['constraint-add'])];
  applyDataRefFlags(container, f);
  const resources = (task.resources ??= {});
  const limits = (resources.limits ??= {});
  const reservations = (resources.reservations ??= {});
  if (f['limit-memory'] !== undefined) limits.memoryBytes = parseBytes(f['limit-memory'], '--limit-memory');
  if (f['limit-cpu'] !== undefined) limits.nanoCpus = parseCpus(f['limit-cpu'], '--limit-cpu');
  if (f['reserve-memory'] !== undefined) reservations.memoryBytes = parseBytes(f['reserve-memory'], '--reserve-memory');
  if (f['reserve-cpu'] !== undefined) reservations.nanoCpus = parseCpus(f['reserve-cpu'], '--reserve-cpu');
  const restart = (task.restart ??= {});
  const condition = f['restart-condition'];
  if (condition !== undefined) {
    if (!(condition in CONDITIONS)) throw new BatonError('INVALID_ARGUMENT', `bad --restart-condition "${condition}" (want any, on-failure or none)`);
    restart.condition = CONDITIONS[condition]!;
  }
  if (f['restart-delay'] !== undefined) restart.delayMs = parseDuration(f['restart-delay'], '--restart-delay');
  if (f['restart-max-attempts'] !== undefined) {
    const n = f['restart-max-attempts'];
    if (!Number.isInteger(n) || n < 0) throw new BatonError('INVALID_ARGUMENT', `bad --restart-max-attempts ${String(n)} (want a whole number >= 0)`);
    restart.maxAttempts = n;
  }
  if (f['restart-window'] !== undefined) restart.windowMs = parseDuration(f['restart-window'], '--restart-window');
  const health = healthFromFlags(f, container.healthcheck);
  if (health) container.healthcheck = health;
  if (hasAny(f, 'update')) spec.update = updateConfigFromFlags(f, 'update', spec.update);
  if (hasAny(f, 'rollback')) spec.rollback = updateConfigFromFlags(f, 'rollback', spec.rollback);
  if (f.force) task.forceUpdate = Number(task.forceUpdate ?? 0) + 1;
  return spec;
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
        updateConfigOptions(
          c
            .positional('service', { type: 'string', demandOption: true })
            .option('image', { type: 'string', requiresArg: true })
            .option('args', { type: 'string', requiresArg: true, describe: 'the command\'s arguments, e.g. --args="-c \'sleep 100\'"' })
            .option('env-add', { type: 'string', requiresArg: true, describe: 'KEY=VALUE (repeatable)' })
            .option('env-rm', { type: 'string', requiresArg: true, describe: 'KEY (repeatable)' })
            .option('replicas', { type: 'string', requiresArg: true, coerce: numeric('--replicas') })
            .option('publish-add', { type: 'string', requiresArg: true, describe: '[published:]target[/udp] (repeatable)' })
            .option('publish-rm', { type: 'string', requiresArg: true, describe: 'target[/udp] or published:target (repeatable)' })
            .option('constraint-add', { type: 'string', requiresArg: true, describe: 'node.labels.zone==a (repeatable)' })
            .option('constraint-rm', { type: 'string', requiresArg: true, describe: 'an existing constraint, as written (repeatable)' })
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
            .option('restart-max-attempts', { type: 'string', requiresArg: true, coerce: numeric('--restart-max-attempts') })
            .option('restart-window', { type: 'string', requiresArg: true })
            .options(healthOptions)
            .option('force', { type: 'boolean', describe: 'replace every task even if nothing changed' })
            .option('resolve-image', { type: 'boolean', default: true, describe: 'check a new image exists before updating (--no-resolve-image skips it)' })
            .option('detach', { alias: 'd', type: 'boolean', describe: 'return at once instead of following the update' })
            .option('quiet', { alias: 'q', type: 'boolean' }),
        ),
      (args) =>
        withClient(args, async (client) => {
          const svc = await client.control.call('GetService', { id: args.service });
          const spec = applyUpdateFlags(svc.spec ?? {}, args);
          const updated = await client.control.call('UpdateService', {
            id: svc.meta?.id ?? args.service,
            version: svc.meta?.version ?? 0,
            spec,
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
          const svc = await client.control.call('GetService', { id: args.service });
          const updated = await client.control.call('UpdateService', { id: svc.meta?.id ?? args.service, version: svc.meta?.version ?? 0, rollback: true });
          print(args.service);
          if (!args.detach) await waitForUpdate(client, updated, args.quiet ?? false);
        }),
    );
}
