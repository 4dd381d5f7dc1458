// The open-loop load generator of bench:mesh --east-west-path (bench/lib/open-loop.ts), run as
// the benchmark runs it (a process of its own, reading its JSON) against a local HTTP server:
// it sends exactly rate × duration requests, a connection each, measures each from its intended
// send time (so a server stall counts for every request it delays), and counts failures by reason.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runOpenLoop } from '../../bench/lib/open-loop.js';
import { freePort } from '../../src/launcher/ports.js';

/** A server answering "ok" after `delayMs`; it counts requests and connections, and calls `onRequest` with each request's number. */
async function server(delayMs: number, onRequest: (n: number) => void = () => undefined): Promise<{ srv: Server; port: number; requests: () => number; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  const srv = createServer((_req, res) => {
    onRequest(++requests);
    setTimeout(() => res.end('ok'), delayMs);
  });
  srv.on('connection', () => connections++);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { srv, port: (srv.address() as AddressInfo).port, requests: () => requests, connections: () => connections };
}

test('open loop: exactly rate x duration requests, a connection each, latency from the intended send time', async (t) => {
  const s = await server(20);
  t.after(() => s.srv.close());
  const r = await runOpenLoop({ host: '127.0.0.1', port: s.port, rate: 40, durationS: 1 });
  assert.equal(r.sent, 40);
  assert.equal(r.ok, 40, `errors: ${JSON.stringify(r.errors)}`);
  assert.deepEqual(r.errors, {});
  assert.equal(s.requests(), 40);
  assert.equal(s.connections(), 40, 'one connection per request');
  assert.equal(r.samples.length, 40);
  // The server's 20 ms are in every figure; from the intended time the lag comes on top.
  assert.ok(r.serviceMs.min >= 20, `service min ${r.serviceMs.min}`);
  assert.ok(r.latencyMs.min >= 20, `latency min ${r.latencyMs.min}`);
  assert.ok(r.samples.every((v) => v >= 20 && Number.isFinite(v)), `samples ${r.samples.slice(0, 5).join(',')}...`);
  assert.ok(r.latencyMs.p50 >= r.serviceMs.min, 'latency from the intended time is never under the service time');
  // The handshake is part of each request's service time; the server's 20 ms come after it.
  assert.equal(r.connectMs.count, 40);
  for (const q of ['p50', 'p99', 'max'] as const) assert.ok(r.connectMs[q] <= r.serviceMs[q] - 20, `connect ${q} ${r.connectMs[q]}, service ${r.serviceMs[q]}`);
});

test('open loop: a server stall counts for every request sent during it (no coordinated omission)', async (t) => {
  const STALL_MS = 300;
  // The 10th request stops the server's event loop for 300 ms: the requests scheduled in that
  // window (every 10 ms) still go out and wait, each for the rest of the stall at least.
  const s = await server(0, (n) => {
    if (n !== 10) return;
    const until = Date.now() + STALL_MS;
    while (Date.now() < until) {
      // busy: nothing of this process runs meanwhile, as with a stalled server
    }
  });
  t.after(() => s.srv.close());
  const r = await runOpenLoop({ host: '127.0.0.1', port: s.port, rate: 100, durationS: 1 });
  assert.equal(r.sent, 100);
  assert.equal(r.ok, 100, `errors: ${JSON.stringify(r.errors)}`);
  // Request 10+k was intended 10k ms after request 10, which reached the server no earlier than
  // its own intended time: it is answered >= 300 - 10k ms after its intended time.
  const slow = r.samples.filter((v) => v >= 200).length;
  assert.ok(slow >= 10, `${slow} requests of ${r.samples.length} took >= 200 ms; the stall delayed at least 10`);
  assert.ok(r.latencyMs.max >= STALL_MS - 10, `max ${r.latencyMs.max}`);
});

test('open loop: the warm-up is sent on the same schedule and not counted', async (t) => {
  const s = await server(0);
  t.after(() => s.srv.close());
  const r = await runOpenLoop({ host: '127.0.0.1', port: s.port, rate: 40, durationS: 0.5, warmupS: 0.25 });
  assert.equal(s.requests(), 30, 'warm-up and measured requests all sent');
  assert.equal(r.sent, 20);
  assert.equal(r.ok, 20);
  assert.equal(r.samples.length, 20);
  assert.equal(r.lagMs.count, 20);
});

test('open loop: refused connections are counted, not measured', async () => {
  const port = await freePort();
  const r = await runOpenLoop({ host: '127.0.0.1', port, rate: 20, durationS: 0.5 });
  assert.equal(r.sent, 10);
  assert.equal(r.ok, 0);
  assert.deepEqual(r.errors, { 'connect ECONNREFUSED': 10 });
  assert.equal(r.samples.length, 0);
});

test('open loop command: bad flags refused in one line, all at once, exit 2; an unknown one too', () => {
  const script = fileURLToPath(new URL('../../bench/lib/open-loop.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--port', 'x', '--rate', '0', '--duration', '1', '--warmup=-1'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  for (const flag of ['--host', '--port', '--rate', '--warmup']) assert.ok(r.stderr.includes(flag), `${flag} in: ${r.stderr}`);
  assert.ok(!r.stderr.includes('--duration'), r.stderr);
  const unknown = spawnSync(process.execPath, [script, '--bogus'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^open-loop: .*--bogus.*\n$/);
});
