// What a benchmark needs from a replicated store, whoever implements it (our Raft KV example,
// etcd, later the manager's store): start members, find the leader, write to a member, kill
// and restart one. Members are numbered 0..size-1.
import { sleep, waitFor } from './proc.js';

export interface Write {
  key: string;
  /** The value's bytes (each system encodes them as its API wants). */
  value: Buffer;
  /** A unique id for the write (sent where the API has a place for it). */
  id: string;
}

export type WriteOutcome =
  | { ok: true }
  /** The member refused because it is not the leader; `leader` is its hint when it gave one. */
  | { ok: false; kind: 'not-leader'; leader: number | undefined; status: number }
  /** Any other failure: an HTTP error status, a network error or a timeout. */
  | { ok: false; kind: 'error'; status: number | undefined; error: string };

export interface ReplicatedCluster {
  /** Short name for tables ('baton', 'etcd'). */
  readonly system: string;
  readonly size: number;
  /** The settings that matter for reading the numbers (timeouts, fsync, version). */
  settings(): Record<string, unknown>;
  /** Start every member of a brand-new cluster; resolves once each serves its client API. */
  start(): Promise<void>;
  running(member: number): boolean;
  /** Process ids of the running members (for CPU accounting). */
  pids(): number[];
  /** The member every running member names as leader (and which says so itself), if any. */
  leader(): Promise<number | undefined>;
  /** Whether `member` runs, knows the leader and has applied what the leader had applied. */
  caughtUp(member: number): Promise<boolean>;
  write(member: number, w: Write, timeoutMs: number): Promise<WriteOutcome>;
  /** SIGKILL now (synchronously). */
  kill(member: number): void;
  /** Start a killed member again from its data; resolves once it serves its client API. */
  restart(member: number): Promise<void>;
  /** Stop every member (SIGTERM then SIGKILL) and free the client connections. */
  stop(): Promise<void>;
}

export async function waitForLeader(cluster: ReplicatedCluster, timeoutMs = 30_000): Promise<number> {
  let found: number | undefined;
  await waitFor(
    `${cluster.system}: a leader all members agree on`,
    async () => {
      found = await cluster.leader();
      return found !== undefined;
    },
    { timeoutMs: timeoutMs, intervalMs: 50 },
  );
  return found!;
}

/** Wait until a leader is agreed and every running member has caught up with it. */
export async function waitForHealthy(cluster: ReplicatedCluster, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const leader = await waitForLeader(cluster, timeoutMs);
  for (let m = 0; m < cluster.size; m++) {
    if (!cluster.running(m)) continue;
    await waitFor(`${cluster.system}: member ${m} caught up`, () => cluster.caughtUp(m), { timeoutMs: Math.max(1_000, deadline - Date.now()), intervalMs: 50 });
  }
  return leader;
}

/** Members other than `except` that are running, starting after `after` in ring order. */
export function liveMembers(cluster: ReplicatedCluster, after = -1): number[] {
  const out: number[] = [];
  for (let i = 1; i <= cluster.size; i++) {
    const m = (after + i + cluster.size) % cluster.size;
    if (cluster.running(m)) out.push(m);
  }
  return out;
}

/**
 * A client-side notion of where writes should go, shared by the clients of a load phase:
 * follows leader hints, and on errors moves to the next running member.
 */
export class LeaderTarget {
  constructor(
    private readonly cluster: ReplicatedCluster,
    public current: number,
  ) {}

  /**
   * Adjust after a failed write sent to `member`. Returns true when it followed a leader hint
   * (worth retrying at once), false when it merely moved on (retry after a pause).
   */
  onFailure(member: number, outcome: Exclude<WriteOutcome, { ok: true }>): boolean {
    if (member !== this.current) return false; // someone already moved on
    if (outcome.kind === 'not-leader' && outcome.leader !== undefined && outcome.leader !== member && this.cluster.running(outcome.leader)) {
      this.current = outcome.leader;
      return true;
    }
    this.current = liveMembers(this.cluster, member)[0] ?? member;
    return false;
  }
}

export { sleep };
