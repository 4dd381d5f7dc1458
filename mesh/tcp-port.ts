// One published TCP port: a listener on the mesh's bind address that relays every accepted
// connection to a backend of the service, trying another backend when one refuses.
//
// Hot path notes: the relay uses plain 'data' handlers with manual back-pressure instead of
// stream.pipe() (fewer layers per chunk); handlers are module-level functions that find their
// relay through the socket (no per-connection closures); connect deadlines are checked by one
// shared sweep instead of a timer per socket; backends may be pre-connected (preconnect.ts).
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { BackendSet, type Backend } from './backend-set.js';
import { BackendPool, PoolRegistry } from './preconnect.js';
import { proxyHeader, type ProxyMode } from './proxy-header.js';

/** How long connecting to a backend may take before the next backend is tried. */
export const CONNECT_TIMEOUT_MS = 1000;
const SWEEP_MS = 250;

export type { ProxyMode };

/** The socket with its relay attached (one property, set once, no closures). */
type RelaySocket = Socket & { relay: Relay };

class Relay {
  upstream: RelaySocket | undefined = undefined;
  backend: Backend | undefined = undefined;
  connected = false;
  connectStarted = 0;
  tried: Backend[] | undefined = undefined;
  constructor(
    readonly client: RelaySocket,
    readonly port: TcpPort,
  ) {}
}

/** Relays waiting for their backend connect, checked against CONNECT_TIMEOUT_MS by the sweep. */
const connecting = new Set<Relay>();
let sweepTimer: NodeJS.Timeout | undefined;

function watchConnect(relay: Relay): void {
  relay.connectStarted = Date.now();
  connecting.add(relay);
  if (!sweepTimer) {
    sweepTimer = setInterval(sweepConnects, SWEEP_MS);
    sweepTimer.unref();
  }
}

function sweepConnects(): void {
  const now = Date.now();
  for (const relay of connecting) {
    if (now - relay.connectStarted >= CONNECT_TIMEOUT_MS && relay.upstream) upstreamFailed(relay.upstream);
  }
  if (connecting.size === 0) {
    clearInterval(sweepTimer);
    sweepTimer = undefined;
  }
}

export interface TcpPortOptions {
  /** Idle pre-opened connections per backend (0: connect per client connection). */
  preconnect: number;
}

export class TcpPort {
  readonly backends = new BackendSet();
  serviceName = '';
  proxy: ProxyMode = 'none';
  private server: Server | undefined;
  private readonly relays = new Set<Relay>();
  private readonly pools = new PoolRegistry((backend) => new BackendPool(backend, this.opts.preconnect));
  listening = false;

  constructor(
    readonly bindAddress: string,
    readonly port: number,
    private readonly logger: Logger,
    private readonly opts: TcpPortOptions = { preconnect: 0 },
  ) {}

  /** Binds the port; rejects when it cannot (in use, no such address). */
  listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    server.on('connection', (socket) => this.accept(socket as RelaySocket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.bindAddress, port: this.port, backlog: 4096 }, () => {
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
    this.pools.closeAll();
    if (dropConnections) {
      for (const r of this.relays) {
        connecting.delete(r);
        r.upstream?.destroy();
        r.client.destroy();
      }
    }
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** After the backend set changed: pools of backends no longer listed are closed. */
  backendsChanged(): void {
    this.pools.dropInactive();
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
    this.startUpstream(relay, backend);
  }

  /** A pooled connection to `backend` when there is one, else a new connect (with a deadline). */
  startUpstream(relay: Relay, backend: Backend): void {
    backend.open++;
    relay.backend = backend;
    const pooled = this.opts.preconnect > 0 ? this.pools.for(backend).take() : undefined;
    if (pooled) {
      const up = pooled as RelaySocket;
      up.relay = relay;
      relay.upstream = up;
      up.on('error', onUpstreamError);
      up.on('close', onUpstreamClose);
      upstreamReady(relay, up);
      return;
    }
    const up = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true }) as RelaySocket;
    up.relay = relay;
    relay.upstream = up;
    watchConnect(relay);
    up.on('connect', onUpstreamConnect);
    up.on('error', onUpstreamError);
    up.on('close', onUpstreamClose);
  }

  /** Called by the relay when its client socket is gone. */
  forget(relay: Relay): void {
    this.relays.delete(relay);
  }

  header(client: Socket): Buffer | undefined {
    if (this.proxy === 'none') return undefined;
    return proxyHeader(this.proxy, {
      sourceAddress: client.remoteAddress,
      sourcePort: client.remotePort,
      destAddress: client.localAddress,
      destPort: client.localPort,
    });
  }
}

function ignore(): void {}

/** The current attempt failed before connecting: mark the backend, try the next one or reset. */
function upstreamFailed(up: RelaySocket): void {
  const relay = up.relay;
  if (relay.upstream !== up || relay.connected) return;
  connecting.delete(relay);
  const failed = relay.backend!;
  failed.open--;
  failed.markFailed();
  relay.upstream = undefined;
  relay.backend = undefined;
  up.destroy();
  if (relay.client.destroyed) return;
  (relay.tried ??= []).push(failed);
  const next = relay.port.backends.pick(relay.tried);
  if (next) relay.port.startUpstream(relay, next);
  else relay.client.resetAndDestroy();
}

function onUpstreamConnect(this: RelaySocket): void {
  const relay = this.relay;
  connecting.delete(relay);
  upstreamReady(relay, this);
}

/** Connected (or taken from the pool): wire both directions and let the client's bytes flow. */
function upstreamReady(relay: Relay, up: RelaySocket): void {
  const client = relay.client;
  relay.connected = true;
  relay.backend!.connectionsTotal++;
  if (client.destroyed) {
    up.destroy();
    return;
  }
  const header = relay.port.header(client);
  if (header) up.write(header);
  client.on('data', onClientData);
  client.on('end', onClientEnd);
  client.on('drain', onClientDrain);
  up.on('data', onUpstreamData);
  up.on('end', onUpstreamEnd);
  up.on('drain', onUpstreamDrain);
  client.resume();
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
  connecting.delete(relay);
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
  connecting.delete(relay);
  const up = relay.upstream;
  if (!up) return;
  if (hadError || !relay.connected) up.destroy();
  else if (!up.writableEnded) up.end();
}
