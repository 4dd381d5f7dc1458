// One simulated node for bench:scale: the real join (its own key, a CSR signed by the cluster's
// CA through the Join call, the worker token), then the real worker parts — the agent
// (worker/agent), the session client and the heartbeat client — with the in-memory executor of
// the tests in place of Docker or processes. Every message on the wire is the one a real node
// sends, over its own mTLS certificate. What is simulated: the executor; the agent's store, in
// memory (test/lib/memory-task-store.ts) unless `store` is 'leveldb' (a real node's LevelDB
// writes are then paid too); and, with `heartbeats`, where the heartbeats are sent from: a
// thread of the host process that the agents' work does not block (sim-heartbeats.ts), over a
// connection of their own, instead of this node's event loop and the session's connection.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type * as grpc from '@grpc/grpc-js';
import { baton } from '../../proto/gen/baton.js';
import type { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { caService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, clientCredentials, generateNodeKey } from '../../rpc/tls/index.js';
import { Agent } from '../../worker/agent/index.js';
import { SessionClient } from '../../worker/session.js';
import { HeartbeatClient } from '../../worker/heartbeat.js';
import { FakeExecutor } from '../../test/lib/fake-executor.js';
import { MemoryTaskDisk } from '../../test/lib/memory-task-store.js';
import type { SimHeartbeats } from './sim-heartbeats.js';

export interface SimNodeOptions {
  /** The Join call's channel (unauthenticated TLS that checks the CA), shared by a host's joins. */
  ca: RpcClient<typeof caService>;
  caPem: string;
  token: string;
  hostname: string;
  /** A loopback address the node says it has (nothing listens there: a simulated node serves no logs). */
  advertiseAddr: string;
  stateDir: string;
  /** Where the agent keeps its records: in memory (the default), or its LevelDB in stateDir as a real node. */
  store?: 'memory' | 'leveldb';
  /** The host's heartbeat thread (with `index`, this node's key there); absent: heartbeats from this thread. */
  heartbeats?: { thread: SimHeartbeats; index: number };
  /** How long each prepare and start takes in the fake executor. */
  executorDelayMs: number;
  logger: Logger;
  /** Each heartbeat's round trip in ms (undefined: no answer); the heartbeat thread counts its own. */
  onHeartbeat: (ms: number | undefined) => void;
  /**
   * Each task the session brings in the Assigned state: when the orchestrator created it, when
   * the scheduler assigned it, and when this node received it (ms since the epoch, one clock:
   * every process runs on this machine).
   */
  onAssigned: (arrival: Arrival) => void;
  /** A Running status the leader acknowledged (applied to its store), at `at` (ms since the epoch). */
  onRunningAcknowledged?: (at: number) => void;
}

export interface Arrival {
  createdAt: number;
  assignedAt: number;
  receivedAt: number;
}

const RUNNING = baton.TaskState.TASK_RUNNING;

export class SimNode {
  private constructor(
    readonly nodeId: string,
    /** Tasks whose Running status the leader acknowledged (it is in the store), by id. */
    readonly running: ReadonlySet<string>,
    private readonly agent: Agent,
    private readonly session: SessionClient,
    private readonly heartbeat: HeartbeatClient | undefined,
  ) {}

  static async join(o: SimNodeOptions): Promise<SimNode> {
    const key = await generateNodeKey();
    const description: baton.NodeDescription.$Properties = {
      hostname: o.hostname,
      platform: `${process.platform}/${process.arch}`,
      // A machine of 8 CPUs and 32 GiB: the bench's tasks reserve nothing, so this only shows.
      resources: { nanoCpus: 8e9, memoryBytes: 32 * 2 ** 30 },
      runtimes: ['process'],
      engineVersion: '',
      engineLabels: {},
    };
    const res = await joinCall(o, { token: o.token, csrPem: key.csrPem, advertiseAddr: o.advertiseAddr, description });
    const nodeId = res.nodeId ?? '';
    // One credentials object per node: its session, reports and heartbeats share its connection.
    const credentials: grpc.ChannelCredentials = clientCredentials({ caPem: o.caPem, certPem: res.certPem ?? '', keyPem: key.keyPem });
    let managers: baton.ManagerPeer.$Properties[] = res.managers ?? [];
    let session: SessionClient | undefined;
    const running = new Set<string>();
    const agent = await Agent.open({
      nodeId,
      clusterId: res.clusterId ?? '',
      stateDir: o.stateDir,
      ...(o.store === 'leveldb' ? {} : { openStore: () => new MemoryTaskDisk().open() }),
      executors: { process: Object.assign(new FakeExecutor('process'), { delayMs: o.executorDelayMs }) },
      report: async (updates) => {
        if (!session) throw new Error('no session yet');
        await session.report(updates);
        const acknowledged = Date.now();
        for (const u of updates) {
          if (!u.taskId) continue;
          if (u.status?.state === RUNNING) {
            running.add(u.taskId);
            o.onRunningAcknowledged?.(acknowledged);
          } else running.delete(u.taskId);
        }
      },
      logger: o.logger,
    });
    session = new SessionClient({
      managers: () => managers,
      credentials: () => credentials,
      channelOptions: NODE_CHANNEL_OPTIONS,
      description: () => description,
      onMessage: (msg) => {
        const now = Date.now();
        for (const t of msg.tasks ?? []) {
          const ts = Number(t.status?.timestamp ?? 0);
          if (t.status?.state === baton.TaskState.TASK_ASSIGNED && ts > 0) o.onAssigned({ createdAt: Number(t.meta?.createdAt ?? 0), assignedAt: ts, receivedAt: now });
        }
        agent.apply(msg);
      },
      logger: o.logger,
    });
    // As the daemon (src/daemon/node.ts): a new leader first in the list moves the session.
    const onManagers = (next: baton.ManagerPeer.$Properties[]): void => {
      const moved = next[0]?.nodeId !== managers[0]?.nodeId;
      managers = next;
      if (moved) session?.reconnect();
    };
    let heartbeat: HeartbeatClient | undefined;
    if (o.heartbeats) {
      o.heartbeats.thread.add({ index: o.heartbeats.index, addr: o.advertiseAddr, description, caPem: o.caPem, certPem: res.certPem ?? '', keyPem: key.keyPem, managers }, onManagers);
    } else {
      heartbeat = new HeartbeatClient({
        managers: () => managers,
        credentials: () => credentials,
        channelOptions: NODE_CHANNEL_OPTIONS,
        addr: o.advertiseAddr,
        description,
        logger: o.logger,
        onResponse: (hb) => {
          const next = (hb.managers ?? []).filter((m) => m.nodeId && m.addr);
          if (next.length > 0) onManagers(next);
        },
        onRoundTrip: (s) => o.onHeartbeat(s === undefined ? undefined : s * 1000),
      });
    }
    session.start();
    heartbeat?.start();
    return new SimNode(nodeId, running, agent, session, heartbeat);
  }

  async stop(): Promise<void> {
    this.heartbeat?.stop();
    this.session.stop();
    await this.agent.stop();
  }
}

/**
 * A leader change during the join fails the call (UNAVAILABLE, a deadline, a stream reset by
 * an overloaded manager): the user's retry, a few times. A refused token or CSR is not retried.
 */
const REFUSED = new Set<string>(['INVALID_ARGUMENT', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'FAILED_PRECONDITION']);

async function joinCall(o: SimNodeOptions, req: baton.internal.JoinRequest.$Properties): Promise<baton.internal.JoinResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await o.ca.call('Join', req, 60_000)) as baton.internal.JoinResponse;
    } catch (err) {
      if ((err instanceof BatonError && REFUSED.has(err.code)) || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

export function stateDirOf(root: string, index: number): string {
  return join(root, `n${index}`);
}
