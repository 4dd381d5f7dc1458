// node dist/bench/catch-up.js --raft-dir DIR — how long a joining manager takes to catch up with
// a store of real size, in one process: the Raft log of a manager from a kept bench:scale run
// (`npm run bench:scale -- --keep …`, then <temp>/m1/raft; the entries are read, not written
// to) is proposed again, in order, to a one-voter RaftNode whose state machine is the manager's
// own store (manager/store, LevelDB under a temp dir, the gRPC transport on 127.0.0.1). Then a
// second RaftNode with an empty store starts and is added as a voter, as `baton join` adds a
// manager, and the time is taken until it answers a linearizable read (a read barrier) with
// every task of the leader. It prints whether it installed a snapshot, how many entries it
// applied one by one, and the process's CPU in that time (both nodes: the leader's sending
// included). What bench:scale's catch-up adds to this is the new process's start and the join.
// The target is issue 17's (<= 10 s at 100,000 tasks); no peer runs here. Flags: --raft-dir DIR,
// --keep, --out DIR. Writes bench/results/catch-up-latest.json.
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ClusterStore } from '../manager/store/index.js';
import { ConfChangeType, EntryType, RaftNode } from '../raft/index.js';
import { RaftStorage } from '../raft/storage/index.js';
import { waitFor } from '../src/launcher/wait.js';
import { projectRoot } from './lib/args.js';
import { installCleanupHandlers, keepTempDirs, makeTempDir } from './lib/proc.js';
import { busyMachineWarning, machineInfo, writeRun } from './lib/results.js';
import { round } from './lib/stats.js';

const { values: args } = parseArgs({ options: { 'raft-dir': { type: 'string' }, keep: { type: 'boolean', default: false }, out: { type: 'string' } } });

/** Proposals in flight while the log is rebuilt (the order is kept: Raft appends in call order). */
const IN_FLIGHT = 32;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  if (!args['raft-dir']) throw new Error('--raft-dir DIR is required: the raft folder of a manager of a kept bench:scale run');
  installCleanupHandlers();
  keepTempDirs(args.keep);
  const started = new Date();
  const root = makeTempDir('baton-catch-up');
  // A copy: LevelDB takes a lock, and the source may belong to a run still kept for inspection.
  cpSync(resolve(args['raft-dir']), join(root, 'source'), { recursive: true });
  const source = await RaftStorage.open(join(root, 'source'));
  const recorded = source.load().entries.filter((e) => e.type === EntryType.ENTRY_NORMAL && e.data.length > 0);
  await source.close();
  const logBytes = recorded.reduce((n, e) => n + e.data.length, 0);

  const logger = pino({ level: 'silent' });
  // Ticks as the bench's managers run them (--election-timeout 5s): a loaded machine must not
  // turn the measurement into an election.
  const timing = { tickMs: 100, electionTicks: 50 };
  const leaderStore = new ClusterStore();
  const leader = await RaftNode.start({ id: 'a', dataDir: join(root, 'a'), listen: '127.0.0.1:0', peers: {}, bootstrap: ['a'], stateMachine: leaderStore, logger, ...timing });
  await waitFor('the leader', () => leader.status().role === 'leader', { timeoutMs: 30_000 });
  const rebuild0 = performance.now();
  let failed = 0;
  for (let i = 0; i < recorded.length; i += IN_FLIGHT) {
    const results = await Promise.all(recorded.slice(i, i + IN_FLIGHT).map((e) => leader.propose(e.data)));
    failed += results.filter((r) => !r.ok).length;
  }
  const rebuildSeconds = (performance.now() - rebuild0) / 1000;
  const tasks = leaderStore.count('task');
  console.log(`catch-up: ${recorded.length} entries (${(logBytes / 2 ** 20).toFixed(1)} MiB) proposed again in ${rebuildSeconds.toFixed(1)} s: ${tasks} tasks, ${failed} refused by the store; leader snapshots taken ${leader.stats().snapshotsTaken}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);

  const joinerStore = new ClusterStore();
  let applied = 0;
  const counting = { apply: (e: Parameters<ClusterStore['apply']>[0]) => (applied++, joinerStore.apply(e)), snapshot: () => joinerStore.snapshot(), restore: (d: Uint8Array) => joinerStore.restore(d) };
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const joiner = await RaftNode.start({ id: 'd', dataDir: join(root, 'd'), listen: '127.0.0.1:0', peers: { a: `127.0.0.1:${leader.raftPort}` }, bootstrap: [], stateMachine: counting, logger, ...timing });
  await leader.changeMembership(ConfChangeType.ADD_VOTER, 'd', `127.0.0.1:${joiner.raftPort}`);
  await waitFor('the new member to answer a linearizable read with every task', async () => {
    try {
      await joiner.readBarrier();
    } catch {
      return false;
    }
    return joinerStore.count('task') === tasks;
  }, { timeoutMs: 600_000, intervalMs: 50 });
  const catchUpSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpuMs() - cpu0) / 1000;
  const installed = joiner.stats().snapshotsInstalled;
  console.log(`new member caught up in ${catchUpSeconds.toFixed(2)} s (process CPU ${cpuSeconds.toFixed(2)} s): ${installed} snapshot(s) installed, ${applied} entries applied one by one (target: <= 10 s at 100,000 tasks, with the process start)`);
  const warning = busyMachineWarning();
  if (warning) console.log(warning);
  const path = writeRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'catch-up', started, machineInfo(), loadavg(), {
    entries: recorded.length,
    logMiB: round(logBytes / 2 ** 20, 1),
    tasks,
    leaderSnapshotsTaken: leader.stats().snapshotsTaken,
    catchUpSeconds: round(catchUpSeconds, 2),
    cpuSeconds: round(cpuSeconds, 2),
    snapshotsInstalled: installed,
    entriesApplied: applied,
  });
  console.log(`results: ${path}`);
  await joiner.stop();
  await leader.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench catch-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
