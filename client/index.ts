// The client SDK: a typed connection to a node's control API, over the local unix socket
// (unix://<data-dir>/baton.sock) or over TCP with the node certificates of a data dir (mTLS).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RpcClient } from '../rpc/client.js';
import { BatonError } from '../rpc/errors.js';
import { controlService, serviceLogsMethod, type ControlService } from '../rpc/services.js';
import type { baton } from '../proto/gen/baton.js';
// credentials.js alone: the x509 library is not needed to connect.
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../rpc/tls/credentials.js';
import { socketAccess, socketPermissionDenied } from './local-socket.js';

export { BatonError } from '../rpc/errors.js';
export type { ControlService } from '../rpc/services.js';
export { baton } from '../proto/gen/baton.js';

export interface ConnectOptions {
  /** unix:///path/baton.sock, tcp://host:port or host:port; default BATON_HOST, then the data dir's socket. */
  host?: string | undefined;
  /** Where the node keeps its state (socket, and certificates for tcp). */
  dataDir?: string | undefined;
}

export function defaultDataDir(): string {
  if (process.env.BATON_DATA_DIR) return process.env.BATON_DATA_DIR;
  return process.getuid?.() === 0 ? '/var/lib/baton' : join(homedir(), '.baton');
}

export class BatonClient {
  constructor(
    readonly target: string,
    readonly control: RpcClient<ControlService>,
  ) {}

  /** `service logs`: the tasks' output as it arrives (until the end, or forever with follow). */
  serviceLogs(req: baton.ServiceLogsRequest.$Properties): AsyncIterable<baton.LogLine.$Properties> {
    return this.control.stream(serviceLogsMethod, req);
  }

  close(): void {
    this.control.close();
  }
}

export function connect(opts: ConnectOptions = {}): BatonClient {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const host = opts.host ?? process.env.BATON_HOST ?? `unix://${join(dataDir, 'baton.sock')}`;
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    const access = socketAccess(path);
    if (access === 'denied') throw socketPermissionDenied(path);
    if (access === 'missing') {
      throw new BatonError('UNAVAILABLE', `no baton node is running with data dir ${dirOf(path)} (no socket at ${path}); start one with \`baton init\` or pass --host`);
    }
    return new BatonClient(host, new RpcClient(host, grpc.credentials.createInsecure(), controlService));
  }
  const address = host.startsWith('tcp://') ? host.slice('tcp://'.length) : host;
  const tls = join(dataDir, 'tls');
  if (!existsSync(join(tls, 'node.crt'))) {
    throw new BatonError('UNAUTHENTICATED', `--host ${host} needs a node certificate: none in ${tls} (pass the --data-dir of a manager)`);
  }
  const read = (f: string): string => readFileSync(join(tls, f), 'utf8');
  const creds = clientCredentials({ caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') });
  return new BatonClient(host, new RpcClient(address, creds, controlService, NODE_CHANNEL_OPTIONS));
}

function dirOf(path: string): string {
  return path.replace(/\/baton\.sock$/, '');
}
