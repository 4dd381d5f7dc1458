// A typed unary client for any service definition of rpc/services.ts: calls return
// promises and fail with BatonError, whatever the transport underneath (unix socket or mTLS).
import * as grpc from '@grpc/grpc-js';
import { BatonError } from './errors.js';
import type { Definition, RequestOf, ResponseOf } from './define.js';
import { CONTROL_MESSAGE_BYTES, messageLimits } from './limits.js';


export class RpcClient<S extends Definition> {
  private readonly client: grpc.Client;

  constructor(
    readonly target: string,
    credentials: grpc.ChannelCredentials,
    private readonly definition: S,
    options: grpc.ChannelOptions = {},
  ) {
    // Explicit limits (options may raise them): a request too big for the server fails here at
    // once with RESOURCE_EXHAUSTED rather than after being sent.
    this.client = new grpc.Client(target, credentials, { ...messageLimits(CONTROL_MESSAGE_BYTES), ...options });
  }

  /** `signal` cancels the call (it then fails CANCELLED; the server may have run it all the same). */
  call<K extends keyof S & string>(
    method: K,
    request: RequestOf<S[K]>,
    timeoutMs = 10_000,
    metadata = new grpc.Metadata(),
    signal?: AbortSignal,
  ): Promise<ResponseOf<S[K]>> {
    const def = this.definition[method] as unknown as grpc.MethodDefinition<RequestOf<S[K]>, ResponseOf<S[K]>>;
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err) reject(BatonError.fromServiceError(err));
          else if (res === undefined) reject(new BatonError('INTERNAL', `${def.path}: empty response`));
          else resolve(res);
        },
      );
      if (signal) {
        if (signal.aborted) call.cancel();
        else signal.addEventListener('abort', () => call.cancel(), { once: true });
      }
    });
  }

  /** A server-streaming call (a method outside the unary definition), as an async iterable. */
  async *stream<Req, Res>(method: grpc.MethodDefinition<Req, Res>, request: Req): AsyncIterable<Res> {
    const call = this.client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request);
    try {
      for await (const message of call as AsyncIterable<Res>) yield message;
    } catch (err) {
      throw isServiceError(err) ? BatonError.fromServiceError(err) : err;
    } finally {
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}
