// A whole stack from its Compose files: the services' specs (named STACK_service, labelled with
// the stack, their volumes as mounts) and the secrets, configs and networks they use. Nothing
// here talks to the cluster.
import { homedir } from 'node:os';
import { BatonError, type baton } from '../../client/index.js';
import type { Env } from './interpolate.js';
import { loadFiles } from './load.js';
import { readDecls, type ObjectDecl } from './objects.js';
import { defaultNetwork, readNetworkDecls, type NetworkDecl } from './networks.js';
import { ComposeProblems, Node } from './reader.js';
import { NAMESPACE_LABEL, readService } from './service.js';
import { readVolumeDecls } from './volumes.js';

export interface StackDefinition {
  name: string;
  services: baton.ServiceSpec.$Properties[];
  secrets: ObjectDecl[];
  configs: ObjectDecl[];
  /** The networks some service joins (others declared are not created, as Docker's). */
  networks: NetworkDecl[];
}

const STACK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkStackName(name: string): void {
  if (!STACK_NAME.test(name)) throw new BatonError('INVALID_ARGUMENT', `invalid stack name "${name}": use letters, digits, '_', '.', '-'`);
}

export function loadStack(files: readonly string[], stack: string, env: Env, warn: (line: string) => void): StackDefinition {
  checkStackName(stack);
  const { tree, origin, dir } = loadFiles(files, env, warn);
  const root = new Node(tree, '', origin);
  // The top level has no path of its own: name the key itself.
  for (const [key, n] of root.entries()) {
    if (['version', 'services', 'secrets', 'configs', 'networks', 'volumes'].includes(key) || key.startsWith('x-')) continue;
    if (key === 'name') n.warn('is ignored: the stack is named on the command line');
    else n.fail('is not supported');
  }
  const version = root.child('version');
  if (version.present && !/^3(\.\d+)?$/.test(version.text())) version.fail(`must be 3 or 3.x (got "${version.text()}"): stack deploy reads Compose file format 3`);
  const secrets = readDecls(root.child('secrets'), 'secret', stack);
  const configs = readDecls(root.child('configs'), 'config', stack);
  const services = root.child('services');
  if (!services.isMap() || services.entries().length === 0) services.fail('must list at least one service');
  const networks = byKey(readNetworkDecls(root.child('networks'), stack));
  const volumes = byKey(readVolumeDecls(root.child('volumes'), stack));
  const used = new Map<string, NetworkDecl>();
  let fallback: NetworkDecl | undefined;
  const ctx = {
    stack,
    env,
    secrets: byKey(secrets),
    configs: byKey(configs),
    networks,
    defaultNetwork: () => (fallback ??= defaultNetwork(stack, networks, root.child('networks'))),
    usedNetworks: used,
    mounts: { stack, volumes, dir, home: env.HOME ?? homedir(), namespaceLabel: NAMESPACE_LABEL },
  };
  // Every service is read, and the problems of all of them said at once.
  const problems: string[] = [];
  const specs: baton.ServiceSpec.$Properties[] = [];
  for (const [key, n] of services.entries()) {
    try {
      specs.push(readService(key, n, ctx));
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== 'INVALID_ARGUMENT') throw err;
      problems.push(...ComposeProblems.of(err));
    }
  }
  // One problem several services share (the stack's default network's name) is said once.
  if (problems.length > 0) throw new ComposeProblems([...new Set(problems)]);
  return { name: stack, services: specs, secrets, configs, networks: [...used.values()] };
}

function byKey<T extends { key: string }>(decls: T[]): Map<string, T> {
  return new Map(decls.map((d) => [d.key, d]));
}
