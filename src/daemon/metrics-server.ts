// `--metrics-addr host:port`: a plain HTTP server answering GET /metrics with Prometheus text
// (the routing mesh's counters), for a scraper on the node's network; nothing else is served.
import { createServer, type Server } from 'node:http';
import { BatonError } from '../../rpc/errors.js';

export class MetricsServer {
  private constructor(private readonly server: Server) {}

  /** Listens on `addr` (host:port); `render` is called per scrape. */
  static async start(addr: string, render: () => string): Promise<MetricsServer> {
    const m = /^(.+):(\d+)$/.exec(addr);
    if (!m) throw new BatonError('INVALID_ARGUMENT', `bad --metrics-addr "${addr}" (want host:port)`);
    const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(render());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new BatonError('FAILED_PRECONDITION', `cannot listen on --metrics-addr ${addr}: ${err.message}`)));
      server.listen(Number(m[2]), host, () => resolve());
    });
    return new MetricsServer(server);
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
