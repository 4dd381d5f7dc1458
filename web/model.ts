// What the web view's page receives from a manager (GET /api/state, then server-sent events on
// GET /api/events): plain JSON, read-only. The manager builds it (manager/webview/), the page
// (web/app.ts) draws it. Names are Docker's words for the same things.

export interface ViewNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** ready, down, disconnected, unknown */
  state: string;
  /** active, pause, drain */
  availability: string;
  leader: boolean;
  addr: string;
}

export interface ViewService {
  id: string;
  name: string;
  /** replicated, global, replicated job, global job */
  mode: string;
  /** Replicas asked for (replicated); running tasks for global. */
  desired: number;
  running: number;
  image: string;
  /** "8080:80/tcp" as `service ls` prints them. */
  ports: string[];
  /** updating, paused, completed, rollback_started, ... or '' */
  update: string;
}

export interface ViewTask {
  id: string;
  serviceId: string;
  /** <service>.<slot> or <service>.<node id> */
  name: string;
  slot: number;
  nodeId: string;
  /** running, pending, failed, ... */
  state: string;
  desired: string;
  /** healthy, unhealthy, starting, or '' without a health check */
  health: string;
  image: string;
  message: string;
}

export interface ViewEvent {
  /** ms since the epoch */
  time: number;
  kind: string;
  action: 'create' | 'update' | 'remove';
  name: string;
}

export interface ViewState {
  clusterId: string;
  /** The manager that answers. */
  nodeId: string;
  nodes: ViewNode[];
  services: ViewService[];
  tasks: ViewTask[];
  events: ViewEvent[];
}

/** A change of the state: objects added or changed, ids removed, events since the last one. */
export interface ViewDelta {
  nodes: ViewNode[];
  services: ViewService[];
  tasks: ViewTask[];
  removed: { nodes: string[]; services: string[]; tasks: string[] };
  events: ViewEvent[];
}
