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
