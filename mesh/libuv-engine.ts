// The TCP relay's byte pump on Node's libuv TCP handles (libuv-tcp.ts), for the core in
// tcp-port.ts: a handful of objects per connection instead of two node:net Sockets (each a
// Duplex with two stream states, event emitters and destroy machinery). Same behaviour as
// net-engine.ts: back-pressure, half-close, resets passed on as resets, pooled connections
// that buffer what a backend sends while idle. Why it is kept beside the public-API engine:
// docs/routing-mesh.md (the figures).
import { isIP } from 'node:net';
import { lookup } from 'node:dns';
import { getSystemErrorName } from 'node:util';
import type { Backend } from './backend-set.js';
import { libuvTcp, UV_EOF, type ConnectReq, type LibuvTcp, type ShutdownReq, type SockAddr, type TcpHandle, type WriteReq } from './libuv-tcp.js';
import type { BackendPool, PoolOps } from './preconnect.js';
import { Relay, type Listener, type TcpEngine, type TcpPort } from './tcp-port.js';

const UV_ECONNRESET = -104;

function uv(): LibuvTcp {
  if (!libuvTcp) throw new Error('libuv TCP bindings unavailable');
  return libuvTcp;
}

type Handle = TcpHandle & { relay?: UvRelay; pool?: BackendPool<Handle>; early?: Buffer[]; dead?: boolean };

class UvRelay extends Relay<Handle> {
  /** FIN received from the client / the backend. */
  cEof = false;
  uEof = false;
  /** Writes queued by libuv (not completed at once) towards the client / the backend. */
  toC = 0;
  toU = 0;
  /** Shutdowns (FIN) sent and not yet completed. */
  shutting = 0;
}

function listenerOf(h: Handle): Listener {
  return { shared: h, close: () => new Promise((resolve) => h.close(resolve)) };
}

function serve(port: TcpPort<Handle>, h: Handle): Listener {
  h.onconnection = (status, client) => {
    if (status === 0 && client) port.accept(client);
  };
  return listenerOf(h);
}

export const libuvEngine: TcpEngine<Handle> = {
  listen(port) {
    const h = uv().newServer() as Handle;
    const six = isIP(port.bindAddress) === 6;
    let err = six ? h.bind6(port.bindAddress, port.port, 0) : h.bind(port.bindAddress, port.port);
    if (err === 0) err = h.listen(4096);
    if (err !== 0) {
      h.close();
      const code = getSystemErrorName(err);
      return Promise.reject(Object.assign(new Error(`listen ${code} ${port.bindAddress}:${port.port}`), { code }));
    }
    return Promise.resolve(serve(port, h));
  },

  adopt(port, shared) {
    const h = shared as Handle;
    const err = h.listen(4096);
    if (err !== 0) throw new Error(`listen ${getSystemErrorName(err)} (shared handle for port ${port.port})`);
    return serve(port, h);
  },

  relay(c, port) {
    c.setNoDelay(true);
    const relay = new UvRelay(c, port);
    c.relay = relay;
    c.onread = onClientRead;
    return relay;
  },

  dial(relay, backend) {
    const u = uv().newSocket() as Handle;
    u.relay = relay as UvRelay;
    u.onread = onUpstreamRead;
    connectHandle(u, backend, relay, onConnectDone);
    return u;
  },

  attach(relay, u) {
    u.relay = relay as UvRelay;
    u.onread = onUpstreamRead;
  },

  pump(r, header) {
    const relay = r as UvRelay;
    const u = relay.upstream!;
    u.setNoDelay(true);
    if (header) send(relay, u, relay.client, header, true);
    const early = u.early;
    if (early) {
      u.early = undefined;
      for (const b of early) {
        relay.backend!.bytesOut += b.length;
        send(relay, relay.client, u, b, false);
      }
    }
    if (relay.closed) return;
    relay.client.readStart();
    u.readStart();
  },

  ends(c) {
    const peer: { address?: string; port?: number } = {};
    const local: { address?: string; port?: number } = {};
    c.getpeername(peer);
    c.getsockname(local);
    return { sourceAddress: peer.address, sourcePort: peer.port, destAddress: local.address, destPort: local.port };
  },

  peerAddress(c) {
    const peer: SockAddr = {};
    return c.getpeername(peer) === 0 ? peer.address : undefined;
  },

  reset(c) {
    if (c.reset() !== 0) c.close();
  },

  drop(u) {
    u.close();
  },

  abort(relay) {
    relay.port.release(relay);
    relay.client.close();
    relay.upstream?.close();
  },

  pool: {
    open(pool: BackendPool<Handle>) {
      const h = uv().newSocket() as Handle;
      h.pool = pool;
      h.onread = onPooledRead;
      connectHandle(h, pool.backend, pool, onPooledConnect);
    },
    usable: (h: Handle) => !h.dead,
    detach(h: Handle) {
      h.pool = undefined;
    },
    close(h: Handle) {
      h.dead = true;
      h.close();
    },
  } satisfies PoolOps<Handle>,
};

/** Connects `u` to the backend (resolving a host name first); `done` gets a negative status on failure. */
function connectHandle(u: Handle, backend: Backend, tag: unknown, done: ConnectReq['oncomplete']): void {
  const go = (address: string, family: number): void => {
    const req = uv().newConnectReq();
    req.oncomplete = done;
    req.address = address;
    req.port = backend.port;
    req.tag = tag;
    const err = family === 6 ? u.connect6(req, address, backend.port) : u.connect(req, address, backend.port);
    if (err !== 0) setImmediate(() => done(err, u, req, false, false));
  };
  const family = isIP(backend.host);
  if (family !== 0) {
    go(backend.host, family);
    return;
  }
  lookup(backend.host, (err, address, fam) => {
    if (err) {
      const req = { tag } as unknown as ConnectReq;
      done(-1, u, req, false, false);
      return;
    }
    go(address, fam);
  });
}

function onConnectDone(status: number, handle: TcpHandle, req: ConnectReq): void {
  const relay = req.tag as UvRelay;
  if (relay.upstream !== handle || relay.closed) {
    handle.close();
    return;
  }
  if (status < 0) relay.port.connectFailed(relay);
  else relay.port.connected(relay);
}

function onWriteDone(this: WriteReq, status: number): void {
  const relay = this.relay as UvRelay;
  const toU = this.toU as boolean;
  if (toU) relay.toU--;
  else relay.toC--;
  if (relay.closed) return;
  if (status < 0) {
    fail(relay, !toU, toU);
    return;
  }
  // The destination took it: let its source be read again (unless it has ended).
  if (toU && !relay.cEof && relay.toU === 0) relay.client.readStart();
  if (!toU && !relay.uEof && relay.toC === 0) relay.upstream?.readStart();
  maybeFinish(relay);
}

/** Writes `buf` to `dst`; when libuv has to queue it, stops reading `src` until it is written. */
function send(relay: UvRelay, dst: TcpHandle, src: TcpHandle, buf: Buffer, toU: boolean): void {
  const lib = uv();
  const req = lib.newWriteReq();
  req.handle = dst;
  req.oncomplete = onWriteDone;
  req.async = false;
  req.relay = relay;
  req.toU = toU;
  req.buffer = buf; // keeps the bytes alive while libuv holds them
  const err = dst.writeBuffer(req, buf);
  if (err !== 0) {
    fail(relay, false, false);
    return;
  }
  if (lib.lastWriteWasAsync()) {
    if (toU) relay.toU++;
    else relay.toC++;
    src.readStop();
  }
}

function onClientRead(this: Handle, ab: ArrayBuffer | undefined): void {
  const relay = this.relay!;
  const lib = uv();
  const nread = lib.readResult();
  if (nread > 0) {
    relay.backend!.bytesIn += nread;
    send(relay, relay.upstream!, this, Buffer.from(ab!, lib.readOffset(), nread), true);
    return;
  }
  if (nread === 0 || relay.closed) return;
  if (nread === UV_EOF) {
    relay.cEof = true;
    halfClose(relay, relay.upstream!, relay.uEof);
    return;
  }
  // A reset (or other error) from the client is passed on to the backend as a reset.
  fail(relay, false, nread === UV_ECONNRESET);
}

function onUpstreamRead(this: Handle, ab: ArrayBuffer | undefined): void {
  const relay = this.relay!;
  const lib = uv();
  const nread = lib.readResult();
  if (nread > 0) {
    relay.backend!.bytesOut += nread;
    send(relay, relay.client, this, Buffer.from(ab!, lib.readOffset(), nread), false);
    return;
  }
  if (nread === 0 || relay.closed) return;
  if (nread === UV_EOF) {
    relay.uEof = true;
    halfClose(relay, relay.client, relay.cEof);
    return;
  }
  fail(relay, nread === UV_ECONNRESET, false);
}

function onShutdownDone(this: ShutdownReq): void {
  const relay = this.relay as UvRelay;
  relay.shutting--;
  maybeFinish(relay);
}

/**
 * One side sent FIN: pass it on. When the other side had already finished and nothing is
 * queued, close both at once (the close sends the FIN; no separate shutdown call needed).
 */
function halfClose(relay: UvRelay, dst: TcpHandle, otherEofToo: boolean): void {
  if (otherEofToo && relay.toC === 0 && relay.toU === 0 && relay.shutting === 0) {
    finish(relay);
    return;
  }
  const req = uv().newShutdownReq();
  req.handle = dst;
  req.oncomplete = onShutdownDone;
  req.relay = relay;
  if (dst.shutdown(req) !== 0) {
    fail(relay, false, false);
    return;
  }
  relay.shutting++;
}

function maybeFinish(relay: UvRelay): void {
  if (relay.cEof && relay.uEof && relay.toC === 0 && relay.toU === 0 && relay.shutting === 0) finish(relay);
}

/** Both directions ended cleanly. */
function finish(relay: UvRelay): void {
  if (!relay.port.release(relay)) return;
  relay.client.close();
  relay.upstream?.close();
}

/** Something broke: close both, resetting the sides named (to pass a reset on). */
function fail(relay: UvRelay, resetClient: boolean, resetUpstream: boolean): void {
  if (!relay.port.release(relay)) return;
  if (!resetClient || relay.client.reset() !== 0) relay.client.close();
  const u = relay.upstream;
  if (u && (!resetUpstream || !relay.connected || u.reset() !== 0)) u.close();
}

function onPooledConnect(status: number, handle: TcpHandle, req: ConnectReq): void {
  const pool = req.tag as BackendPool<Handle>;
  const h = handle as Handle;
  if (status < 0) {
    h.close();
    pool.openFailed();
    return;
  }
  pool.opened(h);
  // Read while idle: a backend that speaks first is buffered, one that closes is noticed.
  if (!h.dead) h.readStart();
}

/** Data or end on an idle pooled connection. */
function onPooledRead(this: Handle, ab: ArrayBuffer | undefined): void {
  const lib = uv();
  const nread = lib.readResult();
  if (nread > 0) {
    (this.early ??= []).push(Buffer.from(ab!, lib.readOffset(), nread));
    return;
  }
  if (nread === 0) return;
  this.dead = true;
  if (this.pool) this.pool.lost(this);
  else this.close();
}
