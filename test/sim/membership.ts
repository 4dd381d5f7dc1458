// Membership changes driven from outside, the way an operator (or the manager) would: one at a
// time through the leader — add a voter (a new, empty node), add a learner and later promote
// it, remove a node (the leader included). A change's fate is read from what the cluster
// applied at its index: the same term means it happened, another term means it was lost.
import { ConfChangeType } from '../../raft/core/types.js';
import type { Cluster } from './cluster.js';
import type { Rng } from './rng.js';

export type ChangeKind = 'add-voter' | 'add-learner' | 'promote' | 'remove';

interface Pending {
  kind: ChangeKind;
  nodeId: string;
  index: number;
  term: number;
  at: number;
}

export interface MembershipLimits {
  maxMembers: number;
  minVoters: number;
}

export class MembershipDriver {
  pending: Pending | undefined;
  /** Learners whose addition committed, waiting to be promoted. */
  readonly toPromote: string[] = [];
  /**
   * Removed nodes waiting for every remaining voter to apply their removal (index) and hold its
   * commit durably: only then do they shut down, as an etcd member does when its peers start
   * refusing it. A removed node that exits as soon as it applies its own removal can strand a survivor whose applied
   * configuration still counts it (two voters, the leader removes itself, its last commit
   * notice is lost): that is an operator's mistake the core cannot undo.
   */
  readonly removed = new Map<string, number>();
  /** Removed nodes and when to shut them down (a removed node lingers a little, like a real one). */
  readonly stopAt = new Map<string, number>();
  readonly stats = { proposed: 0, committed: 0, lost: 0, byKind: {} as Record<string, number> };

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Rng,
    private readonly limits: MembershipLimits,
    /** Longest a removed node keeps running before it is shut down, in time units. */
    private readonly lingerMax: number,
  ) {}

  /** Try to start a random change; returns what was proposed, if anything. */
  tryRandomChange(allowRemoveLeader: boolean): ChangeKind | undefined {
    if (this.pending) return undefined;
    const conf = this.cluster.inv.latestConf();
    const members = conf.voters.length + conf.learners.length;
    const options: ChangeKind[] = [];
    if (members < this.limits.maxMembers) options.push('add-voter', 'add-learner');
    if (this.toPromote.length > 0) options.push('promote', 'promote');
    if (conf.voters.length > this.limits.minVoters || conf.learners.length > 0) options.push('remove');
    if (options.length === 0) return undefined;
    const kind = this.rng.pick(options);
    return this.start(kind, allowRemoveLeader) ? kind : undefined;
  }

  /** Propose one change of `kind` through the current leader. */
  start(kind: ChangeKind, allowRemoveLeader = true, target?: string): boolean {
    if (this.pending) return false;
    const leader = this.cluster.leader();
    if (!leader) return false;
    const conf = this.cluster.inv.latestConf();
    let nodeId: string;
    let type: ConfChangeType;
    switch (kind) {
      case 'add-voter':
      case 'add-learner': {
        nodeId = target ?? this.cluster.reserveId();
        type = kind === 'add-voter' ? ConfChangeType.ADD_VOTER : ConfChangeType.ADD_LEARNER;
        break;
      }
      case 'promote': {
        const candidates = this.toPromote.filter((id) => conf.learners.includes(id));
        if (candidates.length === 0) return false;
        nodeId = target ?? this.rng.pick(candidates);
        type = ConfChangeType.ADD_VOTER;
        break;
      }
      case 'remove': {
        const canRemoveVoter = conf.voters.length > this.limits.minVoters;
        let candidates = [...conf.learners, ...(canRemoveVoter ? conf.voters : [])];
        if (!allowRemoveLeader) candidates = candidates.filter((id) => id !== leader.id);
        if (target === undefined && candidates.length === 0) return false;
        nodeId = target ?? this.rng.pick(candidates);
        type = ConfChangeType.REMOVE_NODE;
        break;
      }
    }
    const r = this.cluster.proposeConfChange(leader, type, nodeId);
    if (!r.ok) return false;
    this.stats.proposed++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
    if ((kind === 'add-voter' || kind === 'add-learner') && !this.cluster.nodes.has(nodeId)) {
      this.cluster.addEmptyNode(nodeId);
    }
    if (kind === 'promote') this.toPromote.splice(this.toPromote.indexOf(nodeId), 1);
    this.pending = { kind, nodeId, index: r.index, term: r.term, at: this.cluster.now };
    return true;
  }

  /** Resolve the pending change from what was applied; shut down removed nodes when due. */
  poll(): void {
    const p = this.pending;
    if (p) {
      const applied = this.cluster.inv.appliedAt(p.index);
      if (applied) {
        this.pending = undefined;
        if (applied.term === p.term) {
          this.stats.committed++;
          this.cluster.trace.add(this.cluster.now, p.nodeId, 'membership', `${p.kind} committed at ${p.index}`);
          if (p.kind === 'add-learner') this.toPromote.push(p.nodeId);
          if (p.kind === 'remove') this.removed.set(p.nodeId, p.index);
        } else {
          this.stats.lost++;
          this.cluster.trace.add(this.cluster.now, p.nodeId, 'membership', `${p.kind} lost (index ${p.index} applied with term ${applied.term})`);
          if (p.kind === 'add-voter' || p.kind === 'add-learner') this.cluster.stop(p.nodeId);
          if (p.kind === 'promote') this.toPromote.push(p.nodeId);
        }
      }
    }
    for (const [id, index] of this.removed) {
      const voters = this.cluster.inv.latestConf().voters;
      const allApplied = voters.every((v) => {
        const n = this.cluster.nodes.get(v);
        // Applied, and known committed on disk: a survivor that applied the removal but would
        // forget in a crash that it committed would count the removed node again (persistPlan).
        return n !== undefined && n.up && n.applied >= index && Math.max(n.storage.hardState.commit, n.storage.snapIndex) >= index;
      });
      if (allApplied) {
        this.removed.delete(id);
        this.stopAt.set(id, this.cluster.now + this.rng.int(this.lingerMax + 1));
      }
    }
    for (const [id, at] of this.stopAt) {
      if (this.cluster.now >= at) {
        this.stopAt.delete(id);
        this.cluster.stop(id);
      }
    }
  }

  /** Shut down removed nodes now instead of letting them linger. */
  hurry(): void {
    for (const id of this.stopAt.keys()) this.stopAt.set(id, Math.min(this.stopAt.get(id)!, this.cluster.now));
  }

  get settled(): boolean {
    return !this.pending && this.stopAt.size === 0 && this.removed.size === 0;
  }
}
