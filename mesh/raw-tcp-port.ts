// One published TCP port relayed on libuv handles (libuv-tcp.ts): the same behaviour as
// tcp-port.ts (round-robin / least-connections, retry on refusal, connect deadline, reset when
// no backend, PROXY headers, half-close, resets passed on as resets, pre-connected pools,
// counters), with a handful of objects per connection instead of two node:net Sockets.
import { isIP } from 'node:net';
import { lookup } from 'node:dns';
import { getSystemErrorName } from 'node:util';
import type { Logger } from 'pino';
import { BackendSet, type Backend } from './backend-set.js';
import { libuvTcp, UV_EOF, type ConnectReq, type LibuvTcp, type ShutdownReq, type TcpHandle, type WriteReq } from './libuv-tcp.js';
import { POOL_IDLE_MS, PoolRegistry } from './preconnect.js';
import { proxyHeader, type ProxyMode } from './proxy-header.js';
import { CONNECT_TIMEOUT_MS, type TcpPortOptions } from './tcp-port.js';

const SWEEP_MS = 250;
const UV_ECONNRESET = -104;

function uv(): LibuvTcp {
  if (!libuvTcp) throw new Error('libuv TCP bindings unavailable');
  return libuvTcp;
}

type Handle = TcpHandle & { relay?: Relay; pool?: RawPool; pooledAt?: number; early?: Buffer[] };

class Relay {
  u: Handle | undefined = undefined;
  backend: Backend | undefined = undefined;
  connected = false;
  closed = false;
  connectStarted = 0;
  tried: Backend[] | undefined = undefined;
  /** FIN received from the client / the backend. */
  cEof = false;
  uEof = false;
  /** Writes queued by libuv (not completed at once) towards the client / the backend. */
  toC = 0;
  toU = 0;
  /** Shutdowns (FIN) sent and not yet completed. */
  shutting = 0;
  constructor(
    readonly c: Handle,
    readonly port: RawTcpPort,
  ) {}
}

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
  for (const relay of connecting) if (now - relay.connectStarted >= CONNECT_TIMEOUT_MS) connectFailed(relay);
  if (connecting.size === 0) {
    clearInterval(sweepTimer);
    sweepTimer = undefined;
  }
}

export class RawTcpPort {
  readonly backends = new BackendSet();
  serviceName = '';
  proxy: ProxyMode = 'none';
  listening = false;
  private server: Handle | undefined;
  private readonly relays = new Set<Relay>();
  private readonly pools = new PoolRegistry((backend) => new RawPool(backend, this.opts.preconnect));

  constructor(
    readonly bindAddress: string,
    readonly port: number,
    private readonly logger: Logger,
    private readonly opts: TcpPortOptions = { preconnect: 0 },
  ) {}

  listen(): Promise<void> {
    const h = uv().newServer() as Handle;
    const six = isIP(this.bindAddress) === 6;
    let err = six ? h.bind6(this.bindAddress, this.port, 0) : h.bind(this.bindAddress, this.port);
    if (err === 0) err = h.listen(4096);
    if (err !== 0) {
      h.close();
      const code = getSystemErrorName(err);
      return Promise.reject(Object.assign(new Error(`listen ${code} ${this.bindAddress}:${this.port}`), { code }));
    }
    this.serve(h);
    return Promise.resolve();
  }

  /** The listening handle (to share it with worker processes), once bound. */
  get serverHandle(): TcpHandle | undefined {
    return this.server;
  }

  /** Accepts on a listening handle bound elsewhere (a worker process given the parent's). */
  adopt(handle: TcpHandle): void {
    const err = handle.listen(4096);
    if (err !== 0) throw new Error(`listen ${getSystemErrorName(err)} (shared handle for port ${this.port})`);
    this.serve(handle);
  }

  private serve(h: Handle): void {
    h.onconnection = (status, client) => {
      if (status === 0 && client) this.accept(client);
    };
    this.server = h;
    this.listening = true;
  }

  close(dropConnections: boolean): Promise<void> {
    this.listening = false;
    this.pools.closeAll();
    if (dropConnections) for (const r of [...this.relays]) abort(r, false, false);
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(resolve));
  }

  backendsChanged(): void {
    this.pools.dropInactive();
  }

  get openConnections(): number {
    return this.relays.size;
  }

  forget(relay: Relay): void {
    this.relays.delete(relay);
  }

  private accept(c: Handle): void {
    const backend = this.backends.pick();
    if (!backend) {
      // No task to send it to: refuse at once (RST) rather than leave the client hanging.
      if (c.reset() !== 0) c.close();
      return;
    }
    c.setNoDelay(true);
    const relay = new Relay(c, this);
    c.relay = relay;
    c.onread = onClientRead;
    this.relays.add(relay);
    this.startUpstream(relay, backend);
  }

  startUpstream(relay: Relay, backend: Backend): void {
    backend.open++;
    relay.backend = backend;
    const pooled = this.opts.preconnect > 0 ? this.pools.for(backend).take() : undefined;
    if (pooled) {
      pooled.relay = relay;
      pooled.onread = onUpstreamRead;
      relay.u = pooled;
      upstreamReady(relay);
      return;
    }
    const u = uv().newSocket() as Handle;
    u.relay = relay;
    u.onread = onUpstreamRead;
    relay.u = u;
    watchConnect(relay);
    connectHandle(u, backend, relay, onConnectDone);
  }

  header(c: Handle): Buffer | undefined {
    if (this.proxy === 'none') return undefined;
    const peer: { address?: string; port?: number } = {};
    const local: { address?: string; port?: number } = {};
    c.getpeername(peer);
    c.getsockname(local);
    return proxyHeader(this.proxy, { sourceAddress: peer.address, sourcePort: peer.port, destAddress: local.address, destPort: local.port });
  }
}

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
  const relay = req.tag as Relay;
  if (relay.u !== handle || relay.closed) {
    handle.close();
    return;
  }
  connecting.delete(relay);
  if (status < 0) connectFailed(relay);
  else upstreamReady(relay);
}

/** The current attempt failed before connecting: mark the backend, try the next one or reset. */
function connectFailed(relay: Relay): void {
  const u = relay.u;
  connecting.delete(relay);
  const failed = relay.backend;
  if (!u || !failed || relay.connected) return;
  failed.open--;
  failed.markFailed();
  relay.u = undefined;
  relay.backend = undefined;
  u.close();
  if (relay.closed) return;
  (relay.tried ??= []).push(failed);
  const next = relay.port.backends.pick(relay.tried);
  if (next) {
    relay.port.startUpstream(relay, next);
    return;
  }
  relay.closed = true;
  relay.port.forget(relay);
  if (relay.c.reset() !== 0) relay.c.close();
}

function upstreamReady(relay: Relay): void {
  const u = relay.u!;
  relay.connected = true;
  relay.backend!.connectionsTotal++;
  u.setNoDelay(true);
  const header = relay.port.header(relay.c);
  if (header) send(relay, u, relay.c, header, true);
  const early = u.early;
  if (early) {
    u.early = undefined;
    for (const b of early) {
      relay.backend!.bytesOut += b.length;
      send(relay, relay.c, u, b, false);
    }
  }
  if (relay.closed) return;
  relay.c.readStart();
  u.readStart();
}

function onWriteDone(this: WriteReq, status: number): void {
  const relay = this.relay as Relay;
  const toU = this.toU as boolean;
  if (toU) relay.toU--;
  else relay.toC--;
  if (relay.closed) return;
  if (status < 0) {
    abort(relay, !toU, toU);
    return;
  }
  // The destination took it: let its source be read again (unless it has ended).
  if (toU && !relay.cEof && relay.toU === 0) relay.c.readStart();
  if (!toU && !relay.uEof && relay.toC === 0) relay.u?.readStart();
  maybeFinish(relay);
}

/** Writes `buf` to `dst`; when libuv has to queue it, stops reading `src` until it is written. */
function send(relay: Relay, dst: TcpHandle, src: TcpHandle, buf: Buffer, toU: boolean): void {
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
    abort(relay, false, false);
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
    send(relay, relay.u!, this, Buffer.from(ab!, lib.readOffset(), nread), true);
    return;
  }
  if (nread === 0 || relay.closed) return;
  if (nread === UV_EOF) {
    relay.cEof = true;
    halfClose(relay, relay.u!, relay.uEof);
    return;
  }
  // A reset (or other error) from the client is passed on to the backend as a reset.
  abort(relay, false, nread === UV_ECONNRESET);
}

function onUpstreamRead(this: Handle, ab: ArrayBuffer | undefined): void {
  const relay = this.relay!;
  const lib = uv();
  const nread = lib.readResult();
  if (nread > 0) {
    relay.backend!.bytesOut += nread;
    send(relay, relay.c, this, Buffer.from(ab!, lib.readOffset(), nread), false);
    return;
  }
  if (nread === 0 || relay.closed) return;
  if (nread === UV_EOF) {
    relay.uEof = true;
    halfClose(relay, relay.c, relay.cEof);
    return;
  }
  abort(relay, nread === UV_ECONNRESET, false);
}

function onShutdownDone(this: ShutdownReq): void {
  const relay = this.relay as Relay;
  relay.shutting--;
  maybeFinish(relay);
}

/**
 * One side sent FIN: pass it on. When the other side had already finished and nothing is
 * queued, close both at once (the close sends the FIN; no separate shutdown call needed).
 */
function halfClose(relay: Relay, dst: TcpHandle, otherEofToo: boolean): void {
  if (otherEofToo && relay.toC === 0 && relay.toU === 0 && relay.shutting === 0) {
    finish(relay);
    return;
  }
  const req = uv().newShutdownReq();
  req.handle = dst;
  req.oncomplete = onShutdownDone;
  req.relay = relay;
  if (dst.shutdown(req) !== 0) {
    abort(relay, false, false);
    return;
  }
  relay.shutting++;
}

function maybeFinish(relay: Relay): void {
  if (relay.cEof && relay.uEof && relay.toC === 0 && relay.toU === 0 && relay.shutting === 0) finish(relay);
}

function release(relay: Relay): boolean {
  if (relay.closed) return false;
  relay.closed = true;
  connecting.delete(relay);
  relay.port.forget(relay);
  if (relay.backend) relay.backend.open--;
  return true;
}

/** Both directions ended cleanly. */
function finish(relay: Relay): void {
  if (!release(relay)) return;
  relay.c.close();
  relay.u?.close();
}

/** Something broke: close both, resetting the sides named (to pass a reset on). */
function abort(relay: Relay, resetClient: boolean, resetUpstream: boolean): void {
  if (!release(relay)) return;
  if (!resetClient || relay.c.reset() !== 0) relay.c.close();
  const u = relay.u;
  if (u && (!resetUpstream || !relay.connected || u.reset() !== 0)) u.close();
}

/** Pre-opened idle connections to one backend (see preconnect.ts for the policy). */
class RawPool {
  readonly idle: Handle[] = [];
  connecting = 0;
  closed = false;

  constructor(
    readonly backend: Backend,
    readonly size: number,
  ) {}

  take(): Handle | undefined {
    const h = this.idle.pop();
    this.refill();
    if (h) h.pool = undefined;
    return h;
  }

  refill(): void {
    if (this.closed || !this.backend.active || this.backend.failedUntil > Date.now()) return;
    const want = Math.min(this.size, this.idle.length + this.connecting + 2);
    for (let n = this.idle.length + this.connecting; n < want; n++) {
      this.connecting++;
      const h = uv().newSocket() as Handle;
      h.pool = this;
      h.onread = onPooledRead;
      connectHandle(h, this.backend, this, onPooledConnect);
    }
  }

  drop(h: Handle): void {
    const i = this.idle.indexOf(h);
    if (i >= 0) this.idle.splice(i, 1);
    h.pool = undefined;
    h.close();
  }

  trim(now: number, all = false): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const h = this.idle[i]!;
      if (all || now - (h.pooledAt ?? 0) > POOL_IDLE_MS) this.drop(h);
    }
  }

  close(): void {
    this.closed = true;
    this.trim(0, true);
  }

  get empty(): boolean {
    return this.idle.length === 0 && this.connecting === 0;
  }
}

function onPooledConnect(status: number, handle: TcpHandle, req: ConnectReq): void {
  const pool = req.tag as RawPool;
  const h = handle as Handle;
  pool.connecting--;
  if (status < 0) {
    // A refused pre-connect says what a client connection would have learnt the hard way.
    if (pool.backend.failedUntil <= Date.now()) pool.backend.markFailed();
    h.close();
    return;
  }
  if (pool.closed) {
    h.close();
    return;
  }
  h.pooledAt = Date.now();
  pool.idle.push(h);
  // Read while idle: a backend that speaks first is buffered, one that closes is noticed.
  h.readStart();
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
  if (this.pool) this.pool.drop(this);
  else this.close();
}
