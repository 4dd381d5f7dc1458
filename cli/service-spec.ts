// `service create` flags to a ServiceSpec, the Docker way. Values are parsed by spec/; every bad
// value is reported at once, in one error line.
import { autoscaleFromFlags, type AutoscaleFlags } from './autoscale-flags.js';
import { baton } from '../client/index.js';
import {
  DEFAULT_REPLICAS,
  DEFAULT_RESTART_DELAY_MS,
  MAX_REPLICAS,
  ok,
  problem,
  parseBytes,
  parseCount,
  parseCpus,
  parseDuration,
  parseMount,
  parsePublish,
  parseRebalanceMode,
  validateServiceSpec,
  type Parsed,
} from '../spec/index.js';
import { repeated } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { parseConfigRef, parseSecretRef } from './data-refs.js';
import { healthFromFlags, type HealthFlags } from './health-flags.js';
import { updateConfigFromFlags, type UpdateConfigFlags } from './update-config-flags.js';
import { applyContainerCreateFlags, envFromFiles, serviceLabelsFromFlags, type ContainerCreateFlags } from './container-flags.js';
import { applyDnsCreateFlags, type DnsCreateFlags } from './dns-flags.js';
import { exposeFromFlags, networksFromFlags, parseEndpointMode, type NetworkFlags } from './network-flags.js';
import { placementFromFlags, type PlacementCreateFlags } from './placement-flags.js';
import { isJobMode, jobSpecFromFlags, modeFromFlags, type JobFlags } from './job-flags.js';

export interface CreateFlags extends AutoscaleFlags, HealthFlags, UpdateConfigFlags, NetworkFlags, PlacementCreateFlags, JobFlags, ContainerCreateFlags, DnsCreateFlags {
  name?: string | undefined;
  replicas?: string | number | undefined;
  mode?: string | undefined;
  publish?: string | string[] | undefined;
  env?: string | string[] | undefined;
  'limit-memory'?: string | undefined;
  'limit-cpu'?: string | undefined;
  'reserve-memory'?: string | undefined;
  'reserve-cpu'?: string | undefined;
  constraint?: string | string[] | undefined;
  'restart-condition'?: string | undefined;
  'restart-delay'?: string | undefined;
  'restart-max-attempts'?: string | number | undefined;
  'restart-window'?: string | undefined;
  runtime?: string | undefined;
  workdir?: string | undefined;
  'stop-grace-period'?: string | undefined;
  secret?: string | string[] | undefined;
  config?: string | string[] | undefined;
  mount?: string | string[] | undefined;
  balance?: string | undefined;
  rebalance?: string | undefined;
  image?: string | undefined;
  command?: (string | number)[] | undefined;
}

/** `--replicas N`: a whole number up to the limit of replicas per service, as typed. */
export function parseReplicas(text: string | number, flag = '--replicas'): Parsed<number> {
  return parseCount(text, flag, { max: MAX_REPLICAS, limit: 'replicas per service' });
}

const BALANCE: Record<string, baton.BalanceMode> = {
  'round-robin': baton.BalanceMode.ROUND_ROBIN,
  'least-connections': baton.BalanceMode.LEAST_CONNECTIONS,
};

/** `--balance round-robin|least-connections`: how the mesh picks a task for a new connection. */
function parseBalanceText(text: string | undefined): Parsed<baton.BalanceMode> {
  if (text === undefined) return ok(baton.BalanceMode.ROUND_ROBIN);
  const mode = BALANCE[text];
  return mode === undefined ? problem(`bad --balance "${text}" (want round-robin or least-connections)`) : ok(mode);
}

const CONDITIONS: Record<string, baton.RestartCondition> = {
  any: baton.RestartCondition.RESTART_ANY,
  'on-failure': baton.RestartCondition.RESTART_ON_FAILURE,
  none: baton.RestartCondition.RESTART_NONE,
};

/**
 * The spec the flags of `service create` describe, with the health check and the update and
 * rollback configs; every bad value is reported at once, then the spec is checked as the
 * manager will check it (the manager checks again: it does not trust clients).
 */
export function specFromFlags(f: CreateFlags): baton.ServiceSpec.$Properties {
  const p = new FlagProblems();
  const runtime = f.runtime ?? 'docker';
  const words = (f.command ?? []).map(String);
  const mode = modeFromFlags(f, p);
  const job = jobSpecFromFlags(f, mode, p);
  if (f.mode === 'global' && f.replicas !== undefined) p.add('--replicas cannot be used with --mode global');
  const autoscale = autoscaleFromFlags(f, p);
  if (autoscale && mode !== 'replicated') p.add('--autoscale-* can only be used with replicated mode');
  // An autoscaled service starts at its minimum unless told otherwise.
  const replicas = f.replicas !== undefined && !isJobMode(mode) ? p.take(parseReplicas(f.replicas), 0) : (autoscale?.min ?? DEFAULT_REPLICAS);
  // Docker's default for a job is on-failure: a task that completed is done.
  const condition = f['restart-condition'] ?? (isJobMode(mode) ? 'on-failure' : undefined);
  if (condition !== undefined && !(condition in CONDITIONS)) p.add(`bad --restart-condition "${condition}" (want any, on-failure or none)`);
  const duration = (flag: 'stop-grace-period' | 'restart-delay' | 'restart-window', fallback: number): number => {
    const text = f[flag];
    return text ? p.take(parseDuration(text, `--${flag}`), fallback) : fallback;
  };
  const bytes = (flag: 'limit-memory' | 'reserve-memory'): number => {
    const text = f[flag];
    return text ? p.take(parseBytes(text, `--${flag}`), 0) : 0;
  };
  const cpus = (flag: 'limit-cpu' | 'reserve-cpu'): number => {
    const text = f[flag];
    return text ? p.take(parseCpus(text, `--${flag}`), 0) : 0;
  };
  const container: baton.ContainerSpec.$Properties =
    runtime === 'process'
      ? { command: [f.image ?? '', ...words].filter(Boolean), args: [] }
      : { image: f.image ?? '', args: words };
  // As Docker's: the env files first, then --env (which wins over a file's value).
  container.env = [...envFromFiles(f['env-file'], p), ...repeated(f.env)];
  if (f.workdir) container.dir = f.workdir;
  container.secrets = repeated(f.secret).map(parseSecretRef);
  container.configs = repeated(f.config).map(parseConfigRef);
  const mounts = mountsFromFlags(repeated(f.mount), '--mount', p);
  if (mounts.length > 0) container.mounts = mounts;
  if (f['stop-grace-period']) container.stopGraceMs = duration('stop-grace-period', 0);
  const health = healthFromFlags(f, undefined, p);
  if (health) container.healthcheck = health;
  const ports: baton.PortConfig.$Properties[] = [];
  for (const text of repeated(f.publish)) {
    const port = parsePublish(text);
    if (port.ok) ports.push(port.value);
    else p.add(port.problem);
  }
  const spec: baton.ServiceSpec.$Properties = {
    annotations: { name: f.name ?? '', labels: serviceLabelsFromFlags(f, p) },
    global: f.mode === 'global',
    ...(mode === 'replicated' ? { replicas } : {}),
    ...(autoscale ? { autoscale } : {}),
    ...job,
    task: {
      runtime,
      container,
      resources: {
        limits: { memoryBytes: bytes('limit-memory'), nanoCpus: cpus('limit-cpu') },
        reservations: { memoryBytes: bytes('reserve-memory'), nanoCpus: cpus('reserve-cpu') },
      },
      restart: {
        condition: CONDITIONS[condition ?? 'any'] ?? baton.RestartCondition.RESTART_ANY,
        delayMs: duration('restart-delay', DEFAULT_RESTART_DELAY_MS),
        maxAttempts: f['restart-max-attempts'] !== undefined ? p.take(parseCount(f['restart-max-attempts'], '--restart-max-attempts'), 0) : 0,
        windowMs: duration('restart-window', 0),
      },
      placement: placementFromFlags(repeated(f.constraint), f, p),
      networks: networksFromFlags(f.network, p),
    },
    endpoint: {
      ports,
      balance: p.take(parseBalanceText(f.balance), baton.BalanceMode.ROUND_ROBIN),
      mode: f['endpoint-mode'] !== undefined ? p.take(parseEndpointMode(f['endpoint-mode']), baton.EndpointMode.VIP) : baton.EndpointMode.VIP,
      expose: exposeFromFlags(f.expose, p),
    },
    // A job has no rolling update (the flags are refused above).
    update: isJobMode(mode) ? null : updateConfigFromFlags(f, 'update', undefined, p),
    rollback: isJobMode(mode) ? null : updateConfigFromFlags(f, 'rollback', undefined, p),
    rebalance: f.rebalance !== undefined ? p.take(parseRebalanceMode(f.rebalance, '--rebalance'), baton.RebalanceMode.REBALANCE_OFF) : baton.RebalanceMode.REBALANCE_OFF,
  };
  applyContainerCreateFlags(spec.task!, f, p);
  applyDnsCreateFlags(spec.task!, f, p);
  // The flags' problems and the spec's (a name, a constraint, an image…) in one line.
  for (const problem of validateServiceSpec(spec)) p.add(problem);
  p.check();
  return spec;
}

/** `--mount` (and `--mount-add`) values, each parsed; a bad one is noted and left out. */
export function mountsFromFlags(texts: readonly string[], flag: string, p: FlagProblems): baton.Mount.$Properties[] {
  return texts.flatMap((text) => {
    const parsed = parseMount(text, flag);
    if (parsed.ok) return [parsed.value];
    p.add(parsed.problem);
    return [];
  });
}
