// Translation between baton's task spec and Docker's container model, both ways: the create
// options for a task, and a TaskObservation from what the engine reports.
import { join } from 'node:path';
import type Docker from 'dockerode';
import { taskName, type ContainerOptions, type HealthCheckSpec, type PortBinding, type TaskHealth, type TaskObservation, type TaskRunSpec } from './types.js';

/** Labels every baton container carries; a node only ever touches containers with its own cluster and node. */
export const LABEL = {
  cluster: 'baton.cluster',
  node: 'baton.node',
  task: 'baton.task',
  service: 'baton.service',
  slot: 'baton.slot',
} as const;

/** `baton-<service>.<slot>.<task>`, with what Docker refuses in a name replaced by '_'. */
export function containerName(spec: TaskRunSpec): string {
  return `baton-${taskName(spec)}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

// The kernel keeps at most 64 bytes of hostname (63 characters of a DNS name); a longer one
// would make the container fail to start rather than be shortened.
const MAX_HOSTNAME = 63;

/** The task name, so a replica can say who it is (busybox httpd's hostname CGI in the tests). */
export function hostname(spec: TaskRunSpec): string {
  return taskName(spec).replace(/[^a-zA-Z0-9.-]/g, '-').slice(0, MAX_HOSTNAME).replace(/[.-]+$/, '');
}

export type ExposedPort = NonNullable<TaskRunSpec['expose']>[number];

// An image may EXPOSE a whole range (Docker expands `EXPOSE 1000-2000` into a thousand ports),
// and each bound port costs the engine a proxy and NAT rules: beyond this many, the rest of the
// image's ports are left unbound (and logged by the caller).
export const MAX_IMAGE_EXPOSED = 64;

/**
 * The image's EXPOSE ports (image inspect's Config.ExposedPorts: `8080/tcp`, `53/udp`), sorted;
 * what is neither tcp nor udp (sctp) is left out, as the mesh relays only those.
 */
export function imageExposedPorts(info: Docker.ImageInspectInfo): ExposedPort[] {
  const out: ExposedPort[] = [];
  for (const key of Object.keys(info.Config?.ExposedPorts ?? {})) {
    const m = /^([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
    const targetPort = Number(m?.[1]);
    const protocol = (m?.[2] ?? 'tcp').toLowerCase();
    if (!m || targetPort < 1 || targetPort > 65535 || (protocol !== 'tcp' && protocol !== 'udp')) continue;
    out.push({ targetPort, protocol });
  }
  return out.sort((a, b) => a.targetPort - b.targetPort || a.protocol.localeCompare(b.protocol));
}

export function createOptions(
  spec: TaskRunSpec,
  bindAddress: string,
  extraLabels: Readonly<Record<string, string>>,
  init: boolean,
  imageExposed: readonly ExposedPort[] = [],
): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Docker.PortMap = {};
  // Targets that already have an ephemeral binding: one is all the mesh needs.
  const ephemeral = new Set<string>();
  for (const p of spec.ports) {
    const key = `${p.targetPort}/${p.protocol}`;
    exposed[key] = {};
    // HostPort '' asks the engine for an ephemeral port, the mesh reads it back from inspect; a
    // host-mode port is bound as given, on the node's address only.
    (bindings[key] ??= []).push({ HostIp: bindAddress, HostPort: p.hostPort ? String(p.hostPort) : '' });
    if (!p.hostPort) ephemeral.add(key);
  }
  // Ports other tasks reach through the service's name: the node's mesh relays to them at the
  // task's node address and host port, so they are bound like published ones. A target that is
  // only host-published still gets an ephemeral port, which is the one the mesh targets.
  for (const p of [...(spec.expose ?? []), ...imageExposed]) {
    const key = `${p.targetPort}/${p.protocol}`;
    if (ephemeral.has(key)) continue;
    ephemeral.add(key);
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: bindAddress, HostPort: '' });
  }
  const [first] = spec.networks ?? [];
  const o = spec.options ?? {};
  return {
    name: containerName(spec),
    Image: spec.image,
    Hostname: o.hostname || hostname(spec),
    Env: spec.env,
    ...(o.user ? { User: o.user } : {}),
    ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
    ...(o.tty ? { Tty: true } : {}),
    Labels: {
      // The user's container labels, then the tests', then baton's own, which always win.
      ...o.labels,
      ...extraLabels,
      [LABEL.cluster]: spec.clusterId,
      [LABEL.node]: spec.nodeId,
      [LABEL.task]: spec.taskId,
      [LABEL.service]: spec.serviceId,
      [LABEL.slot]: String(spec.slot),
    },
    // As `docker service create`: a command replaces the image's entrypoint (and with it the
    // image's CMD); args alone replace only the CMD.
    ...(spec.command.length > 0 ? { Entrypoint: spec.command } : {}),
    ...(spec.args.length > 0 ? { Cmd: spec.args } : {}),
    ...(spec.dir !== '' ? { WorkingDir: spec.dir } : {}),
    ExposedPorts: exposed,
    ...healthcheck(spec.healthcheck),
    // So a hand-run `docker stop` honours the task's grace period too (whole seconds only).
    StopTimeout: Math.ceil(spec.stopGraceMs / 1000),
    HostConfig: {
      Memory: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      PortBindings: bindings,
      // The engine takes one network at create (API 1.41); the executor connects the others
      // before the start. No aliases on purpose: Docker's embedded DNS would answer a service
      // name with a local container's address instead of forwarding it to the node's resolver.
      ...(first ? { NetworkMode: first.dockerNetwork } : {}),
      ...dnsOptions(spec.dns, o),
      Mounts: [...taskMounts(spec), ...fileMounts(spec)],
      // The orchestrator restarts tasks (as new tasks); Docker restarting them would hide exits.
      RestartPolicy: { Name: 'no' },
      // The engine's tiny init (docker-init) as PID 1: a program running as PID 1 gets no
      // default signal handling, so without it SIGTERM is ignored by most programs (busybox
      // httpd among them) and every shutdown would wait out the whole grace period; it also
      // reaps the zombies of programs that fork.
      Init: init || (o.init ?? false),
      ...hostOptions(o),
    },
  };
}

/**
 * Who the container asks: on baton networks baton's resolver alone (service discovery), which
 * forwards the task's other names to the task's --dns; off them the task's --dns as given.
 * Search domains and options go to the container's resolv.conf either way.
 */
function dnsOptions(baton: string[] | undefined, o: ContainerOptions): Docker.HostConfig {
  const h: Docker.HostConfig = {};
  const nameservers = baton && baton.length > 0 ? baton : (o.dnsNameservers ?? []);
  if (nameservers.length > 0) h.Dns = nameservers;
  if (o.dnsSearch && o.dnsSearch.length > 0) h.DnsSearch = o.dnsSearch;
  if (o.dnsOptions && o.dnsOptions.length > 0) h.DnsOptions = o.dnsOptions;
  return h;
}

/** The HostConfig part of Docker's container options (`--read-only`, `--cap-add`, `--ulimit`…). */
function hostOptions(o: ContainerOptions): Docker.HostConfig {
  const h: Docker.HostConfig = {};
  if (o.readOnly) h.ReadonlyRootfs = true;
  if (o.groups && o.groups.length > 0) h.GroupAdd = o.groups;
  if (o.capAdd && o.capAdd.length > 0) h.CapAdd = o.capAdd;
  if (o.capDrop && o.capDrop.length > 0) h.CapDrop = o.capDrop;
  if (o.sysctls && Object.keys(o.sysctls).length > 0) h.Sysctls = o.sysctls;
  if (o.ulimits && o.ulimits.length > 0) h.Ulimits = o.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  if (o.extraHosts && o.extraHosts.length > 0) h.ExtraHosts = o.extraHosts;
  // An empty type is the engine's default driver, with the options given.
  if (o.logDriver) h.LogConfig = { Type: o.logDriver.name, Config: o.logDriver.options };
  return h;
}

const NS_PER_MS = 1_000_000;

/**
 * Docker's own Healthcheck (durations in nanoseconds; zero = Docker's default). None given:
 * the image's HEALTHCHECK applies, as Docker does by itself; ['NONE'] disables it.
 */
function healthcheck(h: HealthCheckSpec | undefined): { Healthcheck?: Docker.HealthConfig } {
  // An empty test keeps the image's command; only the timings given then apply (Docker's rule).
  if (h === undefined || (h.test.length === 0 && h.intervalMs + h.timeoutMs + h.retries + h.startPeriodMs === 0)) return {};
  return {
    Healthcheck: {
      Test: h.test,
      Interval: h.intervalMs * NS_PER_MS,
      Timeout: h.timeoutMs * NS_PER_MS,
      Retries: h.retries,
      StartPeriod: h.startPeriodMs * NS_PER_MS,
    },
  };
}

/** The engine's State.Health.Status as a TaskHealth; no Health object means no check. */
export function healthOf(info: Docker.ContainerInspectInfo): TaskHealth {
  const status = info.State.Health?.Status;
  return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : 'none';
}

/**
 * The service's mounts, as Docker's service mounts. A named volume is made by the engine at the
 * container's create if the node has none of that name (with its driver, options and labels,
 * plus baton's cluster and node labels, so a test or an operator can find what a cluster left
 * on a node); it outlives the task, so a task replaced on that node finds its data. An
 * anonymous volume goes with its container (the executor removes containers with `v`).
 */
export function taskMounts(spec: TaskRunSpec): Docker.MountSettings[] {
  return (spec.mounts ?? []).map((m) => {
    const out: Docker.MountSettings = { Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly };
    if (m.type === 'volume') {
      out.VolumeOptions = {
        NoCopy: m.volumeNoCopy ?? false,
        Labels: { ...m.volumeLabels, [LABEL.cluster]: spec.clusterId, [LABEL.node]: spec.nodeId },
        // An empty name is the engine's default driver (local), and does not clash with a volume of that name made with another driver.
        DriverConfig: { Name: m.volumeDriver ?? '', Options: { ...m.volumeOptions } },
      };
    }
    // 0 is the engine's default for both: no size limit, mode 1777.
    if (m.type === 'tmpfs') out.TmpfsOptions = { SizeBytes: m.tmpfsSizeBytes ?? 0, Mode: m.tmpfsMode ?? 0 };
    return out;
  });
}

/** Secrets and configs: each file bind-mounted read-only from the agent's memory-backed directory. */
function fileMounts(spec: TaskRunSpec): Docker.MountSettings[] {
  return [spec.secrets, spec.configs].flatMap((m) =>
    (m?.files ?? []).map((f) => ({ Type: 'bind' as const, Source: join(m!.dir, f.path), Target: f.target, ReadOnly: true })),
  );
}

// Docker's zero time, which it reports for "never started" / "never finished".
function time(s: string | undefined): number | undefined {
  if (s === undefined || s.startsWith('0001-')) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function boundPorts(info: Docker.ContainerInspectInfo): PortBinding[] {
  const out: PortBinding[] = [];
  const ports = (info.NetworkSettings.Ports ?? {}) as Record<string, Docker.PortBinding[] | null>;
  for (const [key, list] of Object.entries(ports)) {
    const [port, proto] = key.split('/');
    // An engine that binds both IPv4 and IPv6 lists the same port twice: one entry each is
    // enough. A target both host-published and meshed has two host ports.
    const hostPorts = new Set((list ?? []).map((b) => Number(b.HostPort ?? '')).filter((n) => n > 0));
    for (const hostPort of hostPorts) out.push({ targetPort: Number(port), hostPort, protocol: proto === 'udp' ? 'udp' : 'tcp' });
  }
  return out.sort((a, b) => a.targetPort - b.targetPort || a.protocol.localeCompare(b.protocol) || a.hostPort - b.hostPort);
}

export function observe(info: Docker.ContainerInspectInfo): TaskObservation {
  const s = info.State;
  const state: TaskObservation['state'] =
    s.Status === 'created' ? 'created' : s.Running || s.Status === 'paused' || s.Status === 'restarting' ? 'running' : 'exited';
  const error = s.Error !== '' ? s.Error : s.OOMKilled ? 'out of memory (OOM killed)' : undefined;
  const obs: TaskObservation = {
    taskId: info.Config.Labels[LABEL.task] ?? '',
    runtimeId: info.Id,
    state,
    ports: state === 'running' ? boundPorts(info) : [],
  };
  const startedAt = time(s.StartedAt);
  if (startedAt !== undefined) obs.startedAt = startedAt;
  if (state === 'exited') {
    obs.exitCode = s.ExitCode;
    const finishedAt = time(s.FinishedAt);
    if (finishedAt !== undefined) obs.finishedAt = finishedAt;
  }
  if (error !== undefined) obs.error = error;
  if (state === 'running') obs.health = healthOf(info);
  return obs;
}
