// bench:scale's simulated-node hosts renice every thread but their heartbeat thread
// (bench/lib/sim-heartbeats.ts): Linux keeps niceness per thread, so renicing the process id
// alone would leave the others as they were, and renicing everything would starve the
// heartbeats with the nodes' work. Run in a child process: niceness cannot be lowered again.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const lib = new URL('../../bench/lib/sim-heartbeats.js', import.meta.url).href;

const child = `
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { SimHeartbeats, reniceAllBut } from ${JSON.stringify(lib)};
// The thread does not hold a process open (a host lives by its IPC channel): this timer does.
setInterval(() => undefined, 1000);
// The niceness this process started with (the test runner may itself be niced).
const base = getPriority();
const target = Math.min(19, base + 7);
const hb = new SimHeartbeats();
const tid = await hb.tid;
const ok = reniceAllBut(target, tid);
const nice = {};
for (const t of readdirSync('/proc/self/task')) {
  // Field 19 of stat is the niceness; the command name (field 2) may hold spaces, so count from its ')'.
  const stat = readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
  nice[t] = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}
console.log(JSON.stringify({ pid: process.pid, tid, ok, nice, base, target }));
process.exit(0);
`;

test('every thread of the host is reniced but the heartbeat thread', async () => {
  // A file, not --eval: the worker thread would inherit --input-type and refuse to start.
  const dir = await mkdtemp(join(tmpdir(), 'baton-sim-hb-'));
  const script = join(dir, 'child.mjs');
  await writeFile(script, child);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [script], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)));
  }).finally(() => rm(dir, { recursive: true, force: true }));
  const r = JSON.parse(out) as { pid: number; tid: number | undefined; ok: boolean; nice: Record<string, number>; base: number; target: number };
  assert.equal(r.ok, true);
  assert.ok(r.target > r.base, `the test needs room to renice (started at ${r.base})`);
  assert.ok(r.tid !== undefined && r.tid !== r.pid, `the heartbeat thread has its own id (${String(r.tid)})`);
  assert.equal(r.nice[String(r.tid)], r.base, 'the heartbeat thread keeps its priority');
  assert.equal(r.nice[String(r.pid)], r.target, 'the main thread is reniced');
  const others = Object.entries(r.nice).filter(([t]) => Number(t) !== r.tid);
  assert.ok(others.length >= 2, 'a node process has more threads than its main one');
  for (const [t, n] of others) assert.equal(n, r.target, `thread ${t} reniced`);
});
