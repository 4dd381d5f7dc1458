// node dist/bench/sim-agent-cost.js — what one simulated node's agent costs bench:scale's host
// processes per task, with the store a real node has (its LevelDB, synced batches, on /dev/shm
// as bench:scale put them) beside the in-memory store the simulation uses now
// (test/lib/memory-task-store.ts). In one process, no network: N agents over the fake
// executor (no delay) each get one full set of T/N tasks, as a session's first message, and
// acknowledge their reports at once; measured: the process's CPU (every thread: LevelDB works
// on libuv's pool) from the message to every task reported Running, per task. The stores take
// turns (--turns, default 3 each), in alternation, the same minutes.
// Flags: --nodes N (default 100), --tasks T (default 10,000), --turns K, --out DIR.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { Agent } from '../worker/agent/index.js';
import { FakeExecutor } from '../test/lib/fake-executor.js';
import { MemoryTaskDisk } from '../test/lib/memory-task-store.js';
import { count, projectRoot } from './lib/args.js';
import { finishRun, formatTable, ratio } from './lib/results.js';
import { round } from './lib/stats.js';

const { values: args } = parseArgs({ options: { nodes: { type: 'string' }, tasks: { type: 'string' }, turns: { type: 'string' }, out: { type: 'string' } } });
const NODES = count(args.nodes, 100);
const TASKS = count(args.tasks, 10_000, NODES);
const TURNS = count(args.turns, 3);
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));
const RUNNING = baton.TaskState.TASK_RUNNING;
type Store = 'leveldb' | 'memory';

function taskOf(nodeId: string, i: number): baton.Task.$Properties {
  return {
    meta: { id: `${nodeId}-t${i}`, version: 10 },
    serviceId: 'svc',
    slot: i + 1,
    nodeId,
    annotations: { name: `scale.${i + 1}` },
    desiredState: RUNNING,
    status: { state: baton.TaskState.TASK_ASSIGNED },
    spec: { runtime: 'process', container: { image: 'scale-sim', command: ['sleep', '1000000'] } },
  };
}

/** One turn: CPU µs per task from the full sets to every task reported Running. */
async function turn(store: Store): Promise<{ cpuUsPerTask: number; wallSeconds: number }> {
  const dir = mkdtempSync('/dev/shm/baton-agent-cost-');
  const logger = pino({ level: 'silent' });
  const perNode = Math.floor(TASKS / NODES);
  let running = 0;
  let allRunning: () => void = () => undefined;
  const done = new Promise<void>((r) => (allRunning = r));
  const agents: Agent[] = [];
  try {
    for (let n = 0; n < NODES; n++) {
      agents.push(
        await Agent.open({
          nodeId: `node-${n}`,
          clusterId: 'c',
          stateDir: join(dir, `n${n}`),
          ...(store === 'memory' ? { openStore: () => new MemoryTaskDisk().open() } : {}),
          executors: { process: new FakeExecutor('process') },
          logger,
          report: (updates) => {
            for (const u of updates) if (u.status?.state === RUNNING && ++running === perNode * NODES) allRunning();
            return Promise.resolve();
          },
        }),
      );
    }
    // The messages as a session decodes them off the wire.
    const messages = agents.map((_, n) => baton.internal.SessionMessage.decode(baton.internal.SessionMessage.encode({ full: true, tasks: Array.from({ length: perNode }, (_, i) => taskOf(`node-${n}`, i)) }).finish()));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    agents.forEach((a, n) => a.apply(messages[n]!));
    await done;
    const cpu = process.cpuUsage(cpu0);
    return { cpuUsPerTask: round((cpu.user + cpu.system) / (perNode * NODES), 1), wallSeconds: round((performance.now() - t0) / 1000, 2) };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  console.log(`sim-agent-cost: ${NODES} agents, ${TASKS} tasks, ${TURNS} turns per store; load ${load0.map((v) => v.toFixed(2)).join(' ')}`);
  const turns: Record<Store, { cpuUsPerTask: number; wallSeconds: number }[]> = { leveldb: [], memory: [] };
  for (let k = 0; k < TURNS; k++) {
    for (const store of (k % 2 === 0 ? ['leveldb', 'memory'] : ['memory', 'leveldb']) as Store[]) {
      const r = await turn(store);
      turns[store].push(r);
      console.log(`  turn ${k + 1} ${store}: ${r.cpuUsPerTask} µs CPU per task, ${r.wallSeconds} s`);
    }
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const level = median(turns.leveldb.map((t) => t.cpuUsPerTask));
  const memory = median(turns.memory.map((t) => t.cpuUsPerTask));
  const spread = (s: Store): string => `${Math.min(...turns[s].map((t) => t.cpuUsPerTask))}–${Math.max(...turns[s].map((t) => t.cpuUsPerTask))}`;
  console.log(
    `\n${formatTable([
      ['agent store', 'CPU per task (µs, median)', 'spread', 'vs LevelDB'],
      ['memory (the simulation)', String(memory), spread('memory'), ratio(memory, level)],
      ['LevelDB (a real node)', String(level), spread('leveldb'), '1.00x'],
    ])}`,
  );
  finishRun(outDir, 'sim-agent-cost', started, load0, { nodes: NODES, tasks: TASKS, turns, memoryCpuUsPerTask: memory, levelDbCpuUsPerTask: level });
}

main().catch((err: unknown) => {
  process.stderr.write(`sim-agent-cost failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
