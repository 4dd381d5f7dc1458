// One kind's objects and the indexes that keep reads off full scans: by lowercased name for
// every kind, and for tasks by service and by node (what orchestrators, the scheduler and
// the dispatcher ask for all the time).
import { nameKey } from './filter.js';
import { type Kind, type Stored, nameOf } from './kinds.js';

type Index = Map<string, Set<string>>;

function addTo(index: Index, key: string, id: string): void {
  let ids = index.get(key);
  if (ids === undefined) index.set(key, (ids = new Set()));
  ids.add(id);
}

function removeFrom(index: Index, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === undefined) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}

export class Table<K extends Kind> {
  readonly byId = new Map<string, Stored<K>>();
  private readonly byName: Index = new Map();
  /** Tasks only; empty for every other kind. Unassigned tasks are under node id ''. */
  private readonly byService: Index = new Map();
  private readonly byNode: Index = new Map();
  /** Tasks only: the task of each service stored last, the one a new task of it shares parts with (share.ts). */
  private readonly lastOfService = new Map<string, Stored<'task'>>();

  constructor(readonly kind: K) {}

  /** Adds or replaces `obj`, keeping the indexes in step; returns what it replaced. */
  put(obj: Stored<K>): Stored<K> | undefined {
    const id = obj.meta.id;
    const old = this.byId.get(id);
    this.byId.set(id, obj);
    if (old !== undefined && this.sameKeys(old, obj)) {
      // Most updates (a task's status) move it in no index: a delete and an add of the same id
      // in a set of 10,000 leave a hole each time and make the set rehash, for nothing.
      if (this.kind === 'task') this.lastOfService.set((obj as Stored<'task'>).serviceId, obj as Stored<'task'>);
      return old;
    }
    if (old !== undefined) this.unindex(old);
    this.index(obj);
    return old;
  }

  /** Whether `a` and `b` (two versions of one object) sit under the same key in every index. */
  private sameKeys(a: Stored<K>, b: Stored<K>): boolean {
    if (nameOf(this.kind, a) !== nameOf(this.kind, b)) return false;
    if (this.kind !== 'task') return true;
    const ta = a as Stored<'task'>;
    const tb = b as Stored<'task'>;
    return ta.serviceId === tb.serviceId && ta.nodeId === tb.nodeId;
  }

  remove(id: string): Stored<K> | undefined {
    const old = this.byId.get(id);
    if (old === undefined) return undefined;
    this.byId.delete(id);
    this.unindex(old);
    return old;
  }

  /** Ids of the objects named `name` (ignoring case). */
  idsByName(name: string): ReadonlySet<string> {
    return this.byName.get(nameKey(name)) ?? EMPTY;
  }

  idsByService(serviceId: string): ReadonlySet<string> {
    return this.byService.get(serviceId) ?? EMPTY;
  }

  idsByNode(nodeId: string): ReadonlySet<string> {
    return this.byNode.get(nodeId) ?? EMPTY;
  }

  /** Tasks only: the task of `serviceId` stored last (undefined once it is removed). */
  lastTaskOf(serviceId: string): Stored<'task'> | undefined {
    return this.lastOfService.get(serviceId);
  }

  private index(obj: Stored<K>): void {
    this.keysOf(obj, addTo);
  }

  private unindex(obj: Stored<K>): void {
    this.keysOf(obj, removeFrom);
  }

  /** Calls `update` with each index `obj` belongs in and its key there (one place decides both). */
  private keysOf(obj: Stored<K>, update: (index: Index, key: string, id: string) => void): void {
    const id = obj.meta.id;
    const name = nameOf(this.kind, obj);
    if (name !== '') update(this.byName, nameKey(name), id);
    if (this.kind === 'task') {
      const t = obj as Stored<'task'>;
      update(this.byService, t.serviceId, id);
      update(this.byNode, t.nodeId, id);
      if (update === addTo) this.lastOfService.set(t.serviceId, t);
      else if (this.lastOfService.get(t.serviceId) === t) this.lastOfService.delete(t.serviceId);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
