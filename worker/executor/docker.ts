// The docker executor (runtime `docker`): one container per task through dockerode. Nothing is kept
// in memory that the engine does not also know: a task's container is found by its labels on
// every call, so a restarted worker (a new executor) adopts what the previous one started, and
// several nodes sharing one engine (every multi-node test on one machine) never see each
// other's containers, because every lookup filters on this executor's cluster AND node.
import { stat } from 'node:fs/promises';
import Docker from 'dockerode';
import pino, { type Logger } from 'pino';
import { FrameDemuxer, RawLogSplitter } from './docker-logs.js';
import { httpStatus, engineMessage, rethrow, tolerate } from './docker-errors.js';
import { checkImageExists, ensureImage } from './docker-image.js';
import { LABEL, MAX_IMAGE_EXPOSED, createOptions, healthOf, imageExposedPorts, observe, type ExposedPort } from './docker-spec.js';
import { DockerHealthEvents } from './docker-health.js';
import { validateHealthCheck } from './health-spec.js';
import { ExecutorError, errorMessage, validateCommon, type Executor, type HealthWatch, type LogChunk, type LogOptions, type TaskHealth, type TaskObservation, type TaskRunSpec } from './types.js';

export interface DockerExecutorOptions {
  clusterId: string;
  nodeId: string;
  /** Defaults to the engine of DOCKER_HOST or the local socket. */
  docker?: Docker;
  /** Where published ports listen on the node; the mesh connects here. Default 127.0.0.1. */
  bindAddress?: string;
  logger?: Logger;
  /** Bound on pulling a missing image. Default 5 s. */
  pullTimeoutMs?: number;
  /** Added to every container (tests mark theirs); baton's own labels always win. */
  extraLabels?: Readonly<Record<string, string>>;
  /** Run docker-init as PID 1 so the task gets signals (see docker-spec.ts). Default true. */
  init?: boolean;
}

const PING_TIMEOUT_MS = 5_000;
// How often wait() looks at a container that exists but was not started yet.
const CREATED_POLL_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class DockerExecutor implements Executor {
  readonly runtime = 'docker' as const;
  private readonly docker: Docker;
  private readonly logger: Logger;
  private readonly bindAddress: string;
  private readonly healthEvents: DockerHealthEvents;

  constructor(private readonly opts: DockerExecutorOptions) {
    this.docker = opts.docker ?? new Docker();
    this.bindAddress = opts.bindAddress ?? '127.0.0.1';
    this.logger = (opts.logger ?? pino({ enabled: false })).child({ component: 'executor', runtime: 'docker' });
    this.healthEvents = new DockerHealthEvents(this.docker, this.ownLabels(), (taskId) => this.currentHealth(taskId), this.logger);
  }

  checkImage(image: string): Promise<void> {
    return checkImageExists(this.docker, image, this.opts.pullTimeoutMs ?? 5_000);
  }

  async available(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.docker.ping().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private ownLabels(): string[] {
    return [`${LABEL.cluster}=${this.opts.clusterId}`, `${LABEL.node}=${this.opts.nodeId}`];
  }

  /** This node's container of the task, or undefined. */
  private async find(taskId: string): Promise<Docker.Container | undefined> {
    try {
      const found = await this.docker.listContainers({
        all: true,
        filters: { label: [...this.ownLabels(), `${LABEL.task}=${taskId}`] },
      });
      const first = found[0];
      return first ? this.docker.getContainer(first.Id) : undefined;
    } catch (err) {
      return rethrow(err, `look up task ${taskId}`);
    }
  }

  private async require(taskId: string): Promise<Docker.Container> {
    const c = await this.find(taskId);
    if (!c) throw new ExecutorError('NOT_FOUND', `task ${taskId} has no container on node ${this.opts.nodeId}`);
    return c;
  }

  private async inspectOf(taskId: string, c: Docker.Container): Promise<Docker.ContainerInspectInfo> {
    try {
      return await c.inspect();
    } catch (err) {
      if (httpStatus(err) === 404) throw new ExecutorError('NOT_FOUND', `task ${taskId}: its container is gone`);
      return rethrow(err, `inspect task ${taskId}`);
    }
  }

  async prepare(spec: TaskRunSpec): Promise<void> {
    validateCommon(spec);
    validateHealthCheck(spec.taskId, spec.healthcheck);
    if (spec.image === '') throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: an image is required`);
    if (spec.clusterId !== this.opts.clusterId || spec.nodeId !== this.opts.nodeId) {
      throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId} belongs to node ${spec.nodeId} of cluster ${spec.clusterId}, not to this one`);
    }
    const existing = await this.find(spec.taskId);
    if (existing) {
      // A prepare interrupted between create and connect (an agent restart) left a container
      // that lacks some of its networks: finish the job before it starts.
      await this.connectNetworks(spec, existing);
      return;
    }
    await ensureImage(this.docker, spec.image, this.opts.pullTimeoutMs ?? 5_000, this.logger);
    await this.requireNetworks(spec);
    await requireBindSources(spec);
    const imageExposed = (spec.networks ?? []).length > 0 ? await this.imageExposed(spec) : [];
    let c: Docker.Container;
    try {
      c = await this.docker.createContainer(createOptions(spec, this.bindAddress, this.opts.extraLabels ?? {}, this.opts.init ?? true, imageExposed));
      this.logger.debug({ task: spec.taskId, container: c.id }, 'container created');
    } catch (err) {
      const status = httpStatus(err);
      // A concurrent prepare of the same task got there first: that is the idempotent case.
      if (status === 409 && (await this.find(spec.taskId))) return;
      // Our networks were there a moment ago; one that went since is named by the engine.
      if (status === 404 && /network/i.test(engineMessage(err)) && !/image/i.test(engineMessage(err))) {
        throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: ${engineMessage(err)}`);
      }
      if (status === 404) throw new ExecutorError('IMAGE_NOT_FOUND', `image "${spec.image}" not found: ${engineMessage(err)}`);
      if (status === 400 || status === 409) throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: ${engineMessage(err)}`);
      return rethrow(err, `create the container of task ${spec.taskId}`);
    }
    try {
      await this.connectNetworks(spec, c);
    } catch (err) {
      // A container without all its networks must not be found (and started) by the next
      // prepare as if it were ready: take it away, the task fails with the reason.
      await tolerate([404, 409], () => c.remove({ force: true, v: true })).catch((rmErr: unknown) =>
        this.logger.warn({ task: spec.taskId, err: errorMessage(rmErr) }, 'cannot remove a half-prepared container'),
      );
      throw err;
    }
  }

  /** Every network of the task must exist on the engine before anything is created on it. */
  private async requireNetworks(spec: TaskRunSpec): Promise<void> {
    for (const n of spec.networks ?? []) {
      try {
        await this.docker.getNetwork(n.dockerNetwork).inspect();
      } catch (err) {
        if (httpStatus(err) === 404) {
          throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: network ${JSON.stringify(n.dockerNetwork)} is not on this node's engine`);
        }
        rethrow(err, `inspect network ${n.dockerNetwork} of task ${spec.taskId}`);
      }
    }
  }

  /** The image's EXPOSE ports, at most MAX_IMAGE_EXPOSED of them. */
  private async imageExposed(spec: TaskRunSpec): Promise<ExposedPort[]> {
    let info: Docker.ImageInspectInfo;
    try {
      info = await this.docker.getImage(spec.image).inspect();
    } catch (err) {
      if (httpStatus(err) === 404) throw new ExecutorError('IMAGE_NOT_FOUND', `image "${spec.image}" not found: ${engineMessage(err)}`);
      return rethrow(err, `inspect image ${spec.image}`);
    }
    const ports = imageExposedPorts(info);
    if (ports.length > MAX_IMAGE_EXPOSED) {
      this.logger.warn({ task: spec.taskId, image: spec.image, exposed: ports.length, bound: MAX_IMAGE_EXPOSED }, 'the image exposes more ports than are bound for the mesh; the lowest are bound');
    }
    return ports.slice(0, MAX_IMAGE_EXPOSED);
  }

  /** Joins the container to the task's networks after the first (given at create), in order. */
  private async connectNetworks(spec: TaskRunSpec, c: Docker.Container): Promise<void> {
    const rest = (spec.networks ?? []).slice(1);
    if (rest.length === 0) return;
    const info = await this.inspectOf(spec.taskId, c);
    // Only a container that was never started may still be joined: a running or exited task is
    // past preparing, and the agent does not prepare it again.
    if (observe(info).state !== 'created') return;
    const joined = new Set<string>();
    for (const [name, ep] of Object.entries(info.NetworkSettings.Networks ?? {})) {
      joined.add(name);
      if (ep.NetworkID) joined.add(ep.NetworkID);
    }
    for (const n of rest) {
      if (joined.has(n.dockerNetwork)) continue;
      try {
        // No aliases (see docker-spec.ts): names are baton's DNS's to answer.
        await this.docker.getNetwork(n.dockerNetwork).connect({ Container: c.id });
      } catch (err) {
        const status = httpStatus(err);
        if (status === 404) {
          throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: network ${JSON.stringify(n.dockerNetwork)} is not on this node's engine`);
        }
        // 403 "already exists in network": a concurrent prepare connected it first.
        if (status === 403 && /already exists/i.test(engineMessage(err))) continue;
        if (status !== undefined) throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: cannot join network ${JSON.stringify(n.dockerNetwork)}: ${engineMessage(err)}`);
        rethrow(err, `connect task ${spec.taskId} to network ${n.dockerNetwork}`);
      }
    }
  }

  async start(taskId: string): Promise<TaskObservation> {
    const c = await this.require(taskId);
    try {
      await c.start();
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw new ExecutorError('NOT_FOUND', `task ${taskId}: its container is gone`);
      // 304: already started, which a retried start may well find.
      if (status !== 304) {
        if (status !== undefined) throw new ExecutorError('START_FAILED', `task ${taskId}: ${engineMessage(err)}`, { cause: err });
        rethrow(err, `start task ${taskId}`);
      }
    }
    return observe(await this.inspectOf(taskId, c));
  }

  async wait(taskId: string): Promise<TaskObservation> {
    const c = await this.require(taskId);
    for (;;) {
      const obs = observe(await this.inspectOf(taskId, c));
      if (obs.state === 'exited') return obs;
      if (obs.state === 'created') {
        await sleep(CREATED_POLL_MS);
        continue;
      }
      // A 404 here (removed meanwhile) surfaces as NOT_FOUND from the next inspect.
      await tolerate([404], () => c.wait({ condition: 'not-running' })).catch((err: unknown) => rethrow(err, `wait for task ${taskId}`));
    }
  }

  async inspect(taskId: string): Promise<TaskObservation | undefined> {
    const c = await this.find(taskId);
    if (!c) return undefined;
    const info = await tolerate([404], () => c.inspect()).catch((err: unknown) => rethrow(err, `inspect task ${taskId}`));
    return info && observe(info);
  }

  /** true when the container stopped running within ms. */
  private async exitsWithin(c: Docker.Container, ms: number): Promise<boolean> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      await tolerate([404], () => c.wait({ condition: 'not-running', abortSignal: abort.signal }));
      return true;
    } catch (err) {
      if (abort.signal.aborted) return false;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // Not `docker stop`: its timeout is whole seconds, and the task's grace is in milliseconds.
  async shutdown(taskId: string, graceMs: number): Promise<void> {
    const c = await this.find(taskId);
    if (!c) return;
    try {
      const info = await tolerate([404], () => c.inspect());
      if (!info || observe(info).state !== 'running') return;
      // The image's STOPSIGNAL, as `docker stop` would send (the typings lack the field).
      const stopSignal = (info.Config as { StopSignal?: string }).StopSignal;
      const signal = stopSignal !== undefined && stopSignal !== '' ? stopSignal : 'SIGTERM';
      // 409: it is not running any more, which is what we wanted.
      await tolerate([404, 409], () => c.kill({ signal }));
      if (await this.exitsWithin(c, graceMs)) return;
      this.logger.info({ task: taskId, graceMs }, 'task outlived its stop grace period, killing');
      await tolerate([404, 409], () => c.kill({ signal: 'SIGKILL' }));
      await tolerate([404], () => c.wait({ condition: 'not-running' }));
    } catch (err) {
      rethrow(err, `shut down task ${taskId}`);
    }
  }

  async remove(taskId: string): Promise<void> {
    const c = await this.find(taskId);
    if (!c) return;
    // 409: a removal is already in progress.
    await tolerate([404, 409], () => c.remove({ force: true, v: true })).catch((err: unknown) => rethrow(err, `remove task ${taskId}`));
  }

  async list(): Promise<TaskObservation[]> {
    try {
      const found = await this.docker.listContainers({ all: true, filters: { label: this.ownLabels() } });
      const infos = await Promise.all(found.map((f) => tolerate([404], () => this.docker.getContainer(f.Id).inspect())));
      return infos.filter((i) => i !== undefined).map(observe);
    } catch (err) {
      return rethrow(err, 'list tasks');
    }
  }

  /** The engine runs the checks (the task's, or the image's own HEALTHCHECK); we follow its verdicts. */
  watchHealth(taskId: string, _last: TaskHealth, onHealth: (health: TaskHealth) => void): HealthWatch {
    return this.healthEvents.watch(taskId, onHealth);
  }

  private async currentHealth(taskId: string): Promise<TaskHealth | undefined> {
    const c = await this.find(taskId);
    const info = c && (await tolerate([404], () => c.inspect()));
    return info?.State.Running ? healthOf(info) : undefined;
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogChunk> {
    const c = await this.require(taskId);
    const base = { stdout: true, stderr: true, timestamps: true, ...(opts.tail > 0 ? { tail: opts.tail } : {}) };
    // A task with a TTY (`--tty`) has one raw stream, not the engine's stdout/stderr frames.
    const info = await this.inspectOf(taskId, c);
    const demux = info.Config.Tty ? new RawLogSplitter() : new FrameDemuxer();
    const unreadable = (err: unknown, what: string): never => {
      // Docker's words, for a driver that keeps nothing to read back (`--log-driver none`).
      if (httpStatus(err) === 501) throw new ExecutorError('LOGS_UNREADABLE', `Error grabbing logs: ${engineMessage(err)}`);
      return rethrow(err, what);
    };
    if (!opts.follow) {
      const buf = await c.logs({ ...base, follow: false }).catch((err: unknown) => unreadable(err, `read logs of task ${taskId}`));
      yield* demux.push(buf);
      yield* demux.end();
      return;
    }
    const stream = await c.logs({ ...base, follow: true }).catch((err: unknown) => unreadable(err, `follow logs of task ${taskId}`));
    try {
      for await (const piece of stream) {
        yield* demux.push(typeof piece === 'string' ? Buffer.from(piece) : Buffer.from(piece));
      }
      yield* demux.end();
    } finally {
      // A consumer that stops early must not leave the engine streaming into a dead socket.
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }
}

/**
 * A bind's source must be on the node already, as Docker's service mounts want (the engine does
 * not make it). Checked here, on the node (the node's engine is local: ports are bound on the
 * node's address for the same reason), so the task fails with Docker's own one line rather than
 * whatever the create reports.
 */
async function requireBindSources(spec: TaskRunSpec): Promise<void> {
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'bind') continue;
    try {
      await stat(m.source);
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: bind source path does not exist: ${m.source}`);
      throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: bind source path ${m.source}: ${errorMessage(err)}`);
    }
  }
}

export function createDockerExecutor(opts: DockerExecutorOptions): Executor {
  return new DockerExecutor(opts);
}
