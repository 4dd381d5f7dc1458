// Registers promise-returning handlers as grpc-js unary handlers: a BatonError becomes its gRPC
// status; anything else is an internal error, logged with its stack and reported in one line.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BatonError } from './errors.js';
import { isOversize, OVERSIZE, type Definition, type Handlers } from './define.js';


export function addService<S extends Definition>(server: grpc.Server, definition: S, handlers: Handlers<S>, logger: Logger): void {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(definition) as (keyof S & string)[]) {
    const handler = handlers[name] as (req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<unknown>;
    impl[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (isOversize(call.request)) {
        const { bytes, limit } = call.request[OVERSIZE];
        callback(new BatonError('RESOURCE_EXHAUSTED', `request of ${bytes} bytes is larger than the limit of ${limit} for ${definition[name]!.path}`).toStatus());
        return;
      }
      handler(call.request, call).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof BatonError) {
            if (err.code === 'PERMISSION_DENIED' || err.code === 'UNAUTHENTICATED') {
              logger.warn({ method: definition[name]!.path, peer: call.getPeer(), code: err.code }, err.message);
            }
            callback(err.toStatus());
            return;
          }
          logger.error({ err, method: definition[name]!.path }, 'handler failed');
          callback(new BatonError('INTERNAL', err instanceof Error ? err.message : String(err)).toStatus());
        },
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(definition as unknown as grpc.ServiceDefinition, impl);
}
