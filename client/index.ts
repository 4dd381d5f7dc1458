// The client SDK: a typed connection to a node's control API, over the local unix socket
// (unix://<data-dir>/baton.sock) or over TCP with the node certificates of a data dir (mTLS).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RpcClient } from '../rpc/client.js';
import { BatonError } from '../rpc/errors.js';
import { controlService, type ControlService } from '../rpc/services.js';
import { ControlCalls } from './calls.js';
import type { baton } from '../proto/gen/baton.js';
// credentials.js alone: the x509 library is not needed to connect.
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../rpc/tls/credentials.js';
import { socketAccess, socketPermissionDenied } from './local-socket.js';
import { readTlsFiles, tlsFilePaths, type TlsFileOptions } from './tls-files.js';
import { FailoverRpcClient } from './failover.js';

export { BatonError } from '../rpc/errors.js';
export type { ControlService } from '../rpc/services.js';
export { baton } from '../proto/gen/baton.js';
export { BATON_VERSION, API_VERSION, softwareVersion } from '../rpc/version.js';
export type * from './calls.js';

export interface ConnectOptions {
  /**
   * unix:///path/baton.sock, tcp://host:port or host:port; default BATON_HOST, then the data
   * dir's socket. Several managers: a list (or a comma-separated string) of ip:port, tried in
   * order and the next when one goes away.
   */
  host?: string | readonly string[] | undefined;
  /** Where the node keeps its state (socket, and certificates for tcp). */
  dataDir?: string | undefined;
  /** Client certificate files for tcp (`baton cert create`); default BATON_CERT_PATH, then the data dir's node certificate. */
  tls?: TlsFileOptions | undefined;
}

export function defaultDataDir(): string {
  // Absolute: the socket's address (unix://<path>) and the daemon's files must not depend on
  // the working directory of whoever reads them.
  if (process.env.BATON_DATA_DIR) return resolve(process.env.BATON_DATA_DIR);
  return process.getuid?.() === 0 ? SYSTEM_DATA_DIR : join(homedir(), '.baton');
}

/** Where a node started as root keeps its data, and so its socket. */
const SYSTEM_DATA_DIR = '/var/lib/baton';

/**
 * The data dir whose socket a client uses when none was named: the user's own when a node runs
 * there, else the system node's (as the docker CLI uses /var/run/docker.sock), so a member of
 * the socket's group reaches it, and anyone else is told they may not rather than that no node
 * runs.
 */
function clientDataDir(named: string | undefined): string {
  if (named) return resolve(named);
  const own = defaultDataDir();
  if (process.env.BATON_DATA_DIR || own === SYSTEM_DATA_DIR) return own;
  const system = join(SYSTEM_DATA_DIR, 'baton.sock');
  return socketAccess(join(own, 'baton.sock')) === 'missing' && socketAccess(system) !== 'missing' ? SYSTEM_DATA_DIR : own;
}

/** The list calls, and the field of their response that holds the objects. */
const LIST_ITEMS = {
  ListNodes: 'nodes',
  ListServices: 'services',
  ListTasks: 'tasks',
  ListSecrets: 'secrets',
  ListConfigs: 'configs',
  ListNetworks: 'networks',
} as const;
export type ListMethod = keyof typeof LIST_ITEMS;
/** What each list call returns, one object. */
interface ListItems {
  ListNodes: baton.Node.$Properties;
  ListServices: baton.Service.$Properties;
  ListTasks: baton.Task.$Properties;
  ListSecrets: baton.Secret.$Properties;
  ListConfigs: baton.Config.$Properties;
  ListNetworks: baton.Network.$Properties;
}
type ListItem<K extends ListMethod> = ListItems[K];
type ListPage = { nextPageToken?: string | null } & Partial<Record<(typeof LIST_ITEMS)[ListMethod], unknown[] | null>>;

/** What a list call may ask besides filters. */
export interface ListOptions {
  /** ListServices: each service with its task counts (serviceStatus), as Docker's ?status=true. */
  status?: boolean;
}

/** More pages than this is a server that does not move on: give up rather than loop. */
const MAX_PAGES = 100_000;

export class BatonClient extends ControlCalls {
  constructor(
    readonly target: string,
    readonly control: RpcClient<ControlService>,
  ) {
    super();
  }

  /**
   * Every object a list call matches. A list answers a page at a time (each under the message
   * size limit); this fetches the pages one after the other until the last.
   */
  async list<K extends ListMethod>(method: K, filters: baton.Filters.$Properties = {}, timeoutMs = 10_000, options: ListOptions = {}): Promise<ListItem<K>[]> {
    const field = LIST_ITEMS[method];
    const all: ListItem<K>[] = [];
    let pageToken = '';
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      // Every list call takes a ListRequest; typed per method, TypeScript cannot see that.
      const lists = this.control as unknown as RpcClient<Record<ListMethod, ControlService['ListNodes']>>;
      const name: ListMethod = method;
      const res = (await lists.call(name, { filters, pageToken, ...(options.status ? { status: true } : {}) }, timeoutMs)) as ListPage;
      all.push(...((res[field] ?? []) as ListItem<K>[]));
      const next = res.nextPageToken ?? '';
      if (!next) return all;
      if (next === pageToken) throw new BatonError('INTERNAL', `${method}: the server sent the same page token twice`);
      pageToken = next;
    }
    throw new BatonError('INTERNAL', `${method}: more than ${MAX_PAGES} pages`);
  }

  /** A cluster-scoped network (the managers fill in the driver, overlay); returns it with its id. */
  async createNetwork(spec: baton.NetworkSpec.$Properties): Promise<baton.Network.$Properties> {
    return await this.control.call('CreateNetwork', { spec });
  }

  /** A network by id, name or unique id prefix. */
  async getNetwork(ref: string): Promise<baton.Network.$Properties> {
    return await this.control.call('GetNetwork', { id: ref });
  }

  /** Every network matching the filters (id prefixes, names, labels), all pages. */
  async listNetworks(filters: baton.Filters.$Properties = {}): Promise<baton.Network.$Properties[]> {
    return await this.list('ListNetworks', filters);
  }

  /** Removes a network; refused (FAILED_PRECONDITION) while a service joins it. */
  async removeNetwork(ref: string): Promise<void> {
    await this.control.call('RemoveNetwork', { id: ref });
  }

  close(): void {
    this.control.close();
  }
}

export function connect(opts: ConnectOptions = {}): BatonClient {
  const dataDir = clientDataDir(opts.dataDir);
  const given = opts.host ?? process.env.BATON_HOST ?? `unix://${join(dataDir, 'baton.sock')}`;
  const host = typeof given === 'string' ? given : given.join(',');
  // A scheme other than unix:// or tcp:// (a typo such as tpc://) would reach grpc as a name to resolve.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(host)?.[1];
  if (scheme !== undefined && scheme !== 'unix' && scheme !== 'tcp') {
    throw new BatonError('INVALID_ARGUMENT', `bad --host "${host}": want unix:///path/baton.sock, tcp://host:port or host:port`);
  }
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    const access = socketAccess(path);
    if (access === 'denied') throw socketPermissionDenied(path);
    if (access === 'missing') {
      throw new BatonError('UNAVAILABLE', `no baton node is running with data dir ${dirOf(path)} (no socket at ${path}); start one with \`baton init\` or pass --host`);
    }
    return new BatonClient(host, new RpcClient(host, grpc.credentials.createInsecure(), controlService));
  }
  // Several managers, comma-separated: a call one cannot serve goes to the next (client/failover.ts).
  const addresses = host.split(',').map((h) => h.trim()).filter((h) => h !== '').map((h) => (h.startsWith('tcp://') ? h.slice('tcp://'.length) : h));
  const rpc = (creds: grpc.ChannelCredentials): RpcClient<ControlService> =>
    addresses.length > 1 ? new FailoverRpcClient(addresses, creds, controlService, NODE_CHANNEL_OPTIONS) : new RpcClient(addresses[0] ?? host, creds, controlService, NODE_CHANNEL_OPTIONS);
  const files = tlsFilePaths(opts.tls ?? {});
  if (files) {
    const { caPem, certPem, keyPem } = readTlsFiles(files);
    return new BatonClient(host, rpc(clientCredentials({ caPem, certPem, keyPem })));
  }
  const tls = join(dataDir, 'tls');
  if (!existsSync(join(tls, 'node.crt'))) {
    throw new BatonError('UNAUTHENTICATED', `--host ${host} needs a certificate: none in ${tls} (pass --tlscacert/--tlscert/--tlskey or BATON_CERT_PATH from baton cert create, or the --data-dir of a manager)`);
  }
  const read = (f: string): string => readFileSync(join(tls, f), 'utf8');
  if (read('node.key').startsWith('-----BEGIN BATON LOCKED KEY-----')) {
    throw new BatonError('UNAUTHENTICATED', `--host ${host}: the node key in ${tls} is sealed (autolock); use a client certificate from baton cert create (--tlscacert/--tlscert/--tlskey or BATON_CERT_PATH)`);
  }
  const creds = clientCredentials({ caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') });
  return new BatonClient(host, rpc(creds));
}

function dirOf(path: string): string {
  return path.replace(/\/baton\.sock$/, '');
}
