import assert from 'node:assert/strict';
// Connects the multi-process clients' history to the generic checker.
import { checkOperations, kvModel } from './linearizability.js';
import type { RecordedOp } from './kv-clients.js';

/** Fails the test, with the offending sub-history, unless the recorded KV history is linearizable. */
export function assertLinearizable(ops: RecordedOp[], timeoutMs = 60_000): void {
  const result = checkOperations(kvModel, ops, { timeoutMs });
  if (result.result === 'illegal') {
    const f = result.failure;
    assert.fail(`history of ${ops.length} operations is not linearizable; partition ${f?.partition}: ${JSON.stringify(f?.ops.slice(0, 40))}`);
  }
  assert.equal(result.result, 'ok', `linearizability check gave ${result.result} after ${result.elapsedMs} ms`);
}
