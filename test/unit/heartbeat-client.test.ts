// The node's heartbeat client over real gRPC (insecure, 127.0.0.1): it follows the period the
// leader gives, and a failed heartbeat is retried at once on the next manager, not a period
// later. In a big cluster the period told is long (5 s at 1,000 nodes) and the leader allows
// only 2 s past it (dispatcher/heartbeats.ts): a period's wait after a failure would be a node
// marked down while it lives.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { BatonError } from '../../rpc/errors.js';
import { addService } from '../../rpc/server.js';
import { dispatcherService } from '../../rpc/services.js';
import { HeartbeatClient } from '../../worker/heartbeat.js';
import { waitFor } from '../lib/wait.js';

/** A manager whose Heartbeat records the call and answers (with a period) or refuses. */
async function manager(name: string, calls: string[], answer: { periodMs: number } | undefined): Promise<{ addr: string; server: grpc.Server }> {
  const server = new grpc.Server();
  addService(
    server,
    dispatcherService,
    {
      Heartbeat: () => {
        calls.push(name);
        if (!answer) return Promise.reject(new BatonError('UNAVAILABLE', `${name} is not serving`));
        return Promise.resolve({ periodMs: answer.periodMs, managers: [] });
      },
      UpdateTaskStatus: () => Promise.resolve({}),
    },
    pino({ level: 'silent' }),
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { addr: `127.0.0.1:${port}`, server };
}

test('a failed heartbeat is retried at once on the next manager, not a period later', async (t) => {
  const calls: string[] = [];
  // A period of a minute: any retry that waited for it would miss the deadlines below.
  const [a, b] = await Promise.all([manager('a', calls, undefined), manager('b', calls, { periodMs: 60_000 })]);
  t.after(() => {
    for (const m of [a, b]) m.server.forceShutdown();
  });
  const hb = new HeartbeatClient({
    managers: () => [a, b].map((m) => ({ nodeId: m.addr, addr: m.addr })),
    credentials: () => grpc.credentials.createInsecure(),
    channelOptions: {},
    addr: '127.0.0.1:1',
    description: {},
    logger: pino({ level: 'silent' }),
    onResponse: () => undefined,
    initialPeriodMs: 60_000,
  });
  t.after(() => hb.stop());
  hb.start();
  await waitFor('the heartbeat to reach b after a refused it', () => calls.includes('b'), { timeoutMs: 20_000, intervalMs: 25 });
  assert.deepEqual(calls, ['a', 'b']);
});

test('the period runs from when a heartbeat was sent: a late answer is not added to the node\'s silence', async (t) => {
  // The leader counts a node's allowance (the period told plus the grace) from when it handled
  // the heartbeat. Here its answer takes 2 s to come back: a client that waited a whole period
  // after the answer would reach the leader 4.5 s after its last heartbeat, not 2.5 s.
  const arrivals: number[] = [];
  const server = new grpc.Server();
  addService(
    server,
    dispatcherService,
    {
      Heartbeat: async () => {
        arrivals.push(performance.now());
        if (arrivals.length === 1) await new Promise((r) => setTimeout(r, 2_000));
        return { periodMs: 2_500, managers: [] };
      },
      UpdateTaskStatus: () => Promise.resolve({}),
    },
    pino({ level: 'silent' }),
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  t.after(() => server.forceShutdown());
  const addr = `127.0.0.1:${port}`;
  const hb = new HeartbeatClient({
    managers: () => [{ nodeId: 'm', addr }],
    credentials: () => grpc.credentials.createInsecure(),
    channelOptions: {},
    addr: '127.0.0.1:1',
    description: {},
    logger: pino({ level: 'silent' }),
    onResponse: () => undefined,
    // Its deadline (3.5 s) lets the 2 s answer through.
    initialPeriodMs: 2_500,
  });
  t.after(() => hb.stop());
  hb.start();
  await waitFor('a second heartbeat', () => arrivals.length >= 2, { timeoutMs: 20_000, intervalMs: 25 });
  const gap = arrivals[1]! - arrivals[0]!;
  // About 2.5 s (one period from the first one's sending); waiting after the answer makes it
  // 4.5 s at the least. Not before the period either: one heartbeat per period, not one per answer.
  assert.ok(gap < 4_000, `the second heartbeat came ${Math.round(gap)} ms after the first: the answer's 2 s were added to the period`);
  assert.ok(gap >= 1_500, `the second heartbeat came ${Math.round(gap)} ms after the first, before the period`);
});
