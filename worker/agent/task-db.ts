// The agent's own LevelDB (tasks/agent-db): each task's last assignment, with the last status the
// agent decided in its `status` field, and the statuses the managers have not acknowledged yet.
// Records are the proto messages themselves (proto/ is the one source of disk formats).
//
// Writes are group-committed: whatever queues up while one batch is on disk goes in the next,
// in order, with sync:true. Order matters (a status written after another must not be
// overtaken), durability matters (a status is written before the action it announces, so a
// restart never starts a task twice), and batching keeps both cheap with hundreds of tasks.
import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { baton } from '../../proto/gen/baton.js';

const TASK = 't!';
const UNACKED = 'u!';

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export class AgentClosedError extends Error {
  override readonly name = 'AgentClosedError';
  constructor() {
    super('the agent is stopped');
  }
}

export interface Loaded {
  tasks: baton.Task[];
  unacked: Map<string, baton.TaskStatus.$Properties>;
}

/**
 * What the agent keeps across restarts, as TaskDb keeps it. Another implementation (the
 * in-memory one of the scale simulation, test/lib/memory-task-store.ts) must honour the same
 * contract: writes apply in call order, load() returns what the last store on the same state
 * left, acked() clears only a status still the latest, and writes after close() reject with
 * AgentClosedError.
 */
export interface AgentStore {
  load(): Promise<Loaded>;
  saveTasks(tasks: baton.Task.$Properties[]): Promise<void>;
  saveStatus(record: baton.Task.$Properties, status: baton.TaskStatus.$Properties): Promise<void>;
  acked(statuses: [string, baton.TaskStatus.$Properties][]): Promise<void>;
  forget(id: string): Promise<void>;
  close(): Promise<void>;
}

export class TaskDb implements AgentStore {
  private queue: { ops: Op[]; done: (err?: Error) => void }[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  /** The unacknowledged status each task has on disk (or is about to), by identity. */
  private readonly unacked = new Map<string, baton.TaskStatus.$Properties>();

  private constructor(private readonly db: Level<string, Uint8Array>) {}

  static async open(dir: string): Promise<TaskDb> {
    await mkdir(dir, { recursive: true });
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    return new TaskDb(db);
  }

  async load(): Promise<Loaded> {
    const tasks: baton.Task[] = [];
    for await (const [, value] of this.db.iterator({ gte: TASK, lt: `${TASK}\xff` })) {
      tasks.push(baton.Task.decode(value));
    }
    for await (const [key, value] of this.db.iterator({ gte: UNACKED, lt: `${UNACKED}\xff` })) {
      this.unacked.set(key.slice(UNACKED.length), baton.TaskStatus.decode(value));
    }
    return { tasks, unacked: new Map(this.unacked) };
  }

  /** Assignments changed by a session message, in one batch. */
  saveTasks(tasks: baton.Task.$Properties[]): Promise<void> {
    return this.write(tasks.map((t) => putTask(t)));
  }

  /** The task record (whose `status` is this one) and the status as unacknowledged, together. */
  saveStatus(record: baton.Task.$Properties, status: baton.TaskStatus.$Properties): Promise<void> {
    const id = record.meta?.id ?? '';
    this.unacked.set(id, status);
    return this.write([putTask(record), { type: 'put', key: UNACKED + id, value: baton.TaskStatus.encode(status).finish() }]);
  }

  /**
   * The managers acknowledged these statuses. Only a status still the latest for its task is
   * cleared: one decided meanwhile (maybe still on its way to disk) stays unacknowledged.
   */
  acked(statuses: [string, baton.TaskStatus.$Properties][]): Promise<void> {
    const ops: Op[] = [];
    for (const [id, status] of statuses) {
      if (this.unacked.get(id) !== status) continue;
      this.unacked.delete(id);
      ops.push({ type: 'del', key: UNACKED + id });
    }
    return ops.length === 0 ? Promise.resolve() : this.write(ops);
  }

  forget(id: string): Promise<void> {
    this.unacked.delete(id);
    return this.write([
      { type: 'del', key: TASK + id },
      { type: 'del', key: UNACKED + id },
    ]);
  }

  /** Lets queued writes finish, then closes; later writes fail with AgentClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing) await this.writing;
    await this.db.close();
  }

  private write(ops: Op[]): Promise<void> {
    if (this.closed) return Promise.reject(new AgentClosedError());
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, done: (err) => (err ? reject(err) : resolve()) });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        try {
          await this.db.batch(group.flatMap((w) => w.ops), { sync: true });
          for (const w of group) w.done();
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          for (const w of group) w.done(error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}

function putTask(task: baton.Task.$Properties): Op {
  return { type: 'put', key: TASK + (task.meta?.id ?? ''), value: baton.Task.encode(task).finish() };
}
