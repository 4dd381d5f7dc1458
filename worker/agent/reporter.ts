// Task statuses on their way to the managers. Updates are coalesced for a short window and sent
// in one call, the latest status per task replacing earlier ones (states only move forward and
// terminal states are final, so the latest is the one that matters and a terminal one is never
// replaced). A failed call is retried with backoff, with whatever arrived meanwhile merged in.
import type { Logger } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { MAX_TASK_STATUS_TEXT, echo } from '../../spec/index.js';

export interface ReporterOptions {
  send: (updates: baton.internal.TaskStatusUpdate.$Properties[]) => Promise<void>;
  /** Called with what was acknowledged, before waiters are told. */
  onAcked: (acked: [string, baton.TaskStatus.$Properties][]) => Promise<void>;
  logger: Logger;
  coalesceMs?: number;
  /** Most updates in one call; the rest follow at once in the next. */
  maxBatch?: number;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class Reporter {
  private readonly pending = new Map<string, baton.TaskStatus.$Properties>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private failures = 0;
  private stopped = false;
  private readonly coalesceMs: number;
  private readonly maxBatch: number;

  constructor(private readonly opts: ReporterOptions) {
    this.coalesceMs = opts.coalesceMs ?? 50;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  push(taskId: string, status: baton.TaskStatus.$Properties): void {
    if (this.stopped) return;
    this.pending.set(taskId, status);
    this.schedule(this.coalesceMs);
  }

  /** Resolves once no status of this task is waiting to be acknowledged. */
  whenAcked(taskId: string): Promise<void> {
    if (!this.pending.has(taskId)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(taskId) ?? [];
      list.push(resolve);
      this.waiters.set(taskId, list);
    });
  }

  /** Nothing is sent after this; what is pending stays in the DB for the next agent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer || this.sending) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private async flush(): Promise<void> {
    if (this.stopped || this.pending.size === 0) return;
    const batch = [...this.pending].slice(0, this.maxBatch);
    this.sending = true;
    try {
      await this.opts.send(batch.map(([taskId, status]) => ({ taskId, status })));
      this.failures = 0;
      const acked = batch.filter(([id, status]) => this.pending.get(id) === status);
      for (const [id] of acked) this.pending.delete(id);
      await this.opts.onAcked(acked).catch((err: unknown) => {
        // The DB is closed (agent stopping) or failing: the statuses are re-sent after a restart.
        this.opts.logger.debug({ err }, 'could not clear acknowledged statuses');
      });
      for (const [id] of acked) {
        for (const resolve of this.waiters.get(id) ?? []) resolve();
        this.waiters.delete(id);
      }
    } catch (err) {
      this.failures++;
      this.opts.logger.warn({ err, updates: batch.length, failures: this.failures }, 'task status report failed, retrying');
    } finally {
      this.sending = false;
    }
    if (this.pending.size === 0) return;
    // After a failure, wait longer each time; a full call's worth still queued goes out at once;
    // otherwise what arrived during the call coalesces with what follows it.
    let delay = this.pending.size >= this.maxBatch ? 0 : this.coalesceMs;
    if (this.failures > 0) delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    this.schedule(delay);
  }
}

/** A status whose err and message are at most MAX_TASK_STATUS_TEXT characters (the same object when they are). */
export function withShortTexts(status: baton.TaskStatus.$Properties): baton.TaskStatus.$Properties {
  const cut = (text: string | null | undefined): string | null | undefined => (text ? echo(text, MAX_TASK_STATUS_TEXT) : text);
  const err = cut(status.err);
  const message = cut(status.message);
  return err === status.err && message === status.message ? status : { ...status, err, message };
}
