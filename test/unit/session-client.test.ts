// The node's session client over real gRPC (insecure, 127.0.0.1): it walks the manager list
// past managers that refuse the session, and when told the leader moved it goes to the leader
// first in the new list, not to wherever the walk had got to.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { dispatcherService, dispatcherSession } from '../../rpc/services.js';
import { SessionClient } from '../../worker/session.js';
import { waitFor } from '../lib/wait.js';

type SessionCall = grpc.ServerWritableStream<baton.internal.SessionRequest.$Properties, baton.internal.SessionMessage.$Properties>;

/** A manager that records who opened a session, then refuses it (a follower) or keeps it open (the leader). */
async function manager(name: string, calls: string[]): Promise<{ addr: string; leader: boolean; server: grpc.Server }> {
  const m = { addr: '', leader: false, server: new grpc.Server() };
  m.server.register(
    dispatcherSession.path,
    (call: SessionCall) => {
      calls.push(name);
      if (!m.leader) {
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: `${name} is not the leader` });
        return;
      }
      call.write({ full: true, tasks: [] });
    },
    dispatcherSession.responseSerialize,
    dispatcherSession.requestDeserialize,
    'serverStream',
  );
  const port = await new Promise<number>((resolve, reject) =>
    m.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  m.addr = `127.0.0.1:${port}`;
  return m;
}


test('a session walks past followers to the leader, and after a leader change starts from the new leader', async (t) => {
  const calls: string[] = [];
  const [a, b, c] = await Promise.all([manager('a', calls), manager('b', calls), manager('c', calls)]);
  t.after(() => {
    for (const m of [a, b, c]) m.server.forceShutdown();
  });
  c.leader = true;
  let list = [a, b, c].map((m) => ({ nodeId: m.addr, addr: m.addr }));
  let messages = 0;
  const session = new SessionClient({
    managers: () => list,
    credentials: () => grpc.credentials.createInsecure(),
    channelOptions: {},
    description: () => ({}),
    onMessage: () => messages++,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => session.stop());
  session.start();
  await waitFor('the session reaches c', () => messages === 1, { timeoutMs: 5_000, intervalMs: 25 });
  assert.deepEqual(calls, ['a', 'b', 'c'], 'followers a and b refused, then the leader c');

  // c loses the leadership to b; a heartbeat brings the new list, leader first, and the node reconnects.
  c.leader = false;
  b.leader = true;
  list = [b, a, c].map((m) => ({ nodeId: m.addr, addr: m.addr }));
  calls.length = 0;
  session.reconnect();
  await waitFor('the session reaches b', () => messages === 2, { timeoutMs: 5_000, intervalMs: 25 });
  assert.deepEqual(calls, ['b'], 'straight to the new leader');
});

test("status reports to the session's manager go over the session's connection, not a second one", async (t) => {
  // The peer address the server sees (the node's side of the TCP connection) for each call.
  const peers: { session: string[]; reports: string[] } = { session: [], reports: [] };
  const server = new grpc.Server();
  server.register(
    dispatcherSession.path,
    (call: SessionCall) => {
      peers.session.push(call.getPeer());
      call.write({ full: true, tasks: [] });
    },
    dispatcherSession.responseSerialize,
    dispatcherSession.requestDeserialize,
    'serverStream',
  );
  const report = dispatcherService.UpdateTaskStatus;
  server.register(
    report.path,
    (call: grpc.ServerUnaryCall<unknown, baton.Empty.$Properties>, done: grpc.sendUnaryData<baton.Empty.$Properties>) => {
      peers.reports.push(call.getPeer());
      done(null, {});
    },
    report.responseSerialize,
    report.requestDeserialize,
    'unary',
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  const addr = `127.0.0.1:${port}`;
  let messages = 0;
  const session = new SessionClient({
    managers: () => [{ nodeId: 'm', addr }],
    credentials: () => grpc.credentials.createInsecure(),
    // A channel of its own for the reports would not be shared with the session's by grpc-js's pool either.
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    description: () => ({}),
    onMessage: () => messages++,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => session.stop());
  session.start();
  await waitFor('the session is open', () => messages === 1, { timeoutMs: 5_000, intervalMs: 25 });
  await session.report([{ taskId: 't1', status: {} }]);
  await session.report([{ taskId: 't2', status: {} }]);
  assert.equal(peers.session.length, 1);
  assert.deepEqual(peers.reports, [peers.session[0], peers.session[0]], 'both reports from the session connection');
});
