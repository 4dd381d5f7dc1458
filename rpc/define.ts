// gRPC method definitions built from the protobufjs-generated codecs (proto/gen), so requests
// and responses are encoded exactly one way. Services list their methods in rpc/services.ts;
// test/unit/rpc-services.test.ts checks them against the .proto files.
import type * as grpc from '@grpc/grpc-js';

/** What a generated message class offers: encode its properties, decode to an instance. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(data: Uint8Array): T;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function unary<Req, Res>(
  service: string,
  name: string,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => toBuffer(request.encode(m).finish()),
    requestDeserialize: (b) => request.decode(b),
    responseSerialize: (m) => toBuffer(response.encode(m).finish()),
    responseDeserialize: (b) => response.decode(b),
    originalName: name,
  };
}

/** A server-streaming method: one request, a stream of responses. */
export function serverStream<Req, Res>(
  service: string,
  name: string,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
): grpc.MethodDefinition<Req, Res> {
  return { ...unary(service, name, request, response), responseStream: true };
}

/** Any service definition made of unary() methods (method variance makes a precise bound useless). */
export type Definition = Record<string, { path: string }>;
export type RequestOf<M> = M extends grpc.MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends grpc.MethodDefinition<infer _Req, infer Res> ? Res : never;

/** Server handlers for every method of a service definition. */
export type Handlers<S extends Definition> = {
  [K in keyof S]: (request: RequestOf<S[K]>, call: grpc.ServerUnaryCall<RequestOf<S[K]>, ResponseOf<S[K]>>) => Promise<ResponseOf<S[K]>>;
};
