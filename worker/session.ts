// The node side of task assignment: one Session stream to the leader (any manager tells us who
// that is), fed to the agent; on a broken stream, the next manager after a short backoff. A
// failover never touches running tasks: the agent only acts on what a new session says.
// Status reports to the manager that holds the session go over the session's own connection:
// a second channel there cost each node (and the leader) another TLS handshake and another
// HTTP/2 connection to keep, for calls the first one carries as well.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { baton } from '../proto/gen/baton.js';
import { RpcClient } from '../rpc/client.js';
import { CONTROL_MESSAGE_BYTES, messageLimits } from '../rpc/limits.js';
import { dispatcherService, dispatcherSession } from '../rpc/services.js';

export interface SessionClientOptions {
  managers: () => baton.ManagerPeer.$Properties[];
  credentials: () => grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  description: () => baton.NodeDescription.$Properties;
  onMessage: (msg: baton.internal.SessionMessage) => void;
  logger: Logger;
}

const SESSION_MAX_MESSAGE = 64 << 20;

export class SessionClient {
  private client: grpc.Client | undefined;
  /** The manager the session's channel goes to, and the reports' client on that same channel. */
  private sessionAddr: string | undefined;
  private sessionCredentials: grpc.ChannelCredentials | undefined;
  private sessionReporter: RpcClient<typeof dispatcherService> | undefined;
  private call: grpc.ClientReadableStream<baton.internal.SessionMessage> | undefined;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoffMs = 100;
  private readonly reporters = new Map<string, RpcClient<typeof dispatcherService>>();

  constructor(private readonly opts: SessionClientOptions) {}

  start(): void {
    this.open();
  }

  /** New credentials or a new leader: reopen the stream, with the leader (first in the list). */
  reconnect(): void {
    this.closeReporters();
    this.close();
    // Not where the failures of the election left us in the list: that may be a follower, and
    // the session would reach the leader only a round of backoffs later (seconds during which
    // this node gets no assignments and its routing mesh keeps the old table).
    this.next = 0;
    this.backoffMs = 100;
    this.schedule(0);
  }

  /** Report task statuses through any manager (followers forward to the leader). */
  async report(updates: baton.internal.TaskStatusUpdate.$Properties[]): Promise<void> {
    let lastError: unknown = new Error('no manager known');
    for (const m of this.opts.managers()) {
      const client = this.reporter(m.addr ?? '');
      try {
        await client.call('UpdateTaskStatus', { updates }, 10_000);
        return;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** The session's channel when it goes to `addr`; otherwise one channel per manager, kept (a TLS handshake per batch would dominate the cost). */
  private reporter(addr: string): RpcClient<typeof dispatcherService> {
    if (this.client && this.sessionAddr === addr && this.sessionCredentials) {
      this.sessionReporter ??= new RpcClient(addr, this.sessionCredentials, dispatcherService, { channelOverride: this.client.getChannel() });
      return this.sessionReporter;
    }
    let client = this.reporters.get(addr);
    if (!client) {
      client = new RpcClient(addr, this.opts.credentials(), dispatcherService, this.opts.channelOptions);
      this.reporters.set(addr, client);
    }
    return client;
  }

  private closeReporters(): void {
    for (const c of this.reporters.values()) c.close();
    this.reporters.clear();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.closeReporters();
    this.close();
  }

  private open(): void {
    if (this.stopped) return;
    const managers = this.opts.managers();
    if (managers.length === 0) return this.schedule(1000);
    // The leader comes first in every manager list we are given; fall through the rest.
    const target = managers[this.next % managers.length]!;
    // A full set carries the secrets and configs of every task (each up to 500 KiB): more than
    // gRPC's default 4 MiB for one message is possible. The reports sent on this channel keep
    // RpcClient's limit on what they send.
    const credentials = this.opts.credentials();
    const client = new grpc.Client(target.addr ?? '', credentials, {
      ...messageLimits(CONTROL_MESSAGE_BYTES),
      ...this.opts.channelOptions,
      'grpc.max_receive_message_length': SESSION_MAX_MESSAGE,
    });
    this.client = client;
    this.sessionAddr = target.addr ?? '';
    this.sessionCredentials = credentials;
    const call = client.makeServerStreamRequest<baton.internal.SessionRequest.$Properties, baton.internal.SessionMessage>(
      dispatcherSession.path,
      dispatcherSession.requestSerialize,
      dispatcherSession.responseDeserialize as (b: Buffer) => baton.internal.SessionMessage,
      { description: this.opts.description() },
    );
    this.call = call;
    call.on('data', (msg: baton.internal.SessionMessage) => {
      this.backoffMs = 100;
      this.opts.onMessage(msg);
    });
    const ended = (err?: grpc.ServiceError): void => {
      if (this.call !== call) return;
      this.close();
      this.next++;
      if (err && err.code !== grpc.status.CANCELLED) this.opts.logger.debug({ manager: target.addr, err: err.details }, 'session ended');
      this.schedule(this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 2000);
    };
    call.on('error', ended);
    call.on('end', () => ended());
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), ms);
  }

  private close(): void {
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    // Closing the channel ends the reports' client on it too: the next report opens its own.
    this.client?.close();
    this.client = undefined;
    this.sessionReporter = undefined;
    this.sessionAddr = undefined;
    this.sessionCredentials = undefined;
  }
}
