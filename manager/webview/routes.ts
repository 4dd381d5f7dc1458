// The web view's HTTP routes on a manager's --http-addr listener (src/daemon/http-server.ts):
// GET / (the page), /app.js (web/app.ts as tsc built it), /api/state (JSON) and /api/events
// (server-sent events). Read-only: nothing here changes the cluster.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PAGE } from './page.js';
import type { ViewFeed } from './feed.js';

/** The page's script: compiled by tsc beside this module's floor (dist/web/app.js). */
const APP_JS = new URL('../../web/app.js', import.meta.url);

export type WebRoute = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export function webViewRoute(feed: () => ViewFeed | undefined): WebRoute {
  let script: string | undefined;
  return (req, res, path) => {
    if (req.method !== 'GET' || !['/', '/app.js', '/api/state', '/api/events', '/favicon.ico'].includes(path)) return false;
    const f = feed();
    if (!f) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('this node is not a manager: the web view is served by managers\n');
      return true;
    }
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    switch (path) {
      case '/favicon.ico':
        // Browsers ask for it on their own; there is none, and a 404 would read as an error.
        res.writeHead(204, headers).end();
        return true;
      case '/':
        res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" }).end(PAGE);
        return true;
      case '/app.js':
        script ??= readFileSync(APP_JS, 'utf8');
        res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(script);
        return true;
      case '/api/state':
        res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(f.state()));
        return true;
      default:
        if (!f.open(res)) res.writeHead(503, { 'content-type': 'text/plain' }).end('too many open views on this manager\n');
        return true;
    }
  };
}
