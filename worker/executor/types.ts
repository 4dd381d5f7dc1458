// The one interface every executor implements: the agent converges tasks through
// it without knowing whether a task is a Docker container or a plain process.
import { isIP } from 'node:net';
import { VOLUME_NAME_PATTERN } from '../../spec/index.js';

/** Everything an executor needs to run one task; the agent builds it from a baton.Task. */
export interface TaskRunSpec {
  taskId: string;
  serviceId: string;
  serviceName: string;
  slot: number;
  nodeId: string;
  clusterId: string;
  runtime: 'docker' | 'process';
  /** Docker only; the process executor ignores it. */
  image: string;
  /** Docker: overrides the image's entrypoint. Process: command[0] is the program. */
  command: string[];
  args: string[];
  /** KEY=VALUE */
  env: string[];
  /** Working directory; '' = the image's (docker) or a per-task directory (process). */
  dir: string;
  /** 0 = unlimited. */
  limits: { nanoCpus: number; memoryBytes: number };
  /**
   * Published through the node: each gets an ephemeral host port (what the mesh targets),
   * reported in TaskObservation.ports; one with `hostPort` (host-mode publish) is bound on
   * exactly that port of the node instead.
   */
  ports: { targetPort: number; protocol: 'tcp' | 'udp'; hostPort?: number }[];
  /**
   * Docker: the node's bridges for the task's baton networks (worker/network), joined in this
   * order (the first at create). Empty or absent: Docker's default bridge, as before networks.
   */
  networks?: { dockerNetwork: string }[];
  /** Docker: the resolvers the container uses (the node's baton DNS on its first network). */
  dns?: string[];
  /**
   * Target ports other tasks reach through the service's name but not published: bound to
   * ephemeral host ports as `ports` are (and reported the same way). Docker adds the image's
   * EXPOSE ports to these when the task is on a network.
   */
  expose?: { targetPort: number; protocol: 'tcp' | 'udp' }[];
  /** Docker's mounts (proto Mount); the process runtime's meaning is in process.ts. */
  mounts?: TaskMount[];
  /** SIGTERM, then SIGKILL after this. */
  stopGraceMs: number;
  /** Absent: the image's own HEALTHCHECK (docker), no check (process). */
  healthcheck?: HealthCheckSpec;
  /** Secrets (docker: at /run/secrets/…; process: BATON_SECRETS_DIR), absent when none. */
  secrets?: MountedFiles;
  /** Configs (docker: at their absolute target; process: BATON_CONFIGS_DIR), absent when none. */
  configs?: MountedFiles;
  /**
   * Docker's container options (proto ContainerSpec 11-23, TaskSpec.log_driver), absent when not
   * set; templates are already expanded by the agent. The process runtime honours stopSignal
   * and a numeric user only (validateServiceSpec refuses the others for it).
   */
  options?: ContainerOptions;
}

export interface ContainerOptions {
  /** Absent: the task's name (docker-spec.ts). */
  hostname?: string;
  /** user|uid[:group|gid] */
  user?: string;
  groups?: string[];
  /** Beside baton's own labels, which win. */
  labels?: Record<string, string>;
  init?: boolean;
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  sysctls?: Record<string, string>;
  /** -1: unlimited. */
  ulimits?: { name: string; soft: number; hard: number }[];
  /** As typed (SIGUSR1, usr1, 10); absent: the image's STOPSIGNAL, else SIGTERM. */
  stopSignal?: string;
  /** HOST:IP lines for /etc/hosts. */
  extraHosts?: string[];
  tty?: boolean;
  /**
   * The task's own DNS (`--dns`, `--dns-search`, `--dns-option`). The nameservers are the
   * container's only off baton networks; on them the container asks baton's resolver
   * (TaskRunSpec.dns), which forwards to these (worker/network/manager.ts).
   */
  dnsNameservers?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  logDriver?: { name: string; options: Record<string, string> };
}

export interface TaskMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name ('' = anonymous) or the node's path (bind); '' for tmpfs. */
  source: string;
  /** Absolute path in the task. */
  target: string;
  readOnly: boolean;
  volumeDriver?: string;
  volumeOptions?: Record<string, string>;
  volumeNoCopy?: boolean;
  volumeLabels?: Record<string, string>;
  tmpfsSizeBytes?: number;
  tmpfsMode?: number;
}

/**
 * Files the agent wrote for a task into memory-backed storage (never in clear on disk). Docker
 * bind-mounts each file read-only at its target; the process runtime gets the directory.
 */
export interface MountedFiles {
  /** Absolute host directory holding the files. */
  dir: string;
  /** `path` is relative to `dir`; `target` is the absolute path the task sees in a container. */
  files: { path: string; target: string }[];
}

/** Docker's health check model (proto HealthConfig); zero durations and retries mean the defaults. */
export interface HealthCheckSpec {
  /** ['CMD', program, ...args] | ['CMD-SHELL', 'shell command'] | ['NONE'] (disables the image's own). */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

/** A running task's health as its runtime sees it (Docker's State.Health.Status); 'none' without a check. */
export type TaskHealth = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface HealthWatch {
  stop(): void;
}

export interface PortBinding {
  targetPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface TaskObservation {
  taskId: string;
  /** Container ID (docker) or pid (process). */
  runtimeId: string;
  state: 'created' | 'running' | 'exited';
  exitCode?: number;
  error?: string;
  /** ms since the epoch */
  startedAt?: number;
  finishedAt?: number;
  /** Bound host ports while running; empty otherwise. */
  ports: PortBinding[];
  /** What the runtime knows of the task's health when observed (docker: the engine's probe state). */
  health?: TaskHealth;
}

export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
  /** ms since the epoch */
  timestamp: number;
}

export interface LogOptions {
  /** Keep streaming until the task exits (or the consumer stops iterating). */
  follow: boolean;
  /** Only the last N lines; 0 = all. */
  tail: number;
}

export interface Executor {
  readonly runtime: 'docker' | 'process';
  /** docker: the engine answers a ping. */
  available(): Promise<boolean>;
  /** Makes the task ready to start (image present, container created) without starting it. Idempotent. */
  prepare(spec: TaskRunSpec): Promise<void>;
  start(taskId: string): Promise<TaskObservation>;
  /** Resolves once the task has exited; works for tasks adopted from an earlier executor too. */
  wait(taskId: string): Promise<TaskObservation>;
  /** undefined when this node has no such task. */
  inspect(taskId: string): Promise<TaskObservation | undefined>;
  /** Stop signal, then SIGKILL after graceMs. Idempotent; an exited or unknown task is fine. */
  shutdown(taskId: string, graceMs: number): Promise<void>;
  /** Kills if needed and forgets the task. Idempotent. */
  remove(taskId: string): Promise<void>;
  /** Every task of this cluster and node, for adoption after a worker restart. */
  list(): Promise<TaskObservation[]>;
  logs(taskId: string, opts: LogOptions): AsyncIterable<LogChunk>;
  /** docker: throws IMAGE_NOT_FOUND unless the engine or the image's registry has it. */
  checkImage?(image: string): Promise<void>;
  /**
   * Follows a running task's health: calls onHealth with its health as soon as known, then on
   * every change, until stop(). `last` is the health reported before (e.g. before an agent
   * restart), where the runtime cannot tell it by itself. Never throws; problems are logged.
   */
  watchHealth?(taskId: string, last: TaskHealth, onHealth: (health: TaskHealth) => void): HealthWatch;
}

/** LOGS_UNREADABLE: the task's log driver keeps no output the node can read back (Docker's `none`). */
export type ExecutorErrorCode = 'IMAGE_NOT_FOUND' | 'INVALID_SPEC' | 'LOGS_UNREADABLE' | 'NOT_FOUND' | 'RUNTIME_UNAVAILABLE' | 'START_FAILED';

export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';
  constructor(
    readonly code: ExecutorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Swarm's task name, `<service>.<slot>.<task id>`: the container's hostname and the base of its name. */
export function taskName(spec: Pick<TaskRunSpec, 'serviceName' | 'slot' | 'taskId'>): string {
  return `${spec.serviceName}.${spec.slot}.${spec.taskId}`;
}

// Task IDs become directory names (process) and name suffixes (docker): nothing that could
// climb out of a directory or need quoting.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const DOCKER_NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Checks what both executors rely on; throws INVALID_SPEC naming the first problem. */
export function validateCommon(spec: TaskRunSpec): void {
  const bad = (why: string): never => {
    throw new ExecutorError('INVALID_SPEC', `task ${JSON.stringify(spec.taskId)}: ${why}`);
  };
  if (!SAFE_ID.test(spec.taskId) || spec.taskId.includes('..')) bad('task id must be 1-128 of [A-Za-z0-9_.-]');
  if (spec.clusterId === '' || spec.nodeId === '') bad('cluster and node IDs are required');
  if (!Number.isInteger(spec.slot) || spec.slot < 0) bad(`slot ${spec.slot} is not a non-negative integer`);
  for (const kv of spec.env) if (!kv.includes('=') || kv.startsWith('=')) bad(`env entry ${JSON.stringify(kv)} is not KEY=VALUE`);
  const seen = new Set<string>();
  for (const p of spec.ports) {
    if (!Number.isInteger(p.targetPort) || p.targetPort < 1 || p.targetPort > 65535) bad(`port ${p.targetPort} is out of range`);
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') bad(`port protocol ${String(p.protocol)} is not tcp or udp`);
    if (p.hostPort !== undefined && (!Number.isInteger(p.hostPort) || p.hostPort < 1 || p.hostPort > 65535)) bad(`host port ${p.hostPort} is out of range`);
    const key = `${p.targetPort}/${p.protocol}${p.hostPort ? ` on host port ${p.hostPort}` : ''}`;
    if (seen.has(key)) bad(`port ${key} is listed twice`);
    seen.add(key);
  }
  const exposed = new Set<string>();
  for (const p of spec.expose ?? []) {
    if (!Number.isInteger(p.targetPort) || p.targetPort < 1 || p.targetPort > 65535) bad(`exposed port ${p.targetPort} is out of range`);
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') bad(`exposed port protocol ${String(p.protocol)} is not tcp or udp`);
    const key = `${p.targetPort}/${p.protocol}`;
    if (exposed.has(key)) bad(`exposed port ${key} is listed twice`);
    exposed.add(key);
  }
  const targets = new Set<string>();
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'volume' && m.type !== 'bind' && m.type !== 'tmpfs') bad(`mount type ${String(m.type)} is not volume, bind or tmpfs`);
    if (!m.target.startsWith('/') || /^\/+$/.test(m.target)) bad(`mount target ${JSON.stringify(m.target)} is not an absolute path other than /`);
    if (targets.has(m.target)) bad(`two mounts on ${JSON.stringify(m.target)}`);
    targets.add(m.target);
    if (m.type === 'bind' && !m.source.startsWith('/')) bad(`bind source ${JSON.stringify(m.source)} is not an absolute path`);
    if (m.type === 'volume' && m.source !== '' && !VOLUME_NAME_PATTERN.test(m.source)) bad(`volume name ${JSON.stringify(m.source)} is not valid`);
  }
  const networks = new Set<string>();
  for (const n of spec.networks ?? []) {
    // A Docker network's ID or name: what the engine accepts, and nothing a path could climb with.
    if (!DOCKER_NETWORK.test(n.dockerNetwork)) bad(`network ${JSON.stringify(n.dockerNetwork.slice(0, 64))} is not a Docker network name or ID`);
    if (networks.has(n.dockerNetwork)) bad(`network ${JSON.stringify(n.dockerNetwork)} is listed twice`);
    networks.add(n.dockerNetwork);
  }
  for (const d of spec.dns ?? []) if (isIP(d) === 0) bad(`resolver ${JSON.stringify(d.slice(0, 64))} is not an IP address`);
  if (spec.limits.nanoCpus < 0 || spec.limits.memoryBytes < 0) bad('limits must not be negative');
  if (!(spec.stopGraceMs >= 0)) bad('stopGraceMs must not be negative');
  for (const m of [spec.secrets, spec.configs]) {
    if (!m) continue;
    if (!m.dir.startsWith('/')) bad(`file directory ${JSON.stringify(m.dir)} is not absolute`);
    for (const f of m.files) {
      if (f.path.startsWith('/') || f.path.split('/').includes('..')) bad(`file ${JSON.stringify(f.path)} is not inside its directory`);
      if (!f.target.startsWith('/') || f.target.split('/').includes('..')) bad(`file target ${JSON.stringify(f.target)} is not an absolute path`);
    }
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
