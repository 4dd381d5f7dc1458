// One published TCP port: a listener on the mesh's bind address that relays every accepted
// connection to a backend of the service, trying another backend when one refuses.
//
// Hot path notes: the relay uses plain 'data' handlers with manual back-pressure instead of
// stream.pipe() (fewer layers per chunk), and module-level handlers that find their relay
// through the socket instead of per-connection closures.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { BackendSet, type Backend } from './backend-set.js';
import { proxyV1Header, proxyV2Header } from './proxy-header.js';

/** How long connecting to a backend may take before the next backend is tried. */
export const CONNECT_TIMEOUT_MS = 1000;

export type ProxyMode = 'none' | 'v1' | 'v2';

/** The socket with its relay attached (one property, set once, no closures). */
type RelaySocket = Socket & { relay: Relay };

class Relay {
  upstream: RelaySocket | undefined = undefined;
  backend: Backend | undefined = undefined;
  connected = false;
  tried: Backend[] | undefined = undefined;
  constructor(
    readonly client: RelaySocket,
    readonly port: TcpPort,
  ) {}
}

export class TcpPort {
  readonly backends = new BackendSet();
  serviceName = '';
  proxy: ProxyMode = 'none';
  private server: Server | undefined;
  private readonly relays = new Set<Relay>();
  listening = false;

  constructor(
    readonly bindAddress: string,
    readonly port: number,
    private readonly logger: Logger,
  ) {}

  /** Binds the port; rejects when it cannot (in use, no such address). */
  listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    server.on('connection', (socket) => this.accept(socket as RelaySocket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.bindAddress, port: this.port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.warn({ err, port: this.port }, 'mesh listener error'));
        this.server = server;
        this.listening = true;
        resolve();
      });
    });
  }

  /** Stops listening (frees the port); established connections go on unless `dropConnections`. */
  close(dropConnections: boolean): Promise<void> {
    this.listening = false;
    if (dropConnections) {
      for (const r of this.relays) {
        r.upstream?.destroy();
        r.client.destroy();
      }
    }
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  get openConnections(): number {
    return this.relays.size;
  }

  private accept(client: RelaySocket): void {
    const backend = this.backends.pick();
    if (!backend) {
      // No task to send it to: refuse at once (RST) rather than leave the client hanging.
      client.on('error', ignore);
      client.resetAndDestroy();
      return;
    }
    const relay = new Relay(client, this);
    client.relay = relay;
    client.on('error', onClientError);
    client.on('close', onClientClose);
    this.relays.add(relay);
    connectUpstream(relay, backend);
  }

  /** Called by the relay when its client socket is gone. */
  forget(relay: Relay): void {
    this.relays.delete(relay);
  }

  header(client: Socket): Buffer | undefined {
    if (this.proxy === 'none') return undefined;
    const ends = {
      sourceAddress: client.remoteAddress,
      sourcePort: client.remotePort,
      destAddress: client.localAddress,
      destPort: client.localPort,
    };
    return this.proxy === 'v1' ? proxyV1Header(ends) : proxyV2Header(ends);
  }
}

function ignore(): void {}

function connectUpstream(relay: Relay, backend: Backend): void {
  backend.open++;
  relay.backend = backend;
  const up = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true }) as RelaySocket;
  up.relay = relay;
  relay.upstream = up;
  up.setTimeout(CONNECT_TIMEOUT_MS);
  up.on('connect', onUpstreamConnect);
  up.on('timeout', onUpstreamTimeout);
  up.on('error', onUpstreamError);
  up.on('close', onUpstreamClose);
}

/** The current attempt failed before connecting: mark the backend, try the next one or reset. */
function upstreamFailed(up: RelaySocket): void {
  const relay = up.relay;
  if (relay.upstream !== up || relay.connected) return;
  const failed = relay.backend!;
  failed.open--;
  failed.markFailed();
  relay.upstream = undefined;
  relay.backend = undefined;
  up.destroy();
  if (relay.client.destroyed) return;
  (relay.tried ??= []).push(failed);
  const next = relay.port.backends.pick(relay.tried);
  if (next) connectUpstream(relay, next);
  else relay.client.resetAndDestroy();
}

function onUpstreamConnect(this: RelaySocket): void {
  const relay = this.relay;
  const client = relay.client;
  this.setTimeout(0);
  this.off('timeout', onUpstreamTimeout);
  relay.connected = true;
  relay.backend!.connectionsTotal++;
  if (client.destroyed) {
    this.destroy();
    return;
  }
  const header = relay.port.header(client);
  if (header) this.write(header);
  client.on('data', onClientData);
  client.on('end', onClientEnd);
  client.on('drain', onClientDrain);
  this.on('data', onUpstreamData);
  this.on('end', onUpstreamEnd);
  this.on('drain', onUpstreamDrain);
  client.resume();
}

function onUpstreamTimeout(this: RelaySocket): void {
  upstreamFailed(this);
}

function onUpstreamError(this: RelaySocket, err: NodeJS.ErrnoException): void {
  const relay = this.relay;
  if (relay.upstream !== this) return;
  if (!relay.connected) {
    upstreamFailed(this);
    return;
  }
  // The backend broke an established connection: pass a reset on as a reset.
  if (err.code === 'ECONNRESET' && !relay.client.destroyed) relay.client.resetAndDestroy();
  else relay.client.destroy();
}

function onUpstreamClose(this: RelaySocket, hadError: boolean): void {
  const relay = this.relay;
  if (relay.upstream !== this) return;
  relay.backend!.open--;
  const client = relay.client;
  if (hadError || !relay.connected) client.destroy();
  else if (!client.writableEnded) client.end();
}

function onUpstreamData(this: RelaySocket, chunk: Buffer): void {
  const relay = this.relay;
  relay.backend!.bytesOut += chunk.length;
  if (!relay.client.write(chunk)) this.pause();
}

function onUpstreamDrain(this: RelaySocket): void {
  this.relay.client.resume();
}

function onUpstreamEnd(this: RelaySocket): void {
  const client = this.relay.client;
  if (!client.writableEnded) client.end();
}

function onClientData(this: RelaySocket, chunk: Buffer): void {
  const relay = this.relay;
  relay.backend!.bytesIn += chunk.length;
  if (!relay.upstream!.write(chunk)) this.pause();
}

function onClientDrain(this: RelaySocket): void {
  this.relay.upstream?.resume();
}

function onClientEnd(this: RelaySocket): void {
  const up = this.relay.upstream;
  if (up && !up.writableEnded) up.end();
}

function onClientError(this: RelaySocket, err: NodeJS.ErrnoException): void {
  const up = this.relay.upstream;
  if (!up) return;
  if (err.code === 'ECONNRESET' && this.relay.connected && !up.destroyed) up.resetAndDestroy();
  else up.destroy();
}

function onClientClose(this: RelaySocket, hadError: boolean): void {
  const relay = this.relay;
  relay.port.forget(relay);
  const up = relay.upstream;
  if (!up) return;
  if (hadError || !relay.connected) up.destroy();
  else if (!up.writableEnded) up.end();
}
