// One published UDP port: datagrams from each client address form a flow with its own
// upstream socket to one backend, so replies find their way back to that client. Flows end
// after a quiet period, when their backend leaves the table, or when the backend refuses.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AllowList } from './allow.js';
import { BackendSet, type Backend } from './backend-set.js';

/** A flow with no datagram either way for this long is closed. */
export const UDP_FLOW_IDLE_MS = 30_000;
/** Datagrams held per flow while its upstream socket connects (more are dropped, as UDP may). */
const MAX_PENDING = 64;
/** At most this many flows per port; the oldest is closed to make room. */
const MAX_FLOWS = 10_000;

class Flow {
  lastSeen = Date.now();
  connected = false;
  closed = false;
  pending: Buffer[] | undefined = [];
  constructor(
    readonly key: string,
    readonly clientAddress: string,
    readonly clientPort: number,
    readonly backend: Backend,
    readonly upstream: UdpSocket,
  ) {}
}

export class UdpPort {
  readonly backends = new BackendSet();
  serviceName = '';
  /** Service addresses only: the sources whose datagrams are relayed (undefined: anyone). */
  allow: AllowList | undefined = undefined;
  /** Datagrams dropped because `allow` does not list their source. */
  refused = 0;
  private socket: UdpSocket | undefined;
  private readonly flows = new Map<string, Flow>();
  private sweepTimer: NodeJS.Timeout | undefined;
  listening = false;

  constructor(
    readonly bindAddress: string,
    readonly port: number,
    private readonly logger: Logger,
    private readonly idleMs = UDP_FLOW_IDLE_MS,
  ) {}

  listen(): Promise<void> {
    const socket = createSocket({ type: isIP(this.bindAddress) === 6 ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.bindAddress, port: this.port, exclusive: true }, () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.logger.warn({ err, port: this.port }, 'mesh udp socket error'));
        socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
        this.socket = socket;
        this.listening = true;
        const sweepEvery = Math.max(50, Math.min(5000, this.idleMs / 3));
        this.sweepTimer = setInterval(() => this.sweep(), sweepEvery);
        this.sweepTimer.unref();
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.listening = false;
    clearInterval(this.sweepTimer);
    for (const flow of [...this.flows.values()]) this.endFlow(flow);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  get openFlows(): number {
    return this.flows.size;
  }

  /** Flows whose backend left the table move to another backend with their next datagram. */
  dropInactiveFlows(): void {
    for (const flow of [...this.flows.values()]) if (!flow.backend.active) this.endFlow(flow);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    // Every datagram, not only a flow's first: a flow outlives a change of the list, a datagram
    // must not (the parse is a few dozen character reads against the relay's system calls).
    const allow = this.allow;
    if (allow !== undefined && !allow.allows(rinfo.address)) {
      this.refused++;
      return;
    }
    const key = `${rinfo.address}|${rinfo.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      const backend = this.backends.pick();
      if (!backend) return; // no task: drop, as a closed UDP port would
      flow = this.openFlow(key, rinfo, backend);
    }
    flow.lastSeen = Date.now();
    flow.backend.datagramsIn++;
    flow.backend.bytesIn += msg.length;
    if (flow.connected) flow.upstream.send(msg);
    else if (flow.pending && flow.pending.length < MAX_PENDING) flow.pending.push(msg);
  }

  private openFlow(key: string, rinfo: RemoteInfo, backend: Backend): Flow {
    if (this.flows.size >= MAX_FLOWS) {
      const oldest = this.flows.values().next().value;
      if (oldest) this.endFlow(oldest);
    }
    const upstream = createSocket({ type: isIP(backend.host) === 6 ? 'udp6' : 'udp4' });
    const flow = new Flow(key, rinfo.address, rinfo.port, backend, upstream);
    this.flows.set(key, flow);
    backend.open++;
    backend.connectionsTotal++;
    upstream.on('message', (reply) => {
      flow.lastSeen = Date.now();
      backend.datagramsOut++;
      backend.bytesOut += reply.length;
      this.socket?.send(reply, flow.clientPort, flow.clientAddress);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // A refused datagram (ICMP port unreachable) means the task is gone: avoid it for a while.
      if (err.code === 'ECONNREFUSED') backend.markFailed();
      this.endFlow(flow);
    });
    upstream.connect(backend.port, backend.host, () => {
      if (flow.closed) return;
      flow.connected = true;
      const pending = flow.pending ?? [];
      flow.pending = undefined;
      for (const m of pending) upstream.send(m);
    });
    return flow;
  }

  private endFlow(flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    flow.backend.open--;
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    try {
      flow.upstream.close();
    } catch {
      // already closed by an error
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const flow of [...this.flows.values()]) if (flow.lastSeen < cutoff) this.endFlow(flow);
  }
}
