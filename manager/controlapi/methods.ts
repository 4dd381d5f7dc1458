// Every Control method, declared once: who may call it and what it does to cluster state. The
// entry (entry.ts) reads this table for the role check and for where the call runs; a new
// method is a line here and its handler in the file of its object.
import type { CertRole } from '../../rpc/tls/index.js';
import type { ControlService } from '../../rpc/services.js';

/**
 * - read: any manager answers, after a Raft read barrier (linearizable: it sees every write
 *   acknowledged before the call began).
 * - write: runs on the leader (after a read barrier there); a follower forwards it.
 * - local: answered from this manager's own view, no barrier (Info: who leads, who are managers).
 */
export type Access = 'read' | 'write' | 'local';

export interface MethodRule {
  /** Certificate roles allowed (the local unix socket's administrator may call anything). */
  readonly roles: readonly CertRole[];
  readonly access: Access;
  /**
   * A create of one object named by the request's spec.annotations.name, whose answer is what
   * `get` answers for that object: a retry of a create that committed is answered so by the
   * entry, without running the handler again (whose "already exists" check would refuse it).
   */
  readonly creates?: { readonly kind: CreatedKind; readonly get: ControlMethod };
}

/** The kinds a Control create makes, each under a name unique in its kind. */
export type CreatedKind = 'service' | 'secret' | 'config' | 'network';

export type ControlMethod = keyof ControlService;

// A manager's own certificate and an admin client certificate may do anything the CLI does; a
// readonly one may only read (list, inspect, logs). Roles are decided here, once, for every call.
const read = { roles: ['manager', 'admin', 'readonly'], access: 'read' } as const;
const write = { roles: ['manager', 'admin'], access: 'write' } as const;

export const CONTROL_METHODS: { readonly [K in ControlMethod]: MethodRule } = {
  // cluster.ts. GetCluster carries the join tokens: not for a readonly certificate.
  GetCluster: { roles: ['manager', 'admin'], access: 'read' },
  RotateJoinToken: write,
  // Workers ask it too: which managers there are, who leads.
  Info: { roles: ['manager', 'worker', 'admin', 'readonly'], access: 'local' },
  // autolock.ts: the unlock key is as secret as the join tokens. Unlock is for a locked node's
  // own socket (src/daemon/autolock.ts); an unlocked manager answers it from its own view.
  UpdateCluster: write,
  GetUnlockKey: { roles: ['manager', 'admin'], access: 'read' },
  RotateUnlockKey: write,
  Unlock: { roles: ['manager', 'admin'], access: 'local' },
  // Called by a manager that has just joined; the handler also checks it adds only itself.
  AddRaftMember: { roles: ['manager'], access: 'write' },
  // nodes.ts
  GetNode: read,
  ListNodes: read,
  UpdateNode: write,
  RemoveNode: write,
  // services.ts, tasks.ts
  CreateService: { ...write, creates: { kind: 'service', get: 'GetService' } },
  GetService: read,
  ListServices: read,
  UpdateService: write,
  RemoveService: write,
  // Asked of this manager's engine, as CreateService's check: no store change.
  CheckImages: read,
  ListTasks: read,
  // secrets.ts, configs.ts
  CreateSecret: { ...write, creates: { kind: 'secret', get: 'GetSecret' } },
  GetSecret: read,
  ListSecrets: read,
  RemoveSecret: write,
  CreateConfig: { ...write, creates: { kind: 'config', get: 'GetConfig' } },
  GetConfig: read,
  ListConfigs: read,
  RemoveConfig: write,
  // networks.ts
  CreateNetwork: { ...write, creates: { kind: 'network', get: 'GetNetwork' } },
  GetNetwork: read,
  ListNetworks: read,
  RemoveNetwork: write,
  // volumes.ts: asked of the nodes, not of the store, so any manager answers (a removal changes
  // no cluster state); still, a removal is not for a readonly certificate.
  ListVolumes: read,
  RemoveVolume: { roles: ['manager', 'admin'], access: 'read' },
  CreateVolume: { roles: ['manager', 'admin'], access: 'read' },
  PruneVolumes: { roles: ['manager', 'admin'], access: 'read' },
  // manager/caapi/client-certs.ts
  CreateCertificate: write,
  ListCertificates: read,
  RemoveCertificate: write,
};

/** ServiceLogs, a streaming method (logs.ts): a read. */
export const SERVICE_LOGS_RULE: MethodRule = read;

/** Events, a streaming method (events.ts): this manager's own store, no barrier, no leader needed. */
export const EVENTS_RULE: MethodRule = { roles: read.roles, access: 'local' };

/** Backup, a streaming method (backup.ts): any manager's store after a barrier; it holds the managers' key, so not for readonly. */
export const BACKUP_RULE: MethodRule = { roles: ['manager', 'admin'], access: 'read' };
