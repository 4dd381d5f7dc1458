// Followers pass writes to the leader: the same call, made over mTLS with this
// manager's certificate, saying whom it forwards for.
import type * as grpc from '@grpc/grpc-js';
import { RpcClient } from '../rpc/client.js';
import { BatonError } from '../rpc/errors.js';
import { forwardingMetadata, type Caller } from '../rpc/caller.js';
import type { Definition, RequestOf, ResponseOf } from '../rpc/define.js';
import type { Manager } from './manager.js';


export class LeaderForwarder {
  private clients = new Map<string, RpcClient<Definition>>();

  constructor(
    private readonly manager: Manager,
    private credentials: grpc.ChannelCredentials,
    private readonly channelOptions: grpc.ChannelOptions,
  ) {}

  /** New credentials (a renewed certificate) for connections made from now on. */
  setCredentials(credentials: grpc.ChannelCredentials): void {
    this.credentials = credentials;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** The leader's address, or throws UNAVAILABLE while there is none. */
  leaderAddress(): string {
    const leader = this.manager.leaderId();
    const addr = leader ? this.manager.store.get('node', leader)?.managerStatus?.addr : undefined;
    if (!addr) throw new BatonError('UNAVAILABLE', 'no manager is leader right now (election in progress or quorum lost); retry');
    return addr;
  }

  async forward<S extends Definition, K extends keyof S & string>(
    definition: S,
    method: K,
    request: RequestOf<S[K]>,
    caller: Caller,
  ): Promise<ResponseOf<S[K]>> {
    const addr = this.leaderAddress();
    const service = (definition[method] as unknown as { path: string }).path.split('/')[1];
    const key = `${addr} ${service}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new RpcClient(addr, this.credentials, definition, this.channelOptions);
      this.clients.set(key, client);
    }
    return (client as unknown as RpcClient<S>).call(method, request, 10_000, forwardingMetadata(caller));
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
