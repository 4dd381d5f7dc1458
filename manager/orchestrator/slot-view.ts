// The replicated orchestrator's view of the tasks: by service, then by slot, each slot's few
// tasks in id order. Kept from the store's change events while the loop runs (rebuilt from one
// scan on start and after a snapshot restore), so that a pass over the slots that changed reads
// those slots alone. Before it, each pass scanned and grouped all tasks of the service: at
// 10,000 replicas every Preparing/Starting/Running report cost a 10,000-task scan (15 s of the
// leader's CPU in a 1,000-node run). It holds the store's own frozen objects, no copies.
import type { ClusterStore, StoreChange, Stored } from '../store/index.js';

type Task = Stored<'task'>;
type Slots = Map<number, Task[]>;

const NONE: readonly Task[] = [];

function byTaskId(a: Task, b: Task): number {
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

export class SlotView {
  private readonly services = new Map<string, Slots>();

  /** Forgets everything and reads every task of `store` again. */
  rebuild(store: ClusterStore): void {
    this.services.clear();
    for (const t of store.scan('task')) this.add(t);
  }

  clear(): void {
    this.services.clear();
  }

  /** Follows one change of the store (other kinds than tasks are ignored). */
  apply(c: StoreChange): void {
    if (c.kind !== 'task') return;
    if (c.action === 'create') this.add(c.object);
    else if (c.action === 'delete') this.remove(c.object);
    else {
      // A task's service and slot never change; were they to, the old place is left all the same.
      if (c.old !== undefined && (c.old.serviceId !== c.object.serviceId || c.old.slot !== c.object.slot)) this.remove(c.old);
      this.add(c.object);
    }
  }

  /** The slots of a service that hold tasks (unordered), each with its tasks in id order. */
  slotsOf(serviceId: string): ReadonlyMap<number, readonly Task[]> | undefined {
    return this.services.get(serviceId);
  }

  /** One slot's tasks in id order. */
  tasksIn(serviceId: string, slot: number): readonly Task[] {
    return this.services.get(serviceId)?.get(slot) ?? NONE;
  }

  /** Every task of a service (slot by slot). */
  tasksOf(serviceId: string): Task[] {
    const out: Task[] = [];
    for (const tasks of this.services.get(serviceId)?.values() ?? []) out.push(...tasks);
    return out;
  }

  /** Every service id that tasks name. */
  serviceIds(): IterableIterator<string> {
    return this.services.keys();
  }

  /** Adds `t`, or replaces the stored task of the same id. */
  private add(t: Task): void {
    let slots = this.services.get(t.serviceId);
    if (slots === undefined) this.services.set(t.serviceId, (slots = new Map<number, Task[]>()));
    const tasks = slots.get(t.slot);
    if (tasks === undefined) {
      slots.set(t.slot, [t]);
      return;
    }
    const at = tasks.findIndex((x) => x.meta.id === t.meta.id);
    if (at >= 0) {
      tasks[at] = t;
      return;
    }
    tasks.push(t);
    if (tasks.length > 1) tasks.sort(byTaskId);
  }

  private remove(t: Task): void {
    const slots = this.services.get(t.serviceId);
    const tasks = slots?.get(t.slot);
    if (slots === undefined || tasks === undefined) return;
    const at = tasks.findIndex((x) => x.meta.id === t.meta.id);
    if (at < 0) return;
    tasks.splice(at, 1);
    if (tasks.length > 0) return;
    slots.delete(t.slot);
    if (slots.size === 0) this.services.delete(t.serviceId);
  }
}
