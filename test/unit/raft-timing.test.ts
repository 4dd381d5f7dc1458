// --raft-tick and --election-timeout as the daemon checks them (src/daemon/raft-timing.ts):
// the ticks a manager's RaftNode is given, and every problem of a bad pair reported together.
import test from 'node:test';
import assert from 'node:assert/strict';
import { raftTiming } from '../../src/daemon/raft-timing.js';
import { RAFT_DEFAULTS } from '../../raft/index.js';

test('no flag is Raft\'s own default; a timeout alone is counted in default ticks', () => {
  assert.deepEqual(raftTiming({}), { ok: true, value: { tickMs: RAFT_DEFAULTS.tickMs, electionTicks: RAFT_DEFAULTS.electionTicks } });
  assert.deepEqual(raftTiming({ electionTimeoutMs: 10_000 }), { ok: true, value: { tickMs: 100, electionTicks: 100 } });
  assert.deepEqual(raftTiming({ electionTimeoutMs: 1_550 }), { ok: true, value: { tickMs: 100, electionTicks: 16 } }, 'rounded to whole ticks');
});

test('a tick alone keeps the default number of ticks; both together divide', () => {
  assert.deepEqual(raftTiming({ tickMs: 1000 }), { ok: true, value: { tickMs: 1000, electionTicks: RAFT_DEFAULTS.electionTicks } });
  assert.deepEqual(raftTiming({ tickMs: 1000, electionTimeoutMs: 10_000 }), { ok: true, value: { tickMs: 1000, electionTicks: 10 } }, "SwarmKit's default");
});

test('a timeout shorter than 5 ticks, a tick out of range, a timeout over 50 s: each named, all at once', () => {
  assert.deepEqual(raftTiming({ electionTimeoutMs: 300 }), { ok: false, problems: ['--election-timeout 300ms must be at least 5 Raft ticks (500ms with --raft-tick 100ms)'] });
  assert.deepEqual(raftTiming({ tickMs: 5, electionTimeoutMs: 60_000 }), {
    ok: false,
    problems: ['--raft-tick 5ms is out of range (want 10ms to 10s)', '--election-timeout 60s is too long (at most 50s)'],
  });
  assert.deepEqual(raftTiming({ tickMs: 20_000 }), {
    ok: false,
    problems: ['--raft-tick 20s is out of range (want 10ms to 10s)'],
  });
});
