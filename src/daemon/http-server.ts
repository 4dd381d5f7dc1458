// `--http-addr host:port` (formerly `--metrics-addr`, still accepted): a plain HTTP server for
// whoever watches the node from its network. GET /metrics answers Prometheus text (the node's,
// its manager's and its routing mesh's metrics); other paths are routes the daemon adds.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BatonError } from '../../rpc/errors.js';

/** Answers one request; false: not this route's path. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, path: string) => boolean | Promise<boolean>;

export class HttpServer {
  private constructor(private readonly server: Server) {}

  /** Listens on `addr` (host:port); `metrics` is called per scrape, `routes` tried in order for other paths. */
  static async start(addr: string, metrics: () => Promise<string>, routes: HttpRoute[] = []): Promise<HttpServer> {
    const m = /^(.+):(\d+)$/.exec(addr);
    if (!m || Number(m[2]) > 65535) throw new BatonError('INVALID_ARGUMENT', `bad --http-addr "${addr}" (want host:port)`);
    const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
    const server = createServer((req, res) => {
      void answer(req, res, metrics, routes).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new BatonError('FAILED_PRECONDITION', `cannot listen on --http-addr ${addr}: ${err.message}`)));
      server.listen(Number(m[2]), host, () => resolve());
    });
    return new HttpServer(server);
  }

  /** The port it listens on (useful with :0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, metrics: () => Promise<string>, routes: HttpRoute[]): Promise<void> {
  const path = (req.url ?? '').split('?')[0] ?? '';
  if (req.method === 'GET' && path === '/metrics') {
    const text = await metrics();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
    return;
  }
  for (const route of routes) if (await route(req, res, path)) return;
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics is served here\n');
}
