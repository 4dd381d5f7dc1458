// The Raft service of proto/raft.proto as a grpc-js ServiceDefinition built by hand, so the
// stream carries decoded `Message[]` straight from raft/codec.ts: no proto-loader at runtime and
// no second decoding path. Both the server and the client take the method from here.
import type * as grpc from '@grpc/grpc-js';
import { raftpb } from '../../proto/gen/raft.js';
import { decodeBatch, encodeBatch } from '../codec.js';
import type { Message } from '../core/types.js';

/** StreamAck has no fields: the reply only exists so either side can see the stream end. */
export type StreamAck = Record<string, never>;

export interface RaftServiceImplementation extends grpc.UntypedServiceImplementation {
  stream: grpc.handleClientStreamingCall<Message[], StreamAck>;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const raftStreamMethod: grpc.MethodDefinition<Message[], StreamAck> = {
  path: '/raftpb.Raft/Stream',
  requestStream: true,
  responseStream: false,
  requestSerialize: (msgs) => toBuffer(encodeBatch(msgs)),
  requestDeserialize: (buf) => decodeBatch(buf),
  responseSerialize: () => toBuffer(raftpb.StreamAck.encode({}).finish()),
  responseDeserialize: (buf) => {
    raftpb.StreamAck.decode(buf);
    return {};
  },
  originalName: 'Stream',
};

export const raftServiceDefinition: grpc.ServiceDefinition<RaftServiceImplementation> = {
  stream: raftStreamMethod,
};
