// The one check of what a user may ask for: a service spec, a secret's, config's or network's
// spec, a node's labels. Each returns every problem at once (an empty list when all is well), each
// naming the field and, when it is beyond one, the limit (spec/limits.ts). The control API runs
// them on the leader for every create and update, so no client gets past them; the CLI and
// Compose run the service check too, before sending, to report everything in one go.
//
// Numbers are checked as they arrive: protobufjs decodes our 64-bit fields to JavaScript
// numbers (proto/gen, Long disabled), so a uint64 of 2^64-1 arrives as 18446744073709552000. It
// must be refused here: encoded again (into the Raft log) it would wrap, to 0 in that case.
import { baton } from '../proto/gen/baton.js';
import { parseConstraintText } from './constraints.js';
import { DEFAULT_RUNTIME } from './defaults.js';
import { echo } from './parsed.js';
import { mountProblems } from './mounts.js';
import { placementProblems } from './placement.js';
import { containerOptionProblems } from './container.js';
import { dnsConfigProblems } from './dns.js';
import * as L from './limits.js';

/** `rebalance`: a known mode, and auto only where tasks have slots to move (replicated mode). */
function rebalance(p: Problems, input: baton.ServiceSpec.$Properties): void {
  const mode = input.rebalance ?? baton.RebalanceMode.REBALANCE_OFF;
  if (mode !== baton.RebalanceMode.REBALANCE_OFF && mode !== baton.RebalanceMode.REBALANCE_AUTO) p.add(`unknown rebalance mode ${Number(mode)} (want auto or off)`);
  else if (mode === baton.RebalanceMode.REBALANCE_AUTO && (input.global || input.replicatedJob || input.globalJob)) {
    p.add('rebalance auto is for replicated services (a global service runs one task per node; a job\'s tasks end)');
  }
}

/** Every problem of a service spec as it arrived (decoded, not yet normalised). */
export function validateServiceSpec(input: baton.ServiceSpec.$Properties | null | undefined): string[] {
  if (!input) return ['a service spec is required'];
  const p = new Problems();
  p.name('service', input.annotations?.name, L.MAX_NAME_LENGTH);
  p.labels('service labels', input.annotations?.labels);
  const replicas = p.int('replicas', input.replicas, 0, L.MAX_REPLICAS, 'replicas per service');
  if (input.global && replicas > 0) p.add('replicas cannot be used with global mode');
  for (const problem of placementProblems(input.task?.placement, Boolean(input.global || input.globalJob))) p.add(problem);
  jobMode(p, input, replicas);
  taskSpec(p, input.task);
  endpointSpec(p, input.endpoint);
  updateConfig(p, 'update', input.update);
  updateConfig(p, 'rollback', input.rollback);
  rebalance(p, input);
  autoscale(p, input);
  if (p.list.length === 0) {
    const size = baton.ServiceSpec.encode(input).finish().length;
    if (size > L.MAX_SERVICE_SPEC_BYTES) p.add(`the spec is ${size} bytes encoded, more than the limit of ${L.MAX_SERVICE_SPEC_BYTES}`);
  }
  return p.list;
}

/**
 * `--autoscale-*`: 1 <= min <= max <= the replica limit, a positive target. Min 0 is refused: a
 * service with no task accepts no connection through the mesh, so nothing would ever scale it up.
 */
function autoscale(p: Problems, input: baton.ServiceSpec.$Properties): void {
  const a = input.autoscale;
  if (!a) return;
  if (input.global || input.replicatedJob || input.globalJob) p.add('autoscale needs replicated mode');
  const min = p.int('autoscale min', a.min, 1, L.MAX_REPLICAS, 'replicas per service');
  const max = p.int('autoscale max', a.max, 1, L.MAX_REPLICAS, 'replicas per service');
  if (min > max && max > 0) p.add(`autoscale min ${min} is more than autoscale max ${max}`);
  const rps = a.targetRps ?? 0;
  if (!(Number.isFinite(rps) && rps > 0)) p.add(`autoscale rps must be a positive number of connections per second per task, not ${rps}`);
}

/**
 * A clean copy of a spec that passed validateServiceSpec, with what it leaves unset filled:
 * the runtime (docker), and empty messages where the orchestrators expect one.
 */
export function normalizeServiceSpec(input: baton.ServiceSpec.$Properties): baton.ServiceSpec {
  const spec = baton.ServiceSpec.fromObject(baton.ServiceSpec.toObject(baton.ServiceSpec.fromObject(input)));
  const task = spec.task ?? (spec.task = new baton.TaskSpec());
  task.runtime ||= DEFAULT_RUNTIME;
  task.container ??= new baton.ContainerSpec();
  return spec;
}

/** Every problem of a secret's or config's spec (Docker's rules: names of 1-64, data 1 byte to 500 KiB). */
export function validateDataSpec(kind: 'secret' | 'config', spec: baton.SecretSpec.$Properties | null | undefined): string[] {
  const p = new Problems();
  const name = spec?.annotations?.name ?? '';
  if (!/^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9])?$/.test(name)) {
    p.add(`invalid ${kind} name "${echo(name)}": 1-64 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
  }
  p.labels(`${kind} labels`, spec?.annotations?.labels);
  const size = spec?.data?.length ?? 0;
  if (size === 0) p.add(`${kind} ${echo(name)}: the data is empty`);
  if (size > L.MAX_DATA_BYTES) p.add(`${kind} ${echo(name)}: ${size} bytes is more than the limit of ${L.MAX_DATA_BYTES} (500 KiB)`);
  return p.list;
}

/**
 * Every problem of a network's spec: the name (a DNS name component, as swarm's, and not one of
 * Docker's predefined networks), the driver (overlay, or empty for it), the labels.
 */
export function validateNetworkSpec(spec: baton.NetworkSpec.$Properties | null | undefined): string[] {
  const p = new Problems();
  const name = spec?.annotations?.name ?? '';
  if (name === '') p.add('a network name is required');
  else if (name.length > L.MAX_NAME_LENGTH) p.add(`network name "${echo(name)}" is ${name.length} characters, more than the limit of ${L.MAX_NAME_LENGTH}`);
  else if (!L.DNS_COMPONENT_PATTERN.test(name)) {
    p.add(`invalid network name "${echo(name)}": it must be valid as a DNS name component (letters, digits, '-' and '_', starting and ending with a letter or digit)`);
  } else if (L.PREDEFINED_NETWORKS.includes(name)) p.add(`${name} is a pre-defined network and cannot be created`);
  const driver = spec?.driver ?? '';
  if (driver !== '' && driver !== L.NETWORK_DRIVER) {
    p.add(`network driver "${echo(driver)}" is not supported: only ${L.NETWORK_DRIVER} (a swarm-scoped network, as docker network create -d overlay) can be used by services`);
  }
  p.labels('network labels', spec?.annotations?.labels);
  return p.list;
}

/** Every problem of a set of labels (a node's, a service's). */
export function validateLabels(what: string, labels: Record<string, string> | null | undefined): string[] {
  const p = new Problems();
  p.labels(what, labels);
  return p.list;
}

/** The problems as one line, for an INVALID_ARGUMENT error. */
export function describeProblems(problems: readonly string[]): string {
  return problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`;
}

/**
 * The job modes (`--mode replicated-job|global-job`): at most one mode; a replicated job's
 * counts within the replica limit (its total completions is what `--replicas` says).
 */
function jobMode(p: Problems, input: baton.ServiceSpec.$Properties, replicas: number): void {
  const modes = [input.global ? 'global' : '', input.replicatedJob ? 'replicated-job' : '', input.globalJob ? 'global-job' : ''].filter(Boolean);
  if (modes.length > 1) p.add(`a service has one mode, not ${modes.join(' and ')}`);
  if (modes.length === 1 && modes[0] !== 'global' && replicas > 0) p.add(`replicas cannot be used with ${modes[0]} mode (a replicated job's total completions say how many tasks complete)`);
  // SwarmKit's rule: a job is not rolled, each change of it runs it again.
  if ((input.replicatedJob || input.globalJob) && (input.update || input.rollback)) p.add('jobs may not have an update or rollback config');
  const job = input.replicatedJob;
  if (!job) return;
  p.int('replicated job total completions', job.totalCompletions, 0, L.MAX_REPLICAS, 'replicas per service');
  p.int('replicated job max concurrent', job.maxConcurrent, 0, L.MAX_REPLICAS, 'replicas per service');
}

class Problems {
  readonly list: string[] = [];

  add(problem: string): void {
    this.list.push(problem);
  }

  /** A whole number from min to max; returns it (0 when absent or refused). */
  int(field: string, value: unknown, min: number, max: number, limit?: string): number {
    if (value === undefined || value === null) return 0;
    const n = typeof value === 'number' ? value : NaN;
    if (!Number.isInteger(n)) {
      this.add(`${field} ${typeof value === 'number' ? value : JSON.stringify(value)} is not a whole number`);
      return 0;
    }
    if (n < min) {
      this.add(`${field} ${n} is less than ${min}`);
      return 0;
    }
    if (n > max) {
      this.add(`${field} ${BigInt(n)} is more than the limit of ${max}${limit ? ` ${limit}` : ''}`);
      return 0;
    }
    return n;
  }

  duration(field: string, value: unknown): void {
    this.int(field, value, 0, L.MAX_DURATION_MS, 'ms');
  }

  name(kind: string, value: string | null | undefined, max: number): void {
    const name = value ?? '';
    if (name === '') this.add(`a ${kind} name is required`);
    else if (name.length > max) this.add(`${kind} name "${echo(name)}" is ${name.length} characters, more than the limit of ${max}`);
    else if (!L.NAME_PATTERN.test(name)) this.add(`invalid ${kind} name "${echo(name)}": use letters, digits, '_', '.', '-', starting with a letter or digit`);
  }

  labels(what: string, labels: Record<string, string> | null | undefined): void {
    const entries = Object.entries(labels ?? {});
    if (entries.length > L.MAX_LABELS) this.add(`${what}: ${entries.length} labels, more than the limit of ${L.MAX_LABELS}`);
    for (const [k, v] of entries) {
      if (k === '' || /[\s=]/.test(k)) this.add(`${what}: bad label key "${echo(k)}" (not empty, no spaces or '=')`);
      else if (k.length > L.MAX_LABEL_KEY_LENGTH) this.add(`${what}: label key "${echo(k)}" is ${k.length} characters, more than the limit of ${L.MAX_LABEL_KEY_LENGTH}`);
      if (v.length > L.MAX_LABEL_VALUE_LENGTH) this.add(`${what}: the value of label "${echo(k)}" is ${v.length} characters, more than the limit of ${L.MAX_LABEL_VALUE_LENGTH}`);
    }
  }

  strings(field: string, list: readonly string[] | null | undefined, maxCount: number, maxLength: number): void {
    const items = list ?? [];
    if (items.length > maxCount) this.add(`${field}: ${items.length} entries, more than the limit of ${maxCount}`);
    const long = items.findIndex((s) => s.length > maxLength);
    if (long >= 0) this.add(`${field}[${long}] is ${items[long]!.length} characters, more than the limit of ${maxLength}`);
  }

  oneOf(field: string, value: number | null | undefined, allowed: readonly number[], want: string): void {
    if (!allowed.includes(value ?? 0)) this.add(`${field} ${String(value)} is unknown (want ${want})`);
  }
}

function taskSpec(p: Problems, task: baton.TaskSpec.$Properties | null | undefined): void {
  const runtime = task?.runtime || DEFAULT_RUNTIME;
  if (runtime !== 'docker' && runtime !== 'process') p.add(`unknown runtime "${echo(runtime)}" (want docker or process)`);
  const c = task?.container ?? {};
  if (runtime === 'docker' && !c.image) p.add('an image is required');
  if ((c.image ?? '').length > L.MAX_IMAGE_LENGTH) p.add(`the image name is ${c.image!.length} characters, more than the limit of ${L.MAX_IMAGE_LENGTH}`);
  else if (runtime === 'docker' && c.image && !isImageReference(c.image)) {
    p.add(`invalid image reference "${echo(c.image)}": want [registry/]name[:tag][@digest], the name in lowercase (as Docker's "invalid reference format")`);
  }
  if (runtime === 'process' && (c.command ?? []).length === 0 && (c.args ?? []).length === 0) p.add('the process runtime needs a command to run');
  p.strings('command and args', [...(c.command ?? []), ...(c.args ?? [])], L.MAX_ARGS, L.MAX_ARG_LENGTH);
  p.strings('env', c.env, L.MAX_ENV, L.MAX_ARG_LENGTH);
  const badEnv = (c.env ?? []).find((e) => !/^[^=\s]+=/.test(e));
  if (badEnv !== undefined) p.add(`bad environment variable "${echo(badEnv)}" (want KEY=VALUE)`);
  if ((c.dir ?? '').length > L.MAX_PATH_LENGTH) p.add(`the working directory is more than ${L.MAX_PATH_LENGTH} characters`);
  p.duration('stop grace period (stop_grace_ms)', c.stopGraceMs);
  healthConfig(p, c.healthcheck);
  for (const [what, refs] of [['secrets', c.secrets], ['configs', c.configs]] as const) {
    const list = refs ?? [];
    if (list.length > L.MAX_DATA_REFS) p.add(`${list.length} ${what}, more than the limit of ${L.MAX_DATA_REFS}`);
    for (const r of list) p.int(`${what} file mode`, r.mode, 0, 0o7777);
  }
  // Where the secrets and configs land (worker/agent/task-files.ts): a mount may not cover one.
  const dataTargets = [
    ...(c.secrets ?? []).map((r) => `/run/secrets/${r.target || r.secretName || ''}`),
    ...(c.configs ?? []).map((r) => r.target || `/${r.configName ?? ''}`),
  ];
  for (const problem of mountProblems(c.mounts, dataTargets)) p.add(problem);
  for (const problem of containerOptionProblems(c, runtime, task?.logDriver)) p.add(problem);
  for (const problem of dnsConfigProblems(c.dnsConfig)) p.add(problem);
  for (const which of ['limits', 'reservations'] as const) {
    const r = task?.resources?.[which];
    p.int(`${which} nano_cpus`, r?.nanoCpus, 0, L.MAX_NANO_CPUS, `(${L.MAX_CPUS} CPUs)`);
    p.int(`${which} memory_bytes`, r?.memoryBytes, 0, L.MAX_MEMORY_BYTES, '(16 TiB)');
  }
  const restart = task?.restart;
  p.oneOf('restart condition', restart?.condition, [0, 1, 2], 'any, on-failure or none');
  p.duration('restart delay_ms', restart?.delayMs);
  p.duration('restart window_ms', restart?.windowMs);
  p.int('restart max_attempts', restart?.maxAttempts, 0, L.MAX_COUNT);
  const constraints = task?.placement?.constraints ?? [];
  p.strings('constraints', constraints, L.MAX_CONSTRAINTS, L.MAX_CONSTRAINT_LENGTH);
  for (const text of constraints.slice(0, L.MAX_CONSTRAINTS)) {
    const parsed = parseConstraintText(text.length > L.MAX_CONSTRAINT_LENGTH ? echo(text) : text);
    if (!parsed.ok) p.add(parsed.problem);
  }
  p.int('force_update', task?.forceUpdate, 0, Number.MAX_SAFE_INTEGER);
  networkAttachments(p, task?.networks);
}

/**
 * A service's networks as the user gave them (names, ids or prefixes: the manager resolves them
 * and refuses unknown ones and the same network twice by id) and the aliases on each.
 */
function networkAttachments(p: Problems, list: baton.NetworkAttachmentConfig.$Properties[] | null | undefined): void {
  const networks = list ?? [];
  if (networks.length > L.MAX_SERVICE_NETWORKS) p.add(`${networks.length} networks, more than the limit of ${L.MAX_SERVICE_NETWORKS}`);
  const seen = new Set<string>();
  for (const [i, n] of networks.slice(0, L.MAX_SERVICE_NETWORKS).entries()) {
    const target = n.target ?? '';
    if (target === '') {
      p.add(`networks[${i}] needs a network (a name or id)`);
      continue;
    }
    if (target.length > L.MAX_NAME_LENGTH) {
      p.add(`networks[${i}]: "${echo(target)}" is ${target.length} characters, longer than any network name or id (at most ${L.MAX_NAME_LENGTH})`);
      continue;
    }
    // Names are case-insensitive in the store, as swarm's.
    const key = target.toLowerCase();
    if (seen.has(key)) p.add(`network ${echo(target)} is given twice (a service joins a network once)`);
    seen.add(key);
    const aliases = n.aliases ?? [];
    if (aliases.length > L.MAX_NETWORK_ALIASES) p.add(`network ${echo(target)}: ${aliases.length} aliases, more than the limit of ${L.MAX_NETWORK_ALIASES}`);
    const names = new Set<string>();
    for (const alias of aliases.slice(0, L.MAX_NETWORK_ALIASES)) {
      if (alias.length > L.MAX_NAME_LENGTH || !L.DNS_COMPONENT_PATTERN.test(alias)) {
        p.add(`network ${echo(target)}: invalid alias "${echo(alias)}": a DNS name component (letters, digits, '-' and '_', starting and ending with a letter or digit, at most ${L.MAX_NAME_LENGTH} characters)`);
      } else if (names.has(alias.toLowerCase())) p.add(`network ${echo(target)}: alias ${alias} is given twice`);
      names.add(alias.toLowerCase());
    }
  }
}

// Docker's reference grammar (distribution/reference), as `docker service create` checks it
// before anything is sent: a registry host (any case, with a port), then lowercase path
// components joined by '.', '_', '__' or dashes, then a tag and/or a digest.
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** Whether `image` is a reference Docker accepts (the name part at most 255 characters). */
export function isImageReference(image: string): boolean {
  if (!REFERENCE.test(image)) return false;
  const name = image.replace(/@.*$/, '').replace(/:[\w][\w.-]{0,127}$/, '');
  return name.length <= 255;
}

/** Docker's health check shapes: ["CMD", prog, ...], ["CMD-SHELL", cmd], ["NONE"], or [] (the image's own). */
function healthConfig(p: Problems, h: baton.HealthConfig.$Properties | null | undefined): void {
  if (!h) return;
  const test = h.test ?? [];
  const kind = test[0];
  const shape =
    kind === undefined ||
    (kind === 'NONE' && test.length === 1) ||
    (kind === 'CMD' && test.length >= 2 && test[1] !== '') ||
    (kind === 'CMD-SHELL' && test.length === 2 && test[1] !== '');
  if (!shape) p.add(`bad health check test ${echo(JSON.stringify(test))} (want ["CMD", prog, ...], ["CMD-SHELL", cmd] or ["NONE"])`);
  p.strings('health check test', test, L.MAX_ARGS, L.MAX_ARG_LENGTH);
  p.duration('health check interval_ms', h.intervalMs);
  p.duration('health check timeout_ms', h.timeoutMs);
  p.duration('health check start_period_ms', h.startPeriodMs);
  p.int('health check retries', h.retries, 0, L.MAX_COUNT);
}

function endpointSpec(p: Problems, e: baton.EndpointSpec.$Properties | null | undefined): void {
  const ports = e?.ports ?? [];
  if (ports.length > L.MAX_PORTS) p.add(`${ports.length} published ports, more than the limit of ${L.MAX_PORTS}`);
  for (const [i, port] of ports.slice(0, L.MAX_PORTS).entries()) {
    p.int(`ports[${i}] target_port`, port.targetPort || undefined, 1, 65535);
    if (!port.targetPort) p.add(`ports[${i}] needs a target port`);
    p.int(`ports[${i}] published_port`, port.publishedPort, 0, 65535);
    p.oneOf(`ports[${i}] protocol`, port.protocol, [baton.PortProtocol.TCP, baton.PortProtocol.UDP], 'tcp or udp');
    p.oneOf(`ports[${i}] publish_mode`, port.publishMode, [baton.PublishMode.INGRESS, baton.PublishMode.HOST], 'ingress or host');
  }
  p.oneOf('endpoint balance', e?.balance, [baton.BalanceMode.ROUND_ROBIN, baton.BalanceMode.LEAST_CONNECTIONS], 'round-robin or least-connections');
  p.oneOf('endpoint mode', e?.mode, [baton.EndpointMode.VIP, baton.EndpointMode.DNSRR], 'vip or dnsrr');
  // Docker's rule and words: the routing mesh needs the service's virtual IP; a DNSRR service
  // may still publish on each node's own port (mode host).
  if (e?.mode === baton.EndpointMode.DNSRR && ports.some((port) => (port.publishMode ?? baton.PublishMode.INGRESS) === baton.PublishMode.INGRESS)) {
    p.add("port published with ingress mode can't be used with dnsrr mode");
  }
  const expose = e?.expose ?? [];
  if (expose.length > L.MAX_PORTS) p.add(`${expose.length} exposed ports, more than the limit of ${L.MAX_PORTS}`);
  for (const [i, port] of expose.slice(0, L.MAX_PORTS).entries()) {
    if (!port.targetPort) p.add(`expose[${i}] needs a port`);
    else p.int(`expose[${i}] port`, port.targetPort, 1, 65535);
    p.oneOf(`expose[${i}] protocol`, port.protocol, [baton.PortProtocol.TCP, baton.PortProtocol.UDP], 'tcp or udp');
    if (port.publishedPort || port.publishMode || port.proxyProtocol) p.add(`expose[${i}] takes a port and a protocol only (publish a port with ports)`);
  }
}

function updateConfig(p: Problems, what: 'update' | 'rollback', c: baton.UpdateConfig.$Properties | null | undefined): void {
  if (!c) return;
  p.int(`${what} parallelism`, c.parallelism, 0, L.MAX_REPLICAS, '(the replica limit)');
  p.duration(`${what} delay_ms`, c.delayMs);
  p.duration(`${what} monitor_ms`, c.monitorMs);
  const ratio = Number(c.maxFailureRatio ?? 0);
  if (!(ratio >= 0 && ratio <= 1)) p.add(`${what} max failure ratio ${ratio} is not between 0 and 1`);
  const actions = what === 'update' ? [0, 1, 2] : [0, 1];
  p.oneOf(`${what} failure action`, c.failureAction, actions, what === 'update' ? 'pause, continue or rollback' : 'pause or continue');
  p.oneOf(`${what} order`, c.order, [0, 1], 'stop-first or start-first');
}
