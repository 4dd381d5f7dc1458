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
import { libuvTcp, UV_EOF, type ConnectReq, type LibuvTcp, type SockAddr, type TcpHandle, type WriteReq } from './libuv-tcp.js';
import type { BackendPool, PoolOps } from './preconnect.js';
import { Relay, type Listener, type TcpEngine, type TcpPort } from './tcp-port.js';

const UV_ECONNRESET = -104;

function uv(): LibuvTcp {
  if (!libuvTcp) throw new Error('libuv TCP bindings unavailable');
  return libuvTcp;
}

type Handle = TcpHandle & { relay?: UvRelay; pool?: BackendPool<Handle>; early?: Buffer[]; dead?: boolean; readBuf?: Buffer };

/**
 * The read buffer of a relaying handle (HAProxy's default bufsize): libuv reads straight into
 * it (useUserBuffer, what node:net's `onread` option does) instead of Node allocating a 64 KB
 * backing store, shrinking it and wrapping it in a new ArrayBuffer for every read; that
 * allocation and its garbage were the largest share of the keep-alive relay's CPU. Reusing one
 * buffer for every read of a handle is safe because a handle whose bytes are queued (not yet
 * written) towards the other side stops reading until they are written (send()).
 */
const READ_BUF_SIZE = 16 * 1024;
/** Buffers kept for reuse once their relay is over: enough for a burst, bounded (16 MB). */
const READ_BUF_KEEP = 1024;
const freeReadBufs: Buffer[] = [];

/** Makes `h` read into a buffer of its own from now on (once per handle: each call stacks a listener in Node). */
function useReadBuf(h: Handle): void {
  const buf = freeReadBufs.pop() ?? Buffer.allocUnsafeSlow(READ_BUF_SIZE);
  h.readBuf = buf;
  h.useUserBuffer(buf);
}

/**
 * Gives back the read buffers of a relay's handles, once they are closed: a closed handle
 * reads no more, and a write still queued from its buffer is cancelled by the close, never
 * sent, so the next handle may read into it.
 */
function giveReadBufs(relay: Relay<Handle>): void {
  for (const h of [relay.client, relay.upstream]) {
    const buf = h?.readBuf;
    if (!buf) continue;
    h.readBuf = undefined;
    if (freeReadBufs.length < READ_BUF_KEEP) freeReadBufs.push(buf);
  }
}

/**
 * A write request object reused while writes complete at once: Node hands a request to
 * libuv only when the write has to be queued, so one that completes at once leaves it free
 * for the next write. A queued one belongs to libuv until its completion; a new one is then
 * the spare.
 */
let spareWriteReq: WriteReq | undefined;

class UvRelay extends Relay<Handle> {
  /** FIN received from the client / the backend. */
  cEof = false;
  uEof = false;
  /** Writes queued by libuv (not completed at once) towards the client / the backend. */
  toC = 0;
  toU = 0;
}

function listenerOf(h: Handle): Listener {
  return { shared: h, close: () => new Promise((resolve) => h.close(resolve)) };
}

/**
 * Linux copies TCP_NODELAY from a listening socket to the sockets it accepts: set once on the
 * listener (in the process that binds it; workers accept on the same socket), it spares a
 * setsockopt per accepted connection. Elsewhere each accepted socket gets its own.
 */
const NODELAY_INHERITED = process.platform === 'linux';

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
    if (err === 0 && NODELAY_INHERITED) err = h.setNoDelay(true);
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
    if (!NODELAY_INHERITED) c.setNoDelay(true);
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
    useReadBuf(relay.client);
    useReadBuf(u);
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
    // The backend handle reads already (since its connect started: connectHandle).
    relay.client.readStart();
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
    giveReadBufs(relay);
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

/**
 * Connects `u` to the backend (resolving a host name first) and starts reading on it at once;
 * `done` gets a negative status on failure. Reading from the start registers the socket with
 * epoll once for both connect and read (one epoll_ctl ADD, one MOD when the connect is done)
 * instead of an ADD for the connect, then for the read an ADD that fails (EEXIST) and a MOD;
 * libuv reports the connect before any read, so the relay is set up before bytes arrive.
 */
function connectHandle(u: Handle, backend: Backend, tag: unknown, done: ConnectReq['oncomplete']): void {
  if (backend.family !== 0) {
    connectTo(u, backend.host, backend.family, backend.port, tag, done);
    return;
  }
  lookup(backend.host, (err, address, fam) => {
    if (err) {
      const req = { tag } as unknown as ConnectReq;
      done(-1, u, req, false, false);
      return;
    }
    connectTo(u, address, fam, backend.port, tag, done);
  });
}

function connectTo(u: Handle, address: string, family: number, port: number, tag: unknown, done: ConnectReq['oncomplete']): void {
  const req = uv().newConnectReq();
  req.oncomplete = done;
  req.address = address;
  req.port = port;
  req.tag = tag;
  const err = family === 6 ? u.connect6(req, address, port) : u.connect(req, address, port);
  if (err !== 0) {
    setImmediate(() => done(err, u, req, false, false));
    return;
  }
  u.readStart();
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
  const req = spareWriteReq ?? lib.newWriteReq();
  spareWriteReq = undefined;
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
    return;
  }
  req.buffer = undefined;
  req.relay = undefined;
  spareWriteReq = req;
}

/** The `nread` bytes just read by `h`: in its own buffer (useReadBuf), or before that in Node's `ab`. */
function readBytes(h: Handle, ab: ArrayBuffer | undefined, nread: number): Buffer {
  return h.readBuf ? h.readBuf.subarray(0, nread) : Buffer.from(ab!, uv().readOffset(), nread);
}

function onClientRead(this: Handle, ab: ArrayBuffer | undefined): void {
  const relay = this.relay!;
  const lib = uv();
  const nread = lib.readResult();
  if (nread > 0) {
    relay.backend!.bytesIn += nread;
    send(relay, relay.upstream!, this, readBytes(this, ab, nread), true);
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
    send(relay, relay.client, this, readBytes(this, ab, nread), false);
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

/**
 * One side sent FIN: pass it on. When the other side had already finished and nothing is
 * queued, close both at once: both sides' FINs have been read, so their receive queues are
 * empty and each close sends a FIN (a shutdown still pending on the other handle is cancelled
 * by its close; its FIN goes out with the close instead: one system call per handle, not two).
 * The shutdown request has no `oncomplete`: Node then calls no JavaScript when it completes
 * (nothing is left to do then; a failed one shows as a read error or reset on that handle).
 */
function halfClose(relay: UvRelay, dst: TcpHandle, otherEofToo: boolean): void {
  if (otherEofToo && relay.toC === 0 && relay.toU === 0) {
    finish(relay);
    return;
  }
  const req = uv().newShutdownReq();
  req.handle = dst;
  if (dst.shutdown(req) !== 0) fail(relay, false, false);
}

function maybeFinish(relay: UvRelay): void {
  if (relay.cEof && relay.uEof && relay.toC === 0 && relay.toU === 0) finish(relay);
}

/** Both directions ended cleanly. */
function finish(relay: UvRelay): void {
  if (!relay.port.release(relay)) return;
  relay.client.close();
  relay.upstream?.close();
  giveReadBufs(relay);
}

/** Something broke: close both, resetting the sides named (to pass a reset on). */
function fail(relay: UvRelay, resetClient: boolean, resetUpstream: boolean): void {
  if (!relay.port.release(relay)) return;
  if (!resetClient || relay.client.reset() !== 0) relay.client.close();
  const u = relay.upstream;
  if (u && (!resetUpstream || !relay.connected || u.reset() !== 0)) u.close();
  giveReadBufs(relay);
}

function onPooledConnect(status: number, handle: TcpHandle, req: ConnectReq): void {
  const pool = req.tag as BackendPool<Handle>;
  const h = handle as Handle;
  if (status < 0) {
    h.close();
    pool.openFailed();
    return;
  }
  // It reads already (connectHandle): while idle, a backend that speaks first is buffered
  // (onPooledRead), one that closes is noticed.
  pool.opened(h);
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
