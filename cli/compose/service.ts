// One Compose service → the ServiceSpec `stack deploy` sends: every field explicit (defaults as
// `service create` sends them), so a re-deploy can compare it with the stored spec.
import { readFileSync } from 'node:fs';
import { baton, BatonError } from '../../client/index.js';
import type { Env } from './interpolate.js';
import { duration, readDeploy } from './deploy-section.js';
import { readConfigRefs, readSecretRefs, type ObjectDecl } from './objects.js';
import { readExpose, readPorts } from './ports.js';
import { readServiceNetworks, type NetworkDecl } from './networks.js';
import { ComposeProblems, type Node } from './reader.js';
import { shellWords } from './values.js';
import { AUTOSCALE_KEY, readAutoscale } from './autoscale.js';
import { readServiceMounts, type MountContext } from './volumes.js';
import { CONTAINER_OPTION_KEYS, readContainerOptions } from './container-options.js';
import { DOCKER_DEPRECATED, DOCKER_UNSUPPORTED, QUIETLY_IGNORED, WINDOWS_KEYS, checkCredentialSpec, checkIsolation, refuseForbidden } from './service-keys.js';
import { MAX_NAME_LENGTH, NAME_PATTERN, describeProblems, validateServiceSpec } from '../../spec/index.js';

/** The label Docker puts on every object of a stack; `stack ls|services|rm` find them by it. */
export const NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** Our extension choosing the runtime: `x-baton-runtime: process` (default docker). */
export const RUNTIME_KEY = 'x-baton-runtime';
/** Our extension for rebalancing: `x-baton-rebalance: auto` (default off), as `--rebalance`. */
export const REBALANCE_KEY = 'x-baton-rebalance';

const SUPPORTED = [
  'image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'networks', 'deploy',
  'healthcheck', 'secrets', 'configs', 'working_dir', 'stop_grace_period', 'volumes', 'tmpfs', RUNTIME_KEY, REBALANCE_KEY, AUTOSCALE_KEY,
  ...CONTAINER_OPTION_KEYS,
  ...WINDOWS_KEYS,
  // Ignored with one warning for the whole stack (ignoredOptionsWarnings), as Docker does.
  ...DOCKER_UNSUPPORTED,
  ...Object.keys(DOCKER_DEPRECATED),
];

export interface StackContext {
  stack: string;
  env: Env;
  secrets: ReadonlyMap<string, ObjectDecl>;
  configs: ReadonlyMap<string, ObjectDecl>;
  networks: ReadonlyMap<string, NetworkDecl>;
  /** STACK_default (or the file's own `default`), made when a service first needs it. */
  defaultNetwork: () => NetworkDecl;
  /** Filled in: the networks the services join. */
  usedNetworks: Map<string, NetworkDecl>;
  /** The top-level volumes and where relative bind sources start. */
  mounts: MountContext;
}

export function readService(key: string, n: Node, ctx: StackContext): baton.ServiceSpec.$Properties {
  if (!n.isMap()) n.fail(`must be a mapping${n.got()}`);
  // Every problem of the service is collected, each key read on its own, and said at once.
  const problems: string[] = [];
  const take = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== 'INVALID_ARGUMENT') throw err;
      problems.push(...ComposeProblems.of(err));
      return fallback;
    }
  };
  const name = `${ctx.stack}_${key}`;
  take(() => {
    if (!NAME_PATTERN.test(key)) n.fail('has a name with characters a service name cannot have (use letters, digits, _ . -)');
    if (name.length > MAX_NAME_LENGTH) n.fail(`makes a service name longer than ${MAX_NAME_LENGTH} characters (${name})`);
  }, undefined);
  take(() => refuseForbidden(n), undefined);
  take(() => n.checkKeys(SUPPORTED, QUIETLY_IGNORED), undefined);
  take(() => checkIsolation(n.child('isolation')), undefined);
  take(() => checkCredentialSpec(n.child('credential_spec')), undefined);
  const runtime = take(() => (n.child(RUNTIME_KEY).present ? n.child(RUNTIME_KEY).oneOf(['docker', 'process'] as const) : 'docker'), 'docker' as const);
  const rebalance = take(() => (n.child(REBALANCE_KEY).present ? n.child(REBALANCE_KEY).oneOf(['auto', 'off'] as const) : 'off'), 'off' as const);
  const image = n.child('image');
  const entrypoint = take(() => commandLine(n.child('entrypoint')), []);
  const command = take(() => commandLine(n.child('command')), []);
  const container: baton.ContainerSpec.$Properties = take((): baton.ContainerSpec.$Properties => {
    if (runtime === 'process') {
      if (image.present) image.warn('is not used by the process runtime, ignored');
      if (entrypoint.length + command.length === 0) n.fail('needs a command to run with x-baton-runtime: process');
      return { image: '', command: [...entrypoint, ...command], args: [] };
    }
    if (!image.present) n.fail(n.child('build').present ? 'needs an image (build: is not supported; build and push the image first)' : 'needs an image');
    const ref = image.string().trim();
    if (ref === '') image.fail('must not be empty');
    return { image: ref, command: entrypoint, args: command };
  }, { image: '', command: [], args: [] });
  container.env = take(() => environment(n, ctx.env), []);
  container.dir = take(() => (n.child('working_dir').present ? n.child('working_dir').string() : ''), '');
  container.stopGraceMs = take(() => (n.child('stop_grace_period').present ? duration(n.child('stop_grace_period')) : 0), 0);
  const health = take(() => healthcheck(n.child('healthcheck')), undefined);
  if (health) container.healthcheck = health;
  container.secrets = take(() => readSecretRefs(n.child('secrets'), ctx.secrets), []);
  container.configs = take(() => readConfigRefs(n.child('configs'), ctx.configs), []);
  container.mounts = take(() => readServiceMounts(n, ctx.mounts), []);
  const options = take(() => readContainerOptions(n, { [NAMESPACE_LABEL]: ctx.stack }), undefined);
  Object.assign(container, options?.container ?? {});
  const deploy = take(() => readDeploy(n.child('deploy'), n.child('restart')), undefined);
  const networks = take(() => readServiceNetworks(key, n, ctx.networks, ctx.defaultNetwork, ctx.usedNetworks), []);
  const ports = take(() => readPorts(n.child('ports')), []);
  const expose = take(() => readExpose(n.child('expose')), []);
  const autoscale = take(() => readAutoscale(n), undefined);
  // A key Docker refuses is named once, with Docker's reason, not also as merely unsupported.
  const said = problems.filter((p) => !problems.some((q) => q !== p && q.startsWith(p)));
  if (said.length > 0 || !deploy) throw new ComposeProblems(said);
  const spec: baton.ServiceSpec.$Properties = {
    annotations: { name, labels: { ...deploy.labels, [NAMESPACE_LABEL]: ctx.stack } },
    global: deploy.mode === 'global',
    replicas: deploy.mode === 'replicated' ? deploy.replicas : 0,
    ...(deploy.mode === 'replicated-job' ? { replicatedJob: { maxConcurrent: deploy.replicas, totalCompletions: deploy.replicas } } : {}),
    ...(deploy.mode === 'global-job' ? { globalJob: {} } : {}),
    task: {
      runtime,
      ...(options?.logDriver ? { logDriver: options.logDriver } : {}),
      container,
      resources: deploy.resources,
      restart: deploy.restart,
      placement: deploy.placement,
      networks,
    },
    endpoint: { ports, mode: deploy.endpointMode, expose },
    ...(deploy.update ? { update: deploy.update } : {}),
    ...(deploy.rollback ? { rollback: deploy.rollback } : {}),
    ...(rebalance === 'auto' ? { rebalance: baton.RebalanceMode.REBALANCE_AUTO } : {}),
    ...(autoscale ? { autoscale } : {}),
  };
  // What the manager will check (limits, constraints, health check shapes): all of it, now.
  const invalid = validateServiceSpec(spec);
  if (invalid.length > 0) n.fail(`makes a service spec the manager would refuse: ${describeProblems(invalid)}`);
  return spec;
}

/** `command:`/`entrypoint:` as a list, or a string split like a shell. */
function commandLine(n: Node): string[] {
  if (!n.present) return [];
  if (Array.isArray(n.value)) return n.stringList();
  const words = shellWords(n.text());
  if (!words) n.fail('has an unclosed quote');
  return words;
}

/** env_file first, then `environment:` (list of K=V or K, or a mapping); K alone takes the shell's value. */
function environment(n: Node, shell: Env): string[] {
  const vars = new Map<string, string>();
  const envFile = n.child('env_file');
  const files = envFile.present ? (Array.isArray(envFile.value) ? envFile.items() : [envFile]) : [];
  for (const f of files) {
    for (const raw of readText(f).split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      set(vars, line, shell, () => f.fail(`has a bad line "${line}" (want KEY=VALUE)`));
    }
  }
  const env = n.child('environment');
  if (env.isMap()) {
    for (const [k, v] of env.entries()) {
      if (v.present) vars.set(k, v.text());
      else if (shell[k] !== undefined) vars.set(k, shell[k]);
    }
  } else {
    for (const item of env.items()) set(vars, item.text(), shell, () => item.fail('must be KEY=VALUE or KEY'));
  }
  return [...vars].map(([k, v]) => `${k}=${v}`);
}

function readText(f: Node): string {
  try {
    return readFileSync(f.string(), 'utf8');
  } catch (err) {
    return f.fail(`cannot be read: ${f.string()} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function set(vars: Map<string, string>, entry: string, shell: Env, bad: () => never): void {
  const eq = entry.indexOf('=');
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (!/^[^=\s]+$/.test(key)) bad();
  if (eq >= 0) vars.set(key, entry.slice(eq + 1));
  else if (shell[key] !== undefined) vars.set(key, shell[key]);
}

function healthcheck(n: Node): baton.HealthConfig.$Properties | undefined {
  if (!n.present) return undefined;
  n.checkKeys(['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'], ['start_interval']);
  const disable = n.child('disable').present && n.child('disable').bool();
  const testNode = n.child('test');
  if (disable) {
    if (testNode.present) testNode.fail('cannot be used with disable: true');
    return { test: ['NONE'] };
  }
  let test: string[] = [];
  if (testNode.present) {
    if (Array.isArray(testNode.value)) {
      test = testNode.stringList();
      if (!['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] ?? '')) testNode.fail('must start with CMD, CMD-SHELL or NONE (or be a string, run by a shell)');
    } else {
      test = ['CMD-SHELL', testNode.string()];
    }
  }
  const ms = (key: string): number => (n.child(key).present ? duration(n.child(key)) : 0);
  return {
    test,
    intervalMs: ms('interval'),
    timeoutMs: ms('timeout'),
    retries: n.child('retries').present ? n.child('retries').int(0) : 0,
    startPeriodMs: ms('start_period'),
  };
}
