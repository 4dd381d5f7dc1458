// From an assigned baton.Task to what an executor runs (worker/executor/types.ts).
import { baton } from '../../proto/gen/baton.js';
import type { HealthCheckSpec, PortBinding, TaskHealth, TaskMount, TaskRunSpec } from '../executor/types.js';
import { DEFAULT_RUNTIME, DEFAULT_STOP_GRACE_MS, expandTemplate, mountTypeName, type TemplateContext } from '../../spec/index.js';
import { containerOptions, expandEnv, localNodeFacts, templateContext, type NodeFacts } from './task-options.js';

export { DEFAULT_STOP_GRACE_MS };

/** The runtime a task asks for; Swarm's default is Docker. */
export function runtimeOf(task: baton.Task.$Properties): string {
  return task.spec?.runtime || DEFAULT_RUNTIME;
}

export function stopGraceMs(task: baton.Task.$Properties): number {
  return task.spec?.container?.stopGraceMs || DEFAULT_STOP_GRACE_MS;
}

/**
 * `files`: where the agent wrote the task's secrets and configs (task-files.ts). `node`: this
 * node's hostname and platform, for the Go templates of the hostname, env values and mount
 * sources (`{{.Service.Name}}-{{.Task.Slot}}`), expanded here as Docker's agent does.
 */
export function toRunSpec(task: baton.Task.$Properties, clusterId: string, nodeId: string, files: Pick<TaskRunSpec, 'secrets' | 'configs'> = {}, node: NodeFacts = localNodeFacts()): TaskRunSpec {
  const c = task.spec?.container ?? {};
  const limits = task.spec?.resources?.limits ?? {};
  const slot = task.slot ?? 0;
  const runtime = runtimeOf(task);
  const who = { taskId: task.meta?.id ?? '', serviceId: task.serviceId ?? '', serviceName: serviceName(task, nodeId), slot, nodeId };
  const context = templateContext(task, who, node);
  const options = containerOptions(task, context);
  // Built field by field, not from spreads: in Node 20's V8 an object spread of a literal costs
  // microseconds (the spreads here were ~20 µs of every task's start).
  const spec: TaskRunSpec = {
    taskId: who.taskId,
    serviceId: who.serviceId,
    serviceName: who.serviceName,
    slot,
    nodeId,
    clusterId,
    runtime: runtime === 'process' ? 'process' : 'docker',
    image: c.image ?? '',
    command: c.command ?? [],
    args: c.args ?? [],
    env: expandEnv(c.env ?? [], context),
    dir: c.dir ?? '',
    limits: { nanoCpus: limits.nanoCpus ?? 0, memoryBytes: limits.memoryBytes ?? 0 },
    ports: targetPorts(task),
    stopGraceMs: stopGraceMs(task),
  };
  const expose = exposedPorts(task);
  if (expose.length > 0) spec.expose = expose;
  if ((c.mounts ?? []).length > 0) spec.mounts = (c.mounts ?? []).map((m) => taskMount(m, context));
  if (c.healthcheck) spec.healthcheck = healthCheckOf(c.healthcheck);
  if (options) spec.options = options;
  return Object.assign(spec, files);
}

function taskMount(m: baton.Mount.$Properties, context: TemplateContext): TaskMount {
  const type = mountTypeName(m.type);
  const out: TaskMount = { type, source: expandTemplate(m.source ?? '', context), target: m.target ?? '', readOnly: m.readOnly ?? false };
  if (type === 'volume') {
    if (m.volumeDriver) out.volumeDriver = m.volumeDriver;
    if (Object.keys(m.volumeOptions ?? {}).length > 0) out.volumeOptions = { ...m.volumeOptions };
    if (m.volumeNocopy) out.volumeNoCopy = true;
    if (Object.keys(m.volumeLabels ?? {}).length > 0) out.volumeLabels = { ...m.volumeLabels };
  }
  if (type === 'tmpfs') {
    if (Number(m.tmpfsSizeBytes ?? 0) > 0) out.tmpfsSizeBytes = Number(m.tmpfsSizeBytes);
    if (m.tmpfsMode) out.tmpfsMode = m.tmpfsMode;
  }
  return out;
}

function healthCheckOf(h: baton.HealthConfig.$Properties): HealthCheckSpec {
  return {
    test: h.test ?? [],
    intervalMs: Number(h.intervalMs ?? 0),
    timeoutMs: Number(h.timeoutMs ?? 0),
    retries: h.retries ?? 0,
    startPeriodMs: Number(h.startPeriodMs ?? 0),
  };
}

const HEALTH_STATES: Record<TaskHealth, baton.HealthState> = {
  none: baton.HealthState.HEALTH_NONE,
  starting: baton.HealthState.HEALTH_STARTING,
  healthy: baton.HealthState.HEALTH_HEALTHY,
  unhealthy: baton.HealthState.HEALTH_UNHEALTHY,
};

export function healthState(h: TaskHealth): baton.HealthState {
  return HEALTH_STATES[h];
}

export function taskHealth(h: baton.HealthState | null | undefined): TaskHealth {
  return (Object.keys(HEALTH_STATES) as TaskHealth[]).find((k) => HEALTH_STATES[k] === h) ?? 'none';
}

/** Whether the task's own spec asks for a probe (docker images may bring one the spec does not show). */
export function specProbes(task: baton.Task.$Properties): boolean {
  const test = task.spec?.container?.healthcheck?.test ?? [];
  return test.length > 0 && test[0] !== 'NONE';
}

/**
 * The task is named `<service>.<slot>` (replicated) or `<service>.<node>` (global); the service's
 * name is what precedes that suffix.
 */
function serviceName(task: baton.Task.$Properties, nodeId: string): string {
  const name = task.annotations?.name ?? '';
  for (const suffix of [`.${task.slot ?? 0}`, `.${task.nodeId || nodeId}`]) {
    if (name.length > suffix.length && name.endsWith(suffix)) return name.slice(0, -suffix.length);
  }
  return name || (task.serviceId ?? '');
}

/**
 * One ephemeral host port per target port and protocol, however many mesh ports lead to it;
 * a host-mode port with a published port is bound on that port of the node itself (no mesh).
 */
function targetPorts(task: baton.Task.$Properties): TaskRunSpec['ports'] {
  const seen = new Map<string, TaskRunSpec['ports'][number]>();
  for (const p of task.endpoint?.ports ?? []) {
    const protocol = p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp';
    const targetPort = p.targetPort ?? 0;
    const hostPort = p.publishMode === baton.PublishMode.HOST ? (p.publishedPort ?? 0) : 0;
    seen.set(`${targetPort}/${protocol}/${hostPort}`, hostPort > 0 ? { targetPort, protocol, hostPort } : { targetPort, protocol });
  }
  return [...seen.values()];
}

/** The service's exposed ports (Endpoint.expose), for other tasks of its networks. */
function exposedPorts(task: baton.Task.$Properties): NonNullable<TaskRunSpec['expose']> {
  return (task.endpoint?.expose ?? []).map((p) => ({ targetPort: p.targetPort ?? 0, protocol: p.protocol === baton.PortProtocol.UDP ? ('udp' as const) : ('tcp' as const) }));
}

export function portStatus(ports: PortBinding[]): baton.PortStatus.$Properties[] {
  return ports.map((p) => ({
    targetPort: p.targetPort,
    hostPort: p.hostPort,
    protocol: p.protocol === 'udp' ? baton.PortProtocol.UDP : baton.PortProtocol.TCP,
  }));
}
