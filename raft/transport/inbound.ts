// The server side: every peer opens one stream to us and we only read it. A stream belongs to
// one peer, identified by the `from` of its first message; later messages claiming another
// sender, or addressed to another node (a stale address now used by someone else), are rejected
// rather than handed to the core. With mTLS, `authenticate` names the peer from its verified
// certificate and the first-message rule becomes a consistency check against it.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Message } from '../core/types.js';
import type { RaftServiceImplementation, StreamAck } from './service.js';

export interface InboundOptions {
  selfId: string;
  deliver: (from: string, msgs: Message[]) => void;
  counters: InboundCounters;
  logger?: Logger | undefined;
  authenticate?: StreamAuthenticator | undefined;
}

/**
 * Who may open a stream: returns the caller's Raft id as proven by its credentials, or a gRPC
 * status to refuse it with. Without one, any caller is accepted under its first `from`.
 */
export type StreamAuthenticator = (call: grpc.ServerReadableStream<Message[], StreamAck>) => { id: string } | grpc.StatusObject;

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
    const { selfId, deliver, counters, logger, authenticate } = this.options;
    const proven = authenticate?.(call);
    if (proven && !('id' in proven)) {
      logger?.warn({ remote: call.getPeer(), code: proven.code, details: proven.details }, 'raft stream refused');
      callback(proven);
      return;
    }
    this.streams.set(call, undefined);
    // Headers right away: they are how the sender learns the stream is up and starts writing.
    call.sendMetadata(new grpc.Metadata());
    let identity: string | undefined;
    call.on('data', (batch: Message[]) => {
      if (identity === undefined) {
        identity = streamIdentity(identity, batch);
        if (identity !== undefined && proven && identity !== proven.id) {
          logger?.warn({ claimed: identity, certified: proven.id, remote: call.getPeer() }, 'raft stream claims another node id');
          identity = proven.id;
        }
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
