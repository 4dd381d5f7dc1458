// Extra processes that share the mesh's listening TCP sockets, so the relay can use more than
// one core: the kernel hands each new connection to whichever process accepts it first (the
// mesh's own process is one of them). Each worker gets the routing of every TCP port with
// every apply(), reports its counters every 500 ms (metricsText() adds them), and is restarted
// if it dies. UDP stays in the mesh's process (its flows are per-client state).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { MeshEngine } from './engines.js';
import type { BackendCounters, FromWorker, PortConfig, ToWorker } from './worker-protocol.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.js', import.meta.url));

interface Worker {
  child: ChildProcess;
  stats: Record<string, BackendCounters[]>;
  /**
   * Set by the worker's first message, sent once its message handler is attached. Nothing is
   * sent to it before: a listening socket passed to a child starts accepting as it arrives,
   * while the child may still be loading its modules with no handler to take it, and the
   * connections it accepted then were never relayed (half the runs of the net engine's worker
   * test hung on one).
   */
  ready: boolean;
}

export class MeshWorkers {
  private readonly workers: Worker[] = [];
  private table: PortConfig[] = [];
  /** Each port's listening socket as the engine shares it (a net.Server or a libuv handle). */
  private readonly handles = new Map<string, unknown>();
  private closing = false;

  constructor(
    count: number,
    private readonly logger: Logger,
    private readonly preconnect: number,
    private readonly engine: MeshEngine,
  ) {
    for (let i = 0; i < count; i++) this.workers.push(this.spawn());
  }

  private spawn(): Worker {
    const child = fork(WORKER_SCRIPT, [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, BATON_MESH_PRECONNECT: String(this.preconnect), BATON_MESH_WORKER_ENGINE: this.engine },
      serialization: 'json',
    });
    const w: Worker = { child, stats: {}, ready: false };
    child.on('message', (msg: FromWorker) => {
      if (msg.t === 'stats') w.stats = msg.ports;
      else if (msg.t === 'ready' && !w.ready) {
        w.ready = true;
        this.sendTo(w, { t: 'table', ports: this.table });
        for (const [key, handle] of this.handles) this.sendTo(w, { t: 'port', key }, handle);
      }
    });
    child.on('error', (err) => this.logger.error({ err }, 'mesh worker error'));
    child.on('exit', (code, signal) => {
      if (this.closing) return;
      this.logger.error({ code, signal, pid: child.pid }, 'mesh worker exited; starting another');
      const i = this.workers.indexOf(w);
      if (i < 0) return;
      this.workers[i] = this.spawn();
    });
    return w;
  }

  /** To a worker that is ready (until then it gets nothing; it gets the whole state once ready). */
  private sendTo(w: Worker, msg: ToWorker, handle?: unknown): void {
    if (!w.ready || !w.child.connected) return;
    const cb = (err: Error | null): void => {
      if (err && !this.closing) this.logger.warn({ err, msg: msg.t }, 'mesh worker message not delivered');
    };
    // A net.Server travels as itself; a libuv TCP handle like one (node's 'net.Native' conversion).
    if (handle !== undefined) w.child.send(msg, handle as Server, cb);
    else w.child.send(msg, cb);
  }

  setTable(ports: PortConfig[]): void {
    this.table = ports;
    for (const w of this.workers) this.sendTo(w, { t: 'table', ports });
  }

  addPort(key: string, handle: unknown): void {
    this.handles.set(key, handle);
    for (const w of this.workers) this.sendTo(w, { t: 'port', key }, handle);
  }

  removePort(key: string): void {
    if (!this.handles.delete(key)) return;
    for (const w of this.workers) this.sendTo(w, { t: 'close-port', key });
  }

  /** Counters of `key` summed over the workers, by backend address. */
  counters(key: string): Map<string, BackendCounters> {
    const out = new Map<string, BackendCounters>();
    for (const w of this.workers) {
      for (const c of w.stats[key] ?? []) {
        const sum = out.get(c.addr);
        if (!sum) out.set(c.addr, { ...c });
        else {
          sum.open += c.open;
          sum.connectionsTotal += c.connectionsTotal;
          sum.failuresTotal += c.failuresTotal;
          sum.bytesIn += c.bytesIn;
          sum.bytesOut += c.bytesOut;
        }
      }
    }
    return out;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid ?? 0).filter((p) => p > 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => w.child.kill('SIGKILL'), 2000);
            w.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (w.child.connected) w.child.send({ t: 'stop' } satisfies ToWorker);
            else w.child.kill('SIGTERM');
          }),
      ),
    );
  }
}
