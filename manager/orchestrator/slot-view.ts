// The replicated orchestrator's view of the tasks: by service, then by slot, each slot's few
// tasks in id order. A service's part is made from the store the first time a pass asks for it
// (from the store's index of the service's tasks), then kept from the store's change events
// while the loop runs; a new term of office or a snapshot restore forgets it all. So a pass
// over the slots that changed reads those slots alone, and no pass groups all 100,000 tasks at
// once (that took ~0.5 s of a loaded leader's event loop). Before it, each pass scanned and grouped all tasks of the service: at
// 10,000 replicas every Preparing/Starting/Running report cost a 10,000-task scan (15 s of the
// leader's CPU in a 1,000-node run). It holds the store's own frozen objects, no copies.
import type { ClusterStore, StoreChange, Stored } from '../store/index.js';

type Task = Stored<'task'>;
type Slots = Map<number, Task[]>;

const NONE: readonly Task[] = [];

/** Tasks in id order, as the store's list() gives them (loops that read unsorted sort with it). */
export function byTaskId(a: Task, b: Task): number {
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

export class SlotView {
  /** The services made so far; one that is not here is read from the store when asked for. */
  private readonly services = new Map<string, Slots>();

  /** Tasks read from the store to make services' parts, in all (a pass counts them as its work). */
  read = 0;

  constructor(private readonly store: ClusterStore) {}

  /** Forgets everything: the store may hold anything now. */
  clear(): void {
    this.services.clear();
  }

  /** Follows one change of the store (other kinds than tasks, and services not made yet, are left). */
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
  slotsOf(serviceId: string): ReadonlyMap<number, readonly Task[]> {
    let slots = this.services.get(serviceId);
    if (slots === undefined) {
      slots = new Map<number, Task[]>();
      this.services.set(serviceId, slots);
      const tasks = this.store.scan('task', { serviceIds: [serviceId] });
      this.read += tasks.length;
      for (const t of tasks) this.add(t);
      if (slots.size === 0) this.services.delete(serviceId);
    }
    return slots;
  }

  /** One slot's tasks in id order. */
  tasksIn(serviceId: string, slot: number): readonly Task[] {
    return this.slotsOf(serviceId).get(slot) ?? NONE;
  }

  /** Every task of a service (slot by slot). */
  tasksOf(serviceId: string): Task[] {
    const out: Task[] = [];
    for (const tasks of this.slotsOf(serviceId).values()) out.push(...tasks);
    return out;
  }

  /** Adds `t`, or replaces the stored task of the same id, in a service made already. */
  private add(t: Task): void {
    const slots = this.services.get(t.serviceId);
    if (slots === undefined) return;
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
    // Gone whole (a removed service): read from the store again should it be asked for.
    if (slots.size === 0) this.services.delete(t.serviceId);
  }
}
