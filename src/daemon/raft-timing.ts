// --raft-tick and --election-timeout: this manager's Raft timing. A follower stands for election
// when it has heard nothing from its leader for a randomized [timeout, 2 × timeout), counted in
// ticks; the leader heartbeats every tick. The default (5 ticks of 100 ms) fails over fast on an
// idle machine, but a manager whose event loop stalls longer than that (a loaded machine, a leader
// busy with 1,000 nodes) loses its leadership to a healthy cluster; SwarmKit's default is 10 s
// (10 ticks of 1 s). Like etcd's --election-timeout it is a setting of each manager: give every
// manager of a cluster the same one (a manager with a shorter one stands first and more often).
import { RAFT_DEFAULTS } from '../../raft/index.js';

export interface RaftTiming {
  tickMs: number;
  electionTicks: number;
}

/** Below it a timer's own lateness is of the order of the tick. */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 10_000;
/** etcd's bound: a longer timeout hides a dead leader for longer than any stall it could excuse. */
const MAX_ELECTION_MS = 50_000;
/**
 * The fewest ticks in an election timeout: a follower must miss several heartbeats (one a tick)
 * before standing, as etcd's "at least 5 × --heartbeat-interval"; it is also today's default.
 */
const MIN_ELECTION_TICKS = 5;

/**
 * The timing of the given flags (durations in ms, already parsed), each missing one at its
 * default; or every problem with them, one phrase each. The timeout is rounded to whole ticks.
 */
export function raftTiming(flags: { tickMs?: number; electionTimeoutMs?: number }): { ok: true; value: RaftTiming } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const tickMs = flags.tickMs ?? RAFT_DEFAULTS.tickMs;
  if (tickMs < MIN_TICK_MS || tickMs > MAX_TICK_MS) problems.push(`--raft-tick ${ms(tickMs)} is out of range (want ${ms(MIN_TICK_MS)} to ${ms(MAX_TICK_MS)})`);
  const electionMs = flags.electionTimeoutMs ?? tickMs * RAFT_DEFAULTS.electionTicks;
  if (flags.electionTimeoutMs !== undefined && electionMs > MAX_ELECTION_MS) problems.push(`--election-timeout ${ms(electionMs)} is too long (at most ${ms(MAX_ELECTION_MS)})`);
  if (electionMs < MIN_ELECTION_TICKS * tickMs) {
    problems.push(`--election-timeout ${ms(electionMs)} must be at least ${MIN_ELECTION_TICKS} Raft ticks (${ms(MIN_ELECTION_TICKS * tickMs)} with --raft-tick ${ms(tickMs)})`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { tickMs, electionTicks: Math.round(electionMs / tickMs) } };
}

/** A duration as the flags take it: 500ms, 2s, 1.5s. */
function ms(n: number): string {
  return n >= 1000 ? `${n / 1000}s` : `${n}ms`;
}
