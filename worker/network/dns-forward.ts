// Relaying a query the node's DNS server does not own to the node's own resolvers: the raw
// query, over the transport it came on, to each upstream in order until one answers, each
// asked once and given a bounded time.
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import { RCODE_NOTIMP, RCODE_REFUSED, RCODE_SERVFAIL, responseHeader, withId } from './dns-message.js';
import { FrameReader, frame } from './dns-tcp-frames.js';

export interface Upstream {
  host: string;
  port: number;
}

export type Transport = 'udp' | 'tcp';

export type ForwardResult = { ok: true; reply: Buffer; upstream: Upstream } | { ok: false; reason: string };

/**
 * Asks the upstreams in order. An answer that only says the upstream could not help (SERVFAIL,
 * NOTIMP, REFUSED) moves on to the next one, as the system's resolver does, and is relayed only
 * when no other upstream answers better. The answer comes back under the querier's id.
 */
export async function forwardQuery(
  query: Buffer,
  upstreams: readonly Upstream[],
  transport: Transport,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<ForwardResult> {
  const clientId = query.readUInt16BE(0);
  let fallback: { reply: Buffer; upstream: Upstream } | undefined;
  const reasons: string[] = [];
  for (const upstream of upstreams) {
    if (opts.signal.aborted) break;
    // A fresh random id on every try (with a fresh source port per exchange below), so an
    // off-path guess of one is as hard as the pair; never the client's own.
    const id = randomInt(0x10000);
    try {
      const reply = await exchange(transport, upstream, withId(query, id), opts.timeoutMs, opts.signal);
      const rcode = responseHeader(reply)?.rcode ?? RCODE_SERVFAIL;
      const restored = withId(reply, clientId);
      if (rcode === RCODE_SERVFAIL || rcode === RCODE_NOTIMP || rcode === RCODE_REFUSED) {
        fallback ??= { reply: restored, upstream };
        reasons.push(`${hostPort(upstream)}: rcode ${rcode}`);
        continue;
      }
      return { ok: true, reply: restored, upstream };
    } catch (err) {
      reasons.push(`${hostPort(upstream)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (fallback) return { ok: true, ...fallback };
  return { ok: false, reason: upstreams.length === 0 ? 'no upstream resolvers' : reasons.join('; ') || 'stopped' };
}

export function hostPort(upstream: Upstream): string {
  return isIPv6(upstream.host) ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`;
}

/** One query to one upstream; resolves with the first response carrying the query's id. */
function exchange(transport: Transport, upstream: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return transport === 'udp' ? udpExchange(upstream, query, timeoutMs, signal) : tcpExchange(upstream, query, timeoutMs, signal);
}

/**
 * The common end of an exchange: settles once, on an answer, an error, the time limit or the
 * server closing, and then releases the socket.
 */
function settleOnce(
  timeoutMs: number,
  signal: AbortSignal,
  release: () => void,
  resolve: (reply: Buffer) => void,
  reject: (err: Error) => void,
): (err: Error | undefined, reply?: Buffer) => void {
  let settled = false;
  const finish = (err: Error | undefined, reply?: Buffer): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    release();
    if (err || !reply) reject(err ?? new Error('no answer'));
    else resolve(reply);
  };
  const timer = setTimeout(() => finish(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
  const onAbort = (): void => finish(new Error('server closing'));
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  return finish;
}

function udpExchange(upstream: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const id = query.readUInt16BE(0);
    // Its own socket: a random source port, and once connected the kernel drops datagrams from
    // anyone but the upstream and reports its "port unreachable" as ECONNREFUSED at once.
    const socket = createSocket(isIPv6(upstream.host) ? 'udp6' : 'udp4');
    const finish = settleOnce(
      timeoutMs,
      signal,
      () => {
        try {
          socket.close();
        } catch {
          // Already closed: nothing to release.
        }
      },
      resolve,
      reject,
    );
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg: Buffer) => {
      if (responseHeader(msg)?.id === id) finish(undefined, msg);
    });
    try {
      socket.connect(upstream.port, upstream.host, () => {
        socket.send(query, (err) => {
          if (err) finish(err);
        });
      });
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

function tcpExchange(upstream: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const id = query.readUInt16BE(0);
    const reader = new FrameReader();
    const socket = connect({ host: upstream.host, port: upstream.port });
    const finish = settleOnce(timeoutMs, signal, () => socket.destroy(), resolve, reject);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(frame(query)));
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      // Bounded: each turn consumes a whole message of the bytes received.
      for (let message = reader.next(); message; message = reader.next()) {
        if (responseHeader(message)?.id === id) {
          finish(undefined, message);
          return;
        }
      }
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('connection closed before an answer')));
  });
}
