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
import { ignoredOptionsWarnings } from './service-keys.js';
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
  // Every problem of the file is collected and said at once: each top-level key, each
  // declaration of each section, each service.
  const problems: string[] = [];
  const attempt = (read: () => void): boolean => {
    try {
      read();
      return true;
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== 'INVALID_ARGUMENT') throw err;
      problems.push(...ComposeProblems.of(err));
      return false;
    }
  };
  // The top level has no path of its own: name the key itself.
  for (const [key, n] of root.entries()) {
    if (['version', 'services', 'secrets', 'configs', 'networks', 'volumes'].includes(key) || key.startsWith('x-')) continue;
    if (key === 'name') n.warn('is ignored: the stack is named on the command line');
    else attempt(() => n.fail('is not supported'));
  }
  const version = root.child('version');
  attempt(() => {
    if (version.present && !/^3(\.\d+)?$/.test(version.text())) version.fail(`must be 3 or 3.x (got "${version.text()}"): stack deploy reads Compose file format 3`);
  });
  // A declaration with a problem still stands in (under its plain name), so the services that
  // use it are not also blamed for naming something undeclared.
  const section = <T>(key: string, read: (one: Node) => T[], stand: (key: string) => T): T[] => {
    const out: T[] = [];
    const node = root.child(key);
    if (node.present && !node.isMap()) return attempt(() => node.fail(`must be a mapping${node.got()}`)), out;
    for (const [entry, value] of node.entries()) {
      const one = new Node({ [entry]: value.value }, node.path, origin);
      if (!attempt(() => out.push(...read(one)))) out.push(stand(entry));
    }
    return out;
  };
  const standIn = { name: 'stand-in', external: true, labels: {}, where: '' };
  const secrets = section('secrets', (n) => readDecls(n, 'secret', stack), (key) => ({ ...standIn, kind: 'secret' as const, key }));
  const configs = section('configs', (n) => readDecls(n, 'config', stack), (key) => ({ ...standIn, kind: 'config' as const, key }));
  const networks = byKey(section('networks', (n) => readNetworkDecls(n, stack), (key) => ({ ...standIn, key, internal: false, attachable: false })));
  const volumes = byKey(section('volumes', (n) => readVolumeDecls(n, stack), (key) => ({ ...standIn, key, driver: '', options: {} })));
  const services = root.child('services');
  const serviceNodes: Node[] = [];
  attempt(() => {
    if (!services.isMap() || services.entries().length === 0) services.fail('must list at least one service');
    serviceNodes.push(...services.entries().map(([, n]) => n));
  });
  for (const line of ignoredOptionsWarnings(serviceNodes)) warn(line);
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
  const specs: baton.ServiceSpec.$Properties[] = [];
  for (const [key, n] of services.isMap() ? services.entries() : []) attempt(() => specs.push(readService(key, n, ctx)));
  // One problem several services share (the stack's default network's name) is said once.
  if (problems.length > 0) throw new ComposeProblems([...new Set(problems)]);
  return { name: stack, services: specs, secrets, configs, networks: [...used.values()] };
}

function byKey<T extends { key: string }>(decls: T[]): Map<string, T> {
  return new Map(decls.map((d) => [d.key, d]));
}
