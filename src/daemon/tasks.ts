// The part of every node that runs tasks: executors for the runtimes this machine has, the
// agent that converges them to assignments, and the session that brings the assignments.
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { createDockerExecutor, createProcessExecutor, type Executor } from '../../worker/executor/index.js';
import { Agent } from '../../worker/agent/index.js';
import { SessionClient } from '../../worker/session.js';
import type { NodeNetworks } from '../../worker/network/index.js';
import { BatonError } from '../../rpc/errors.js';
import { storageCause } from '../../raft/index.js';

export interface TaskRuntimeOptions {
  nodeId: string;
  clusterId: string;
  dataDir: string;
  /** Host part of the advertise address: where published host ports are bound. */
  bindAddress: string;
  managers: () => baton.ManagerPeer.$Properties[];
  credentials: () => grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  description: () => baton.NodeDescription.$Properties;
  /** Each routing mesh table the session brings (the daemon owns the mesh; worker/ does not). */
  onMeshTable?: (table: baton.internal.MeshService.$Properties[]) => void;
  /** The node's networks (bridges, resolvers, service addresses), when it has a Docker engine. */
  networks?: NodeNetworks;
  logger: Logger;
}

/** The process runtime's named volumes, a directory each (`baton volume` lists them too). */
export function volumesDirOf(dataDir: string): string {
  return join(dataDir, 'volumes');
}

/** The runtimes this machine offers: the process runtime always, docker when an engine answers. */
export async function availableExecutors(o: Pick<TaskRuntimeOptions, 'nodeId' | 'clusterId' | 'dataDir' | 'bindAddress' | 'logger'>): Promise<Executor[]> {
  const executors: Executor[] = [
    createProcessExecutor({ clusterId: o.clusterId, nodeId: o.nodeId, stateDir: join(o.dataDir, 'tasks', 'process'), volumesDir: volumesDirOf(o.dataDir), bindAddress: o.bindAddress, logger: o.logger }),
  ];
  const docker = createDockerExecutor({ clusterId: o.clusterId, nodeId: o.nodeId, bindAddress: o.bindAddress, logger: o.logger });
  if (await docker.available()) executors.push(docker);
  return executors;
}

export class TaskRuntime {
  private constructor(
    readonly agent: Agent,
    private readonly session: SessionClient,
    private readonly networks: NodeNetworks | undefined,
  ) {}

  static async start(o: TaskRuntimeOptions, executors: Executor[]): Promise<TaskRuntime> {
    let session: SessionClient | undefined;
    const stateDir = join(o.dataDir, 'tasks');
    const agent = await Agent.open({
      nodeId: o.nodeId,
      clusterId: o.clusterId,
      stateDir,
      executors: Object.fromEntries(executors.map((e) => [e.runtime, e])),
      ...(o.networks ? { attachNetworks: (task: baton.Task.$Properties) => o.networks!.attach(task) } : {}),
      report: (updates) => (session ? session.report(updates) : Promise.reject(new Error('no session yet'))),
      logger: o.logger.child({ component: 'agent' }),
    }).catch((err: unknown) => {
      // LevelDB's "Database failed to open" alone: say why (disk full, permissions), and where.
      const code = (err as { code?: unknown }).code;
      if (code !== 'LEVEL_DATABASE_NOT_OPEN' && !(typeof code === 'string' && code.startsWith('E'))) throw err;
      const cause = storageCause(err, stateDir, join(stateDir, 'agent-db'));
      throw new BatonError('FAILED_PRECONDITION', `cannot open the task state in ${stateDir}: ${cause.line}${cause.fix ? `; ${cause.fix}` : ''}`);
    });
    session = new SessionClient({
      managers: o.managers,
      credentials: o.credentials,
      channelOptions: o.channelOptions,
      description: o.description,
      onMessage: (msg) => {
        // First: a task leaving the table is out of the mesh before the agent stops it.
        if (msg.meshSet) o.onMeshTable?.(msg.mesh);
        // Then the networks, so a task's network is known before the agent prepares it.
        o.networks?.apply(msg);
        agent.apply(msg);
      },
      logger: o.logger.child({ component: 'session' }),
    });
    session.start();
    return new TaskRuntime(agent, session, o.networks);
  }

  /** Credentials changed or the leader moved: reopen the session. */
  reconnect(): void {
    this.session.reconnect();
  }

  async stop(): Promise<void> {
    this.session.stop();
    await this.agent.stop();
    await this.networks?.close();
  }
}
