// Promotion and demotion as a node carries them out: the managers decide (node update), the
// node learns it from its heartbeat, gets a certificate for the new role from the CA, then
// starts (and joins Raft) or stops its manager parts. A failed promotion leaves a worker.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { controlService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS } from '../../rpc/tls/index.js';
import type { DataDir, NodeState } from './state.js';

/** What of the daemon a role change uses. */
export interface RoleHost {
  logger: Logger;
  dataDir: DataDir;
  state: () => NodeState;
  setState: (state: NodeState) => void;
  stopped: () => boolean;
  credentials: () => grpc.ChannelCredentials;
  /** A certificate for the role the managers now give this node. */
  renew: () => Promise<baton.internal.RenewResponse>;
  /** Start the manager parts (serving Control on both ports). */
  startManager: () => Promise<void>;
  stopManager: () => Promise<void>;
  /** The Control service of a worker (socket and TCP port): the "run it on a manager" stub, or none. */
  workerControl: (on: boolean) => void;
}

/** Get a certificate for the new role from the CA, then become (or stop being) a manager. */
export async function changeRole(host: RoleHost, desired: 'manager' | 'worker'): Promise<void> {
  host.logger.info({ from: host.state().role, to: desired }, 'changing role');
  const renewed = await host.renew();
  const role = renewed.role === baton.NodeRole.MANAGER ? 'manager' : 'worker';
  if (role !== desired) return;
  if (role === 'manager') {
    host.dataDir.saveManagerKey(renewed.managerKey ?? new Uint8Array(0));
    host.workerControl(false);
    try {
      await host.startManager();
      // state.role is what joinRaft and heartbeats go by; it only changes once this worked.
      host.setState({ ...host.state(), role });
      await joinRaft(host);
    } catch (err) {
      host.setState({ ...host.state(), role: 'worker' });
      await host.stopManager();
      host.dataDir.removeManagerState();
      host.workerControl(true);
      throw err;
    }
    host.dataDir.save(host.state());
  } else {
    await host.stopManager();
    host.dataDir.removeManagerState();
    host.setState({ ...host.state(), role });
    host.workerControl(true);
    host.dataDir.save(host.state());
  }
  host.logger.info({ role }, 'role changed');
}

/** Ask the leader (through any manager) to make this manager a Raft voter. */
export async function joinRaft(host: Pick<RoleHost, 'state' | 'stopped' | 'credentials'>): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 30 && !host.stopped(); attempt++) {
    const self = host.state();
    for (const m of self.managers.filter((p) => p.nodeId !== self.nodeId)) {
      const client = new RpcClient(m.addr, host.credentials(), controlService, NODE_CHANNEL_OPTIONS);
      try {
        await client.call('AddRaftMember', { nodeId: self.nodeId, addr: self.advertiseAddr }, 15_000);
        return;
      } catch (err) {
        lastError = err;
      } finally {
        client.close();
      }
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw lastError instanceof Error ? lastError : new BatonError('UNAVAILABLE', 'could not join Raft');
}
