// The node's DNS server on one bridge's gateway address: answers the names `lookup` owns (the
// services of the querier's networks) itself, relays every other query to the node's own
// resolvers, over UDP and TCP on the same port. Containers reach it through Docker's embedded
// DNS (127.0.0.11), which forwards to it; the querier's address tells `lookup` which networks
// it may see. No packet, however bad, gets past this class as an exception.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, isIPv4, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  CLASS_IN,
  MAX_TCP_SIZE,
  RCODE_BADVERS,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_SERVFAIL,
  addressRecords,
  buildErrorResponse,
  buildResponse,
  parseQuery,
  responseHeader,
  udpLimit,
  type DnsQuery,
} from './dns-message.js';
import { forwardQuery, hostPort, type Transport, type Upstream } from './dns-forward.js';
import { FrameReader, frame } from './dns-tcp-frames.js';

export type { Upstream } from './dns-forward.js';

export interface DnsLookupQuery {
  /** Lower case, no trailing dot (dns-message.ts nameText). */
  name: string;
  /** The question's type: 1 A, 28 AAAA, … */
  type: number;
  /** The querier's IPv4 address. */
  from: string;
}

/**
 * Addresses (and their TTL in seconds) for a name this server owns, 'nxdomain', or undefined:
 * not ours, forward it. `unlessUpstream`: the name is one of ours only through one of the
 * asker's search domains (`peer.example.com` for service `peer`); it is forwarded first and the
 * upstream's answer wins when it has one, so a real host of that name is still reached.
 */
export type DnsLookupResult = { addresses: string[]; ttl: number; unlessUpstream?: boolean } | 'nxdomain' | undefined;

type OwnedAnswer = Exclude<DnsLookupResult, 'nxdomain' | undefined>;

/** May answer later: finding which task asks can take a question to the engine. */
export type DnsLookup = (query: DnsLookupQuery) => DnsLookupResult | Promise<DnsLookupResult>;

export interface DnsServerOptions {
  /** The IPv4 address to listen on (a bridge's gateway). */
  address: string;
  /** 53 unless given; 0 picks a free port, the same one for UDP and TCP. */
  port?: number;
  lookup: DnsLookup;
  upstreams: readonly Upstream[];
  /**
   * The asker's own resolvers, when it has some (a task's `--dns`): its forwarded names go to
   * them instead of `upstreams`, as Docker's embedded DNS forwards to a container's --dns.
   * Called after `lookup` for the same address, so what lookup learnt about the asker is known.
   */
  upstreamsFor?: (from: string) => readonly Upstream[] | undefined;
  logger: Logger;
  /** How long one upstream may take to answer one query (2 s unless given). */
  forwardTimeoutMs?: number;
  /** Forwarded queries waiting for an upstream at once; beyond this the answer is SERVFAIL (256 unless given). */
  maxInFlight?: number;
  /** A TCP connection with nothing to do for this long is closed (10 s unless given). */
  tcpIdleTimeoutMs?: number;
  /** TCP connections open at once; more are refused (128 unless given). */
  maxTcpConnections?: number;
}

export interface DnsCounters {
  /** Queries answered from `lookup`: addresses, NODATA or NXDOMAIN. */
  answered: number;
  /** Queries relayed to an upstream and its answer relayed back. */
  forwarded: number;
  /** Queries answered SERVFAIL: no upstream answered, too many in flight, or `lookup` threw. */
  failed: number;
  /** Packets that were not a query we could read (answered FORMERR, NOTIMP or BADVERS, or dropped). */
  malformed: number;
}

/** What the system's resolver uses at most (glibc's MAXNS); more would only lengthen a failure. */
const MAX_UPSTREAMS = 3;
/** Queries of one TCP connection answered concurrently (RFC 7766 6.2.1.1 pipelining). */
const MAX_PENDING_PER_CONNECTION = 16;
/** Bytes of one TCP connection read ahead of its answers: two whole messages. */
const MAX_TCP_READ_AHEAD = 2 * (MAX_TCP_SIZE + 2);
/** Tries to find a port free for both UDP and TCP when asked for port 0. */
const FREE_PORT_TRIES = 10;

export class DnsServer {
  readonly address: string;
  private readonly requestedPort: number;
  private boundPort = 0;
  private readonly lookup: DnsLookup;
  private readonly logger: Logger;
  private readonly forwardTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly maxTcpConnections: number;
  private upstreamList: readonly Upstream[] = [];
  private readonly upstreamsFor: ((from: string) => readonly Upstream[] | undefined) | undefined;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();
  private readonly stopping = new AbortController();
  private state: 'new' | 'binding' | 'listening' | 'closed' = 'new';
  private inFlight = 0;
  private readonly count: DnsCounters = { answered: 0, forwarded: 0, failed: 0, malformed: 0 };

  constructor(opts: DnsServerOptions) {
    this.address = opts.address;
    this.requestedPort = opts.port ?? 53;
    this.lookup = opts.lookup;
    this.logger = opts.logger.child({ dns: opts.address });
    this.forwardTimeoutMs = opts.forwardTimeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 256;
    this.tcpIdleTimeoutMs = opts.tcpIdleTimeoutMs ?? 10_000;
    this.maxTcpConnections = opts.maxTcpConnections ?? 128;
    this.upstreams = opts.upstreams;
    this.upstreamsFor = opts.upstreamsFor;
  }

  /** The port both listeners are bound to (after listen()). */
  get port(): number {
    return this.boundPort;
  }

  get upstreams(): readonly Upstream[] {
    return this.upstreamList;
  }

  /**
   * Takes effect for the next query. Entries that are not an IP address with a port are left
   * out (this server resolves no names to find its own resolvers), and so are those past the
   * third.
   */
  set upstreams(list: readonly Upstream[]) {
    this.upstreamList = this.usable(list);
  }

  private usable(list: readonly Upstream[]): Upstream[] {
    const usable = list.filter((u) => isIP(u.host) !== 0 && Number.isInteger(u.port) && u.port > 0 && u.port < 65536);
    if (usable.length < list.length) this.logger.warn({ upstreams: list }, 'DNS upstreams that are not an IP address and port are ignored');
    return usable.slice(0, MAX_UPSTREAMS).map((u) => ({ host: u.host, port: u.port }));
  }

  get counters(): Readonly<DnsCounters> {
    return { ...this.count };
  }

  /** Binds UDP and TCP; rejects with the system's error (EADDRINUSE, EADDRNOTAVAIL, EACCES, …). */
  async listen(): Promise<void> {
    if (this.state !== 'new') throw new Error(`DNS server on ${this.address} already ${this.state === 'closed' ? 'closed' : 'started'}`);
    if (!isIPv4(this.address)) throw new Error(`DNS server address ${this.address} is not an IPv4 address`);
    if (!Number.isInteger(this.requestedPort) || this.requestedPort < 0 || this.requestedPort > 65535) {
      throw new Error(`DNS server port ${this.requestedPort} is not a port number`);
    }
    this.state = 'binding';
    let bound: { udp: UdpSocket; tcp: Server } | undefined;
    for (let attempt = 1; !bound; attempt++) {
      let udp: UdpSocket;
      try {
        udp = await this.bindUdp(this.requestedPort);
      } catch (err) {
        if (this.state === 'binding') this.state = 'new';
        throw err;
      }
      const port = udp.address().port;
      try {
        bound = { udp, tcp: await this.bindTcp(port) };
        this.boundPort = port;
      } catch (err) {
        udp.close();
        // With port 0, UDP's free port may be taken for TCP: try another one.
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (this.requestedPort !== 0 || !inUse || attempt >= FREE_PORT_TRIES) {
          if (this.state === 'binding') this.state = 'new';
          throw err;
        }
      }
    }
    if (this.state !== 'binding') {
      bound.udp.close();
      bound.tcp.close();
      throw new Error(`DNS server on ${this.address} closed while starting`);
    }
    this.state = 'listening';
    this.udp = bound.udp;
    this.tcp = bound.tcp;
    this.udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onDatagram(msg, rinfo));
    this.udp.on('error', (err) => this.logger.warn({ err: err.message }, 'DNS UDP socket error'));
    this.tcp.on('error', (err) => this.logger.warn({ err: err.message }, 'DNS TCP listener error'));
    this.logger.debug({ port: this.boundPort, upstreams: this.upstreamList.map(hostPort) }, 'DNS server listening');
  }

  /** Stops both listeners, closes every TCP connection and gives up on queries in flight. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopping.abort();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  private bindUdp(port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: 'udp4' });
      socket.once('error', (err) => {
        try {
          socket.close();
        } catch {
          // Never bound: nothing to close.
        }
        reject(err);
      });
      socket.bind({ port, address: this.address, exclusive: true }, () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
  }

  private bindTcp(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      // Half-open allowed: a client may send its queries and shut its side, and still wants
      // the answers.
      const server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
      server.maxConnections = this.maxTcpConnections;
      server.once('error', reject);
      server.listen({ port, host: this.address, exclusive: true }, () => {
        server.removeListener('error', reject);
        resolve(server);
      });
    });
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    // Port 0 cannot be answered; a packet "from" it is forged.
    if (rinfo.port === 0) return;
    this.handle(msg, rinfo.address, 'udp').then(
      (reply) => {
        const udp = this.udp;
        if (!reply || !udp) return;
        udp.send(reply, rinfo.port, rinfo.address, (err) => {
          if (err) this.logger.debug({ err: err.message, from: rinfo.address }, 'DNS answer not sent');
        });
      },
      (err: unknown) => this.logger.debug({ err: String(err) }, 'DNS query failed'),
    );
  }

  private onConnection(socket: Socket): void {
    if (this.state !== 'listening') {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    const from = socket.remoteAddress ?? '';
    const reader = new FrameReader();
    let pending = 0;
    let ended = false;
    let partialDeadline: NodeJS.Timeout | undefined;
    socket.setNoDelay(true);
    socket.setTimeout(this.tcpIdleTimeoutMs);
    // A connection waiting on an upstream is not idle; the write of its answer re-arms the timer.
    socket.on('timeout', () => {
      if (pending === 0) socket.destroy();
    });
    socket.on('error', (err) => this.logger.debug({ err: err.message, from }, 'DNS TCP connection error'));
    socket.on('close', () => {
      clearTimeout(partialDeadline);
      this.connections.delete(socket);
    });
    const pump = (): void => {
      // Bounded: every turn takes one whole message off what was received.
      while (pending < MAX_PENDING_PER_CONNECTION && !socket.destroyed) {
        const message = reader.next();
        if (!message) break;
        pending++;
        this.handle(message, from, 'tcp')
          .then(
            (reply) => {
              if (reply && socket.writable) socket.write(frame(reply));
            },
            (err: unknown) => this.logger.debug({ err: String(err), from }, 'DNS query failed'),
          )
          .finally(() => {
            pending--;
            socket.setTimeout(this.tcpIdleTimeoutMs);
            pump();
          });
      }
      // The client has shut its side and every answer is written (a partial message left over
      // never completes).
      if (ended && pending === 0) {
        socket.end();
        return;
      }
      if (pending >= MAX_PENDING_PER_CONNECTION || reader.buffered > MAX_TCP_READ_AHEAD) socket.pause();
      else socket.resume();
      // What is left with room to take more is the start of a message. Its bytes may trickle in
      // (each one keeps the idle timer away), but the whole of it must arrive within one idle
      // timeout, or a client sending a byte now and then would hold a connection for ever.
      const waitingForRest = pending < MAX_PENDING_PER_CONNECTION && reader.buffered > 0;
      if (!waitingForRest) {
        clearTimeout(partialDeadline);
        partialDeadline = undefined;
      } else if (!partialDeadline) {
        partialDeadline = setTimeout(() => {
          this.logger.debug({ from }, 'DNS TCP message not completed in time');
          socket.destroy();
        }, this.tcpIdleTimeoutMs);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      pump();
    });
    socket.on('end', () => {
      ended = true;
      pump();
    });
  }

  /** The answer to one packet, or undefined when it gets none. Never rejects. */
  private async handle(packet: Buffer, from: string, transport: Transport): Promise<Buffer | undefined> {
    const parsed = parseQuery(packet);
    switch (parsed.kind) {
      case 'drop':
        this.count.malformed++;
        this.logger.debug({ from, transport, reason: parsed.reason }, 'DNS packet dropped');
        return undefined;
      case 'error':
        this.count.malformed++;
        this.logger.debug({ from, transport, reason: parsed.reason, rcode: parsed.rcode }, 'DNS packet refused');
        return buildErrorResponse(parsed);
      case 'query':
        return this.answer(parsed.query, packet, from, transport);
    }
  }

  private async answer(query: DnsQuery, packet: Buffer, from: string, transport: Transport): Promise<Buffer> {
    const maxSize = transport === 'udp' ? udpLimit(query) : MAX_TCP_SIZE;
    if (query.edns && query.edns.version !== 0) {
      this.count.malformed++;
      this.logger.debug({ from, version: query.edns.version }, 'DNS query with an EDNS version other than 0');
      return buildResponse(query, { rcode: RCODE_BADVERS, maxSize });
    }
    const { name, type } = query.question;
    let owned: DnsLookupResult;
    // Only the Internet class holds addresses; anything else (CHAOS version.bind, …) is the
    // upstream's to answer.
    if (query.question.class === CLASS_IN) {
      try {
        owned = await this.lookup({ name, type, from });
      } catch (err) {
        this.count.failed++;
        this.logger.warn({ err: String(err), name }, 'DNS lookup failed');
        return buildResponse(query, { rcode: RCODE_SERVFAIL, maxSize });
      }
    }
    if (owned === 'nxdomain') {
      this.count.answered++;
      return buildResponse(query, { rcode: RCODE_NXDOMAIN, authoritative: true, maxSize });
    }
    if (owned !== undefined && owned.unlessUpstream !== true) return this.ours(query, owned, maxSize);
    return this.forward(query, packet, from, transport, maxSize, owned);
  }

  private ours(query: DnsQuery, owned: OwnedAnswer, maxSize: number): Buffer {
    this.count.answered++;
    // A name we own with no address of the asked type (AAAA, MX, …) is NODATA: the name
    // exists, so the client goes on to ask for A instead of giving up.
    const addresses = Array.isArray(owned.addresses) ? owned.addresses : [];
    const records = addressRecords(query.question.type, addresses, owned.ttl);
    return buildResponse(query, { rcode: RCODE_NOERROR, records, authoritative: true, maxSize });
  }

  /**
   * Relays the query; with `fallback` (one of our names under a search domain), our answer
   * replaces any upstream answer without a record (NXDOMAIN, NODATA) or none at all: the client
   * would otherwise go on to the bare name, which Docker's embedded DNS does not forward when
   * the task sets ndots (see manager.ts), or stop there (musl stops at NODATA and SERVFAIL).
   */
  private async forward(query: DnsQuery, packet: Buffer, from: string, transport: Transport, maxSize: number, fallback?: OwnedAnswer): Promise<Buffer> {
    const servfail = (reason: string): Buffer => {
      if (fallback) return this.ours(query, fallback, maxSize);
      this.count.failed++;
      this.logger.debug({ from, name: query.question.name, reason }, 'DNS query not forwarded');
      return buildResponse(query, { rcode: RCODE_SERVFAIL, maxSize });
    };
    if (this.inFlight >= this.maxInFlight) return servfail(`${this.inFlight} queries already in flight`);
    // Never to ourselves: that would loop until the in-flight limit is reached.
    const own = this.upstreamsFor?.(from);
    const chosen = own !== undefined && own.length > 0 ? this.usable(own) : this.upstreamList;
    const upstreams = chosen.filter((u) => !(u.host === this.address && u.port === this.boundPort));
    this.inFlight++;
    try {
      const result = await forwardQuery(packet, upstreams, transport, { timeoutMs: this.forwardTimeoutMs, signal: this.stopping.signal });
      if (!result.ok) return servfail(result.reason);
      if (fallback) {
        const header = responseHeader(result.reply);
        if (header?.rcode !== RCODE_NOERROR || header.answers === 0) return this.ours(query, fallback, maxSize);
      }
      this.count.forwarded++;
      return result.reply;
    } finally {
      this.inFlight--;
    }
  }
}
