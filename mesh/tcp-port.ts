// One published TCP port: a listener on the mesh's bind address that relays every accepted
// connection to a backend of the service, trying another backend when one refuses.
//
// This is the one TCP relay core: accepting, choosing the backend (round-robin or
// least-connections, avoiding recently failed ones, retrying on refusal within a connect
// deadline), resetting a client when no backend is left, pre-connected pools, PROXY headers,
// counters and closing. What moves the bytes between the two sockets (reads, writes,
// back-pressure, half-close, resets passed on) is the engine's: net-engine.ts on node:net
// sockets, libuv-engine.ts on Node's libuv handles (see docs/routing-mesh.md for why both).
import type { Logger } from 'pino';
import type { AllowList } from './allow.js';
import { BackendSet, type Backend } from './backend-set.js';
import { BackendPool, PoolRegistry, type PoolOps } from './preconnect.js';
import { proxyHeader, type ConnectionEnds, type ProxyMode } from './proxy-header.js';

/** How long connecting to a backend may take before the next backend is tried. */
export const CONNECT_TIMEOUT_MS = 1000;
const SWEEP_MS = 250;

export type { ProxyMode };

export interface TcpPortOptions {
  /** Idle pre-opened connections per backend (0: connect per client connection). */
  preconnect: number;
}

/** One relayed connection: `C` is the engine's connection object. */
export class Relay<C> {
  upstream: C | undefined = undefined;
  backend: Backend | undefined = undefined;
  connected = false;
  /** Over (released): set once, by whichever side ends it first. */
  closed = false;
  connectStarted = 0;
  tried: Backend[] | undefined = undefined;
  constructor(
    readonly client: C,
    readonly port: TcpPort<C>,
  ) {}
}

/** A bound listening socket, as an engine made it. */
export interface Listener {
  /** Stops accepting and frees the port (in this process). */
  close(): Promise<void>;
  /** What worker processes are sent to accept on the same socket (workers.ts). */
  readonly shared: unknown;
}

/**
 * What an engine does; the core (TcpPort) does the rest. Engines call back into the core:
 * `port.accept(c)` for each accepted connection, `port.connected(relay)` /
 * `port.connectFailed(relay)` when a dial ends, `port.release(relay)` once a relay is over.
 */
export interface TcpEngine<C> {
  listen(port: TcpPort<C>): Promise<Listener>;
  /** Accepts on a socket bound by another process (`Listener.shared`, received by a worker). */
  adopt(port: TcpPort<C>, shared: unknown): Listener;
  /** The relay for an accepted client (engines may keep more per-connection state on it). */
  relay(client: C, port: TcpPort<C>): Relay<C>;
  /** Starts connecting to `relay.backend`; ends with port.connected or port.connectFailed. */
  dial(relay: Relay<C>, backend: Backend): C;
  /** Takes a pooled connection for `relay` (it is connected already). */
  attach(relay: Relay<C>, up: C): void;
  /** Connected: writes `header` (if any) to the backend first, then relays both ways until done. */
  pump(relay: Relay<C>, header: Buffer | undefined): void;
  /** The client connection's two ends (for PROXY headers). */
  ends(c: C): ConnectionEnds;
  /** The client's address (for the allow list of a service address); asked only when it has one. */
  peerAddress(c: C): string | undefined;
  /** Refuses a connection with a reset (RST). */
  reset(c: C): void;
  /** Closes one connection that relays nothing (a failed or unwanted dial). */
  drop(c: C): void;
  /** Ends a relay at once (both sides closed), e.g. when the port is closed. */
  abort(relay: Relay<C>): void;
  /** Opening and watching pooled connections (preconnect.ts keeps the policy). */
  readonly pool: PoolOps<C>;
}

/** Relays waiting for their backend connect, checked against CONNECT_TIMEOUT_MS by one shared sweep. */
const connecting = new Set<Relay<unknown>>();
let sweepTimer: NodeJS.Timeout | undefined;

function watchConnect(relay: Relay<unknown>): void {
  relay.connectStarted = Date.now();
  connecting.add(relay);
  if (!sweepTimer) {
    sweepTimer = setInterval(sweepConnects, SWEEP_MS);
    sweepTimer.unref();
  }
}

function sweepConnects(): void {
  const now = Date.now();
  for (const relay of connecting) if (now - relay.connectStarted >= CONNECT_TIMEOUT_MS) relay.port.connectFailed(relay);
  if (connecting.size === 0) {
    clearInterval(sweepTimer);
    sweepTimer = undefined;
  }
}

export class TcpPort<C> {
  readonly backends = new BackendSet();
  serviceName = '';
  proxy: ProxyMode = 'none';
  /**
   * Service addresses only (Mesh.applyInternal): the sources that may connect; others are
   * reset on accept, before any backend is dialled. Undefined for published ports (anyone).
   */
  allow: AllowList | undefined = undefined;
  /** Connections refused by `allow`. */
  refused = 0;
  listening = false;
  private listener: Listener | undefined;
  private readonly relays = new Set<Relay<C>>();
  private readonly pools: PoolRegistry<BackendPool<C>>;

  constructor(
    readonly engine: TcpEngine<C>,
    readonly bindAddress: string,
    readonly port: number,
    readonly logger: Logger,
    private readonly opts: TcpPortOptions = { preconnect: 0 },
  ) {
    this.pools = new PoolRegistry((backend) => new BackendPool(backend, opts.preconnect, engine.pool));
  }

  /** Binds the port; rejects when it cannot (in use, no such address). */
  async listen(): Promise<void> {
    this.listener = await this.engine.listen(this);
    this.listening = true;
  }

  /** Accepts on a listening socket bound by the mesh's process (in a worker process). */
  adopt(shared: unknown): void {
    this.listener = this.engine.adopt(this, shared);
    this.listening = true;
  }

  /** What worker processes need to accept on this port too, once bound. */
  get shared(): unknown {
    return this.listener?.shared;
  }

  /** Stops listening (frees the port); established connections go on unless `dropConnections`. */
  close(dropConnections: boolean): Promise<void> {
    this.listening = false;
    this.pools.closeAll();
    if (dropConnections) for (const r of [...this.relays]) this.engine.abort(r);
    const listener = this.listener;
    this.listener = undefined;
    return listener ? listener.close() : Promise.resolve();
  }

  /** After the backend set changed: pools of backends no longer listed are closed. */
  backendsChanged(): void {
    this.pools.dropInactive();
  }

  get openConnections(): number {
    return this.relays.size;
  }

  /** A new client connection (from the engine's listener). */
  accept(client: C): void {
    const allow = this.allow;
    if (allow !== undefined && !allow.allows(this.engine.peerAddress(client))) {
      this.refused++;
      this.engine.reset(client);
      return;
    }
    const backend = this.backends.pick();
    if (!backend) {
      // No task to send it to: refuse at once (RST) rather than leave the client hanging.
      this.engine.reset(client);
      return;
    }
    const relay = this.engine.relay(client, this);
    this.relays.add(relay);
    this.startUpstream(relay, backend);
  }

  /** A pooled connection to `backend` when there is one, else a new connect (with a deadline). */
  private startUpstream(relay: Relay<C>, backend: Backend): void {
    backend.open++;
    relay.backend = backend;
    const pooled = this.opts.preconnect > 0 ? this.pools.for(backend).take() : undefined;
    if (pooled !== undefined) {
      relay.upstream = pooled;
      this.engine.attach(relay, pooled);
      this.connected(relay);
      return;
    }
    relay.upstream = this.engine.dial(relay, backend);
    watchConnect(relay);
  }

  /** The backend accepted: count it and let the engine relay. */
  connected(relay: Relay<C>): void {
    connecting.delete(relay);
    relay.connected = true;
    relay.backend!.connectionsTotal++;
    if (relay.closed) {
      this.engine.abort(relay);
      return;
    }
    const header = this.proxy === 'none' ? undefined : proxyHeader(this.proxy, this.engine.ends(relay.client));
    this.engine.pump(relay, header);
  }

  /** The current attempt failed before connecting (refused, unreachable, deadline): mark the backend, try the next one or reset. */
  connectFailed(relay: Relay<C>): void {
    connecting.delete(relay);
    const up = relay.upstream;
    const failed = relay.backend;
    if (up === undefined || !failed || relay.connected) return;
    relay.upstream = undefined;
    this.engine.drop(up);
    if (relay.closed) return; // the client left first: release() settled the counts
    failed.open--;
    failed.markFailed();
    relay.backend = undefined;
    (relay.tried ??= []).push(failed);
    const next = this.backends.pick(relay.tried);
    if (next) {
      this.startUpstream(relay, next);
      return;
    }
    this.release(relay);
    this.engine.reset(relay.client);
  }

  /** The relay is over (its sockets are closed or closing); false if it already was. */
  release(relay: Relay<C>): boolean {
    if (relay.closed) return false;
    relay.closed = true;
    connecting.delete(relay);
    this.relays.delete(relay);
    if (relay.backend) relay.backend.open--;
    return true;
  }
}
