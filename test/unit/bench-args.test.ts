// bench/lib/args.ts `count`: the one way a benchmark reads a whole-number flag (nodes, tasks,
// turns), so that rounding, the floor and the fallback are the same in every bench; `baseDist`:
// the one way a benchmark reads `--base`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseDist, count } from '../../bench/lib/args.js';

test('count: the flag rounded, at least min (1 unless told), else the fallback', () => {
  assert.equal(count('250', 1000), 250);
  assert.equal(count('2.6', 1000), 3);
  assert.equal(count(undefined, 1000), 1000);
  assert.equal(count('', 7), 7);
  assert.equal(count('0', 5), 1, 'a count is at least 1 by default');
  assert.equal(count('0', 5, 0), 0, 'min 0 lets a phase be turned off');
  assert.equal(count('1', 1000, 2), 2, 'bench:scale needs 2 nodes at least');
  assert.equal(count(undefined, 3.4, 0), 3, 'the fallback is rounded too');
  assert.throws(() => count('many', 1), /not a number: many/);
  assert.throws(() => count('-3', 1), /not a number/);
});

test("baseDist: --base names a built checkout's root; its dist/ named instead is refused, saying so", () => {
  const root = mkdtempSync(join(tmpdir(), 'baton-base-'));
  try {
    mkdirSync(join(root, 'dist'));
    assert.equal(baseDist(root), join(root, 'dist'));
    assert.throws(() => baseDist(join(root, 'dist')), /no dist\/ in it \(--base takes the root of a built checkout, not its dist\/\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
