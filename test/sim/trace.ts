// A ring buffer of the simulator's recent events. Events are stored as cheap tuples and only
// turned into text when a run fails, so tracing costs little on the thousands of seeds that pass.
import { MessageType, type Message } from '../../raft/core/types.js';

export type TraceDetail = string | (() => string);

interface TraceEvent {
  time: number;
  node: string;
  what: string;
  detail: TraceDetail | undefined;
}

export class Trace {
  private readonly buf: (TraceEvent | undefined)[];
  private next = 0;
  private total = 0;

  constructor(readonly capacity: number) {
    this.buf = new Array<TraceEvent | undefined>(capacity);
  }

  add(time: number, node: string, what: string, detail?: TraceDetail): void {
    this.buf[this.next] = { time, node, what, detail };
    this.next = (this.next + 1) % this.capacity;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** The last `n` events, oldest first, formatted one per line. */
  tail(n: number): string[] {
    const out: string[] = [];
    const have = Math.min(this.total, this.capacity, n);
    for (let k = have; k > 0; k--) {
      const e = this.buf[(this.next - k + this.capacity * 2) % this.capacity];
      if (!e) continue;
      const d = typeof e.detail === 'function' ? e.detail() : (e.detail ?? '');
      out.push(`t=${String(e.time).padStart(6)} ${e.node.padEnd(4)} ${e.what}${d ? ' ' + d : ''}`);
    }
    return out;
  }
}

const typeNames = new Map<number, string>();
for (const [k, v] of Object.entries(MessageType)) if (typeof v === 'number') typeNames.set(v, k.replace(/^MSG_/, ''));

export function messageTypeName(t: number): string {
  return typeNames.get(t) ?? `type${t}`;
}

/** One line describing a message, in the style of etcd's raft test output. */
export function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${messageTypeName(m.type)} term=${m.term}`];
  if (m.logTerm || m.index) parts.push(`logTerm=${m.logTerm} index=${m.index}`);
  if (m.entries.length > 0) {
    const first = m.entries[0]!;
    const last = m.entries[m.entries.length - 1]!;
    parts.push(`entries=[${first.index}/${first.term}..${last.index}/${last.term}](${m.entries.length})`);
  }
  if (m.commit) parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(`reject hint=${m.rejectHint}/${m.rejectHintTerm}`);
  if (m.snapshot) parts.push(`snap=${m.snapshot.index}/${m.snapshot.term} off=${m.snapOffset} len=${m.snapChunk.length}${m.snapDone ? ' done' : ''}`);
  if (m.context.length > 0) parts.push(`ctx=${new TextDecoder().decode(m.context)}`);
  return parts.join(' ');
}
