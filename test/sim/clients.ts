// Concurrent simulated clients of the replicated KV, recording a history for the
// linearizability checker. Each client runs one operation at a time:
// - put/append go to the leader (following not-leader hints, retrying elsewhere); an accepted
//   proposal succeeded iff the entry applied at its index has its term. A different term
//   there means it definitely failed, and the client tries again; a crash of that node, a
//   snapshot that jumps over the index, or a timeout leave it indeterminate (it may or may
//   not have taken effect: return = Infinity);
// - get asks any node for a read index (followers forward to the leader) and answers from
//   that node's state machine once it has applied up to the read point; a get that gets no
//   answer had no effect and is left out.
// Call and return times come from one counter that ticks on every event, so the history's
// real-time order is exactly the order things happened in the simulation.
import type { KvInput, KvOutput, Operation } from '../lib/linearizability.js';
import type { Cluster } from './cluster.js';
import { encodeCommand } from './kv.js';
import type { Rng } from './rng.js';
import type { SimNode } from './sim-node.js';
import type { Workload } from './scenario.js';

export interface KvClientOptions {
  clients: number;
  keys: number;
  /** Share of reads among operations. */
  readShare: number;
  /** Share of appends among writes (the rest are puts). */
  appendShare: number;
  /** Idle time between a client's operations, uniform in [0, thinkMax] units. */
  thinkMax: number;
  /** A client gives up on an operation after this many units. */
  opTimeout: number;
  /** A read attempt that got no answer is retried (elsewhere) after this many units. */
  readRetry: number;
}

type KvOp = Operation<KvInput, KvOutput>;

interface WriteAttempt {
  kind: 'write';
  node: SimNode;
  incarnation: number;
  index: number;
  term: number;
}

interface ReadAttempt {
  kind: 'read';
  node: SimNode;
  incarnation: number;
  ctx: string;
  at: number;
}

interface Pending {
  input: KvInput;
  call: number;
  deadline: number;
  retryAt: number;
  attempt: WriteAttempt | ReadAttempt | undefined;
}

interface Client {
  id: number;
  op: Pending | undefined;
  nextAt: number;
  seq: number;
  leaderHint: string;
}

export interface ClientStats {
  ok: number;
  indeterminate: number;
  failed: number;
  readsOk: number;
  readsDropped: number;
  retries: number;
}

export class KvClients implements Workload {
  readonly history: KvOp[] = [];
  readonly stats: ClientStats = { ok: 0, indeterminate: 0, failed: 0, readsOk: 0, readsDropped: 0, retries: 0 };
  private cluster: Cluster | undefined;
  private readonly clients: Client[] = [];
  private clock = 0;
  private readonly writes = new Map<string, Client>();
  private readonly reads = new Map<string, Client>();

  constructor(
    private readonly rng: Rng,
    private readonly opts: KvClientOptions,
  ) {
    for (let i = 0; i < opts.clients; i++) this.clients.push({ id: i, op: undefined, nextAt: 0, seq: 0, leaderHint: '' });
  }

  attach(cluster: Cluster): void {
    this.cluster = cluster;
    cluster.applyListeners.push((node, e) => {
      const key = `${node.id}#${node.incarnation}@${e.index}`;
      const c = this.writes.get(key);
      if (!c || !c.op || c.op.attempt?.kind !== 'write') return;
      this.writes.delete(key);
      if (e.term === c.op.attempt.term) {
        this.finish(c, null);
      } else {
        // Another entry took the index: this attempt can never apply. Try again.
        this.trace(c, `attempt at ${e.index}/${c.op.attempt.term} lost to term ${e.term}; retrying`);
        c.op.attempt = undefined;
        c.op.retryAt = this.now + 1;
        this.stats.retries++;
      }
    });
    cluster.readListeners.push((node, rs) => {
      const ctx = new TextDecoder().decode(rs.context);
      const c = this.reads.get(ctx);
      if (!c || !c.op || c.op.attempt?.kind !== 'read' || c.op.attempt.node !== node) return;
      this.reads.delete(ctx);
      this.finish(c, node.sm.get(c.op.input.key) ?? null);
    });
    cluster.crashListeners.push((node) => {
      for (const c of this.clients) {
        const a = c.op?.attempt;
        if (!a || a.node !== node) continue;
        if (a.kind === 'write') this.indeterminate(c, `${node.id} crashed before applying ${a.index}`);
        else this.abandonRead(c, `${node.id} crashed`);
      }
    });
  }

  private get now(): number {
    return this.cluster!.now;
  }

  private trace(c: Client, what: string): void {
    this.cluster!.trace.add(this.now, `c${c.id}`, what);
  }

  idle(): boolean {
    return this.clients.every((c) => c.op === undefined);
  }

  step(open: boolean): void {
    const cluster = this.cluster!;
    for (const c of this.clients) {
      if (!c.op) {
        if (open && this.now >= c.nextAt) this.begin(c);
        else continue;
      }
      const op = c.op!;
      const a = op.attempt;
      if (a?.kind === 'write') {
        if (a.node.incarnation !== a.incarnation || !a.node.up) this.indeterminate(c, `${a.node.id} went down`);
        else if (a.node.applied >= a.index) this.indeterminate(c, `${a.node.id} jumped past ${a.index} by a snapshot`);
        else if (this.now > op.deadline) this.indeterminate(c, 'timed out');
        continue;
      }
      if (a?.kind === 'read') {
        if (this.now > op.deadline) this.abandonRead(c, 'timed out');
        else if (this.now - a.at > this.opts.readRetry) {
          this.reads.delete(a.ctx);
          op.attempt = undefined;
          this.stats.retries++;
        } else continue;
      }
      if (!c.op || this.now < c.op.retryAt) continue;
      if (this.now > c.op.deadline) {
        // Every attempt was refused or definitely lost: the operation had no effect.
        if (c.op.input.op === 'get') this.stats.readsDropped++;
        else this.stats.failed++;
        this.trace(c, `gave up on ${describe(c.op.input)} (no effect)`);
        this.done(c);
        continue;
      }
      this.attempt(c, cluster);
    }
  }

  private begin(c: Client): void {
    const key = `k${this.rng.int(this.opts.keys)}`;
    let input: KvInput;
    if (this.rng.chance(this.opts.readShare)) input = { op: 'get', key };
    else if (this.rng.chance(this.opts.appendShare)) input = { op: 'append', key, value: `${c.id}.${++c.seq};` };
    else input = { op: 'put', key, value: `${c.id}.${++c.seq}` };
    c.op = { input, call: ++this.clock, deadline: this.now + this.opts.opTimeout, retryAt: this.now, attempt: undefined };
    this.trace(c, `call ${describe(input)}`);
  }

  private pickNode(c: Client, preferLeader: boolean): SimNode | undefined {
    const cluster = this.cluster!;
    const hinted = c.leaderHint ? cluster.nodes.get(c.leaderHint) : undefined;
    if (hinted?.up && (preferLeader || this.rng.chance(0.5))) return hinted;
    const up = cluster.upNodes();
    return up.length > 0 ? this.rng.pick(up) : undefined;
  }

  private attempt(c: Client, cluster: Cluster): void {
    const op = c.op!;
    const input = op.input;
    const node = this.pickNode(c, input.op !== 'get');
    if (!node) {
      op.retryAt = this.now + 5;
      return;
    }
    if (input.op === 'get') {
      const ctx = cluster.readIndex(node, (ctx) => {
        op.attempt = { kind: 'read', node, incarnation: node.incarnation, ctx, at: this.now };
        this.reads.set(ctx, c);
      });
      if (ctx === undefined) {
        if (op.attempt?.kind === 'read') this.reads.delete(op.attempt.ctx);
        op.attempt = undefined;
        if (node.up) c.leaderHint = node.core.status().leader;
        op.retryAt = this.now + 1 + this.rng.int(4);
      }
      return;
    }
    const data = encodeCommand({ op: input.op, key: input.key, value: input.value, id: `c${c.id}.${c.seq}` });
    const r = cluster.propose(node, data);
    if (!r.ok) {
      c.leaderHint = r.leader;
      op.retryAt = this.now + 1 + this.rng.int(4);
      return;
    }
    c.leaderHint = node.id;
    if (!node.up) {
      // Crashed while handling the proposal (a crash inside its Ready).
      this.indeterminate(c, `${node.id} crashed while proposing`);
      return;
    }
    if (node.applied >= r.index) {
      // Already applied while proposing (a single voter commits at once), before the attempt
      // was registered with the apply listener: settle from what was applied there.
      const a = cluster.inv.appliedAt(r.index);
      if (a && a.term === r.term) this.finish(c, null);
      else this.indeterminate(c, `applied before it was registered`);
      return;
    }
    op.attempt = { kind: 'write', node, incarnation: node.incarnation, index: r.index, term: r.term };
    this.writes.set(`${node.id}#${node.incarnation}@${r.index}`, c);
  }

  private finish(c: Client, output: KvOutput): void {
    const op = c.op!;
    this.history.push({ clientId: c.id, input: op.input, output: op.input.op === 'get' ? output : null, call: op.call, return: ++this.clock });
    if (op.input.op === 'get') this.stats.readsOk++;
    else this.stats.ok++;
    this.trace(c, `ok ${describe(op.input)}${op.input.op === 'get' ? ` -> ${output === null ? 'nil' : output}` : ''}`);
    this.done(c);
  }

  private indeterminate(c: Client, why: string): void {
    const op = c.op!;
    if (op.attempt?.kind === 'write') {
      this.writes.delete(`${op.attempt.node.id}#${op.attempt.incarnation}@${op.attempt.index}`);
    }
    this.history.push({ clientId: c.id, input: op.input, output: undefined, call: op.call, return: Infinity });
    this.stats.indeterminate++;
    this.trace(c, `indeterminate ${describe(op.input)}: ${why}`);
    this.done(c);
  }

  private abandonRead(c: Client, why: string): void {
    const op = c.op!;
    if (op.attempt?.kind === 'read') this.reads.delete(op.attempt.ctx);
    this.stats.readsDropped++;
    this.trace(c, `dropped ${describe(op.input)}: ${why}`);
    this.done(c);
  }

  private done(c: Client): void {
    c.op = undefined;
    c.nextAt = this.now + this.rng.int(this.opts.thinkMax + 1);
  }
}

export function describe(input: KvInput): string {
  return input.op === 'get' ? `get ${input.key}` : `${input.op} ${input.key} ${input.value}`;
}
