// A client of several managers: a call answered UNAVAILABLE (the manager is down, or has no
// leader to serve it) is sent again to the next manager, a bounded number of times within the
// call's deadline. Every attempt of one call carries the same request id, so a write that the
// first manager did pass to the leader before failing is applied once.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { RpcClient } from '../rpc/client.js';
import { BatonError } from '../rpc/errors.js';
import type { Definition, RequestOf, ResponseOf } from '../rpc/define.js';

/** The metadata key managers read a call's request id from (manager/request-scope.ts). */
const REQUEST_ID = 'x-baton-request-id';
/** Passes over the whole list of managers before giving up. */
const MAX_ROUNDS = 3;
/** Pause between two rounds, so a cluster mid-election is not asked in a tight loop. */
const ROUND_PAUSE_MS = 200;

export class FailoverRpcClient<S extends Definition> extends RpcClient<S> {
  private readonly others: RpcClient<S>[];
  /** The manager that answered last: calls start there. */
  private preferred = 0;

  constructor(targets: readonly string[], credentials: grpc.ChannelCredentials, definition: S, options: grpc.ChannelOptions = {}) {
    const [first, ...rest] = targets;
    if (first === undefined) throw new BatonError('INVALID_ARGUMENT', 'no manager address given');
    super(first, credentials, definition, options);
    this.others = rest.map((t) => new RpcClient(t, credentials, definition, options));
  }

  override async call<K extends keyof S & string>(
    method: K,
    request: RequestOf<S[K]>,
    timeoutMs = 10_000,
    metadata = new grpc.Metadata(),
    signal?: AbortSignal,
  ): Promise<ResponseOf<S[K]>> {
    const all = this.all();
    if (all.length === 1) return super.call(method, request, timeoutMs, metadata, signal);
    if (metadata.get(REQUEST_ID).length === 0) metadata.set(REQUEST_ID, randomUUID());
    const deadline = Date.now() + timeoutMs;
    let last: BatonError | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (round > 0) await new Promise((r) => setTimeout(r, Math.min(ROUND_PAUSE_MS, Math.max(0, deadline - Date.now()))));
      for (let i = 0; i < all.length; i++) {
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) throw last ?? new BatonError('DEADLINE_EXCEEDED', `${method}: no manager answered in time`);
        const at = (this.preferred + i) % all.length;
        const client = all[at]!;
        try {
          const res = at === 0 ? await super.call(method, request, left, metadata, signal) : await client.call(method, request, left, metadata, signal);
          this.preferred = at;
          return res;
        } catch (err) {
          if (!(err instanceof BatonError) || err.code !== 'UNAVAILABLE') throw err;
          last = new BatonError('UNAVAILABLE', `${client.target}: ${err.message}`);
        }
      }
    }
    throw last ?? new BatonError('UNAVAILABLE', `${method}: no manager answered`);
  }

  override close(): void {
    super.close();
    for (const c of this.others) c.close();
  }

  private all(): RpcClient<S>[] {
    return [this, ...this.others];
  }
}
