// The task writes of one reconcile pass. Every object gets at most one action per batch (a
// second change to the same task edits the pending copy), updates and deletes carry the
// version they were read at, so a concurrent writer makes the batch fail cleanly
// (VERSION_CONFLICT) rather than be overwritten.
import { baton } from '../../proto/gen/baton.js';
import { createAction, deleteAction, updateAction, type StoreActionT, type Stored } from '../store/index.js';
import type { TaskView } from './tasks.js';

export class TaskWrites {
  private readonly creates: TaskView[] = [];
  private readonly updates = new Map<string, baton.Task>();
  private readonly deletes = new Map<string, Stored<'task'>>();

  constructor(readonly now: number) {}

  /** The task as this pass leaves it; undefined once deleted. */
  view(t: Stored<'task'>): TaskView | undefined {
    if (this.deletes.has(t.meta.id)) return undefined;
    return this.updates.get(t.meta.id) ?? t;
  }

  /** Changes a copy of `t` (made on first use, updatedAt stamped). */
  update(t: Stored<'task'>, change: (copy: baton.Task) => void): void {
    const id = t.meta.id;
    if (this.deletes.has(id)) return;
    let copy = this.updates.get(id);
    if (copy === undefined) {
      // A shallow copy, not cloneObject's encode and decode (over half of the scheduler's CPU per
      // assignment): every change replaces a top-level field or the status (copied here), and
      // the parts it shares with the stored task stay frozen, so a change that wrote into them
      // would throw rather than alter the store. The action is encoded into the log anyway.
      // Built on fresh messages, as a decode makes them, so unset fields read their defaults.
      copy = Object.assign(new baton.Task(), t, {
        meta: { ...t.meta, updatedAt: this.now },
        status: Object.assign(new baton.TaskStatus(), t.status),
      });
      this.updates.set(id, copy);
    }
    change(copy);
  }

  delete(t: Stored<'task'>): void {
    this.updates.delete(t.meta.id);
    this.deletes.set(t.meta.id, t);
  }

  create(t: TaskView): void {
    this.creates.push(t);
  }

  get size(): number {
    return this.creates.length + this.updates.size + this.deletes.size;
  }

  actions(): StoreActionT[] {
    return [
      ...[...this.deletes.values()].map((t) => deleteAction('task', t)),
      ...[...this.updates.values()].map((t) => updateAction('task', t)),
      ...this.creates.map((t) => createAction('task', t)),
    ];
  }
}
