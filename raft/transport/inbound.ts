// The server side: every peer opens one stream to us and we only read it. A stream belongs to
// one peer, identified by the `from` of its first message; later messages claiming another
// sender, or addressed to another node (a stale address now used by someone else), are rejected
// rather than handed to the core. When mTLS lands, the identity should come from the peer's
// certificate instead and this first-message rule becomes a consistency check.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Message } from '../core/types.js';
import type { RaftServiceImplementation, StreamAck } from './service.js';

export interface InboundOptions {
  selfId: string;
  deliver: (from: string, msgs: Message[]) => void;
  counters: InboundCounters;
  logger?: Logger | undefined;
}

export interface InboundCounters {
  received: number;
  rejected: number;
}

type RaftServerStream = grpc.ServerReadableStream<Message[], StreamAck>;

/** The sender a stream speaks for: the `from` of its first message that has one. */
export function streamIdentity(current: string | undefined, batch: readonly Message[]): string | undefined {
  if (current !== undefined) return current;
  const from = batch[0]?.from;
  return from ? from : undefined;
}

export class InboundStreams {
  private readonly streams = new Map<RaftServerStream, string | undefined>();

  constructor(private readonly options: InboundOptions) {}

  readonly implementation: RaftServiceImplementation = {
    stream: (call, callback) => this.accept(call, callback),
  };

  /** Identities of the peers that currently have a stream open to us. */
  peers(): string[] {
    const ids = new Set<string>();
    for (const id of this.streams.values()) if (id !== undefined) ids.add(id);
    return [...ids].sort();
  }

  private accept(call: RaftServerStream, callback: grpc.sendUnaryData<StreamAck>): void {
    const { selfId, deliver, counters, logger } = this.options;
    this.streams.set(call, undefined);
    // Headers right away: they are how the sender learns the stream is up and starts writing.
    call.sendMetadata(new grpc.Metadata());
    let identity: string | undefined;
    call.on('data', (batch: Message[]) => {
      if (identity === undefined) {
        identity = streamIdentity(identity, batch);
        if (identity !== undefined) {
          this.streams.set(call, identity);
          logger?.debug({ peer: identity, remote: call.getPeer() }, 'raft stream from peer opened');
        }
      }
      const from = identity;
      const accepted = from === undefined ? [] : batch.filter((m) => m.from === from && m.to === selfId);
      const rejected = batch.length - accepted.length;
      if (rejected > 0) {
        counters.rejected += rejected;
        logger?.warn({ peer: from, remote: call.getPeer(), rejected }, 'rejected raft messages with a foreign from or to');
      }
      if (from === undefined || accepted.length === 0) return;
      counters.received += accepted.length;
      try {
        deliver(from, accepted);
      } catch (err) {
        // The consumer's failure must not tear down the connection every other message rides on.
        logger?.error({ err, peer: from }, 'raft onMessages handler threw');
      }
    });
    const forget = (): void => {
      this.streams.delete(call);
    };
    call.on('end', () => {
      forget();
      callback(null, {});
    });
    call.on('cancelled', forget);
    call.on('error', forget);
    call.on('close', forget);
  }
}
