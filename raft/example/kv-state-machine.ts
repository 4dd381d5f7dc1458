// A small replicated key-value store: the state machine the Raft tests and benchmark drive.
// It also keeps the order in which writes were applied, so tests can compare nodes.
//
// snapshot() runs on the Raft loop at one exact applied index, so for as long as it runs no
// member replicates anything: with tens of thousands of 256-byte values a JSON encoding of the
// whole map held every member for hundreds of milliseconds each snapshot (the 64-client p99
// tail of bench:raft). So each key's record is kept already encoded, the bytes the snapshot
// holds for it, and the apply order as an append-only buffer: a snapshot is then one
// allocation and a copy per key, no string encoding.
//
// Snapshot layout (big-endian u32 lengths): [u32 key count] then per key [u32 klen][key utf-8]
// [u32 vlen][value utf-8], then the apply order to the end as [u32 len][id utf-8] records.
import type { Entry } from '../core/types.js';
import type { StateMachine } from '../node.js';

export interface KvCommand {
  key: string;
  value: string;
  /** Client-chosen id of the write, recorded in apply order. */
  id: string;
}

const U32 = 4;
/** Records encoded per turn of the event loop by snapshotLater (about a few ms of copying). */
const SNAPSHOT_SLICE = 4096;

/** References to the state at one instant, and the encoder of their snapshot bytes. */
interface CapturedState {
  records: Buffer[];
  allocate(): Buffer;
  /** Encodes records [from, to) into `out`; slices must come in order, from 0 to the end. */
  encode(out: Buffer, from: number, to: number): void;
}
const decoder = new TextDecoder();

/**
 * A record's own memory, not a slice of Node's shared 8 KiB pool: one long-lived small record
 * would otherwise keep a whole pool slab alive (a map of overwritten values would hold
 * kilobytes per key).
 */
function ownBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size);
}

/** `[u32 len][utf-8 of s]` at `at` in `buf`; returns the offset after it. */
function putString(buf: Buffer, at: number, s: string): number {
  const len = buf.write(s, at + U32, 'utf8');
  buf.writeUInt32BE(len, at);
  return at + U32 + len;
}

function readString(buf: Buffer, at: number): { s: string; next: number } {
  if (at + U32 > buf.length) throw new Error(`kv snapshot truncated at byte ${at}`);
  const len = buf.readUInt32BE(at);
  const end = at + U32 + len;
  if (end > buf.length) throw new Error(`kv snapshot truncated at byte ${at}`);
  return { s: buf.toString('utf8', at + U32, end), next: end };
}

export class KvStateMachine implements StateMachine<number> {
  /** key → its snapshot record `[klen][key][vlen][value]`. */
  private map = new Map<string, Buffer>();
  /** The apply order as `[len][id]` records in [0, orderBytes); grows by doubling. */
  private order = Buffer.allocUnsafe(64 * 1024);
  private orderBytes = 0;

  apply(entry: Entry): number {
    const cmd = JSON.parse(decoder.decode(entry.data)) as KvCommand;
    const rec = ownBuffer(2 * U32 + Buffer.byteLength(cmd.key) + Buffer.byteLength(cmd.value));
    putString(rec, putString(rec, 0, cmd.key), cmd.value);
    this.map.set(cmd.key, rec);
    this.appendOrder(cmd.id);
    return entry.index;
  }

  get(key: string): string | undefined {
    const rec = this.map.get(key);
    if (!rec) return undefined;
    return readString(rec, readString(rec, 0).next).s;
  }

  history(): string[] {
    const ids: string[] = [];
    for (let at = 0; at < this.orderBytes; ) {
      const r = readString(this.order, at);
      ids.push(r.s);
      at = r.next;
    }
    return ids;
  }

  snapshot(): Uint8Array {
    const captured = this.capture();
    const out = captured.allocate();
    captured.encode(out, 0, captured.records.length);
    return out;
  }

  /**
   * The same bytes as snapshot() at this call, encoded in slices between which the event loop
   * runs (Raft keeps replicating): the capture is only references, since records are never
   * changed in place (apply replaces a key's record) and the apply order is append-only.
   */
  async snapshotLater(): Promise<Uint8Array> {
    const captured = this.capture();
    const out = captured.allocate();
    for (let from = 0; from < captured.records.length; from += SNAPSHOT_SLICE) {
      if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      captured.encode(out, from, Math.min(captured.records.length, from + SNAPSHOT_SLICE));
    }
    if (captured.records.length === 0) captured.encode(out, 0, 0);
    return out;
  }

  private capture(): CapturedState {
    const records = [...this.map.values()];
    const order = this.order.subarray(0, this.orderBytes);
    let size = U32 + order.length;
    for (const rec of records) size += rec.length;
    // Where each slice's first record goes is only known by summing the ones before it: the
    // offsets are filled as the slices are encoded, in order.
    let at = U32;
    let next = 0;
    return {
      records,
      allocate: () => Buffer.allocUnsafe(size),
      encode: (out, from, to) => {
        if (from !== next) throw new Error(`kv snapshot slices out of order: ${from} after ${next}`);
        if (from === 0) out.writeUInt32BE(records.length, 0);
        for (let i = from; i < to; i++) at += records[i]!.copy(out, at);
        next = to;
        if (to === records.length) order.copy(out, at);
      },
    };
  }

  restore(data: Uint8Array): void {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length < U32) throw new Error('kv snapshot truncated: no key count');
    const map = new Map<string, Buffer>();
    const count = buf.readUInt32BE(0);
    let at = U32;
    for (let i = 0; i < count; i++) {
      const start = at;
      const key = readString(buf, at);
      at = readString(buf, key.next).next;
      // A copy: the record must not pin the whole snapshot buffer.
      const rec = ownBuffer(at - start);
      buf.copy(rec, 0, start, at);
      map.set(key.s, rec);
    }
    const orderBytes = buf.length - at;
    const order = Buffer.allocUnsafe(Math.max(64 * 1024, orderBytes));
    buf.copy(order, 0, at);
    this.map = map;
    this.order = order;
    this.orderBytes = orderBytes;
  }

  private appendOrder(id: string): void {
    const need = this.orderBytes + U32 + Buffer.byteLength(id);
    if (need > this.order.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.order.length));
      this.order.copy(grown, 0, 0, this.orderBytes);
      this.order = grown;
    }
    this.orderBytes = putString(this.order, this.orderBytes, id);
  }
}

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}
