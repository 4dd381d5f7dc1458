// One randomized run per seed: a chaos phase mixing every fault the simulator has (loss,
// duplication, reordering, partitions of several shapes, crashes with restarts from durable
// storage, crashes inside a Ready, membership changes, leadership transfers, compaction) under
// a stream of proposals and reads; then a healing phase that must reach one leader, commit new
// proposals and bring every live member to the same applied index within a bound.
import { EntryType } from '../../raft/core/types.js';
import { DEFAULT_CORE, Cluster, InvariantViolation, type ClusterOptions } from './cluster.js';
import { violation } from './invariants.js';
import { encodePut } from './kv.js';
import { MembershipDriver } from './membership.js';
import { RELIABLE, type NetworkConfig } from './network.js';
import { Rng } from './rng.js';

export interface FaultProfile {
  /** Per time unit, chance to start a partition episode when none is on. */
  partition: number;
  partitionUnits: [number, number];
  /** Per time unit, chance to crash a node. */
  crash: number;
  restartUnits: [number, number];
  membership: number;
  transfer: number;
  /** Background proposals and reads per time unit (when no workload replaces them). */
  propose: number;
  read: number;
  /** Compact a node's log once it holds more entries than this. */
  compactAbove: number;
}

export interface ScenarioParams {
  seed: number;
  cluster: ClusterOptions;
  faults: FaultProfile;
  chaosUnits: number;
  /** Bound on the healing phase: reach a stable leader within this many units... */
  stabilizeUnits: number;
  /** ...and then commit the new proposals everywhere within this many. */
  convergeUnits: number;
}

/** Something that issues client operations during the run (the KV clients of the lin test). */
export interface Workload {
  attach(cluster: Cluster): void;
  /** Called once per time unit; `open` is false once the chaos phase is over. */
  step(open: boolean): void;
  /** True when nothing is outstanding any more. */
  idle(): boolean;
}

export interface SeedStats {
  seed: number;
  units: number;
  elections: number;
  terms: number;
  maxApplied: number;
  crashes: number;
  readyCrashes: number;
  partitions: number;
  membership: { proposed: number; committed: number; lost: number };
  transfers: number;
  snapshotsInstalled: number;
  compactions: number;
  messages: { sent: number; delivered: number; lost: number; duplicated: number; cut: number };
  readsServed: number;
  healUnits: number;
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly invariant: string,
    readonly detail: string,
    readonly report: string,
  ) {
    super(report);
    this.name = 'SimFailure';
  }
}

export function replayCommand(seed: number, suite = 'raft-sim', env = ''): string {
  return `SIM_SEED=${seed}${env ? ' ' + env : ''} node scripts/run-tests.mjs ${suite}`;
}

/** Draw a run's parameters from its seed. */
export function paramsForSeed(seed: number, scale = 1): ScenarioParams {
  const r = new Rng(seed).fork('params');
  const net: NetworkConfig = {
    loss: r.pick([0, 0, 0.01, 0.05, 0.15]),
    duplicate: r.pick([0, 0.01, 0.05]),
    minDelay: 1,
    maxDelay: r.pick([1, 3, 6, 10]),
    longDelayChance: r.pick([0, 0.005, 0.03]),
    longDelay: r.pick([40, 150]),
  };
  const core: ClusterOptions['core'] = {
    ...DEFAULT_CORE,
    electionTick: 10,
    heartbeatTick: r.pick([1, 2, 3]),
    maxInflightMsgs: r.pick([1, 4, 16]),
    maxEntriesPerMsg: r.pick([1, 4, 64]),
    snapshotChunkSize: r.pick([16, 64, 4096]),
    preVote: r.chance(0.85),
    checkQuorum: r.chance(0.85),
    keepEntriesAfterCompaction: r.pick([0, 0, 4, 16]),
  };
  const faults: FaultProfile = {
    partition: r.pick([0, 1 / 1000, 1 / 300, 1 / 120]),
    partitionUnits: [20, r.pick([150, 400])],
    crash: r.pick([0, 1 / 1500, 1 / 500, 1 / 200]),
    restartUnits: [5, r.pick([80, 300])],
    membership: r.pick([0, 1 / 1000, 1 / 300, 1 / 150]),
    transfer: r.pick([0, 1 / 1500, 1 / 400]),
    propose: r.pick([1 / 30, 1 / 8, 1 / 3]),
    read: r.pick([0, 1 / 40, 1 / 10]),
    compactAbove: r.pick([6, 20, 60]),
  };
  return {
    seed,
    cluster: {
      seed,
      size: r.pick([1, 2, 3, 3, 3, 4, 5, 5]),
      core,
      tickUnits: 4,
      net,
      readyCrashChance: r.pick([0, 0.0005, 0.003]),
      // Slow disks: acknowledgements reach a leader while its own write is still under way.
      persistUnits: r.pick<[number, number]>([[0, 0], [0, 0], [0, 3], [2, 12]]),
      traceCapacity: 400,
    },
    faults,
    chaosUnits: Math.round(1200 * scale),
    stabilizeUnits: 4 * 10 * 2 * 40,
    convergeUnits: 4 * 10 * 2 * 10,
  };
}

type PartitionKind = 'split' | 'isolate-leader' | 'isolate' | 'one-way-out' | 'one-way-in' | 'flaky-links';

export interface RunOptions {
  workload?: Workload;
  /** Events printed on failure. */
  traceTail?: number;
  suite?: string;
  /** Extra environment for the replay command (e.g. a non-default SIM_SCALE). */
  replayEnv?: string;
  /** Called with the cluster right after it is built (tests use it to add listeners). */
  onCluster?: (c: Cluster) => void;
}

/** Run one seed. Returns stats; throws SimFailure with a full report on any violation. */
export function runScenario(params: ScenarioParams, options: RunOptions = {}): SeedStats {
  let cluster: Cluster | undefined;
  try {
    cluster = new Cluster(params.cluster);
    return drive(cluster, params, options);
  } catch (err) {
    throw toFailure(err, params, cluster, options);
  }
}

function toFailure(err: unknown, params: ScenarioParams, cluster: Cluster | undefined, options: RunOptions): SimFailure {
  const invariant = err instanceof InvariantViolation ? err.invariant : 'core threw';
  const detail = err instanceof InvariantViolation ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  const lines = [
    `seed ${params.seed} failed at t=${cluster?.now ?? 0}: ${detail}`,
    `replay: ${replayCommand(params.seed, options.suite, options.replayEnv)}`,
    `params: size=${params.cluster.size} core=${JSON.stringify(params.cluster.core)} net=${JSON.stringify(params.cluster.net)} faults=${JSON.stringify(params.faults)} readyCrash=${params.cluster.readyCrashChance} persistUnits=${JSON.stringify(params.cluster.persistUnits ?? [0, 0])}`,
  ];
  if (cluster) {
    lines.push('cluster:', ...cluster.describe().map((l) => '  ' + l));
    const n = options.traceTail ?? 80;
    lines.push(`last ${n} events:`, ...cluster.trace.tail(n).map((l) => '  ' + l));
  }
  return new SimFailure(params.seed, invariant, detail, lines.join('\n'));
}

function drive(cluster: Cluster, params: ScenarioParams, options: RunOptions): SeedStats {
  const f = params.faults;
  const rng = new Rng(params.seed).fork('faults');
  // A stream of its own, so that the choice leaves the fault stream of every seed as it was.
  const compactRng = new Rng(params.seed).fork('compact-later');
  const electionUnits = params.cluster.core.electionTick * params.cluster.tickUnits;
  const membership = new MembershipDriver(cluster, rng.fork('membership'), { maxMembers: 6, minVoters: 1 }, 2 * electionUnits);
  const workload = options.workload;
  options.onCluster?.(cluster);
  workload?.attach(cluster);

  let readsServed = 0;
  cluster.readListeners.push(() => readsServed++);
  let partitions = 0;
  let transfers = 0;
  let healAt = 0;
  const restartAt = new Map<string, number>();
  const proposals: { index: number; term: number; data: Uint8Array }[] = [];
  let propSeq = 0;

  const checkProposals = () => {
    for (let i = proposals.length - 1; i >= 0; i--) {
      const p = proposals[i]!;
      const a = cluster.inv.appliedAt(p.index);
      if (!a) continue;
      if (a.term === p.term && (a.type !== EntryType.ENTRY_NORMAL || !sameBytes(a.data, p.data))) {
        violation('proposal integrity', `the proposal accepted at ${p.index}/${p.term} was applied there with other data`);
      }
      proposals.splice(i, 1);
    }
  };

  const startPartition = () => {
    const ids = cluster.liveIds();
    if (ids.length < 2) return;
    const kind = rng.pick<PartitionKind>(['split', 'split', 'isolate-leader', 'isolate', 'one-way-out', 'one-way-in', 'flaky-links']);
    const leader = cluster.leader();
    const victim = kind === 'isolate-leader' && leader ? leader.id : rng.pick(ids);
    switch (kind) {
      case 'split': {
        const shuffled = rng.shuffle([...ids]);
        const k = rng.range(1, shuffled.length - 1);
        cluster.net.split(shuffled.slice(0, k), shuffled.slice(k));
        break;
      }
      case 'isolate-leader':
      case 'isolate':
        cluster.net.isolate(victim, ids);
        break;
      case 'one-way-out':
        for (const o of ids) cluster.net.cut(victim, o);
        break;
      case 'one-way-in':
        for (const o of ids) cluster.net.cut(o, victim);
        break;
      case 'flaky-links':
        for (const a of ids) for (const b of ids) if (a !== b && rng.chance(0.3)) cluster.net.cut(a, b);
        break;
    }
    partitions++;
    healAt = cluster.now + rng.range(f.partitionUnits[0], f.partitionUnits[1]);
    cluster.trace.add(cluster.now, '-', 'partition', `${kind} ${cluster.net.describeCuts()} until t=${healAt}`);
  };

  const chaosStep = () => {
    // Network.
    if (cluster.net.hasCuts && cluster.now >= healAt) {
      cluster.net.healAll();
      cluster.trace.add(cluster.now, '-', 'heal');
    } else if (!cluster.net.hasCuts && rng.chance(f.partition)) {
      startPartition();
    }
    // Crashes and restarts.
    for (const [id, at] of restartAt) {
      if (cluster.now >= at) {
        restartAt.delete(id);
        cluster.restart(id);
      }
    }
    if (rng.chance(f.crash)) {
      const live = cluster.liveIds();
      const up = cluster.upNodes();
      if (up.length > 0 && live.length - up.length < Math.ceil(live.length / 2)) {
        const leader = cluster.leader();
        const victim = leader && rng.chance(0.4) ? leader : rng.pick(up);
        cluster.crash(victim.id);
      }
    }
    // Membership and leadership.
    if (rng.chance(f.membership)) membership.tryRandomChange(true);
    if (rng.chance(f.transfer)) {
      const leader = cluster.leader();
      const voters = cluster.inv.latestConf().voters.filter((v) => v !== leader?.id);
      if (leader && voters.length > 0) {
        transfers++;
        cluster.transferLeadership(leader, rng.pick(voters));
      }
    }
    // Background traffic.
    if (!workload && rng.chance(f.propose)) {
      // Mostly to a node that believes it leads — a deposed one in a minority too, which is
      // what grows divergent tails for the new leader to overwrite.
      const up = cluster.upNodes();
      const leaders = cluster.leaders();
      const target = leaders.length > 0 && rng.chance(0.8) ? rng.pick(leaders) : up.length > 0 ? rng.pick(up) : undefined;
      if (target) {
        const seq = ++propSeq;
        const data = encodePut({ key: `k${rng.int(4)}`, value: `v${seq}`, id: `w${seq}` });
        const r = cluster.propose(target, data);
        if (r.ok) proposals.push({ index: r.index, term: r.term, data });
      }
    }
    if (!workload && rng.chance(f.read)) {
      const up = cluster.upNodes();
      if (up.length > 0) cluster.readIndex(rng.pick(up));
    }
    compactSome();
  };

  const compactSome = () => {
    for (const n of cluster.upNodes()) {
      if (n.storage.entries.length > f.compactAbove && rng.chance(0.1) && n.applied > n.storage.snapIndex) {
        // Half the time as a state machine that encodes its snapshot later (snapshotLater) does.
        if (compactRng.chance(0.5)) cluster.compactLater(n, compactRng.range(1, 40));
        else cluster.compact(n);
      }
    }
  };

  const pollAll = () => {
    membership.poll();
    checkProposals();
  };

  // ---- chaos ----
  cluster.run(params.chaosUnits, () => {
    chaosStep();
    workload?.step(true);
    pollAll();
  });

  // ---- heal ----
  const healStart = cluster.now;
  cluster.trace.add(cluster.now, '-', 'HEAL', 'all links restored, no more faults');
  cluster.net.healAll();
  cluster.net.config = { ...RELIABLE, maxDelay: Math.min(params.cluster.net.maxDelay, 4) };
  cluster.readyCrashes = false;
  for (const id of restartAt.keys()) cluster.restart(id);
  restartAt.clear();
  for (const n of cluster.nodes.values()) if (n.state === 'down') cluster.restart(n.id);

  // A membership change whose entry was lost stays unresolved until something else is
  // applied at its index: push the log along with filler proposals.
  let fillers = 0;
  const healStep = () => {
    const p = membership.pending;
    if (p && cluster.inv.maxApplied < p.index && cluster.now % electionUnits === 0) {
      const l = cluster.leader();
      if (l) {
        const missing = Math.max(1, p.index - l.core.status().lastIndex);
        for (let k = 0; k < missing; k++) cluster.propose(l, encodePut({ key: 'filler', value: `f${++fillers}`, id: `filler${fillers}` }));
      }
    }
    workload?.step(false);
    pollAll();
    compactSome();
  };

  const stable = (): boolean => {
    if (!membership.settled) return false;
    const leaders = cluster.leaders();
    if (leaders.length !== 1) return false;
    const leader = leaders[0]!;
    const ls = leader.core.status();
    for (const id of [...ls.conf.voters, ...ls.conf.learners]) {
      const n = cluster.nodes.get(id);
      if (!n || !n.up) return false;
      const s = n.core.status();
      if (s.term !== ls.term || s.leader !== leader.id) return false;
    }
    // Every running node must be a member (removed ones are shut down by now).
    for (const n of cluster.upNodes()) if (!ls.conf.voters.includes(n.id) && !ls.conf.learners.includes(n.id)) return false;
    return true;
  };

  // Stable means: the same leader, acknowledged by every member, for two longest election
  // timeouts in a row (long enough for any node that lost contact to have campaigned).
  const window = 2 * 2 * electionUnits;
  let stableSince = -1;
  let stableLeader = '';
  const stableLongEnough = (): boolean => {
    if (!stable()) {
      stableSince = -1;
      return false;
    }
    const l = cluster.leader()!;
    const key = `${l.id}/${l.core.status().term}`;
    if (stableSince < 0 || key !== stableLeader) {
      stableSince = cluster.now;
      stableLeader = key;
    }
    return cluster.now - stableSince >= window;
  };
  // A stable leader needs the membership settled, and a pending change commits only behind the
  // entries before it: with a window and a batch of one, one entry per round trip. So the bound
  // grows with the log not yet committed at the heal, by the rule the convergence bound uses.
  const roundTrip = 2 * (cluster.net.config.maxDelay + 1) + (params.cluster.persistUnits?.[1] ?? 0);
  let lastAtHeal = 0;
  let commitAtHeal = 0;
  for (const n of cluster.nodes.values()) {
    if (!n.up) continue;
    const s = n.core.status();
    lastAtHeal = Math.max(lastAtHeal, s.lastIndex);
    commitAtHeal = Math.max(commitAtHeal, s.commit);
  }
  const stabilizeLimit = params.stabilizeUnits + (membership.settled ? 0 : (lastAtHeal - commitAtHeal) * roundTrip);
  if (!cluster.runUntil(stableLongEnough, stabilizeLimit, healStep)) {
    violation('liveness', `no stable leader ${stabilizeLimit} units after healing (uncommitted at the heal: ${lastAtHeal - commitAtHeal} entries) (leaders: ${cluster.leaders().map((n) => n.id).join(',') || 'none'}; membership pending: ${membership.pending ? `${membership.pending.kind} ${membership.pending.nodeId} at ${membership.pending.index}` : 'no'})`);
  }
  const leader = cluster.leader()!;
  const term = leader.core.status().term;
  cluster.trace.add(cluster.now, leader.id, 'STABLE', `leader of term ${term}`);

  // Every proposal made now must commit, and everyone must converge.
  const mine: { index: number; term: number; data: Uint8Array }[] = [];
  for (let i = 0; i < 3; i++) {
    const data = encodePut({ key: 'live', value: `after-heal-${i}`, id: `live${i}` });
    const r = cluster.propose(leader, data);
    if (!r.ok) violation('liveness', `stable leader ${leader.id} rejected a proposal after healing: ${r.reason}`);
    mine.push({ index: r.index, term: r.term, data });
    proposals.push({ index: r.index, term: r.term, data });
  }
  const target = mine[mine.length - 1]!.index;
  const converged = (): boolean => {
    if (workload && !workload.idle()) return false;
    const members = cluster.inv.latestConf();
    const ids = [...members.voters, ...members.learners];
    let applied = -1;
    for (const id of ids) {
      const n = cluster.nodes.get(id);
      if (!n || !n.up) return false;
      if (n.applied < target) return false;
      if (applied === -1) applied = n.applied;
      else if (n.applied !== applied) return false;
    }
    return applied === leader.core.status().commit;
  };
  // A follower far behind needs time in proportion: at worst one entry (or one snapshot
  // chunk) per round trip (above), when the window and the batch are both one.
  const lsNow = leader.core.status();
  let backlog = 0;
  for (const id of [...lsNow.conf.voters, ...lsNow.conf.learners]) {
    const n = cluster.nodes.get(id);
    if (n) backlog = Math.max(backlog, lsNow.lastIndex - n.applied);
  }
  const chunks = Math.ceil(leader.storage.snapshot.data.length / Math.max(1, params.cluster.core.snapshotChunkSize));
  const convergeLimit = params.convergeUnits + (backlog + chunks) * roundTrip;
  const ok = cluster.runUntil(converged, convergeLimit, () => {
    healStep();
    const leaders = cluster.leaders();
    if (leaders.length !== 1 || leaders[0] !== leader || leader.core.status().term !== term) {
      violation('liveness', `leadership changed after the cluster healed and stabilized (was ${leader.id} in term ${term}, now ${leaders.map((n) => `${n.id}/${n.core.status().term}`).join(',') || 'none'})`);
    }
  });
  if (!ok) {
    violation('liveness', `members did not converge on the proposals ${mine.map((p) => p.index).join(',')} within ${convergeLimit} units of a stable leader (backlog ${backlog} entries, ${chunks} snapshot chunks)${workload && !workload.idle() ? ' (client operations still outstanding)' : ''}`);
  }
  for (const p of mine) {
    const a = cluster.inv.appliedAt(p.index);
    if (!a || a.term !== p.term) violation('liveness', `proposal ${p.index}/${p.term} made after healing did not commit`);
  }
  checkProposals();

  return {
    seed: params.seed,
    units: cluster.now,
    elections: cluster.counters.elections,
    terms: cluster.inv.termCount,
    maxApplied: cluster.inv.maxApplied,
    crashes: cluster.counters.crashes,
    readyCrashes: cluster.counters.readyCrashes,
    partitions,
    membership: { proposed: membership.stats.proposed, committed: membership.stats.committed, lost: membership.stats.lost },
    transfers,
    snapshotsInstalled: cluster.counters.snapshotsInstalled,
    compactions: cluster.counters.compactions,
    messages: { ...cluster.net.stats },
    readsServed,
    healUnits: cluster.now - healStart,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
