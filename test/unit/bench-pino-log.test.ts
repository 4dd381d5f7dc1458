// bench/lib/pino-log.ts `readLog`: the one way a benchmark reads a manager's log lines by msg.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog } from '../../bench/lib/pino-log.js';

test("readLog: the lines whose msg is the one asked, parsed; a line being written, another msg and a missing file give none", () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-pino-log-'));
  try {
    const file = join(dir, 'manager.log');
    writeFileSync(
      file,
      [
        '{"level":30,"time":1000,"node":"m1","msg":"raft role changed","role":"leader"}',
        // The logging manager's binding first, the node marked down last: the last one counts.
        '{"level":30,"time":2000,"node":"m1","node":"w7","rule":"silence","msg":"node missed its heartbeats: marking it down"}',
        '{"level":30,"time":2500,"msg":"node missed its heartbeats: marking it down, said otherwise"}',
        '{"level":30,"time":3000,"node":"m1","node":"w8","msg":"node missed its heart',
      ].join('\n'),
    );
    const down = readLog(file, 'node missed its heartbeats: marking it down');
    assert.deepEqual(down.map((e) => [e.time, e.node, e.rule]), [[2000, 'w7', 'silence']]);
    assert.deepEqual(readLog(file).map((e) => e.time), [1000, 2000, 2500], 'every whole line, in order');
    assert.deepEqual(readLog(join(dir, 'not-yet.log'), 'raft role changed'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
