// The replicated cluster store: the Raft state machine of the managers. Committed entries are
// the only way in (apply); everything else reads. apply() is deterministic: it reads no clock
// and no randomness (the leader stamps created_at/updated_at before proposing), so every
// manager that applies the same log holds byte-identical contents.
import { baton } from '../../proto/gen/baton.js';
import type { Entry, StateMachine } from '../../raft/index.js';
import { decodeBatch } from './actions.js';
import { type KeptTask, PartBytes, readAction, scanBatch } from './batch-reader.js';
import { AppliedRequests } from './applied-requests.js';
import { StoreError } from './errors.js';
import { type ListFilter, matches } from './filter.js';
import { deepFreeze } from './freeze.js';
import { shareParts } from './share.js';
import { readSnapshot } from './snapshot-reader.js';
import { KINDS, type Kind, type Stored, type StoreObjectT, hasUniqueNames, kindOf, nameOf, toStoreObject } from './kinds.js';
import { Table } from './table.js';
import { type ChangeListener, type StoreChange, type WatchFilter, StoreWatch, eventMatches, type StoreEvent } from './watch.js';

/** What a proposer gets back once its entry is applied. A failed batch changed nothing. */
export type ApplyResult = { ok: true; index: number; objects: StoreObjectT[] } | { ok: false; error: StoreError };

export interface ClusterStoreOptions {
  /**
   * Called when a watch listener throws. The store is already consistent by then (listeners
   * run after the batch), so the default only makes the bug loud: it rethrows asynchronously.
   */
  onListenerError?: (err: unknown) => void;
}

type Tables = { [K in Kind]: Table<K> };

/** A decoded object of a batch, before it is frozen and stored. */
interface Incoming {
  meta?: baton.Meta.$Properties | null;
}

function newTables(): Tables {
  return {
    cluster: new Table('cluster'),
    node: new Table('node'),
    service: new Table('service'),
    task: new Table('task'),
    secret: new Table('secret'),
    config: new Table('config'),
    network: new Table('network'),
    certificate: new Table('certificate'),
  };
}

function byId(a: Stored<Kind>, b: Stored<Kind>): number {
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

export class ClusterStore implements StateMachine<ApplyResult> {
  private tables: Tables = newTables();
  private readonly appliedRequests = new AppliedRequests();
  private readonly listeners = new Set<{ fn: ChangeListener; filter: WatchFilter | undefined }>();
  private readonly onListenerError: (err: unknown) => void;
  private readonly partBytes = new PartBytes();
  /** What a task read from an entry takes its parts from: what execute() shares it with. */
  private readonly keptTask: KeptTask = (id, serviceId) => this.tables.task.byId.get(id) ?? this.tables.task.lastTaskOf(serviceId);

  constructor(opts: ClusterStoreOptions = {}) {
    this.onListenerError =
      opts.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  /** Applies one committed entry as an atomic batch. Throws only if the data does not decode. */
  apply(entry: Entry): ApplyResult {
    const batch = scanBatch(entry.data);
    const earlier = batch.requestId ? this.appliedRequests.indexOf(batch.requestId) : undefined;
    if (earlier !== undefined) return this.alreadyApplied(decodeBatch(entry.data), earlier);
    const undo: (() => void)[] = [];
    const changes: StoreChange[] = [];
    try {
      // Each action is decoded just before it runs: a task shares its parts with the one stored
      // before it, which may be an earlier action of this batch.
      for (const range of batch.actions) {
        const { action, read } = readAction(entry.data, range, this.partBytes, this.keptTask);
        const change = this.execute(action, entry.index, undo);
        if (change instanceof StoreError) {
          this.rollback(undo);
          return { ok: false, error: change };
        }
        if (read !== undefined && change.kind === 'task') this.partBytes.remember(change.object, read);
        changes.push(change);
      }
    } catch (err) {
      this.rollback(undo);
      throw err;
    }
    this.appliedRequests.record(batch.requestId, entry.index);
    this.emit(changes);
    return { ok: true, index: entry.index, objects: changes.map(({ kind, object }) => ({ kind, object }) as StoreObjectT) };
  }

  /** Whether a batch with this request id was applied (and is still remembered). */
  hasApplied(requestId: string): boolean {
    return this.appliedRequests.indexOf(requestId) !== undefined;
  }

  /**
   * A batch whose request id was applied before (at `index`): it changes nothing again. The
   * proposer gets the objects as they are stored now (a deleted one as the batch named it). A
   * retried create carries a new id (the handler makes one per attempt): it gets the object
   * its first attempt created, found by its unique name.
   */
  private alreadyApplied(batch: baton.internal.StoreBatch, index: number): ApplyResult {
    const objects: StoreObjectT[] = [];
    for (const action of batch.actions) {
      const kind = action.object == null ? undefined : kindOf(action.object as baton.internal.StoreObject);
      if (kind === undefined) continue;
      const named = (action.object as baton.internal.StoreObject)[kind] as Incoming;
      const table = this.tables[kind];
      const sameName = (): Stored<Kind> | undefined => {
        if (action.kind !== baton.internal.StoreActionKind.STORE_CREATE || !hasUniqueNames(kind)) return undefined;
        const [first] = table.idsByName(nameOf(kind, named));
        return first === undefined ? undefined : table.byId.get(first);
      };
      const stored = table.byId.get(named.meta?.id ?? '') ?? sameName();
      objects.push({ kind, object: stored ?? named } as StoreObjectT);
    }
    return { ok: true, index, objects };
  }

  private rollback(undo: (() => void)[]): void {
    for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
  }

  private execute(action: baton.internal.StoreAction.$Properties, index: number, undo: (() => void)[]): StoreChange | StoreError {
    const kind = action.object == null ? undefined : kindOf(action.object as baton.internal.StoreObject);
    if (kind === undefined) return new StoreError('INVALID', 'store action carries no object');
    const obj = (action.object as baton.internal.StoreObject)[kind] as Incoming;
    const id = obj.meta?.id ?? '';
    if (id === '') return new StoreError('INVALID', `${kind} without an id`);
    const table = this.tables[kind] as Table<Kind>;
    const current = table.byId.get(id);
    const meta = obj.meta as baton.Meta.$Properties;
    switch (action.kind) {
      case baton.internal.StoreActionKind.STORE_CREATE: {
        if (current !== undefined) return new StoreError('ALREADY_EXISTS', `${kind} ${id} already exists`);
        const clash = this.nameClash(kind, id, obj);
        if (clash) return clash;
        meta.version = index;
        const stored = deepFreeze(shareParts(obj, this.sibling(kind, obj))) as Stored<Kind>;
        table.put(stored);
        undo.push(() => table.remove(id));
        return { kind, action: 'create', object: stored, index } as StoreChange;
      }
      case baton.internal.StoreActionKind.STORE_UPDATE: {
        if (current === undefined) return new StoreError('NOT_FOUND', `update of ${kind} ${id}: not found`);
        const stale = this.staleVersion('update', kind, id, meta.version ?? 0, current);
        if (stale) return stale;
        const clash = this.nameClash(kind, id, obj);
        if (clash) return clash;
        meta.version = index;
        meta.createdAt = current.meta.createdAt;
        const stored = deepFreeze(shareParts(obj, current)) as Stored<Kind>;
        table.put(stored);
        undo.push(() => table.put(current));
        return { kind, action: 'update', object: stored, old: current, index } as StoreChange;
      }
      case baton.internal.StoreActionKind.STORE_DELETE: {
        if (current === undefined) return new StoreError('NOT_FOUND', `delete of ${kind} ${id}: not found`);
        const version = meta.version ?? 0;
        const stale = version === 0 ? undefined : this.staleVersion('delete', kind, id, version, current);
        if (stale) return stale;
        table.remove(id);
        undo.push(() => table.put(current));
        return { kind, action: 'delete', object: current, index } as StoreChange;
      }
      default:
        return new StoreError('INVALID', `unknown store action ${String(action.kind)} on ${kind} ${id}`);
    }
  }

  /**
   * What a new object shares its equal parts with (share.ts): for a task, the task of the same
   * service stored last (same spec, endpoint and service annotations, as a rule); else nothing.
   */
  private sibling(kind: Kind, obj: Incoming, tables: Tables = this.tables): Stored<Kind> | undefined {
    if (kind !== 'task') return undefined;
    return tables.task.lastTaskOf((obj as { serviceId?: string | null }).serviceId ?? '');
  }

  private staleVersion(op: string, kind: Kind, id: string, version: number, current: Stored<Kind>): StoreError | undefined {
    if (version === current.meta.version) return undefined;
    return new StoreError('VERSION_CONFLICT', `${op} of ${kind} ${id}: version ${version} is stale, current is ${current.meta.version}`);
  }

  private nameClash(kind: Kind, id: string, obj: Incoming): StoreError | undefined {
    if (!hasUniqueNames(kind)) return undefined;
    const name = nameOf(kind, obj);
    if (name === '') return new StoreError('INVALID', `${kind} ${id} has no name (spec.annotations.name)`);
    for (const other of this.tables[kind].idsByName(name)) {
      if (other !== id) return new StoreError('ALREADY_EXISTS', `${kind} name "${name}" is already taken by ${kind} ${other}`);
    }
    return undefined;
  }

  // ---- reads: synchronous, from memory; the objects are frozen and safe to share ----

  get<K extends Kind>(kind: K, id: string): Stored<K> | undefined {
    return this.tables[kind].byId.get(id);
  }

  /** The object named `name` (case-insensitive). Node names may repeat: then INVALID. */
  findByName<K extends Kind>(kind: K, name: string): Stored<K> | undefined {
    const ids = [...this.tables[kind].idsByName(name)];
    if (ids.length > 1) throw ambiguous(kind, `name "${name}"`, ids);
    return ids[0] === undefined ? undefined : this.get(kind, ids[0]);
  }

  /** Matching objects in id order. Task filters on service or node use their indexes. */
  list<K extends Kind>(kind: K, filter: ListFilter = {}): Stored<K>[] {
    return this.scan(kind, filter).sort(byId);
  }

  /**
   * Matching objects in no particular order. For the leader's loops that count or group what
   * they read: sorting is most of a list()'s cost at scale (100,000 tasks: ~1.7 million string
   * comparisons, per scheduling pass), and they do not need it.
   */
  scan<K extends Kind>(kind: K, filter: ListFilter = {}): Stored<K>[] {
    const table = this.tables[kind];
    const out: Stored<K>[] = [];
    const ids = this.indexed(table, filter);
    if (ids === undefined) {
      for (const obj of table.byId.values()) if (matches(kind, obj, filter)) out.push(obj);
      return out;
    }
    for (const id of ids) {
      const obj = table.byId.get(id);
      if (obj !== undefined && matches(kind, obj, filter)) out.push(obj);
    }
    return out;
  }

  /** How many objects of `kind` are stored. */
  count(kind: Kind): number {
    return this.tables[kind].byId.size;
  }

  /**
   * The ids an index gives for a filter (undefined: no index applies, read the whole table),
   * each once. One key, the common case (a service's or a node's tasks), is the index's own
   * set, read in place: no copies of 10,000 ids per call.
   */
  private indexed<K extends Kind>(table: Table<K>, f: ListFilter): ReadonlySet<string> | undefined {
    let keys: readonly string[];
    let lookup: (key: string) => ReadonlySet<string>;
    if (table.kind === 'task' && f.serviceIds !== undefined) {
      keys = f.serviceIds;
      lookup = (k) => table.idsByService(k);
    } else if (table.kind === 'task' && f.nodeIds !== undefined) {
      keys = f.nodeIds;
      lookup = (k) => table.idsByNode(k);
    } else if (f.names !== undefined) {
      keys = f.names;
      lookup = (k) => table.idsByName(k);
    } else return undefined;
    if (keys.length === 1) return lookup(keys[0]!);
    // A name or id may be listed twice in the filter; each object is returned once.
    const all = new Set<string>();
    for (const k of keys) for (const id of lookup(k)) all.add(id);
    return all;
  }

  /**
   * Finds an object the way the Docker CLI does: exact id, then exact name, then a unique id
   * prefix. NOT_FOUND if nothing matches; INVALID if a prefix (or a repeated node name) matches
   * several, listing them.
   */
  resolve<K extends Kind>(kind: K, ref: string): Stored<K> {
    if (ref === '') throw new StoreError('INVALID', `empty ${kind} id or name`);
    const exact = this.get(kind, ref) ?? this.findByName(kind, ref);
    if (exact !== undefined) return exact;
    const found: Stored<K>[] = [];
    for (const [id, obj] of this.tables[kind].byId) if (id.startsWith(ref)) found.push(obj);
    if (found.length > 1) throw ambiguous(kind, `prefix "${ref}"`, found.map((o) => o.meta.id));
    if (found[0] === undefined) throw new StoreError('NOT_FOUND', `${kind} ${ref} not found`);
    return found[0];
  }

  // ---- watch ----

  /**
   * Calls `listener` for every change that passes `filter`, synchronously after each batch,
   * in log order. A list() and an onChange() in the same tick see no change in between.
   */
  onChange(listener: ChangeListener, filter?: WatchFilter): () => void {
    const entry = { fn: listener, filter };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** The changes as an async iterator, buffering at most `bufferSize` (then it fails with WatchOverflowError). */
  watch(filter?: WatchFilter, opts: { bufferSize?: number } = {}): StoreWatch {
    const w = new StoreWatch(opts.bufferSize);
    w.attach(this.onChange((e) => w.push(e), filter));
    return w;
  }

  private emit(events: readonly StoreEvent[]): void {
    if (this.listeners.size === 0) return;
    const listeners = [...this.listeners];
    for (const e of events) {
      for (const l of listeners) {
        if (!this.listeners.has(l) || !eventMatches(e, l.filter)) continue;
        try {
          l.fn(e);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
  }

  // ---- snapshots ----

  /** Every object, by kind then id, so equal contents give equal bytes. */
  snapshot(): Uint8Array {
    const objects: baton.internal.StoreObject.$Properties[] = [];
    for (const kind of KINDS) {
      for (const obj of [...this.tables[kind].byId.values()].sort(byId)) objects.push(toStoreObject(kind, obj));
    }
    return baton.internal.StoreSnapshot.encode({ objects, appliedRequests: this.appliedRequests.list() }).finish();
  }

  /**
   * Replaces the whole contents with a snapshot's and sends watchers a reset. Objects are
   * decoded, shared and indexed one at a time (snapshot-reader.ts), into new tables that
   * replace the old only once the whole snapshot has been read: a snapshot that fails leaves
   * the store as it was.
   */
  restore(data: Uint8Array): void {
    const tables = newTables();
    const appliedRequests = readSnapshot(data, (so) => {
      const kind = kindOf(so);
      const obj = kind === undefined ? undefined : (so[kind] as Incoming);
      const id = obj?.meta?.id ?? '';
      if (kind === undefined || obj === undefined || id === '') throw new StoreError('INVALID', 'store snapshot holds an object without a kind or id');
      const table = tables[kind] as Table<Kind>;
      if (table.byId.has(id)) throw new StoreError('INVALID', `store snapshot holds ${kind} ${id} twice`);
      table.put(deepFreeze(shareParts(obj, this.sibling(kind, obj, tables))) as Stored<Kind>);
    });
    this.tables = tables;
    this.appliedRequests.reset(appliedRequests);
    this.emit([{ action: 'reset' }]);
  }
}

function ambiguous(kind: Kind, what: string, ids: readonly string[]): StoreError {
  const sorted = [...ids].sort();
  return new StoreError('INVALID', `${kind} ${what} is ambiguous: it matches ${sorted.length} objects (${sorted.join(', ')})`);
}
