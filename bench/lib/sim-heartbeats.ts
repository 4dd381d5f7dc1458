// The simulated nodes' heartbeats, sent from a thread of their host process
// (bench/lib/sim-heartbeat-thread.ts) that their agents' and sessions' work does not block. On
// a real machine a node's heartbeat waits on nothing else of that node's; in bench:scale a few
// hundred nodes share one process, and a burst of assignments held its event loop for seconds:
// every node of it heartbeated late together and was marked down alive. Each heartbeat is the
// real one (worker/heartbeat.ts, the node's own certificate); only its connection is another
// than the session's (the dispatcher knows the node by its certificate, not its connection).
// The host process renices all its threads but this one (see reniceAllBut): the nodes' work
// yields to the managers, their heartbeats do not wait behind the machine's other work.
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { baton } from '../../proto/gen/baton.js';

export interface HeartbeatNode {
  /** The node's index in its host (the key of later messages). */
  index: number;
  addr: string;
  description: baton.NodeDescription.$Properties;
  caPem: string;
  certPem: string;
  keyPem: string;
  managers: baton.ManagerPeer.$Properties[];
}

export type ToHeartbeatThread = { type: 'add'; node: HeartbeatNode } | { type: 'stats' };

/** How late the thread's timers fired (its event loop's delay), in ms. */
export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

export interface HeartbeatThreadStats {
  type: 'stats';
  /** Round trips (ms) since the last stats request. */
  heartbeatMs: number[];
  failures: number;
  loop: LoopDelay;
}

export type FromHeartbeatThread =
  | { type: 'managers'; index: number; managers: baton.ManagerPeer.$Properties[] }
  | HeartbeatThreadStats
  /** The thread's kernel thread id (Linux), for the host to renice every thread but this one. */
  | { type: 'tid'; tid: number | undefined };

export class SimHeartbeats {
  private readonly worker: Worker;
  private readonly listeners = new Map<number, (managers: baton.ManagerPeer.$Properties[]) => void>();
  private readonly waiting: ((s: HeartbeatThreadStats) => void)[] = [];
  /** The thread's kernel thread id, once it started (undefined where /proc/thread-self is not). */
  readonly tid: Promise<number | undefined>;

  constructor() {
    this.worker = new Worker(new URL('./sim-heartbeat-thread.js', import.meta.url));
    let gotTid: (tid: number | undefined) => void = () => undefined;
    this.tid = new Promise((resolve) => (gotTid = resolve));
    this.worker.on('message', (msg: FromHeartbeatThread) => {
      if (msg.type === 'managers') this.listeners.get(msg.index)?.(msg.managers);
      else if (msg.type === 'tid') gotTid(msg.tid);
      else this.waiting.shift()?.(msg);
    });
    // Without its heartbeats every node of this host would be marked down: say so, and stop.
    this.worker.on('error', (err) => {
      process.stderr.write(`the simulated nodes' heartbeat thread failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    });
    this.worker.unref();
  }

  /** Starts heartbeating for a node; `onManagers` gets each new managers list its leader sends. */
  add(node: HeartbeatNode, onManagers: (managers: baton.ManagerPeer.$Properties[]) => void): void {
    this.listeners.set(node.index, onManagers);
    this.post({ type: 'add', node });
  }

  /** Samples since the last call, and resets them. */
  stats(): Promise<HeartbeatThreadStats> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.post({ type: 'stats' });
    });
  }

  private post(msg: ToHeartbeatThread): void {
    this.worker.postMessage(msg);
  }
}

/**
 * Sets the niceness of every thread of this process but `spare` (Linux counts niceness per
 * thread: os.setPriority of the process id would change the main thread alone, and a thread
 * inherits its creator's niceness when it is created). Threads created later by a reniced one
 * (libuv's pool, on first use by the main thread) inherit it. False if any could not be set.
 */
export function reniceAllBut(nice: number, spare: number | undefined): boolean {
  let ok = true;
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    tids = [process.pid];
  }
  for (const tid of tids) {
    if (tid === spare) continue;
    try {
      setPriority(tid, nice);
    } catch {
      ok = false;
    }
  }
  return ok;
}
