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

/**
 * A request the server received but did not decode because it is larger than its method
 * allows: addService answers RESOURCE_EXHAUSTED without running the handler. A port whose
 * transport limit is higher (the node port carries Raft) still holds each method to its own.
 */
export interface Oversize {
  readonly [OVERSIZE]: { bytes: number; limit: number };
}
export const OVERSIZE: unique symbol = Symbol('oversize request');

export function isOversize(request: unknown): request is Oversize {
  return typeof request === 'object' && request !== null && OVERSIZE in request;
}

/** The same method, with requests over `maxBytes` left undecoded and marked (see Oversize). */
export function limitRequest<Req, Res>(method: grpc.MethodDefinition<Req, Res>, maxBytes: number): grpc.MethodDefinition<Req, Res> {
  return {
    ...method,
    requestDeserialize: (b) => (b.length > maxBytes ? ({ [OVERSIZE]: { bytes: b.length, limit: maxBytes } } as unknown as Req) : method.requestDeserialize(b)),
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
