// A node's named volumes, as `baton volume` shows and removes them (the node's side of NodeAgent's
// ListVolumes and RemoveVolume): the Docker volumes the executor made for this cluster and node
// (labelled baton.cluster and baton.node; nothing else of the engine is listed or removed) and
// the process runtime's, a directory each under the data dir (process-mounts.ts), driver `local`
// with the directory as mountpoint. In use, as Docker says it: a container mounts a Docker volume
// (whatever made the container), a process task this node holds mounts a directory volume.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';
import { VOLUME_NAME_PATTERN, echo, mountTypeName } from '../spec/index.js';
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
      else await rm(join(this.o.volumesDir, name), { recursive: true, force: true });
    }
    return found.map((f) => f.volume);
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
        labels: { [CLUSTER_LABEL]: this.o.clusterId, [NODE_LABEL]: this.o.nodeId },
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
