// A node's named volumes, as `baton volume` shows, creates, prunes and removes them (the node's
// side of NodeAgent's ListVolumes, CreateVolume, PruneVolumes and RemoveVolume): the Docker volumes the executor made for this cluster and node
// (labelled baton.cluster and baton.node; nothing else of the engine is listed or removed) and
// the process runtime's, a directory each under the data dir (process-mounts.ts), driver `local`
// with the directory as mountpoint. In use, as Docker says it: a container mounts a Docker volume
// (whatever made the container), a process task this node holds mounts a directory volume.
import { lstat, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';
import { VOLUME_NAME_PATTERN, echo, mountTypeName, volumeNameProblem } from '../spec/index.js';
import { runtimeOf } from './agent/run-spec.js';

type Volume = baton.Volume.$Properties;
/** A volume and which of the node's two kinds it is (both may have one name). */
interface Found {
  kind: 'docker' | 'directory';
  volume: Volume;
}

/** Docker's volume labels (worker/executor/docker-spec.ts puts them on every volume it makes). */
const CLUSTER_LABEL = 'baton.cluster';
const NODE_LABEL = 'baton.node';
/**
 * The labels `volume create` gave a directory volume (a directory has none of its own): one JSON
 * file per volume, under a name no volume can have (volume names start with a letter or digit).
 */
const DIRECTORY_LABELS = '.labels';
/** The executor's container names: `baton-<task name>` (docker-spec.ts). */
const CONTAINER_PREFIX = 'baton-';

export interface NodeVolumesOptions {
  clusterId: string;
  nodeId: string;
  /** The process runtime's named volumes, a directory each. */
  volumesDir: string;
  /** The node's engine, when it has one. */
  docker: () => Docker | undefined;
  /** The tasks this node holds (the agent's), running or not yet removed. */
  tasks: () => readonly baton.Task.$Properties[];
}

/** What `volume create` asks of one node. */
export interface VolumeCreate {
  name: string;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** 'docker', 'process', or '' (docker where the node has an engine, else process). */
  runtime: string;
}

/** `volume prune --filter label=…|label!=…`: K or K=V each. */
export interface VolumePruneFilters {
  labels: readonly string[];
  notLabels: readonly string[];
}

/** What one node's prune removed, and the bytes that freed. */
export interface Pruned {
  deleted: Volume[];
  spaceReclaimed: number;
}

export class NodeVolumes {
  constructor(private readonly o: NodeVolumesOptions) {}

  /** This node's volumes named `names` (all when empty), Docker's first, each with what uses it. */
  async list(names: readonly string[] = []): Promise<Volume[]> {
    return (await this.find(names)).map((f) => f.volume);
  }

  /**
   * Removes the volume `name` of this node (both kinds, when both have it). Refused, removing
   * nothing, while anything uses it; a missing one is NOT_FOUND unless `force` (Docker's -f).
   */
  async remove(name: string, force: boolean): Promise<Volume[]> {
    if (!VOLUME_NAME_PATTERN.test(name)) throw new BatonError('NOT_FOUND', noSuchVolume(name));
    const found = await this.find([name]);
    if (found.length === 0) {
      if (force) return [];
      throw new BatonError('NOT_FOUND', noSuchVolume(name));
    }
    const users = found.flatMap((f) => f.volume.usedBy ?? []);
    if (users.length > 0) throw new BatonError('FAILED_PRECONDITION', volumeInUse(name, users));
    for (const f of found) {
      if (f.kind === 'docker') await this.removeDockerVolume(name);
      else {
        await rm(join(this.o.volumesDir, name), { recursive: true, force: true });
        await rm(labelsFile(this.o.volumesDir, name), { force: true });
      }
    }
    return found.map((f) => f.volume);
  }

  /**
   * Makes the volume `v.name` on this node, as `docker volume create` does: a Docker volume
   * labelled with the cluster and node (the executor's labels), or the process runtime's
   * directory. Making one that is there already is no error (Docker's), unless the driver differs.
   */
  async create(v: VolumeCreate): Promise<Volume[]> {
    const problem = volumeNameProblem(v.name);
    if (problem) throw new BatonError('INVALID_ARGUMENT', problem);
    const docker = this.o.docker();
    const runtime = v.runtime || (docker ? 'docker' : 'process');
    if (runtime === 'docker') {
      if (!docker) throw new BatonError('FAILED_PRECONDITION', 'this node has no Docker engine (--runtime process makes the process runtime\'s directory)');
      await this.createDockerVolume(docker, v);
    } else if (runtime === 'process') {
      // A directory has no driver to hand options to; said rather than dropped.
      if ((v.driver && v.driver !== 'local') || Object.keys(v.options).length > 0) {
        throw new BatonError('INVALID_ARGUMENT', `a process runtime volume is a directory: driver ${echo(v.driver || 'local')} and its options do not apply (use --driver local without --opt)`);
      }
      await mkdir(join(this.o.volumesDir, v.name), { recursive: true });
      if (Object.keys(v.labels).length > 0) {
        await mkdir(join(this.o.volumesDir, DIRECTORY_LABELS), { recursive: true });
        await writeFile(labelsFile(this.o.volumesDir, v.name), JSON.stringify(v.labels));
      }
    } else throw new BatonError('INVALID_ARGUMENT', `unknown runtime ${echo(runtime)} (want docker or process)`);
    const kind = runtime === 'docker' ? 'docker' : 'directory';
    return (await this.find([v.name])).filter((f) => f.kind === kind).map((f) => f.volume);
  }

  /**
   * Removes this node's volumes (both kinds) that nothing uses and that pass the filters, as
   * `docker volume prune`; each checked just before it goes, so one taken meanwhile is left.
   */
  async prune(filters: VolumePruneFilters): Promise<Pruned> {
    const found = (await this.find([])).filter((f) => (f.volume.usedBy ?? []).length === 0 && passesPruneFilters(f.volume.labels ?? {}, filters));
    const out: Pruned = { deleted: [], spaceReclaimed: 0 };
    // One `df` for all (it walks every volume of the engine).
    const sizes = found.some((f) => f.kind === 'docker') ? await this.dockerVolumeSizes() : new Map<string, number>();
    for (const f of found) {
      const name = f.volume.name ?? '';
      if (f.kind === 'docker') {
        const size = sizes.get(name) ?? 0;
        try {
          await this.removeDockerVolume(name);
        } catch (err) {
          // In use since it was listed (409): not unused any more, so not pruned.
          if (err instanceof BatonError && err.code === 'FAILED_PRECONDITION') continue;
          throw err;
        }
        out.spaceReclaimed += size;
      } else {
        if (processUsers(this.o.tasks(), name).length > 0) continue;
        const path = join(this.o.volumesDir, name);
        out.spaceReclaimed += await directorySize(path);
        await rm(path, { recursive: true, force: true });
        await rm(labelsFile(this.o.volumesDir, name), { force: true });
      }
      out.deleted.push(f.volume);
    }
    return out;
  }

  private async createDockerVolume(docker: Docker, v: VolumeCreate): Promise<void> {
    try {
      await docker.createVolume({ Name: v.name, Driver: v.driver || 'local', DriverOpts: v.options, Labels: { ...v.labels, [CLUSTER_LABEL]: this.o.clusterId, [NODE_LABEL]: this.o.nodeId } });
    } catch (err) {
      const reason = (err as { json?: { message?: unknown } }).json?.message;
      const status = (err as { statusCode?: unknown }).statusCode;
      const message = typeof reason === 'string' ? reason : err instanceof Error ? err.message : String(err);
      // 409: there with another driver; 400/404: a driver or option the engine refuses.
      throw new BatonError(status === 409 ? 'ALREADY_EXISTS' : status === 400 || status === 404 ? 'INVALID_ARGUMENT' : 'UNAVAILABLE', message);
    }
  }

  /** The engine's own measure of its volumes (`docker system df -v`'s); none for a driver that does not say. */
  private async dockerVolumeSizes(): Promise<Map<string, number>> {
    const docker = this.o.docker();
    if (!docker) return new Map();
    try {
      const df = (await docker.df()) as { Volumes?: { Name: string; UsageData?: { Size?: number } | null }[] | null };
      return new Map((df.Volumes ?? []).map((x) => [x.Name, Math.max(0, x.UsageData?.Size ?? 0)]));
    } catch {
      // The sizes are what the prune says it freed, not what decides it: unknown is 0.
      return new Map();
    }
  }

  private async find(names: readonly string[]): Promise<Found[]> {
    const wanted = (name: string): boolean => names.length === 0 || names.includes(name);
    const [docker, dirs] = await Promise.all([this.dockerVolumes(wanted), this.directoryVolumes(wanted)]);
    return [...docker.map((volume) => ({ kind: 'docker' as const, volume })), ...dirs.map((volume) => ({ kind: 'directory' as const, volume }))];
  }

  private async dockerVolumes(wanted: (name: string) => boolean): Promise<Volume[]> {
    const docker = this.o.docker();
    if (!docker) return [];
    const labels = [`${CLUSTER_LABEL}=${this.o.clusterId}`, `${NODE_LABEL}=${this.o.nodeId}`];
    let listed: Docker.VolumeInspectInfo[];
    let containers: Docker.ContainerInfo[];
    try {
      [{ Volumes: listed }, containers] = await Promise.all([docker.listVolumes({ filters: { label: labels } }), docker.listContainers({ all: true })]);
    } catch (err) {
      throw new BatonError('UNAVAILABLE', `the Docker engine did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    return (listed ?? [])
      .filter((v) => wanted(v.Name))
      .map((v) => ({
        name: v.Name,
        driver: v.Driver,
        mountpoint: v.Mountpoint,
        labels: { ...v.Labels },
        scope: v.Scope,
        options: { ...(v.Options ?? {}) },
        createdAt: (v as { CreatedAt?: string }).CreatedAt ?? '',
        usedBy: containerUsers(containers, v.Name),
      }));
  }

  private async directoryVolumes(wanted: (name: string) => boolean): Promise<Volume[]> {
    const entries = await readdir(this.o.volumesDir, { withFileTypes: true }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'ENOENT') return [];
      throw err;
    });
    const out: Volume[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !VOLUME_NAME_PATTERN.test(e.name) || !wanted(e.name)) continue;
      const path = join(this.o.volumesDir, e.name);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      out.push({
        name: e.name,
        driver: 'local',
        mountpoint: path,
        // What a Docker volume of baton carries, so that label filters mean the same for both.
        labels: { ...(await readLabels(this.o.volumesDir, e.name)), [CLUSTER_LABEL]: this.o.clusterId, [NODE_LABEL]: this.o.nodeId },
        scope: 'local',
        options: {},
        createdAt: new Date(info.birthtimeMs > 0 ? info.birthtimeMs : info.mtimeMs).toISOString(),
        usedBy: processUsers(this.o.tasks(), e.name),
      });
    }
    return out;
  }

  private async removeDockerVolume(name: string): Promise<void> {
    const docker = this.o.docker();
    if (!docker) return;
    try {
      await docker.getVolume(name).remove();
    } catch (err) {
      const status = (err as { statusCode?: unknown }).statusCode;
      if (status === 404) return;
      const reason = (err as { json?: { message?: unknown } }).json?.message;
      const message = typeof reason === 'string' ? reason : err instanceof Error ? err.message : String(err);
      // 409: a container took it after the check above; the engine's own words name it.
      throw new BatonError(status === 409 ? 'FAILED_PRECONDITION' : 'INTERNAL', message);
    }
  }
}

/** label=K: the volume has K; label=K=V: K with value V; label!=: the opposite. All must hold. */
export function passesPruneFilters(labels: Record<string, string>, f: VolumePruneFilters): boolean {
  const has = (l: string): boolean => {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    return key in labels && (eq < 0 || labels[key] === l.slice(eq + 1));
  };
  return f.labels.every(has) && !f.notLabels.some(has);
}

function labelsFile(volumesDir: string, name: string): string {
  return join(volumesDir, DIRECTORY_LABELS, `${name}.json`);
}

async function readLabels(volumesDir: string, name: string): Promise<Record<string, string>> {
  const text = await readFile(labelsFile(volumesDir, name), 'utf8').catch(() => '{}');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    // A torn file (the node died writing it) is a volume without labels, not a volume lost.
  }
  return {};
}

/** The bytes of the files under `path` (links not followed), as `du` counts what a prune frees. */
export async function directorySize(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(path).catch(() => [] as string[]);
  let total = 0;
  for (const e of entries) total += await directorySize(join(path, e));
  return total;
}

/** Docker's words for a volume that is not there. */
export function noSuchVolume(name: string): string {
  return `no such volume: ${echo(name)}`;
}

/** Docker's words for a volume something mounts: `remove data: volume is in use - [web.1.x]`. */
export function volumeInUse(name: string, users: readonly string[]): string {
  return `remove ${echo(name)}: volume is in use - [${[...new Set(users)].join(', ')}]`;
}

/** The containers that mount the volume: a baton task by its task name, another by its container name. */
export function containerUsers(containers: readonly Docker.ContainerInfo[], volume: string): string[] {
  return containers
    .filter((c) => (c.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === volume))
    .map((c) => {
      const name = (c.Names?.[0] ?? c.Id).replace(/^\//, '');
      return c.Labels?.['baton.task'] && name.startsWith(CONTAINER_PREFIX) ? name.slice(CONTAINER_PREFIX.length) : name;
    })
    .sort();
}

/** The process tasks that mount the directory volume, by Swarm's task name `<service>.<slot>.<id>`. */
export function processUsers(tasks: readonly baton.Task.$Properties[], volume: string): string[] {
  return tasks
    .filter((t) => runtimeOf(t) === 'process')
    .filter((t) => (t.spec?.container?.mounts ?? []).some((m) => mountTypeName(m.type) === 'volume' && m.source === volume))
    .map((t) => `${t.annotations?.name ?? ''}.${t.meta?.id ?? ''}`)
    .sort();
}
