// node dist/bench/scale-dispatch.js [--nodes 1000] [--tasks 20000] — the leader's dispatcher
// alone, in one process: N open sessions (the test fixture's stream, which keeps every message)
// on a store without Raft (LocalHost), then T tasks created, assigned across the nodes and set
// Running in batches of 200, as the orchestrator, the scheduler and the nodes' reports write
// them (the reports through the dispatcher's UpdateTaskStatus, one call per node and batch, all
// at once). Prints the CPU the store's change fan-out, the sessions' flushes and the status
// writes cost, how many writes (Raft entries, on a real leader) the reports took, and checks
// that every node received exactly its tasks. A component figure for bench:scale (docs/scale.md),
// quick enough to compare before and after a dispatcher change on a busy machine.
import { parseArgs } from 'node:util';
import { baton } from '../proto/gen/baton.js';
import { cloneObject, createAction, updateAction } from '../manager/store/index.js';
import { LocalHost } from '../manager/reconcile/local-host.js';
import type { Sessions } from '../dispatcher/index.js';
import { leaderSessions, openSession, turn } from '../test/lib/session-fixture.js';
import { count } from './lib/args.js';

const { values: args } = parseArgs({ options: { nodes: { type: 'string' }, tasks: { type: 'string' } } });
const NODES = count(args.nodes, 1000);
const TASKS = count(args.tasks, 20_000);
const BATCH = 200;
const S = baton.TaskState;

async function main(): Promise<void> {
  const host = new LocalHost();
  const nodeIds = Array.from({ length: NODES }, (_, i) => `n${i}`);
  host.apply(nodeIds.map((id) => createAction('node', { meta: { id }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:1' }, role: baton.NodeRole.WORKER })));
  host.apply([createAction('service', { meta: { id: 's' }, spec: { annotations: { name: 's' }, replicas: TASKS } })]);
  const sessions = leaderSessions(host);
  const streams = nodeIds.map((id) => openSession(sessions, id));
  const ids = Array.from({ length: TASKS }, (_, i) => `t${i}`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const phase = async (change: (id: string, i: number) => Parameters<LocalHost['apply']>[0][number]): Promise<void> => {
    for (let i = 0; i < TASKS; i += BATCH) {
      host.apply(ids.slice(i, i + BATCH).map((id, j) => change(id, i + j)));
      await turn();
    }
  };
  // The orchestrator's creates, the scheduler's assignments, the nodes' Running reports.
  await phase((id, i) => createAction('task', { meta: { id }, serviceId: 's', slot: i + 1, desiredState: S.TASK_RUNNING, status: { state: S.TASK_PENDING } }));
  await phase((id, i) => {
    const t = cloneObject('task', host.store.get('task', id)!);
    t.nodeId = nodeIds[i % NODES]!;
    t.status = { state: S.TASK_ASSIGNED, timestamp: Date.now() };
    return updateAction('task', t);
  });
  // The nodes' Running reports: each node's tasks of a batch in one call, every node at once.
  type Call = Parameters<ReturnType<Sessions['handlers']>['UpdateTaskStatus']>[1];
  const writes0 = host.proposals;
  for (let i = 0; i < TASKS; i += BATCH) {
    const byNode = new Map<string, string[]>();
    ids.slice(i, i + BATCH).forEach((id, j) => {
      const node = nodeIds[(i + j) % NODES]!;
      byNode.set(node, [...(byNode.get(node) ?? []), id]);
    });
    await Promise.all(
      [...byNode].map(([nodeId, taskIds]) =>
        sessions.handlers().UpdateTaskStatus({ updates: taskIds.map((taskId) => ({ taskId, status: { state: S.TASK_RUNNING, timestamp: Date.now() } })) }, { nodeId } as unknown as Call),
      ),
    );
    await turn();
  }
  const statusWrites = host.proposals - writes0;
  await turn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  let received = 0;
  for (const [n, s] of streams.entries()) {
    const got = new Set(s.messages.flatMap((m) => (m.tasks ?? []).map((t) => t.meta?.id ?? '')));
    const want = ids.filter((_, i) => i % NODES === n);
    if (want.some((id) => !got.has(id)) || got.size !== want.length) throw new Error(`node n${n} received ${got.size} tasks, expected ${want.length}`);
    received += got.size;
  }
  sessions.stop();
  console.log(
    JSON.stringify({
      nodes: NODES,
      tasks: TASKS,
      storeChanges: TASKS * 3,
      statusWrites,
      wallMs: Math.round(wallMs),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      received,
      messages: streams.reduce((a, s) => a + s.messages.length, 0),
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
