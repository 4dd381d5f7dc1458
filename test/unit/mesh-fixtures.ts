// Real backends and clients on 127.0.0.1 for the routing mesh's unit tests.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import pino from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createRoutingMesh, type RoutingMesh } from '../../mesh/index.js';
import { freePort } from '../../src/launcher/ports.js';
import { httpGet as probeGet } from '../lib/mesh-probe.js';

export const quietLogger = pino({ enabled: false });

/** Both TCP relay implementations run every TCP test. */
export const ENGINES = ['libuv', 'net'] as const;
export type Engine = (typeof ENGINES)[number];

export function newMesh(engine?: Engine): RoutingMesh {
  return createRoutingMesh({ bindAddress: '127.0.0.1', logger: quietLogger, ...(engine ? { engine } : {}) });
}

export interface PortSpec {
  port: number;
  backends: string[];
  protocol?: 'tcp' | 'udp';
  proxy?: 'v1' | 'v2';
}

/** One service's table entry. */
export function service(name: string, ports: PortSpec[], leastConnections = false): baton.internal.MeshService.$Properties {
  return {
    serviceId: `id-${name}`,
    serviceName: name,
    balance: leastConnections ? baton.BalanceMode.LEAST_CONNECTIONS : baton.BalanceMode.ROUND_ROBIN,
    ports: ports.map((p) => ({
      protocol: p.protocol === 'udp' ? baton.PortProtocol.UDP : baton.PortProtocol.TCP,
      publishedPort: p.port,
      targetPort: 80,
      proxyProtocol: p.proxy === 'v1' ? baton.ProxyProtocol.PROXY_V1 : p.proxy === 'v2' ? baton.ProxyProtocol.PROXY_V2 : baton.ProxyProtocol.PROXY_NONE,
      backends: p.backends.map((addr, i) => ({ taskId: `t${i}`, addr })),
    })),
  };
}

/** An HTTP server answering every request with its name. */
export async function httpBackend(name: string): Promise<{ addr: string; server: HttpServer }> {
  const server = createHttpServer((_req, res) => res.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { addr: `127.0.0.1:${port}`, server };
}

/**
 * GET / on 127.0.0.1:`port` through a new connection; the body. Bounded (10 s): a relay that
 * accepts and never answers fails its test here, naming the port, instead of holding the whole
 * file until the runner's timeout.
 */
export function httpGet(port: number, timeoutMs = 10_000): Promise<string> {
  return probeGet('127.0.0.1', port, '/', timeoutMs);
}

/**
 * A TCP server that greets each connection with "<name>\n", then echoes what it receives.
 * `onHeader` (when set) consumes a PROXY header first and reports it.
 */
export interface GreeterBackend {
  addr: string;
  server: Server;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function greeterBackend(name: string, onFirstBytes?: (socket: Socket) => void, host = '127.0.0.1'): Promise<GreeterBackend> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (onFirstBytes) {
      onFirstBytes(s);
      return;
    }
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return {
    addr: `${host}:${port}`,
    server,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A client socket through the mesh and a reader for its lines. */
export interface LineClient {
  socket: Socket;
  nextLine(): Promise<string>;
}

/** `host` (default 127.0.0.1) is where it connects; `localAddress` the source address it connects from. */
export function lineClient(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let buf = '';
    const waiters: ((line: string) => void)[] = [];
    const lines: string[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        nextLine: () => {
          const l = lines.shift();
          if (l !== undefined) return Promise.resolve(l);
          return new Promise((r) => waiters.push(r));
        },
      }),
    );
  });
}

/** The value of one metric sample line (labels in the order the mesh writes them), 0 when absent. */
export function metricValue(text: string, name: string, labelsContain: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!labelsContain.every((l) => line.includes(l))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Polls `cond` every 20 ms, at most `tries` times. */
export async function eventually(cond: () => boolean | Promise<boolean>, what: string, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function closeHttp(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

export function udpSocket(): UdpSocket {
  return createSocket('udp4');
}

export { freePort };
