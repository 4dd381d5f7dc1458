// Messages between the mesh and its worker processes (workers.ts, worker-process.ts).
import type { ProxyMode } from './proxy-header.js';

/** One published TCP port's routing, as the workers need it. */
export interface PortConfig {
  key: string;
  port: number;
  serviceName: string;
  proxy: ProxyMode;
  leastConnections: boolean;
  backends: string[];
}

/** A backend's counters in a worker. */
export interface BackendCounters {
  addr: string;
  open: number;
  connectionsTotal: number;
  failuresTotal: number;
  bytesIn: number;
  bytesOut: number;
}

export type ToWorker =
  | { t: 'table'; ports: PortConfig[] }
  /** Sent with the listening handle of `key`. */
  | { t: 'port'; key: string }
  | { t: 'close-port'; key: string }
  | { t: 'stop' };

export type FromWorker = { t: 'ready' } | { t: 'stats'; ports: Record<string, BackendCounters[]> };
