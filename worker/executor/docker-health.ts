// Health of this node's containers, as the engine's own health checks find it. One events
// stream per executor (`health_status` events, filtered by the engine to this cluster's and
// node's labels) rather than polling inspect per container: it costs nothing while health is
// steady, however many tasks run, and a change is known at once. Every watcher is also given
// the container's health from inspect when it starts watching and after every reconnect of
// the stream, so a change the engine announced while no stream was open is not missed.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { LABEL } from './docker-spec.js';
import { errorMessage, type HealthWatch, type TaskHealth } from './types.js';

interface Watcher {
  taskId: string;
  onHealth: (health: TaskHealth) => void;
  last?: TaskHealth;
  stopped: boolean;
}

interface EngineEvent {
  Action?: string;
  Actor?: { Attributes?: Record<string, string> };
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5_000;

export class DockerHealthEvents {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private stream: NodeJS.ReadableStream | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly docker: Docker,
    /** `key=value` labels every container of this node carries. */
    private readonly labels: string[],
    /** The task's health from inspect now; undefined when it has no running container. */
    private readonly inspectHealth: (taskId: string) => Promise<TaskHealth | undefined>,
    private readonly logger: Logger,
  ) {}

  watch(taskId: string, onHealth: (health: TaskHealth) => void): HealthWatch {
    const w: Watcher = { taskId, onHealth, stopped: false };
    const set = this.watchers.get(taskId) ?? new Set<Watcher>();
    set.add(w);
    this.watchers.set(taskId, set);
    // The stream first, then inspect: a change after the inspect arrives as an event.
    void this.connect().then(() => this.refresh(w));
    return {
      stop: () => {
        w.stopped = true;
        set.delete(w);
        if (set.size === 0 && this.watchers.get(taskId) === set) this.watchers.delete(taskId);
        if (this.watchers.size === 0) this.close();
      },
    };
  }

  private deliver(w: Watcher, health: TaskHealth): void {
    if (w.stopped || w.last === health) return;
    w.last = health;
    w.onHealth(health);
  }

  private async refresh(w: Watcher): Promise<void> {
    if (w.stopped) return;
    try {
      const health = await this.inspectHealth(w.taskId);
      if (health !== undefined) this.deliver(w, health);
    } catch (err) {
      this.logger.debug({ task: w.taskId, err: errorMessage(err) }, 'cannot inspect the health of the task');
    }
  }

  /** Resolves once a stream is open, or after a failed attempt (a retry is then scheduled). */
  private connect(): Promise<void> {
    if (this.stream) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connecting = this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getEvents({ filters: { type: ['container'], event: ['health_status'], label: this.labels } });
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'cannot follow container health events, retrying');
      this.reconnectLater();
      return;
    }
    if (this.watchers.size === 0) {
      destroy(stream);
      return;
    }
    this.failures = 0;
    this.stream = stream;
    let buffered = '';
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') this.onEvent(line);
    });
    const ended = (): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (this.watchers.size > 0) this.reconnectLater();
    };
    stream.on('end', ended);
    stream.on('close', ended);
    stream.on('error', (err: unknown) => {
      this.logger.debug({ err: errorMessage(err) }, 'container health events stream failed');
      ended();
    });
  }

  private onEvent(line: string): void {
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      return;
    }
    // "health_status: healthy"
    const status = event.Action?.split(':')[1]?.trim();
    const taskId = event.Actor?.Attributes?.[LABEL.task];
    if (taskId === undefined || (status !== 'starting' && status !== 'healthy' && status !== 'unhealthy')) return;
    for (const w of this.watchers.get(taskId) ?? []) this.deliver(w, status);
  }

  private reconnectLater(): void {
    if (this.retryTimer || this.watchers.size === 0) return;
    this.failures++;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (this.failures - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.watchers.size === 0) return;
      void this.connect().then(() => {
        for (const set of this.watchers.values()) for (const w of set) void this.refresh(w);
      });
    }, delay);
  }

  private close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream) destroy(stream);
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
