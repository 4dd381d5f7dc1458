// The Raft transport's public surface.
export { GrpcTransport } from './grpc-transport.js';
export type { GrpcTransportOptions, TransportStats } from './grpc-transport.js';
export { streamIdentity } from './inbound.js';
export { raftServiceDefinition } from './service.js';
export type { RaftServiceImplementation, StreamAck } from './service.js';
export type { StreamAuthenticator } from './inbound.js';
