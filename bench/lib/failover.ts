// Failover time of a replicated store: SIGKILL the leader while a client writes continuously,
// and measure from the kill to the first successful write that was *sent after* the kill.
//
// The client sends a write every `intervalMs` (10 ms) to its current target without waiting
// for earlier ones to finish (a write stuck on a member that forwards to the dead leader must
// not hide the moment the new leader accepts writes), follows leader hints at once, and moves
// to the next running member after an error. The killed member is then restarted and the
// next kill waits until it has caught up and the cluster is settled.
import { performance } from 'node:perf_hooks';
import { LeaderTarget, liveMembers, waitForHealthy, type ReplicatedCluster, type WriteOutcome } from './cluster.js';
import { median } from './stats.js';
import { sleep } from './proc.js';

export interface FailoverOptions {
  kills: number;
  /** A write to send (fresh key/id per call). */
  makeWrite: (seq: number) => { key: string; value: Buffer; id: string };
  /** Pause between successive sends of the client loop (at most 10 ms per the spec). */
  intervalMs?: number;
  /** The client writes for this long before the kill (its successes do not count). */
  leadInMs?: number;
  /** Give up on one kill after this long. */
  giveUpMs?: number;
  /** Quiet time after the cluster is healthy again before the next kill. */
  settleMs?: number;
  writeTimeoutMs?: number;
  onKill?: (k: FailoverSample) => void;
}

export interface FailoverSample {
  kill: number;
  killedMember: number;
  /** ms from SIGKILL to the first 200 of a write sent after it; undefined when none came in time. */
  ms: number | undefined;
  /** Member that acknowledged that write. */
  ackedBy: number | undefined;
  /** Writes sent after the kill until then. */
  attempts: number;
  /** ms from the restart of the killed member until the cluster was healthy again. */
  recoverMs: number;
}

export interface FailoverResult {
  kills: number;
  samples: FailoverSample[];
  medianMs: number;
  maxMs: number;
  minMs: number;
  /** Kills with no acknowledged write within giveUpMs. */
  failures: number;
}

/** `opts.kills` kills of the leader of one cluster, one after the other. */
export async function measureFailover(cluster: ReplicatedCluster, opts: FailoverOptions): Promise<FailoverResult> {
  const samples: FailoverSample[] = [];
  const runner = new FailoverRunner(cluster, opts);
  for (let k = 0; k < opts.kills; k++) samples.push(await runner.killLeader());
  return summarizeFailover(samples);
}

/** Kills one at a time, so that kills of several clusters can be interleaved in one run. */
export class FailoverRunner {
  private seq = 0;
  private kills = 0;

  constructor(
    private readonly cluster: ReplicatedCluster,
    private readonly opts: Omit<FailoverOptions, 'kills'>,
  ) {}

  /** Wait for a healthy, settled cluster; SIGKILL its leader; measure; restart it and wait healthy. */
  async killLeader(): Promise<FailoverSample> {
    const leader = await waitForHealthy(this.cluster);
    await sleep(this.opts.settleMs ?? 1_000);
    const sample = await oneKill(this.cluster, leader, this.kills++, () => this.opts.makeWrite(this.seq++), this.opts);
    const t = performance.now();
    await this.cluster.restart(leader);
    await waitForHealthy(this.cluster);
    sample.recoverMs = performance.now() - t;
    this.opts.onKill?.(sample);
    return sample;
  }
}

export function summarizeFailover(samples: FailoverSample[]): FailoverResult {
  const times = samples.map((s) => s.ms).filter((v): v is number => v !== undefined);
  return {
    kills: samples.length,
    samples,
    medianMs: median(times),
    maxMs: times.length ? Math.max(...times) : Number.NaN,
    minMs: times.length ? Math.min(...times) : Number.NaN,
    failures: samples.length - times.length,
  };
}

async function oneKill(
  cluster: ReplicatedCluster,
  leader: number,
  kill: number,
  nextWrite: () => { key: string; value: Buffer; id: string },
  opts: Omit<FailoverOptions, 'kills'>,
): Promise<FailoverSample> {
  const interval = opts.intervalMs ?? 10;
  const target = new LeaderTarget(cluster, leader);
  let killedAt: number | undefined = undefined;
  let attempts = 0;
  let inflight = 0;
  let finished = false;
  let resolveDone!: (s: { ms: number | undefined; ackedBy: number | undefined }) => void;
  const done = new Promise<{ ms: number | undefined; ackedBy: number | undefined }>((r) => (resolveDone = r));

  const finish = (ms: number | undefined, ackedBy: number | undefined): void => {
    if (finished) return;
    finished = true;
    clearInterval(ticker);
    resolveDone({ ms, ackedBy });
  };

  const send = (): void => {
    if (finished || inflight >= 2_000) return;
    const member = target.current;
    const sentAt = performance.now();
    const afterKill = killedAt !== undefined && sentAt >= killedAt;
    if (afterKill) attempts++;
    inflight++;
    cluster.write(member, nextWrite(), opts.writeTimeoutMs ?? 10_000).then(
      (outcome: WriteOutcome) => {
        inflight--;
        if (finished) return;
        if (outcome.ok) {
          if (afterKill) finish(performance.now() - killedAt!, member);
          return;
        }
        // A fresh leader hint is followed at once; other errors wait for the next tick.
        // (At most a few hops per tick, so stale hints pointing at each other cannot spin.)
        if (target.onFailure(member, outcome) && hops++ < 3) send();
      },
      () => {
        inflight--;
      },
    );
  };

  let hops = 0;
  const ticker = setInterval(() => {
    hops = 0;
    send();
  }, interval);
  send();
  await sleep(opts.leadInMs ?? 300);
  killedAt = performance.now();
  cluster.kill(leader);
  // Writes still aimed at the dead member fail fast (connection refused) and move on; make
  // sure the client does not sit on the killed member if the last answer came before the kill.
  if (target.current === leader) target.current = liveMembers(cluster, leader)[0] ?? leader;
  const giveUp = setTimeout(() => finish(undefined, undefined), opts.giveUpMs ?? 30_000);
  const result = await done;
  clearTimeout(giveUp);
  return { kill, killedMember: leader, ms: result.ms, ackedBy: result.ackedBy, attempts, recoverMs: 0 };
}
