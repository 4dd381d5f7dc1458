// Followers pass writes to the leader: the same call, made over mTLS with this
// manager's certificate, saying whom it forwards for. When that leader is lost (its connection
// fails, it answers that it no longer leads, or Raft here learns of another leader), the call is
// sent again to the new leader as soon as one is known, within the caller's deadline. Sending
// again is safe: the call keeps its request id, and the store applies each batch of a request
// id once (updates also carry the object version they read). A call without a request id is
// not sent again: it fails fast with UNAVAILABLE.
import type * as grpc from '@grpc/grpc-js';
import { RpcClient } from '../rpc/client.js';
import { BatonError } from '../rpc/errors.js';
import { forwardingMetadata, type Caller } from '../rpc/caller.js';
import type { Definition, RequestOf, ResponseOf } from '../rpc/define.js';
import type { Manager } from './manager.js';
import { currentRequestId, requestIdMetadata } from './request-scope.js';

/** How long a forwarded call may take when its caller set no deadline. */
export const FORWARD_TIMEOUT_MS = 10_000;
/** How often an in-flight forward checks whether Raft here has learned of another leader. */
const LEADER_POLL_MS = 20;
/** Pause before sending again to a leader that just refused the connection. */
const RETRY_PAUSE_MS = 50;

export class LeaderForwarder {
  private clients = new Map<string, RpcClient<Definition>>();
  /** Counts of what forwarding did, for tests and `baton` diagnostics. */
  readonly stats = { forwarded: 0, reforwarded: 0 };

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

  /**
   * The call made on the leader. `deadline` (ms since the epoch) is the caller's: every attempt
   * fits within it.
   */
  async forward<S extends Definition, K extends keyof S & string>(
    definition: S,
    method: K,
    request: RequestOf<S[K]>,
    caller: Caller,
    deadline = Date.now() + FORWARD_TIMEOUT_MS,
  ): Promise<ResponseOf<S[K]>> {
    const service = (definition[method] as unknown as { path: string }).path.split('/')[1] ?? '';
    const requestId = currentRequestId();
    this.stats.forwarded++;
    let lastError: BatonError | undefined;
    for (let attempt = 0; ; attempt++) {
      const leader = await this.waitForLeader(deadline);
      if (leader === undefined) {
        throw lastError ?? new BatonError('UNAVAILABLE', 'no manager is leader right now (election in progress or quorum lost); retry');
      }
      if (attempt > 0) this.stats.reforwarded++;
      const client = this.clientFor(leader.addr, service, definition) as unknown as RpcClient<S>;
      const metadata = requestIdMetadata(forwardingMetadata(caller), requestId, caller.nodeId);
      const outcome = await this.attempt(client, method, request, metadata, leader.id, deadline);
      if (outcome.ok) return outcome.value;
      // A call without a request id (a worker's heartbeat, a join) could apply twice if sent
      // again: it fails fast instead, and its caller retries as it always does.
      if (!outcome.retry || requestId === undefined || Date.now() >= deadline) throw outcome.error;
      lastError = outcome.error;
      if (!outcome.leaderChanged) await sleep(Math.min(RETRY_PAUSE_MS, Math.max(0, deadline - Date.now())));
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** One send to `leaderId`, cancelled when Raft here learns of another leader. */
  private async attempt<S extends Definition, K extends keyof S & string>(
    client: RpcClient<S>,
    method: K,
    request: RequestOf<S[K]>,
    metadata: grpc.Metadata,
    leaderId: string,
    deadline: number,
  ): Promise<{ ok: true; value: ResponseOf<S[K]> } | { ok: false; error: BatonError; retry: boolean; leaderChanged: boolean }> {
    const abort = new AbortController();
    let leaderChanged = false;
    const watch = setInterval(() => {
      const now = this.manager.leaderId();
      if (now !== '' && now !== leaderId) {
        leaderChanged = true;
        abort.abort();
      }
    }, LEADER_POLL_MS);
    try {
      const value = await client.call(method, request, Math.max(1, deadline - Date.now()), metadata, abort.signal);
      return { ok: true, value };
    } catch (err) {
      const error = err instanceof BatonError ? err : new BatonError('INTERNAL', String(err));
      // UNAVAILABLE: the leader could not be reached, or answered that it no longer leads (or
      // lost leadership with the write in flight). Anything else is the call's real answer.
      const retry = leaderChanged || error.code === 'UNAVAILABLE';
      return { ok: false, error: leaderChanged ? new BatonError('UNAVAILABLE', `leader ${leaderId} was replaced while the call was forwarded to it`) : error, retry, leaderChanged };
    } finally {
      clearInterval(watch);
    }
  }

  /** The leader (id and address) once one is known, or undefined when the deadline passes first. */
  private async waitForLeader(deadline: number): Promise<{ id: string; addr: string } | undefined> {
    for (;;) {
      const id = this.manager.leaderId();
      const addr = this.addressOf(id);
      if (addr) return { id, addr };
      if (Date.now() + LEADER_POLL_MS > deadline) return undefined;
      await sleep(LEADER_POLL_MS);
    }
  }

  private addressOf(leader: string): string | undefined {
    return leader ? (this.manager.store.get('node', leader)?.managerStatus?.addr ?? undefined) : undefined;
  }

  private clientFor<S extends Definition>(addr: string, service: string, definition: S): RpcClient<Definition> {
    const key = `${addr} ${service}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new RpcClient(addr, this.credentials, definition, this.channelOptions);
      this.clients.set(key, client);
    }
    return client;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
