// Typed methods for every public Control call (docs/api.md lists them, with their errors). The
// internal services (Raft, CA, Dispatcher, NodeAgent) and Control's AddRaftMember are not here.
import type { RpcClient } from '../rpc/client.js';
import { backupMethod, eventsMethod, serviceLogsMethod, type ControlService } from '../rpc/services.js';
import type { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';

export type Node = baton.Node.$Properties;
export type Service = baton.Service.$Properties;
export type Task = baton.Task.$Properties;
export type Secret = baton.Secret.$Properties;
export type Config = baton.Config.$Properties;
export type Network = baton.Network.$Properties;
export type Filters = baton.Filters.$Properties;
export type Event = baton.Event.$Properties;
export type ClusterInfo = baton.ClusterInfo.$Properties;
export type ServiceSpec = baton.ServiceSpec.$Properties;
export type NodeSpec = baton.NodeSpec.$Properties;
export type EventsRequest = baton.EventsRequest.$Properties;

type ListName = 'ListNodes' | 'ListServices' | 'ListTasks' | 'ListSecrets' | 'ListConfigs' | 'ListNetworks';

/** The calls, over what a BatonClient has: the raw client and the paging list. */
export abstract class ControlCalls {
  abstract readonly control: RpcClient<ControlService>;
  abstract list<K extends ListName>(method: K, filters?: Filters): Promise<unknown[]>;

  private get c(): RpcClient<ControlService> {
    return this.control;
  }

  /** Who answered, who leads, the managers, and the server's versions. */
  info(): Promise<ClusterInfo> {
    return this.c.call('Info', {});
  }

  getCluster(): Promise<baton.GetClusterResponse.$Properties> {
    return this.c.call('GetCluster', {});
  }

  rotateJoinToken(which: { worker?: boolean; manager?: boolean }): Promise<baton.GetClusterResponse.$Properties> {
    return this.c.call('RotateJoinToken', which);
  }

  getNode(ref: string): Promise<Node> {
    return this.c.call('GetNode', { id: ref });
  }

  async listNodes(filters: Filters = {}): Promise<Node[]> {
    return (await this.list('ListNodes', filters)) as Node[];
  }

  /** Read-modify-write: `version` is the meta.version read with getNode. */
  updateNode(ref: string, version: number, spec: NodeSpec): Promise<Node> {
    return this.c.call('UpdateNode', { id: ref, version, spec });
  }

  /**
   * Reads, changes and writes a node's spec, again on a version conflict (a bounded number of
   * times). A node's version moves without anyone editing it (its status, its manager status),
   * so a change made from flags is redone on the newest version rather than refused.
   */
  modifyNode(ref: string, change: (spec: NodeSpec) => NodeSpec, attempts = 5): Promise<Node> {
    return againOnConflict(attempts, async () => {
      const current = await this.getNode(ref);
      return this.updateNode(current.meta?.id ?? ref, Number(current.meta?.version ?? 0), change(current.spec ?? {}));
    });
  }

  removeNode(ref: string, force = false): Promise<baton.RemoveResponse.$Properties> {
    return this.c.call('RemoveNode', { id: ref, force });
  }

  /** A service; `replicas` unset means 1, as Docker. */
  createService(spec: ServiceSpec, opts: { noResolveImage?: boolean } = {}): Promise<Service> {
    return this.c.call('CreateService', { spec, noResolveImage: opts.noResolveImage ?? false });
  }

  getService(ref: string): Promise<Service> {
    return this.c.call('GetService', { id: ref });
  }

  async listServices(filters: Filters = {}): Promise<Service[]> {
    return (await this.list('ListServices', filters)) as Service[];
  }

  /**
   * Replaces the spec: read the service with getService, change its spec, send it back with
   * its meta.version (a stale version is VERSION_CONFLICT: read again and redo the change).
   */
  updateService(ref: string, version: number, spec: ServiceSpec, opts: { noResolveImage?: boolean } = {}): Promise<Service> {
    return this.c.call('UpdateService', { id: ref, version, spec, noResolveImage: opts.noResolveImage ?? false });
  }

  /** Back to the previous spec (`service rollback`). */
  rollbackService(ref: string, version = 0): Promise<Service> {
    return this.c.call('UpdateService', { id: ref, version, rollback: true });
  }

  /**
   * Reads, changes and writes a service's spec, again on a version conflict (a bounded number of
   * times). A service's version moves without anyone editing it (the autoscaler's replicas, an
   * update's progress), so a change made from flags is redone on the newest version.
   */
  modifyService(ref: string, change: (spec: ServiceSpec) => ServiceSpec, attempts = 5, opts: { noResolveImage?: boolean } = {}): Promise<Service> {
    return againOnConflict(attempts, async () => {
      const current = await this.getService(ref);
      return this.updateService(current.meta?.id ?? ref, Number(current.meta?.version ?? 0), change(current.spec ?? {}), opts);
    });
  }

  /**
   * `service rollback`: back to the previous spec of the service as first read. Redone on a
   * version conflict only while the service's spec version stays the one read (its autoscaler's
   * replicas and an update's progress are status writes that keep it, and leave the previous
   * spec as it was); once the spec itself was written meanwhile (an update, another rollback,
   * the updater's own rollback), the previous spec is no longer the one read and the conflict is
   * reported: redoing the rollback then would undo someone else's change.
   */
  async rollbackServiceAsRead(ref: string, attempts = 5): Promise<Service> {
    const read = await this.getService(ref);
    for (let attempt = 1, current = read; ; attempt++) {
      try {
        return await this.rollbackService(current.meta?.id ?? ref, Number(current.meta?.version ?? 0));
      } catch (err) {
        if (attempt >= attempts || (err as { code?: string }).code !== 'VERSION_CONFLICT') throw err;
      }
      current = await this.getService(ref);
      if (specVersionOf(current) !== specVersionOf(read)) {
        throw new BatonError('VERSION_CONFLICT', `rollback of service ${ref}: its spec was written again since it was read (spec version ${specVersionOf(read)}, now ${specVersionOf(current)}), so its previous spec is no longer the one read; read it again before rolling back`);
      }
    }
  }

  /**
   * `service rebalance`: the manager plans the moves from the service as it is when the write
   * lands, so a version that moved meanwhile (its autoscaler, an update's progress) is simply
   * read again. `moved` is false when the service was already as even as its placement allows (the
   * manager then writes nothing and answers the version read).
   */
  rebalanceService(ref: string, attempts = 5): Promise<{ service: Service; moved: boolean }> {
    return againOnConflict(attempts, async () => {
      const current = await this.getService(ref);
      const version = Number(current.meta?.version ?? 0);
      const service = await this.c.call('UpdateService', { id: current.meta?.id ?? ref, version, rebalance: true });
      return { service, moved: Number(service.meta?.version ?? 0) !== version };
    });
  }

  removeService(ref: string): Promise<baton.RemoveResponse.$Properties> {
    return this.c.call('RemoveService', { id: ref });
  }

  async listTasks(filters: Filters = {}): Promise<Task[]> {
    return (await this.list('ListTasks', filters)) as Task[];
  }

  createSecret(spec: baton.SecretSpec.$Properties): Promise<Secret> {
    return this.c.call('CreateSecret', { spec });
  }

  getSecret(ref: string): Promise<Secret> {
    return this.c.call('GetSecret', { id: ref });
  }

  async listSecrets(filters: Filters = {}): Promise<Secret[]> {
    return (await this.list('ListSecrets', filters)) as Secret[];
  }

  removeSecret(ref: string): Promise<baton.RemoveResponse.$Properties> {
    return this.c.call('RemoveSecret', { id: ref });
  }

  createConfig(spec: baton.ConfigSpec.$Properties): Promise<Config> {
    return this.c.call('CreateConfig', { spec });
  }

  getConfig(ref: string): Promise<Config> {
    return this.c.call('GetConfig', { id: ref });
  }

  async listConfigs(filters: Filters = {}): Promise<Config[]> {
    return (await this.list('ListConfigs', filters)) as Config[];
  }

  removeConfig(ref: string): Promise<baton.RemoveResponse.$Properties> {
    return this.c.call('RemoveConfig', { id: ref });
  }

  /** The tasks' output as it arrives (until the end, or forever with follow). */
  serviceLogs(req: baton.ServiceLogsRequest.$Properties): AsyncIterable<baton.LogLine.$Properties> {
    return this.c.stream(serviceLogsMethod, req);
  }

  /**
   * The changes of cluster objects, as an async iterable: `since_version` (or `since_time`)
   * replays what the manager still holds first; breaking out of the loop ends the stream.
   */
  events(req: EventsRequest = {}): AsyncIterable<Event> {
    return this.c.stream(eventsMethod, req);
  }

  /** A backup file in chunks: the first says its size, SHA-256, cluster and Raft index. */
  backup(): AsyncIterable<baton.BackupChunk.$Properties> {
    return this.c.stream(backupMethod, {});
  }
}

/** The version of a service's last spec change: status-only writes keep it (Service.spec_version). */
function specVersionOf(service: Service): number {
  return Number(service.specVersion ?? 0) || Number(service.meta?.version ?? 0);
}

/** Runs a read-change-write again while it fails on a stale version, `attempts` times at most. */
async function againOnConflict<T>(attempts: number, readChangeWrite: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await readChangeWrite();
    } catch (err) {
      if (i >= attempts || (err as { code?: string }).code !== 'VERSION_CONFLICT') throw err;
    }
  }
}
