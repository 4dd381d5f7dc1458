// Linearizability of the replicated KV under faults: concurrent simulated clients (writes
// through the leader, reads through ReadIndex on any node) run against the same randomized
// fault schedule as raft-sim, and each seed's history is checked with the Wing & Gong / Lowe
// checker (test/lib/linearizability.ts) against the kv model.
//
//   LIN_SEEDS=5000 node scripts/run-tests.mjs raft-lin      more seeds (default 600)
//   SIM_SEED=1234 node scripts/run-tests.mjs raft-lin       replay one seed
import test from 'node:test';
import assert from 'node:assert/strict';
import { checkOperations, kvModel } from '../lib/linearizability.js';
import { KvClients, describe } from './clients.js';
import { Rng } from './rng.js';
import { SimFailure, paramsForSeed, runScenario } from './scenario.js';

const traceTail = Number(process.env.SIM_TRACE ?? 80);

interface LinResult {
  seed: number;
  ops: number;
  ok: number;
  indeterminate: number;
  reads: number;
  checkMs: number;
}

function runLinSeed(seed: number): LinResult {
  const params = paramsForSeed(seed);
  const r = new Rng(seed).fork('clients');
  const clients = new KvClients(r, {
    clients: r.range(2, 6),
    keys: r.range(1, 3),
    readShare: r.pick([0.3, 0.5, 0.7]),
    appendShare: 0.5,
    thinkMax: r.pick([0, 10, 40]),
    opTimeout: r.pick([1000, 3000]),
    readRetry: 120,
  });
  runScenario(params, { workload: clients, traceTail, suite: 'raft-lin' });
  const started = performance.now();
  const verdict = checkOperations(kvModel, clients.history, { timeoutMs: 20_000 });
  const checkMs = performance.now() - started;
  if (verdict.result !== 'ok') {
    const lines = [
      `seed ${seed}: history of ${clients.history.length} operations is ${verdict.result === 'illegal' ? 'NOT linearizable' : 'too hard to check in time'}`,
      `replay: SIM_SEED=${seed} node scripts/run-tests.mjs raft-lin`,
    ];
    if (verdict.failure) {
      lines.push(`partition ${verdict.failure.partition} (${verdict.failure.ops.length} ops), longest linearizable prefix:`);
      for (const op of verdict.failure.longestPrefix) lines.push(`  c${op.clientId} ${describe(op.input)} -> ${String(op.output)} [${op.call}, ${op.return}]`);
      lines.push('operations of that partition:');
      for (const op of verdict.failure.ops) lines.push(`  c${op.clientId} ${describe(op.input)} -> ${String(op.output)} [${op.call}, ${op.return}]`);
    }
    throw new SimFailure(seed, 'linearizability', lines[0]!, lines.join('\n'));
  }
  return {
    seed,
    ops: clients.history.length,
    ok: clients.stats.ok,
    indeterminate: clients.stats.indeterminate,
    reads: clients.stats.readsOk,
    checkMs,
  };
}

function run(first: number, count: number): { results: LinResult[]; failures: SimFailure[] } {
  const results: LinResult[] = [];
  const failures: SimFailure[] = [];
  for (let seed = first; seed < first + count; seed++) {
    try {
      results.push(runLinSeed(seed));
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err;
      failures.push(err);
      if (failures.length >= 3) break;
    }
  }
  return { results, failures };
}

const single = process.env.SIM_SEED;
const count = single !== undefined ? 1 : Number(process.env.LIN_SEEDS ?? 600);
const first = single !== undefined ? Number(single) : Number(process.env.LIN_FIRST_SEED ?? 1);

test(`KV histories under faults are linearizable, seeds ${first}..${first + count - 1}`, (t) => {
  const started = performance.now();
  const { results, failures } = run(first, count);
  const sum = (f: (r: LinResult) => number) => results.reduce((a, r) => a + f(r), 0);
  t.diagnostic(`${results.length} histories, ${sum((r) => r.ops)} operations: ${sum((r) => r.ok)} writes acknowledged, ${sum((r) => r.indeterminate)} indeterminate, ${sum((r) => r.reads)} reads`);
  t.diagnostic(`checker ${Math.round(sum((r) => r.checkMs))} ms, slowest history ${Math.round(Math.max(0, ...results.map((r) => r.checkMs)))} ms; total ${Math.round(performance.now() - started)} ms`);
  if (failures.length > 0) {
    assert.fail(`${failures.length} seed(s) failed: ${failures.map((f) => f.seed).join(', ')}\n\n${failures.map((f) => f.report).join('\n\n')}`);
  }
  assert.ok(sum((r) => r.reads) > 0 && sum((r) => r.ok) > 0, 'the clients did nothing');
});
