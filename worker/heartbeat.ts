// The node side of liveness: heartbeat a manager every period (any manager forwards to the
// leader), moving on to the next known manager when one stops answering. The period is the one
// the leader gave in its last reply (longer in a big cluster, with jitter): the leader allows a
// node that period plus a grace, so a failed heartbeat is retried at once on the next manager,
// and within a second after that, rather than a whole period later.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { baton } from '../proto/gen/baton.js';
import { RpcClient } from '../rpc/client.js';
import { dispatcherService, type DispatcherService } from '../rpc/services.js';

export interface HeartbeatOptions {
  /** Managers to try, in order of preference. */
  managers: () => baton.ManagerPeer.$Properties[];
  credentials: () => grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  addr: string;
  description: baton.NodeDescription.$Properties;
  logger: Logger;
  onResponse: (res: baton.internal.HeartbeatResponse) => void;
  /** Each heartbeat's round trip in seconds, or undefined when it got no answer (metrics). */
  onRoundTrip?: (seconds: number | undefined) => void;
  initialPeriodMs?: number;
  /** Cumulative connections per service this node's mesh relayed (the leader's autoscaler reads them). */
  connections?: () => baton.internal.ServiceConnections.$Properties[];
}

/** The wait between failed heartbeats after the first retry. */
const RETRY_MS = 1000;

export class HeartbeatClient {
  private timer: NodeJS.Timeout | undefined;
  private client: RpcClient<DispatcherService> | undefined;
  private next = 0;
  private periodMs: number;
  private stopped = false;
  private failures = 0;

  constructor(private readonly opts: HeartbeatOptions) {
    this.periodMs = opts.initialPeriodMs ?? 1000;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.client?.close();
  }

  /** Forget the connection (e.g. after a certificate renewal). */
  reconnect(): void {
    this.client?.close();
    this.client = undefined;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.beat().finally(() => this.schedule(this.delayAfter()));
    }, delay);
  }

  /** The next heartbeat: a period after one that was answered, sooner after a failure. */
  private delayAfter(): number {
    if (this.failures === 0) return this.periodMs;
    return this.failures === 1 ? 0 : Math.min(this.periodMs, RETRY_MS);
  }

  private async beat(): Promise<void> {
    const managers = this.opts.managers();
    if (managers.length === 0) return;
    const target = managers[this.next % managers.length]!;
    if (!this.client || this.client.target !== target.addr) {
      this.client?.close();
      this.client = new RpcClient(target.addr ?? '', this.opts.credentials(), dispatcherService, this.opts.channelOptions);
    }
    // reconnect() may replace this.client while the call is in flight.
    const client = this.client;
    const started = performance.now();
    try {
      // Two periods for a small one (2 s), but no more than a second past a long one: a manager
      // that stopped answering (a machine gone without a reset) must not hold the next
      // attempt past what the leader allows.
      const deadline = Math.max(2000, Math.min(this.periodMs * 2, this.periodMs + 1000));
      const res = await client.call('Heartbeat', { addr: this.opts.addr, description: this.opts.description, serviceConnections: this.opts.connections?.() ?? [] }, deadline);
      this.opts.onRoundTrip?.((performance.now() - started) / 1000);
      this.failures = 0;
      if (Number(res.periodMs) > 0) this.periodMs = Number(res.periodMs);
      this.opts.onResponse(res as baton.internal.HeartbeatResponse);
    } catch (err) {
      this.opts.onRoundTrip?.(undefined);
      this.failures++;
      this.next++;
      client.close();
      if (this.client === client) this.client = undefined;
      const log = { manager: target.addr, failures: this.failures, err: err instanceof Error ? err.message : String(err) };
      if (this.failures <= 3) this.opts.logger.info(log, 'heartbeat failed; trying the next manager');
      else this.opts.logger.debug(log, 'heartbeat failed');
    }
  }
}
