// A task's Docker container options and Go templates, as the agent of its node hands them to the
// executor: `{{.Node.Hostname}}` and `{{.Node.Platform.Architecture}}` are this node's, which is
// why the agent expands them (as Docker's agent does), not the manager.
import { hostname, machine } from 'node:os';
import type { baton } from '../../proto/gen/baton.js';
import { expandTemplate, goMapText, type TemplateContext } from '../../spec/index.js';
import { taskName, type ContainerOptions, type TaskRunSpec } from '../executor/types.js';

/** What a template may say of the node that runs the task. */
export interface NodeFacts {
  hostname: string;
  /** Docker's Platform.OS: linux. */
  os: string;
  /** Docker's Platform.Architecture, the kernel's name for it (uname -m): x86_64, aarch64. */
  architecture: string;
}

/** This machine's facts, as the node describes itself (src/daemon/host.ts uses the same hostname). */
export function localNodeFacts(): NodeFacts {
  return { hostname: hostname(), os: process.platform, architecture: machine() };
}

export function templateContext(task: baton.Task.$Properties, spec: Pick<TaskRunSpec, 'taskId' | 'serviceId' | 'serviceName' | 'slot' | 'nodeId'>, node: NodeFacts): TemplateContext {
  return {
    'Service.ID': spec.serviceId,
    'Service.Name': spec.serviceName,
    'Service.Labels': goMapText(task.serviceAnnotations?.labels),
    'Node.ID': spec.nodeId,
    'Node.Hostname': node.hostname,
    'Node.Platform.OS': node.os,
    'Node.Platform.Architecture': node.architecture,
    'Task.ID': spec.taskId,
    'Task.Name': taskName(spec),
    'Task.Slot': String(spec.slot),
  };
}

/** `KEY=VALUE` with its value expanded (Docker expands values, never names). */
export function expandEnv(env: readonly string[], context: TemplateContext): string[] {
  return env.map((e) => {
    const eq = e.indexOf('=');
    return eq < 0 ? e : `${e.slice(0, eq + 1)}${expandTemplate(e.slice(eq + 1), context)}`;
  });
}

/** The options the task's spec sets, the hostname expanded; undefined when it sets none. */
export function containerOptions(task: baton.Task.$Properties, context: TemplateContext): ContainerOptions | undefined {
  const c = task.spec?.container ?? {};
  const o: ContainerOptions = {};
  if (c.hostname) o.hostname = expandTemplate(c.hostname, context);
  if (c.user) o.user = c.user;
  if ((c.groups ?? []).length > 0) o.groups = [...c.groups!];
  if (Object.keys(c.labels ?? {}).length > 0) o.labels = { ...c.labels };
  if (c.init) o.init = true;
  if (c.readOnly) o.readOnly = true;
  if ((c.capabilityAdd ?? []).length > 0) o.capAdd = [...c.capabilityAdd!];
  if ((c.capabilityDrop ?? []).length > 0) o.capDrop = [...c.capabilityDrop!];
  if (Object.keys(c.sysctls ?? {}).length > 0) o.sysctls = { ...c.sysctls };
  if ((c.ulimits ?? []).length > 0) o.ulimits = c.ulimits!.map((u) => ({ name: u.name ?? '', soft: Number(u.soft ?? 0), hard: Number(u.hard ?? 0) }));
  if (c.stopSignal) o.stopSignal = c.stopSignal;
  if ((c.hosts ?? []).length > 0) o.extraHosts = [...c.hosts!];
  if (c.tty) o.tty = true;
  const dns = c.dnsConfig;
  if ((dns?.nameservers ?? []).length > 0) o.dnsNameservers = [...dns!.nameservers!];
  if ((dns?.search ?? []).length > 0) o.dnsSearch = [...dns!.search!];
  if ((dns?.options ?? []).length > 0) o.dnsOptions = [...dns!.options!];
  const log = task.spec?.logDriver;
  if (log && (log.name || Object.keys(log.options ?? {}).length > 0)) o.logDriver = { name: log.name ?? '', options: { ...log.options } };
  return Object.keys(o).length > 0 ? o : undefined;
}
