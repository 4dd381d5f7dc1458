// One peer's outbound side: a bounded queue drained onto a single client stream (this node to
// the peer), reopened with backoff whenever it ends. Messages are only written once the peer's
// server has answered with its headers, so while the peer is unreachable everything waits in the
// bounded queue (oldest dropped first) instead of in grpc-js' unbounded call buffers.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Message } from '../core/types.js';
import { Backoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { DropOldestQueue } from './queue.js';
import { raftStreamMethod } from './service.js';

/** Counters shared by every peer of one transport. */
export interface OutboundCounters {
  sent: number;
  dropped: number;
}

export interface OutboundPeerOptions {
  peerId: string;
  address: string;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  maxQueuedMessages: number;
  maxBatchBytes: number;
  backoff: BackoffOptions;
  counters: OutboundCounters;
  logger?: Logger | undefined;
  /** The stream to the peer ended after it had connected: the peer went away (or restarted). */
  onLost?: ((peerId: string) => void) | undefined;
}

// Two batches in flight keep the socket busy while the next batch accumulates; more would only
// move messages from our bounded queue into grpc-js' buffers, where they cannot be dropped.
const MAX_INFLIGHT_BATCHES = 2;

export class OutboundPeer {
  readonly peerId: string;
  readonly address: string;
  private readonly queue: DropOldestQueue<Message>;
  private readonly client: grpc.Client;
  private readonly backoff: Backoff;
  private call: grpc.ClientWritableStream<Message[]> | undefined;
  private connected = false;
  private inflight = 0;
  private needDrain = false;
  private flushHandle: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: OutboundPeerOptions) {
    this.peerId = options.peerId;
    this.address = options.address;
    this.queue = new DropOldestQueue(options.maxQueuedMessages);
    this.backoff = new Backoff(options.backoff);
    this.client = new grpc.Client(options.address, options.credentials, options.channelOptions);
    this.open();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Never blocks: the write happens on a later turn of the event loop, batched with its neighbours. */
  enqueue(m: Message): void {
    if (this.closed) {
      this.options.counters.dropped++;
      return;
    }
    this.options.counters.dropped += this.queue.push(m);
    this.scheduleFlush();
  }

  /** Takes over what another peer object (the same peer at its old address) still had queued. */
  adopt(from: OutboundPeer): void {
    for (const m of from.queue.takeWhile(() => true)) this.enqueue(m);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushHandle) clearImmediate(this.flushHandle);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flushHandle = undefined;
    this.retryTimer = undefined;
    this.options.counters.dropped += this.queue.clear();
    const call = this.call;
    this.call = undefined;
    this.connected = false;
    call?.cancel();
    this.client.close();
  }

  private open(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    const method = raftStreamMethod;
    // waitForReady: while the peer is down the call waits for the channel, which reconnects with
    // the same bounded backoff, instead of failing and being recreated in a loop.
    const call = this.client.makeClientStreamRequest<Message[], unknown>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      new grpc.Metadata({ waitForReady: true }),
      {},
      (err) => this.onEnd(call, err),
    );
    this.call = call;
    this.connected = false;
    this.inflight = 0;
    this.needDrain = false;
    call.on('metadata', () => {
      if (this.call !== call) return;
      this.connected = true;
      this.backoff.reset();
      this.options.logger?.debug({ peer: this.peerId, address: this.address }, 'raft stream connected');
      this.scheduleFlush();
    });
    // The callback above carries the call's failure; this only keeps a stray stream-level
    // 'error' (a write racing a cancel) from becoming an uncaught exception.
    call.on('error', (err) => this.options.logger?.debug({ err, peer: this.peerId }, 'raft stream error'));
    call.on('drain', () => {
      if (this.call !== call) return;
      this.needDrain = false;
      this.scheduleFlush();
    });
  }

  private onEnd(call: grpc.ClientWritableStream<Message[]>, err: grpc.ServiceError | null): void {
    if (this.call !== call || this.closed) return;
    this.call = undefined;
    const wasConnected = this.connected;
    this.connected = false;
    const delay = this.backoff.next();
    const log = { peer: this.peerId, address: this.address, code: err?.code, details: err?.details, retryInMs: delay };
    if (wasConnected) this.options.logger?.info(log, 'raft stream to peer ended');
    else this.options.logger?.debug(log, 'raft stream to peer failed');
    if (wasConnected) this.options.onLost?.(this.peerId);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /**
   * Writes what is queued to the stream now rather than on the next turn of the event loop
   * (when the stream is up and not held back). For a leader's appends: the turn after sending
   * them is when its own LevelDB write gets under way on the main thread, and the appends then
   * waited behind it (~0.3-0.5 ms at 1 client, timed, on the path to every commit).
   */
  flushNow(): void {
    if (this.flushHandle) {
      clearImmediate(this.flushHandle);
      this.flushHandle = undefined;
    }
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushHandle || this.closed) return;
    this.flushHandle = setImmediate(() => {
      this.flushHandle = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const call = this.call;
    const { maxBatchBytes, counters } = this.options;
    while (call && this.connected && !this.needDrain && this.inflight < MAX_INFLIGHT_BATCHES && this.queue.length > 0) {
      let bytes = 0;
      const batch = this.queue.takeWhile((m) => (bytes += estimateBytes(m)) <= maxBatchBytes);
      this.inflight++;
      counters.sent += batch.length;
      const writable = call.write(batch, () => {
        if (this.call !== call) return;
        this.inflight--;
        this.scheduleFlush();
      });
      if (!writable) this.needDrain = true;
    }
  }
}

/** An upper-bound guess of the encoded size, cheap enough to run on every queued message. */
function estimateBytes(m: Message): number {
  let n = 96 + m.from.length + m.to.length + m.context.length + m.snapChunk.length;
  for (const e of m.entries) n += 32 + e.data.length;
  if (m.snapshot) n += 32 + 16 * (m.snapshot.conf.voters.length + m.snapshot.conf.learners.length);
  return n;
}
