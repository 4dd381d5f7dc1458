// The `deploy:` section of a Compose service: mode and replicas, resources, placement, restart,
// update and rollback policies, the endpoint mode, and the service's labels.
import { baton } from '../../client/index.js';
import type { Node } from './reader.js';
import { labels } from './values.js';
import {
  DEFAULT_REPLICAS,
  DEFAULT_RESTART_DELAY_MS,
  DEFAULT_RESTART_MAX_ATTEMPTS,
  DEFAULT_RESTART_WINDOW_MS,
  DEFAULT_UPDATE_DELAY_MS,
  DEFAULT_UPDATE_PARALLELISM,
  MAX_REPLICAS,
  parseBytes,
  parseCpus,
  parseDuration,
  type Parsed,
} from '../../spec/index.js';

export type DeployMode = 'replicated' | 'global' | 'replicated-job' | 'global-job';

export interface DeploySettings {
  mode: DeployMode;
  /** Replicated: the count; replicated-job: the completions and the tasks at a time (Docker sets both). */
  replicas: number;
  labels: Record<string, string>;
  resources: baton.ResourceRequirements.$Properties;
  restart: baton.RestartPolicy.$Properties;
  placement: baton.Placement.$Properties;
  /** Absent for jobs: a job is run again, not rolled (SwarmKit refuses an update config on one). */
  update?: baton.UpdateConfig.$Properties;
  rollback?: baton.UpdateConfig.$Properties;
  endpointMode: baton.EndpointMode;
}

/** The value, or a failure at `n`: `must be <form>`, with the limit when it is over one. */
function value<T>(n: Node, parsed: Parsed<T>, form: string): T {
  if (!parsed.ok) n.fail(parsed.overLimit ? `${form}${n.got()}: ${parsed.why}` : `${form}${n.got()}`);
  return parsed.value;
}

export function duration(n: Node): number {
  return value(n, parseDuration(n.text(), n.path), 'must be a duration like 10s, 1m30s or 500ms');
}

/** `restart:` (outside deploy) counts when deploy.restart_policy is absent, as in Docker's converter. */
export function readDeploy(deploy: Node, restart: Node): DeploySettings {
  deploy.checkKeys(['mode', 'replicas', 'resources', 'placement', 'restart_policy', 'update_config', 'rollback_config', 'labels', 'endpoint_mode']);
  const modeNode = deploy.child('mode');
  const mode = modeNode.present ? modeNode.oneOf(['replicated', 'global', 'replicated-job', 'global-job'] as const) : 'replicated';
  const replicasNode = deploy.child('replicas');
  if ((mode === 'global' || mode === 'global-job') && replicasNode.present) replicasNode.fail(`cannot be used with deploy.mode ${mode} (replicas can only be used with replicated or replicated-job mode)`);
  const endpoint = deploy.child('endpoint_mode');
  const dnsrr = endpoint.present && endpoint.oneOf(['vip', 'dnsrr'] as const) === 'dnsrr';
  const job = mode === 'replicated-job' || mode === 'global-job';
  const policy = deploy.child('restart_policy');
  if (job) for (const key of ['update_config', 'rollback_config']) if (deploy.child(key).present) deploy.child(key).fail(`cannot be used with deploy.mode ${mode} (jobs may not have an update or rollback config)`);
  return {
    mode,
    replicas: replicasNode.present ? replicasNode.int(0, MAX_REPLICAS, 'replicas per service') : DEFAULT_REPLICAS,
    labels: labels(deploy.child('labels')),
    resources: readResources(deploy.child('resources')),
    restart: policy.present || !restart.present ? readRestart(policy, job) : restartFromShort(restart),
    placement: readPlacement(deploy.child('placement')),
    // Absent, they are Swarm's defaults (one task at a time), as `service create` sends them.
    ...(job ? {} : { update: readUpdate(deploy.child('update_config'), false), rollback: readUpdate(deploy.child('rollback_config'), true) }),
    endpointMode: dnsrr ? baton.EndpointMode.DNSRR : baton.EndpointMode.VIP,
  };
}

function readResources(n: Node): baton.ResourceRequirements.$Properties {
  n.checkKeys(['limits', 'reservations']);
  const one = (r: Node): baton.Resources.$Properties => {
    r.checkKeys(['cpus', 'memory']);
    const cpus = r.child('cpus');
    const memory = r.child('memory');
    const raw = (n: Node): string | number => (typeof n.value === 'number' ? n.value : n.text());
    const cpuValue = cpus.present ? value(cpus, parseCpus(raw(cpus), cpus.path), 'must be a number of CPUs like 0.5') : 0;
    const memValue = memory.present ? value(memory, parseBytes(raw(memory), memory.path), 'must be a size like 64M or 1G') : 0;
    return { nanoCpus: cpuValue, memoryBytes: memValue };
  };
  return { limits: one(n.child('limits')), reservations: one(n.child('reservations')) };
}

const CONDITIONS = {
  any: baton.RestartCondition.RESTART_ANY,
  'on-failure': baton.RestartCondition.RESTART_ON_FAILURE,
  none: baton.RestartCondition.RESTART_NONE,
} as const;

/**
 * Absent values are Swarm's defaults (condition any, delay 5 s), as `service create` sends; a
 * job's condition defaults to on-failure (a completed task is not run again), as Docker's.
 */
function readRestart(n: Node, job: boolean): baton.RestartPolicy.$Properties {
  n.checkKeys(['condition', 'delay', 'max_attempts', 'window']);
  const condition = n.child('condition');
  return {
    condition: CONDITIONS[condition.present ? condition.oneOf(['none', 'on-failure', 'any'] as const) : job ? 'on-failure' : 'any'],
    delayMs: n.child('delay').present ? duration(n.child('delay')) : DEFAULT_RESTART_DELAY_MS,
    maxAttempts: n.child('max_attempts').present ? n.child('max_attempts').int(0) : DEFAULT_RESTART_MAX_ATTEMPTS,
    windowMs: n.child('window').present ? duration(n.child('window')) : DEFAULT_RESTART_WINDOW_MS,
  };
}

/**
 * Docker's `restart: always|unless-stopped|on-failure[:N]` as a restart policy; `no` leaves
 * Swarm's default (any), as Docker's converter does.
 */
function restartFromShort(n: Node): baton.RestartPolicy.$Properties {
  const text = n.text().trim();
  const [name, max] = text.split(':', 2) as [string, string | undefined];
  const base = { delayMs: DEFAULT_RESTART_DELAY_MS, windowMs: DEFAULT_RESTART_WINDOW_MS, maxAttempts: DEFAULT_RESTART_MAX_ATTEMPTS };
  if ((name === 'no' || name === 'always' || name === 'unless-stopped') && max === undefined) {
    return { ...base, condition: baton.RestartCondition.RESTART_ANY };
  }
  if (name === 'on-failure') {
    if (max !== undefined && !/^\d+$/.test(max)) n.fail(`has a bad maximum retry count${n.got()}`);
    return { ...base, condition: baton.RestartCondition.RESTART_ON_FAILURE, maxAttempts: max === undefined ? DEFAULT_RESTART_MAX_ATTEMPTS : Number(max) };
  }
  return n.fail(`must be no, always, unless-stopped or on-failure[:max-retries]${n.got()}`);
}

function readPlacement(n: Node): baton.Placement.$Properties {
  n.checkKeys(['constraints', 'preferences', 'max_replicas_per_node']);
  const preferences = n.child('preferences').items().map((p) => {
    p.checkKeys(['spread']);
    if (!p.child('spread').present) p.fail('needs spread: (e.g. spread: node.labels.zone)');
    return { spread: p.child('spread').string() };
  });
  const max = n.child('max_replicas_per_node');
  return {
    constraints: n.child('constraints').stringList(),
    preferences,
    maxReplicas: max.present ? max.int(0, MAX_REPLICAS, '(the replica limit)') : 0,
  };
}

const FAILURE_ACTIONS = {
  pause: baton.UpdateFailureAction.FAILURE_PAUSE,
  continue: baton.UpdateFailureAction.FAILURE_CONTINUE,
  rollback: baton.UpdateFailureAction.FAILURE_ROLLBACK,
} as const;

/** update_config / rollback_config; parallelism defaults to 1 as in Docker's stack deploy. */
function readUpdate(n: Node, rollback: boolean): baton.UpdateConfig.$Properties {
  n.checkKeys(['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order']);
  const action = n.child('failure_action');
  const order = n.child('order');
  const actions = rollback ? (['pause', 'continue'] as const) : (['pause', 'continue', 'rollback'] as const);
  return {
    parallelism: n.child('parallelism').present ? n.child('parallelism').int(0, MAX_REPLICAS, '(the replica limit)') : DEFAULT_UPDATE_PARALLELISM,
    delayMs: n.child('delay').present ? duration(n.child('delay')) : DEFAULT_UPDATE_DELAY_MS,
    failureAction: FAILURE_ACTIONS[action.present ? action.oneOf(actions) : 'pause'],
    monitorMs: n.child('monitor').present ? duration(n.child('monitor')) : 0,
    maxFailureRatio: n.child('max_failure_ratio').present ? n.child('max_failure_ratio').number(0, 1) : 0,
    order: order.present && order.oneOf(['stop-first', 'start-first'] as const) === 'start-first' ? baton.UpdateOrder.START_FIRST : baton.UpdateOrder.STOP_FIRST,
  };
}
