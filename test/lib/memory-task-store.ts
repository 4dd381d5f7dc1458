// The agent's store (worker/agent/task-db.ts AgentStore) in memory, for the scale simulation:
// bench:scale runs hundreds of simulated nodes per process, and a LevelDB each (its files, its
// sync writes, its share of libuv's thread pool) cost those processes more CPU than the nodes'
// protocol work. The records are kept encoded, as TaskDb keeps them, so that what load()
// returns shares nothing with what was written; test/unit/agent.test.ts runs every agent case
// on both stores.
import { baton } from '../../proto/gen/baton.js';
import { AgentClosedError, type AgentStore, type Loaded } from '../../worker/agent/task-db.js';

/** What survives a store being closed, as a LevelDB directory survives its agent: open() it again. */
export class MemoryTaskDisk {
  readonly tasks = new Map<string, Uint8Array>();
  readonly unacked = new Map<string, Uint8Array>();

  open(): Promise<MemoryTaskStore> {
    return Promise.resolve(new MemoryTaskStore(this));
  }
}

export class MemoryTaskStore implements AgentStore {
  private closed = false;
  /** The unacknowledged status each task has, by identity (TaskDb's rule for acked()). */
  private readonly unacked = new Map<string, baton.TaskStatus.$Properties>();

  constructor(private readonly disk: MemoryTaskDisk) {}

  load(): Promise<Loaded> {
    const tasks = [...this.disk.tasks.values()].map((v) => baton.Task.decode(v));
    for (const [id, v] of this.disk.unacked) this.unacked.set(id, baton.TaskStatus.decode(v));
    return Promise.resolve({ tasks, unacked: new Map(this.unacked) });
  }

  saveTasks(tasks: baton.Task.$Properties[]): Promise<void> {
    return this.write(() => {
      for (const t of tasks) this.disk.tasks.set(t.meta?.id ?? '', baton.Task.encode(t).finish());
    });
  }

  saveStatus(record: baton.Task.$Properties, status: baton.TaskStatus.$Properties): Promise<void> {
    return this.write(() => {
      const id = record.meta?.id ?? '';
      this.unacked.set(id, status);
      this.disk.tasks.set(id, baton.Task.encode(record).finish());
      this.disk.unacked.set(id, baton.TaskStatus.encode(status).finish());
    });
  }

  acked(statuses: [string, baton.TaskStatus.$Properties][]): Promise<void> {
    return this.write(() => {
      for (const [id, status] of statuses) {
        if (this.unacked.get(id) !== status) continue;
        this.unacked.delete(id);
        this.disk.unacked.delete(id);
      }
    });
  }

  forget(id: string): Promise<void> {
    return this.write(() => {
      this.unacked.delete(id);
      this.disk.tasks.delete(id);
      this.disk.unacked.delete(id);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Applied at once, in call order (TaskDb's order); refused once closed, as TaskDb refuses. */
  private write(apply: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new AgentClosedError());
    apply();
    return Promise.resolve();
  }
}
