// Raft messages between peers over gRPC: one server for the streams peers open to us, and one
// outbound stream per peer. The transport never blocks its caller and never buffers without
// bound; Raft tolerates loss, so under pressure it drops (oldest first) and counts.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Message } from '../core/types.js';
import type { BackoffOptions } from './backoff.js';
import { InboundStreams } from './inbound.js';
import type { InboundCounters, StreamAuthenticator } from './inbound.js';
import { OutboundPeer } from './outbound.js';
import type { OutboundCounters } from './outbound.js';
import { raftServiceDefinition } from './service.js';

export interface GrpcTransportOptions {
  /** This node's Raft ID: inbound messages addressed to anyone else are rejected. */
  id: string;
  /** host:port to listen on; port 0 picks a free one (start() returns it). */
  listen: string;
  /**
   * A server the node already runs (one port for every service): the transport registers its
   * service there and neither binds nor shuts it down; `listen` and `serverCredentials` are unused.
   */
  server?: grpc.Server;
  /** Checks each inbound stream's credentials (see StreamAuthenticator). */
  authenticate?: StreamAuthenticator;
  /** Defaults to insecure. */
  serverCredentials?: grpc.ServerCredentials;
  /** Defaults to insecure. */
  channelCredentials?: grpc.ChannelCredentials;
  /** Added to the transport's own channel options (e.g. the TLS name the peers' certificates carry). */
  channelOptions?: grpc.ChannelOptions;
  /** Called with each received batch, in order per sender; `from` is the stream's identity. */
  onMessages: (from: string, msgs: Message[]) => void;
  /** A peer's stream, once connected, ended: the peer went away or restarted (a leader lost, say). */
  onPeerLost?: (peer: string) => void;
  /** Per peer; beyond it the oldest queued messages are dropped. Default 4096. */
  maxQueuedMessages?: number;
  /** Soft cap on one MessageBatch (estimated before encoding). Default 1 MiB. */
  maxBatchBytes?: number;
  /**
   * Largest batch the server accepts (and the client will send). Default 64 MiB. A single
   * message above it (e.g. a snapshot chunk) can never be delivered: keep chunks well below.
   */
  maxMessageBytes?: number;
  /** Delay before reopening a stream that ended, and the channel's reconnect backoff. Default 50 ms to 2 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** Interval of HTTP/2 keepalive pings, which notice a peer that vanished without closing. Default 10 s. */
  keepaliveMs?: number;
  logger?: Logger;
}

export interface TransportStats {
  /** Messages written to peers' streams (not necessarily delivered: a breaking stream loses them). */
  sent: number;
  /** Messages not sent: unknown peer, queue overflow, or still queued at removePeer/stop. */
  dropped: number;
  /** Messages received and handed to onMessages. */
  received: number;
  /** Messages received but refused: `from` differs from the stream's identity, or `to` is not us. */
  rejected: number;
  /** Messages waiting in the outbound queues now. */
  queued: number;
  /** Peers whose outbound stream is established (the peer's server answered). */
  connectedPeers: string[];
  /** Peers that have a stream open to us. */
  inboundPeers: string[];
}

const DEFAULTS = {
  maxQueuedMessages: 4096,
  maxBatchBytes: 1 << 20,
  maxMessageBytes: 64 << 20,
  backoff: { initialMs: 50, maxMs: 2000 },
  keepaliveMs: 10_000,
};

export class GrpcTransport {
  readonly id: string;
  private readonly peers = new Map<string, OutboundPeer>();
  private readonly outCounters: OutboundCounters = { sent: 0, dropped: 0 };
  private readonly inCounters: InboundCounters = { received: 0, rejected: 0 };
  private readonly server: grpc.Server;
  private readonly ownsServer: boolean;
  private readonly inbound: InboundStreams;
  private readonly logger: Logger | undefined;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly backoff: BackoffOptions;
  private state: 'new' | 'starting' | 'started' | 'stopped' = 'new';
  private channelCredentials: grpc.ChannelCredentials;

  constructor(private readonly options: GrpcTransportOptions) {
    this.id = options.id;
    this.logger = options.logger?.child({ component: 'raft-transport', node: options.id });
    this.backoff = options.backoff ?? DEFAULTS.backoff;
    this.channelCredentials = options.channelCredentials ?? grpc.credentials.createInsecure();
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    const keepaliveMs = options.keepaliveMs ?? DEFAULTS.keepaliveMs;
    this.channelOptions = {
      'grpc.keepalive_time_ms': keepaliveMs,
      'grpc.keepalive_timeout_ms': Math.max(1000, keepaliveMs / 2),
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.backoff.initialMs,
      'grpc.max_reconnect_backoff_ms': this.backoff.maxMs,
      'grpc.max_send_message_length': maxMessageBytes,
      // A channel of its own per peer: with the shared pool a re-added peer could inherit the old
      // subchannel's reconnect backoff, and transports in one process would share connections.
      'grpc.use_local_subchannel_pool': 1,
      ...options.channelOptions,
    };
    this.ownsServer = options.server === undefined;
    this.server =
      options.server ??
      new grpc.Server({
        'grpc.max_receive_message_length': maxMessageBytes,
        'grpc.keepalive_time_ms': keepaliveMs,
        'grpc.keepalive_timeout_ms': Math.max(1000, keepaliveMs / 2),
      });
    this.inbound = new InboundStreams({
      selfId: options.id,
      deliver: options.onMessages,
      counters: this.inCounters,
      logger: this.logger,
      authenticate: options.authenticate,
    });
    this.server.addService(raftServiceDefinition, this.inbound.implementation);
  }

  /** Binds the listen address; resolves with the bound port (0 on a shared server). */
  async start(): Promise<number> {
    if (this.state !== 'new') throw new Error(`raft transport ${this.id}: start() called when ${this.state}`);
    this.state = 'starting';
    if (!this.ownsServer) {
      this.state = 'started';
      return 0;
    }
    const creds = this.options.serverCredentials ?? grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(this.options.listen, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    // stop() may have run while binding; it already shut the server down.
    if (this.state !== 'starting') throw new Error(`raft transport ${this.id}: stopped while starting`);
    this.state = 'started';
    this.logger?.info({ listen: this.options.listen, port }, 'raft transport listening');
    return port;
  }

  /**
   * Credentials for the outbound streams from now on (a renewed certificate): every peer's
   * stream is reopened with them, keeping what was queued.
   */
  setChannelCredentials(credentials: grpc.ChannelCredentials): void {
    this.channelCredentials = credentials;
    for (const [id, peer] of [...this.peers]) this.connect(id, peer.address, peer);
  }

  /** Adding an existing peer with a new address moves its queued messages to the new address. */
  addPeer(id: string, address: string): void {
    if (this.state === 'stopped' || id === this.id) return;
    const old = this.peers.get(id);
    if (old?.address === address) return;
    this.connect(id, address, old);
  }

  private connect(id: string, address: string, old: OutboundPeer | undefined): void {
    const peer = new OutboundPeer({
      peerId: id,
      address,
      credentials: this.channelCredentials,
      channelOptions: this.channelOptions,
      maxQueuedMessages: this.options.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages,
      maxBatchBytes: this.options.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
      backoff: this.backoff,
      counters: this.outCounters,
      logger: this.logger,
      onLost: this.options.onPeerLost,
    });
    if (old) {
      peer.adopt(old);
      old.close();
    }
    this.peers.set(id, peer);
    this.logger?.debug({ peer: id, address }, 'raft peer added');
  }

  removePeer(id: string): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.close();
    this.logger?.debug({ peer: id }, 'raft peer removed');
  }

  /**
   * Never blocks; messages to peers not added (or after stop) are dropped and counted. They are
   * written on the next turn of the event loop, batched with whatever else is sent in this one,
   * or, with `now`, handed to the streams before send returns (see OutboundPeer.flushNow).
   */
  send(msgs: readonly Message[], now = false): void {
    const touched = now ? new Set<OutboundPeer>() : undefined;
    for (const m of msgs) {
      const peer = this.peers.get(m.to);
      if (peer) {
        peer.enqueue(m);
        touched?.add(peer);
      } else this.outCounters.dropped++;
    }
    if (touched) for (const peer of touched) peer.flushNow();
  }

  stats(): TransportStats {
    let queued = 0;
    const connectedPeers: string[] = [];
    for (const [id, peer] of this.peers) {
      queued += peer.queued;
      if (peer.isConnected) connectedPeers.push(id);
    }
    return {
      ...this.outCounters,
      ...this.inCounters,
      queued,
      connectedPeers: connectedPeers.sort(),
      inboundPeers: this.inbound.peers(),
    };
  }

  /** Closes every stream and the listener; afterwards nothing is retried and no timer is left. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    if (!this.ownsServer) {
      // The shared server lives on; without this a later Raft node (a re-promoted manager)
      // could not register the stream again.
      this.server.removeService(raftServiceDefinition);
      this.logger?.info('raft transport stopped');
      return;
    }
    // tryShutdown's callback is the moment the listener is closed (so the port can be bound
    // again); forceShutdown right after cancels the long-lived inbound streams it would wait for.
    const closed = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
    await closed;
    this.logger?.info('raft transport stopped');
  }
}
