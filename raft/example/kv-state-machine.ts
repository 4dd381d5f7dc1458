// A small replicated key-value store: the state machine the Raft tests and benchmark drive.
// It also keeps the order in which writes were applied, so tests can compare nodes.
import type { Entry } from '../core/types.js';
import type { StateMachine } from '../node.js';

export interface KvCommand {
  key: string;
  value: string;
  /** Client-chosen id of the write, recorded in apply order. */
  id: string;
}

export class KvStateMachine implements StateMachine<number> {
  private map = new Map<string, string>();
  private order: string[] = [];

  apply(entry: Entry): number {
    const cmd = JSON.parse(new TextDecoder().decode(entry.data)) as KvCommand;
    this.map.set(cmd.key, cmd.value);
    this.order.push(cmd.id);
    return entry.index;
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  history(): string[] {
    return this.order;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ map: [...this.map], order: this.order }));
  }

  restore(data: Uint8Array): void {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as { map: [string, string][]; order: string[] };
    this.map = new Map(parsed.map);
    this.order = parsed.order;
  }
}

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}
