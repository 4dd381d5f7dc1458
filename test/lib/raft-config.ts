// The RaftConfig the pure core's tests run with: small windows and chunks, so that pipelining,
// batching and chunked snapshots show up with a handful of entries, and a seeded source of
// randomness, so that every run elects the same way.
import type { RaftConfig } from '../../raft/core/raw-node.js';

/** A seeded generator in [0, 1) (mulberry32): the core never uses Math.random. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A test node's config: election after 10 ticks, heartbeat every tick, 8 appends in flight of
 * 4 entries each, 7-byte snapshot chunks, pre-vote and check-quorum on. `seed` seeds its
 * randomness (default: from the id); anything else in `overrides` replaces the default.
 */
export function testRaftConfig(id: string, overrides: Partial<Omit<RaftConfig, 'id'>> & { seed?: number } = {}): RaftConfig {
  const { seed, ...rest } = overrides;
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    maxInflightMsgs: 8,
    maxEntriesPerMsg: 4,
    snapshotChunkSize: 7,
    preVote: true,
    checkQuorum: true,
    random: seededRandom(seed ?? id.charCodeAt(0)),
    ...rest,
  };
}
