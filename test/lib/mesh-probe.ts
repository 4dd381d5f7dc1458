// Clients for tests of the routing mesh: one HTTP request per connection, a raw TCP probe that
// tells a reset from a refusal, a UDP round trip, "is this port free to bind", and a client
// loop that runs while a CLI command does.
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { BATON, type BatonCluster } from './baton-cluster.js';

/** GET `path` on a fresh connection (no keep-alive): the body, or a rejection. */
export function httpGet(host: string, port: number, path = '/', timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** `n` requests one after the other; how often each answer (trimmed) came, and how many failed. */
export async function tally(host: string, port: number, n: number, path = '/'): Promise<{ answers: Map<string, number>; failures: string[] }> {
  const answers = new Map<string, number>();
  const failures: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const body = (await httpGet(host, port, path)).trim();
      answers.set(body, (answers.get(body) ?? 0) + 1);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  return { answers, failures };
}

/**
 * Connects and sends an HTTP request; says how the connection ended: 'answered' (some bytes
 * came back), 'reset' (RST, nothing came back), 'refused' (nothing listens), 'closed' (FIN,
 * nothing came back), or 'timeout'.
 */
export function tcpProbe(host: string, port: number, timeoutMs = 5_000): Promise<'answered' | 'reset' | 'refused' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let got = 0;
    let done = false;
    const finish = (r: 'answered' | 'reset' | 'refused' | 'closed' | 'timeout'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('data', (b: Buffer) => {
      got += b.length;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (got > 0) finish('answered');
      else finish(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'closed');
    });
    socket.on('close', () => finish(got > 0 ? 'answered' : 'closed'));
  });
}

/** Sends one datagram and waits for one back: its text, or a rejection after the timeout. */
export function udpRoundTrip(host: string, port: number, message: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP answer from ${host}:${port} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString('utf8'));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(message, port, host);
  });
}

/** Whether a TCP listener can be opened on host:port right now (it is closed again at once). */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The CLI against `node`, without blocking the event loop (so a client can keep going meanwhile); its exit code. */
export function cliAsync(c: BatonCluster, node: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BATON, ...args.slice(0, 2), '--data-dir', c.dataDir(node), ...args.slice(2)], { stdio: 'ignore' });
    p.on('exit', (code) => resolve(code));
  });
}

/** GETs of `path` round `hosts` for as long as `action` runs (at most 5,000), then its exit code and the failures. */
export async function requestsWhile(
  hosts: readonly string[],
  port: number,
  path: string,
  action: () => Promise<number | null>,
): Promise<{ code: number | null; total: number; failures: string[] }> {
  let done = false;
  const failures: string[] = [];
  let total = 0;
  const client = (async () => {
    for (let i = 0; i < 5_000 && !done; i++, total++) {
      await httpGet(hosts[i % hosts.length]!, port, path).catch((err: unknown) => failures.push(err instanceof Error ? err.message : String(err)));
    }
  })();
  const code = await action().finally(() => (done = true));
  await client;
  return { code, total, failures };
}
