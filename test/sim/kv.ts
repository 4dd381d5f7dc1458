// The replicated state machine the simulator drives: a string map, plus a running
// hash of every applied entry so two nodes' states can be compared at an index cheaply.
// A snapshot is the serialized map and that hash. Commands: put and append (as in the
// linearizability checker's kvModel).
import { EntryType, type Entry } from '../../raft/core/types.js';
import { hashBytes, mix32 } from './rng.js';

export interface KvCommand {
  op: 'put' | 'append';
  key: string;
  value: string;
  /** Unique per attempt: who proposed it, for traces and for matching proposals to applies. */
  id: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify({ op: cmd.op, key: cmd.key, value: cmd.value, id: cmd.id }));
}

export function encodePut(cmd: Omit<KvCommand, 'op'>): Uint8Array {
  return encodeCommand({ op: 'put', ...cmd });
}

export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  if (data.length === 0) return undefined;
  const v = JSON.parse(dec.decode(data)) as Partial<KvCommand>;
  if ((v.op !== 'put' && v.op !== 'append') || typeof v.key !== 'string' || typeof v.value !== 'string' || typeof v.id !== 'string') {
    throw new Error(`kv: malformed command ${dec.decode(data)}`);
  }
  return { op: v.op, key: v.key, value: v.value, id: v.id };
}

/** Hash of an entry's identity and content. */
export function entryHash(e: Entry): number {
  return mix32(hashBytes(e.data, mix32(e.index * 31 + e.term) ^ e.type));
}

interface SnapshotBody {
  index: number;
  chain: number;
  map: [string, string][];
}

export class KvStateMachine {
  readonly map = new Map<string, string>();
  /** Index of the last entry folded into this state. */
  index = 0;
  /** Hash chain over every applied entry (including empty and conf-change entries). */
  chain = 0;

  apply(e: Entry): void {
    if (e.index !== this.index + 1) {
      throw new Error(`kv: applying entry ${e.index} after ${this.index}`);
    }
    this.index = e.index;
    this.chain = mix32(this.chain ^ entryHash(e));
    if (e.type === EntryType.ENTRY_NORMAL) {
      const cmd = decodeCommand(e.data);
      if (cmd?.op === 'put') this.map.set(cmd.key, cmd.value);
      else if (cmd?.op === 'append') this.map.set(cmd.key, (this.map.get(cmd.key) ?? '') + cmd.value);
    }
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  snapshot(): Uint8Array {
    const body: SnapshotBody = {
      index: this.index,
      chain: this.chain,
      map: [...this.map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    };
    return enc.encode(JSON.stringify(body));
  }

  /** Replace the state with a snapshot's. Empty data means the empty state at `index` 0. */
  restore(data: Uint8Array, expectIndex: number): void {
    this.map.clear();
    if (data.length === 0) {
      if (expectIndex !== 0) throw new Error(`kv: empty snapshot data at index ${expectIndex}`);
      this.index = 0;
      this.chain = 0;
      return;
    }
    const body = JSON.parse(dec.decode(data)) as SnapshotBody;
    if (body.index !== expectIndex) {
      throw new Error(`kv: snapshot data is of index ${body.index}, meta says ${expectIndex}`);
    }
    this.index = body.index;
    this.chain = body.chain;
    for (const [k, v] of body.map) this.map.set(k, v);
  }
}
