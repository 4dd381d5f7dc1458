// The live feed behind every open web view of one manager: store changes are gathered for a
// short interval, turned into one delta (web/model.ts ViewDelta), serialised once and written
// to every open stream (server-sent events). A view therefore costs the manager one write per
// interval however fast the cluster changes, and nothing at all while it is quiet.
import type { ServerResponse } from 'node:http';
import type { ViewDelta, ViewEvent, ViewState } from '../../web/model.js';
import type { ClusterStore, Kind, StoreEvent } from '../store/index.js';
import { drawn, isRunning, objectName, runningByService, viewNode, viewService, viewTask } from './model.js';

/** Changes within this interval reach the views together. */
export const FEED_INTERVAL_MS = 250;
/** Recent events kept for a view that opens. */
const RECENT_EVENTS = 50;
/** Views kept open at once; one more is refused (each holds a socket and a write per interval). */
export const MAX_VIEWS = 64;
/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

const DRAWN_KINDS: readonly Kind[] = ['node', 'service', 'task'];

export interface FeedSource {
  store: ClusterStore;
  clusterId: string;
  nodeId: string;
  /** The Raft leader's node id as this manager knows it. */
  leaderId: () => string;
}

export class ViewFeed {
  private readonly views = new Set<ServerResponse>();
  private readonly recent: ViewEvent[] = [];
  private pending: { nodes: Set<string>; services: Set<string>; tasks: Set<string>; events: ViewEvent[] } = emptyPending();
  private flushTimer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Set after a store reset (a snapshot installed): the next flush sends the whole state. */
  private resetPending = false;
  /** The leader as last sent: a change redraws the managers (the store does not record it). */
  private lastLeader = '';

  constructor(private readonly src: FeedSource) {
    // Always listening, so a view that opens sees the recent events; deltas are gathered only
    // while a view is open.
    this.unsubscribe = src.store.onChange((e) => this.onChange(e));
  }

  /** The whole state, as a view that opens (or reloads) gets it. */
  state(): ViewState {
    const store = this.src.store;
    const running = runningByService(store);
    return {
      clusterId: this.src.clusterId,
      nodeId: this.src.nodeId,
      nodes: store.list('node').map((n) => viewNode(n, this.src.leaderId())),
      services: store.list('service').map((s) => viewService(s, running.get(s.meta.id) ?? 0)),
      tasks: store.list('task').filter(drawn).map(viewTask),
      events: [...this.recent],
    };
  }

  get openViews(): number {
    return this.views.size;
  }

  /** A new stream: the state first, then deltas. False when too many views are open. */
  open(res: ServerResponse): boolean {
    if (this.views.size >= MAX_VIEWS) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: state\ndata: ${JSON.stringify(this.state())}\n\n`);
    this.views.add(res);
    res.on('close', () => this.drop(res));
    if (this.views.size === 1) {
      this.keepalive = setInterval(() => this.broadcast(': keepalive\n\n'), KEEPALIVE_MS);
      this.keepalive.unref();
    }
    return true;
  }

  close(): void {
    for (const res of this.views) res.end();
    this.views.clear();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.keepalive) clearInterval(this.keepalive);
    this.flushTimer = undefined;
    this.keepalive = undefined;
  }

  private drop(res: ServerResponse): void {
    this.views.delete(res);
    if (this.views.size > 0) return;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  private onChange(e: StoreEvent): void {
    if (this.views.size === 0) {
      // Nobody watches: only remember what happened, for the next view that opens.
      if (e.action !== 'reset' && DRAWN_KINDS.includes(e.kind) && notable(e)) this.remember([eventOf(e.kind, e.action, e.object)]);
      return;
    }
    if (e.action === 'reset') {
      this.resetPending = true;
    } else {
      if (!DRAWN_KINDS.includes(e.kind)) return;
      const set = e.kind === 'node' ? this.pending.nodes : e.kind === 'service' ? this.pending.services : this.pending.tasks;
      set.add(e.object.meta.id);
      // A task's state counts in its service's running figure.
      if (e.kind === 'task') this.pending.services.add(e.object.serviceId ?? '');
      if (notable(e)) this.pending.events.push(eventOf(e.kind, e.action, e.object));
    }
    this.flushTimer ??= setTimeout(() => this.flush(), FEED_INTERVAL_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const pending = this.pending;
    this.pending = emptyPending();
    this.remember(pending.events);
    if (this.resetPending) {
      this.resetPending = false;
      this.broadcast(`event: state\ndata: ${JSON.stringify(this.state())}\n\n`);
      return;
    }
    this.broadcast(`event: delta\ndata: ${JSON.stringify(this.delta(pending))}\n\n`);
  }

  private delta(p: ReturnType<typeof emptyPending>): ViewDelta {
    const store = this.src.store;
    const d: ViewDelta = { nodes: [], services: [], tasks: [], removed: { nodes: [], services: [], tasks: [] }, events: p.events.slice(-RECENT_EVENTS) };
    const leader = this.src.leaderId();
    if (leader !== this.lastLeader) {
      this.lastLeader = leader;
      for (const n of store.list('node')) if (n.managerStatus) p.nodes.add(n.meta.id);
    }
    for (const id of p.nodes) {
      const n = store.get('node', id);
      if (n) d.nodes.push(viewNode(n, this.src.leaderId()));
      else d.removed.nodes.push(id);
    }
    for (const id of p.tasks) {
      const t = store.get('task', id);
      if (t && drawn(t)) d.tasks.push(viewTask(t));
      else d.removed.tasks.push(id);
    }
    for (const id of p.services) {
      if (id === '') continue;
      const s = store.get('service', id);
      if (!s) {
        d.removed.services.push(id);
        continue;
      }
      const running = store.list('task', { serviceIds: [id] }).filter(isRunning).length;
      d.services.push(viewService(s, running));
    }
    return d;
  }

  private remember(events: ViewEvent[]): void {
    this.recent.push(...events);
    if (this.recent.length > RECENT_EVENTS) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
  }

  private broadcast(text: string): void {
    for (const res of this.views) res.write(text);
  }
}

/** Worth a line in the events list: any create, removal or update, but a task's only when its state moves. */
function notable(e: Exclude<StoreEvent, { action: 'reset' }>): boolean {
  if (e.kind !== 'task' || e.action !== 'update') return true;
  return e.old?.status?.state !== e.object.status?.state;
}

function emptyPending(): { nodes: Set<string>; services: Set<string>; tasks: Set<string>; events: ViewEvent[] } {
  return { nodes: new Set(), services: new Set(), tasks: new Set(), events: [] };
}

function eventOf(kind: Kind, action: 'create' | 'update' | 'delete', object: unknown): ViewEvent {
  return { time: Date.now(), kind, action: action === 'delete' ? 'remove' : action, name: objectName({ kind, object }) };
}
