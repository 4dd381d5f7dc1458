// A small HTTP/1.1 client on node:http with keep-alive agents: what the load generator uses
// against every system, so both sides of a comparison pay the same client cost.
import { Agent, request } from 'node:http';

export interface HttpTarget {
  host: string;
  port: number;
}

export interface HttpResponse {
  status: number;
  body: string;
}

/** A keep-alive agent able to hold one connection per concurrent client. */
export function keepAliveAgent(maxSockets = 256): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, keepAliveMsecs: 10_000 });
}

export interface HttpRequestOptions {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Abort after this many ms (rejects with code ETIMEDOUT). */
  timeoutMs?: number;
  agent?: Agent;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** One request; resolves with any status (it is the caller's to judge), rejects on network errors. */
export function httpRequest(target: HttpTarget, opts: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
    const headers: Record<string, string | number> = { ...opts.headers };
    if (body) headers['content-length'] = body.length;
    const req = request(
      { host: target.host, port: target.port, method: opts.method, path: opts.path, headers, ...(opts.agent ? { agent: opts.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (timer) clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          if (timer) clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = opts.timeoutMs
      ? setTimeout(() => req.destroy(new HttpError(`${opts.method} ${opts.path}: no answer in ${opts.timeoutMs} ms`, 'ETIMEDOUT')), opts.timeoutMs)
      : undefined;
    req.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

/** The error code of a network error (ECONNREFUSED, ECONNRESET, ETIMEDOUT...) or its message. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

/** Parse a JSON body, or undefined when it is not JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
