// The TCP relay's byte pump on node:net sockets (public API): what moves bytes between a
// client and its backend for the core in tcp-port.ts.
//
// Hot path notes: plain 'data' handlers with manual back-pressure instead of stream.pipe()
// (fewer layers per chunk); backend sockets read into a buffer of their own through the public
// `onread` option (no stream buffering and no allocation per read while writes complete at
// once; a buffer a queued write still holds is replaced, never reused; measured in one
// bench:mesh run beside the same engine with 'data' handlers: 9 % less CPU per request with
// keep-alive, 6 % with a connection per request). Accepted sockets cannot have it: net.Server
// creates them and has no onread option, so the client side uses 'data'. Handlers are
// module-level functions that find their relay through the socket (no per-connection closures
// but the onread pair); when both directions have ended and nothing is queued both sockets are
// closed at once (the close sends the FIN) instead of a shutdown then a close on each.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Backend } from './backend-set.js';
import type { BackendPool, PoolOps } from './preconnect.js';
import type { ConnectionEnds } from './proxy-header.js';
import { Relay, type Listener, type TcpEngine, type TcpPort } from './tcp-port.js';

/**
 * Each backend socket's read buffer: reads of a small request/response protocol fit, and it is
 * held for the connection's life (Node's own reads allocate 64 KiB per read instead).
 */
const READ_BUFFER_BYTES = 16 * 1024;

type PoolState = 'connecting' | 'idle' | 'taken';

/** A socket with what the relay needs on it (set once: no closures per event). */
type Conn = Socket & {
  relay?: Relay<Conn>;
  pool?: BackendPool<Conn>;
  poolState?: PoolState;
  /** Bytes a pooled backend sent while idle, relayed first once taken. */
  early?: Buffer[];
  /** Backend sockets: their onread buffer. */
  reads?: ReadBuffer;
};

/** A backend socket's read buffer; `buf` is undefined after a queued write kept the last one. */
interface ReadBuffer {
  buf: Buffer | undefined;
}

const SERVER_OPTIONS = { allowHalfOpen: true, pauseOnConnect: true, noDelay: true };

function ignore(): void {}

function listenerOf(server: Server): Listener {
  return { shared: server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function serve(port: TcpPort<Conn>): Server {
  const server = createServer(SERVER_OPTIONS);
  server.on('connection', (socket: Socket) => port.accept(socket));
  return server;
}

/** A backend socket: connecting to `backend`, reading through onread. */
function dialSocket(backend: Backend): Conn {
  // connect() asks for the first buffer before it returns the socket: the state comes first.
  const reads: ReadBuffer = { buf: undefined };
  const s = connect({
    host: backend.host,
    port: backend.port,
    allowHalfOpen: true,
    noDelay: true,
    onread: {
      buffer: () => (reads.buf ??= Buffer.allocUnsafe(READ_BUFFER_BYTES)),
      callback: (n: number, buf: Uint8Array) => onUpstreamRead(s, n, buf as Buffer),
    },
  }) as Conn;
  s.reads = reads;
  return s;
}

export const netEngine: TcpEngine<Conn> = {
  listen(port) {
    const server = serve(port);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: port.bindAddress, port: port.port, backlog: 4096 }, () => {
        server.off('error', reject);
        server.on('error', (err) => port.logger.warn({ err, port: port.port }, 'mesh listener error'));
        resolve(listenerOf(server));
      });
    });
  },

  adopt(port, shared) {
    // A worker process receives the mesh's listening net.Server (child_process handle passing):
    // Node has already made it listen in this process, so it is the one to accept on. A second
    // server on its handle (server.listen(handle)) left this one accepting too, with nobody
    // listening for its connections: 1 run in 4 of the worker test hung on such a connection.
    // The relay's options go on it: net.Server keeps allowHalfOpen and pauseOnConnect as plain
    // fields read at every accept (not in @types/node); noDelay is kept privately, so per socket.
    const server = shared as Server & { allowHalfOpen: boolean; pauseOnConnect: boolean };
    server.allowHalfOpen = SERVER_OPTIONS.allowHalfOpen;
    server.pauseOnConnect = SERVER_OPTIONS.pauseOnConnect;
    server.on('connection', (socket: Socket) => {
      socket.setNoDelay(SERVER_OPTIONS.noDelay);
      port.accept(socket);
    });
    server.on('error', (err) => port.logger.warn({ err, port: port.port }, 'mesh listener error (shared socket)'));
    return listenerOf(server);
  },

  relay(client, port) {
    const relay = new Relay(client, port);
    client.relay = relay;
    client.on('error', onClientError);
    client.on('close', onClientClose);
    return relay;
  },

  dial(relay, backend) {
    const up = dialSocket(backend);
    up.relay = relay;
    up.on('connect', onUpstreamConnect);
    up.on('error', onUpstreamError);
    up.on('close', onUpstreamClose);
    return up;
  },

  attach(relay, up) {
    up.relay = relay;
    up.on('error', onUpstreamError);
    up.on('close', onUpstreamClose);
  },

  pump(relay, header) {
    const client = relay.client;
    const up = relay.upstream!;
    if (header) up.write(header);
    const early = up.early;
    if (early) {
      up.early = undefined;
      for (const b of early) {
        relay.backend!.bytesOut += b.length;
        client.write(b);
      }
    }
    client.on('data', onClientData);
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    up.on('end', onUpstreamEnd);
    up.on('drain', onUpstreamDrain);
    client.resume();
    // Flowing, so that the backend's FIN is seen ('end'), and reading if it was stopped.
    up.resume();
  },

  ends(c): ConnectionEnds {
    return { sourceAddress: c.remoteAddress, sourcePort: c.remotePort, destAddress: c.localAddress, destPort: c.localPort };
  },

  peerAddress(c) {
    return c.remoteAddress;
  },

  reset(c) {
    c.on('error', ignore);
    c.resetAndDestroy();
  },

  drop(c) {
    c.destroy();
  },

  abort(relay) {
    relay.port.release(relay);
    relay.upstream?.destroy();
    relay.client.destroy();
  },

  pool: {
    open(pool: BackendPool<Conn>) {
      const s = dialSocket(pool.backend);
      s.pool = pool;
      s.poolState = 'connecting';
      s.on('connect', onPooledConnect);
      s.on('error', onPooledError);
      s.on('end', onPooledEnd);
      s.on('close', onPooledClose);
      // Flowing from the start, so that a backend closing an idle connection is seen.
      s.resume();
    },
    usable: (s: Conn) => !s.destroyed && !s.readableEnded,
    detach(s: Conn) {
      s.poolState = 'taken';
      s.off('error', onPooledError);
      s.off('end', onPooledEnd);
      s.off('close', onPooledClose);
    },
    close(s: Conn) {
      s.destroy();
    },
  } satisfies PoolOps<Conn>,
};

function onUpstreamRead(up: Conn, n: number, buf: Buffer): boolean {
  const relay = up.relay;
  if (!relay) {
    // Idle in the pool: the backend spoke first; keep a copy for the relay that takes it.
    (up.early ??= []).push(Buffer.from(buf.subarray(0, n)));
    return true;
  }
  const client = relay.client;
  if (client.destroyed) return false;
  relay.backend!.bytesOut += n;
  const ok = client.write(buf.subarray(0, n));
  // Queued (not written at once): the queue holds this buffer now; the next read gets a new one.
  if (client.writableLength > 0) up.reads!.buf = undefined;
  return ok;
}

function onUpstreamConnect(this: Conn): void {
  const relay = this.relay!;
  if (relay.upstream !== this) return;
  relay.port.connected(relay);
}

function onUpstreamError(this: Conn, err: NodeJS.ErrnoException): void {
  const relay = this.relay!;
  if (relay.upstream !== this) return;
  if (!relay.connected) {
    relay.port.connectFailed(relay);
    return;
  }
  // The backend broke an established connection: pass a reset on as a reset.
  if (err.code === 'ECONNRESET' && !relay.client.destroyed) relay.client.resetAndDestroy();
  else relay.client.destroy();
}

function onUpstreamClose(this: Conn, hadError: boolean): void {
  const relay = this.relay!;
  if (relay.upstream !== this) return;
  relay.port.release(relay);
  const client = relay.client;
  if (hadError || !relay.connected) client.destroy();
  else if (!client.writableEnded && !client.destroyed) client.end();
}

function onUpstreamDrain(this: Conn): void {
  this.relay!.client.resume();
}

function onUpstreamEnd(this: Conn): void {
  const relay = this.relay!;
  ended(this, relay.client);
}

function onClientData(this: Conn, chunk: Buffer): void {
  const relay = this.relay!;
  relay.backend!.bytesIn += chunk.length;
  if (!relay.upstream!.write(chunk)) this.pause();
}

function onClientDrain(this: Conn): void {
  this.relay!.upstream?.resume();
}

function onClientEnd(this: Conn): void {
  const up = this.relay!.upstream;
  if (up) ended(this, up);
}

/**
 * `from` sent FIN: pass it on to `to`. When `to` had already sent its FIN and nothing is queued
 * either way, both are closed at once (the close sends the FIN).
 */
function ended(from: Conn, to: Conn): void {
  if (to.readableEnded && to.writableLength === 0 && from.writableLength === 0) {
    from.relay!.port.release(from.relay!);
    to.destroy();
    from.destroy();
    return;
  }
  if (!to.writableEnded) to.end();
}

function onClientError(this: Conn, err: NodeJS.ErrnoException): void {
  const relay = this.relay!;
  const up = relay.upstream;
  if (!up) return;
  if (err.code === 'ECONNRESET' && relay.connected && !up.destroyed) up.resetAndDestroy();
  else up.destroy();
}

function onClientClose(this: Conn, hadError: boolean): void {
  const relay = this.relay!;
  relay.port.release(relay);
  const up = relay.upstream;
  if (!up) return;
  if (hadError || !relay.connected) up.destroy();
  else if (!up.writableEnded && !up.destroyed) up.end();
}

function onPooledConnect(this: Conn): void {
  this.poolState = 'idle';
  this.pool!.opened(this);
}

function onPooledError(this: Conn): void {
  if (this.poolState === 'connecting') {
    this.poolState = 'taken'; // out of the pool's books
    this.pool!.openFailed();
    this.destroy();
    return;
  }
  this.pool!.lost(this);
}

function onPooledEnd(this: Conn): void {
  this.pool!.lost(this);
}

function onPooledClose(this: Conn): void {
  if (this.poolState === 'connecting') {
    this.poolState = 'taken';
    this.pool!.openFailed();
    return;
  }
  if (this.poolState === 'idle') this.pool!.lost(this);
}
