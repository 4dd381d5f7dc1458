// `baton init|join --election-timeout --raft-tick`: a manager runs with the Raft timing it was
// given (baton info's Raft section is the answering manager's), and bad values are one line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, baton } from '../lib/baton-cluster.js';

test('bad --raft-tick and --election-timeout: one line naming both, non-zero exit, nothing started', () => {
  const r = baton(['init', '--data-dir', `/nonexistent/baton-${process.pid}`, '--listen-addr', '127.0.0.1:0', '--raft-tick', 'fast', '--election-timeout', '0']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, 'exactly one error line, no stack trace');
  assert.match(r.stderr, /bad duration "fast" for --raft-tick/);
  assert.match(r.stderr, /--election-timeout must be positive/);
  const short = baton(['join', '--token', 'x', '127.0.0.1:1', '--data-dir', `/nonexistent/baton-${process.pid}`, '--election-timeout', '400ms']);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /^Error: --election-timeout 400ms must be at least 5 Raft ticks \(500ms with --raft-tick 100ms\)\n$/);
});

test('a manager started with --election-timeout 3s --raft-tick 200ms runs 15 ticks of 200 ms; one joined without them, the defaults', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--election-timeout', '3s', '--raft-tick', '200ms']);
  await c.join('m2', 'manager', 'm1');
  const raft = (on: string): unknown => {
    const r = c.cli(on, ['info', '--format=json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { Swarm: { Cluster: { Spec: { Raft: { ElectionTick: number; TickMs: number } } } } }).Swarm.Cluster.Spec.Raft;
  };
  assert.deepEqual(raft('m1'), { SnapshotInterval: 10_000, HeartbeatTick: 1, ElectionTick: 15, TickMs: 200 });
  assert.deepEqual(raft('m2'), { SnapshotInterval: 10_000, HeartbeatTick: 1, ElectionTick: 5, TickMs: 100 });
});
