// The checker must agree with the known verdicts of real Jepsen etcd histories before we trust
// it on our own cluster's. The histories live outside the project (they are not our work) and
// are read in place from the workplace's shared test data (or BATON_JEPSEN_DIR), never copied.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOperations, registerModel } from '../lib/linearizability.js';
import { parseJepsenLog } from '../lib/jepsen-log.js';

// dist/test/unit/ -> the project root is three levels up.
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = process.env['BATON_JEPSEN_DIR'] ?? join(projectRoot, '../shared/testdata/jepsen-etcd');

// Far above the seconds each history takes, so a slow machine does not fail the test, yet a
// search gone exponential shows up as 'unknown' instead of hanging the suite.
const TIMEOUT_MS = 20_000;

function readVerdicts(path: string): Map<string, boolean> {
  const verdicts = new Map<string, boolean>();
  readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const [name, verdict, ...rest] = line.split('\t');
      if (name === undefined || rest.length > 0 || (verdict !== 'linearizable' && verdict !== 'not-linearizable')) {
        throw new SyntaxError(`verdicts.tsv line ${i + 1}: expected "<file>\\t(linearizable|not-linearizable)"`);
      }
      if (verdicts.has(name)) throw new SyntaxError(`verdicts.tsv line ${i + 1}: ${name} listed twice`);
      verdicts.set(name, verdict === 'linearizable');
    });
  return verdicts;
}

// The parser runs without the histories: what each kind of completion becomes decides verdicts.
test('parseJepsenLog: completions, indeterminate ops and whitespace', () => {
  const log = [
    'INFO  jepsen.util - 0\t:invoke\t:write\t3',
    'INFO  jepsen.util - 1\t:invoke\t:cas\t[3 4]',
    'INFO  jepsen.util - 2   :invoke :read   nil', // some files separate fields with spaces
    'INFO  jepsen.util - 0\t:ok\t:write\t3',
    'INFO  jepsen.util - 1\t:fail\t:cas\t[3 4]',
    'INFO  jepsen.util - 2\t:fail\t:read\t:timed-out',
    'INFO  jepsen.util - 3\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 3\t:ok\t:read\tnil',
    'INFO  jepsen.util - 4\t:invoke\t:cas\t[1 2]',
    'INFO  jepsen.util - 4\t:info\t:cas\t:timed-out',
    'INFO  jepsen.core - something else entirely',
    'INFO  jepsen.util - 5\t:invoke\t:write\t0',
    'INFO  jepsen.util - 6\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 6\t:ok\t:read\t3',
    '',
  ].join('\n');
  assert.deepEqual(parseJepsenLog(log), [
    { clientId: 0, input: { op: 'write', value: 3 }, output: null, call: 0, return: 3 },
    { clientId: 1, input: { op: 'cas', from: 3, to: 4 }, output: false, call: 1, return: 4 },
    // process 2's read failed: it took no effect and saw nothing, so it is not an operation.
    { clientId: 3, input: { op: 'read' }, output: null, call: 6, return: 7 },
    { clientId: 4, input: { op: 'cas', from: 1, to: 2 }, output: undefined, call: 8, return: Infinity },
    { clientId: 5, input: { op: 'write', value: 0 }, output: undefined, call: 11, return: Infinity },
    { clientId: 6, input: { op: 'read' }, output: 3, call: 12, return: 13 },
  ]);
  assert.throws(() => parseJepsenLog('INFO  jepsen.util - 0\t:ok\t:read\t1'), /line 1: process 0 completes/);
  assert.throws(
    () => parseJepsenLog('INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil'),
    /line 2: process 0 invokes/,
  );
  assert.throws(() => parseJepsenLog('INFO  jepsen.util - 0\t:invoke\t:cas\t3'), /line 1: a cas needs/);
  assert.throws(() => parseJepsenLog('INFO  jepsen.util - 0\t:invoke\t:dequeue\tnil'), /line 1: not a Jepsen event/);
});

if (!existsSync(dir)) {
  test('Jepsen etcd histories agree with their known verdicts', (t) => {
    t.skip(`no Jepsen histories at ${dir} (set BATON_JEPSEN_DIR to check them)`);
  });
} else {
  test('Jepsen etcd histories agree with their known verdicts', async (t) => {
    const verdicts = readVerdicts(join(dir, 'verdicts.tsv'));
    const logs = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort();
    // A history without a verdict, or a verdict without its history, would otherwise pass
    // unnoticed by simply not being checked.
    assert.deepEqual(logs, [...verdicts.keys()].sort(), 'the .log files and verdicts.tsv list different histories');
    assert.ok(logs.length > 0, `no histories in ${dir}`);

    const times: { name: string; ms: number; ops: number }[] = [];
    let agreed = 0;
    for (const name of logs) {
      await t.test(name, () => {
        const ops = parseJepsenLog(readFileSync(join(dir, name), 'utf8'));
        const r = checkOperations(registerModel, ops, { timeoutMs: TIMEOUT_MS });
        times.push({ name, ms: r.elapsedMs, ops: ops.length });
        assert.notEqual(r.result, 'unknown', `${name}: no verdict within ${TIMEOUT_MS} ms`);
        const expected = verdicts.get(name) ? 'ok' : 'illegal';
        assert.equal(r.result, expected, `${name}: checker says ${r.result}, verdicts.tsv says ${expected}`);
        agreed++;
      });
    }
    times.sort((a, b) => b.ms - a.ms);
    const total = times.reduce((s, x) => s + x.ms, 0);
    t.diagnostic(`${agreed}/${logs.length} verdicts agree, ${total.toFixed(0)} ms in all`);
    t.diagnostic(
      'slowest: ' +
        times
          .slice(0, 3)
          .map((x) => `${x.name} (${x.ops} ops) ${x.ms.toFixed(1)} ms`)
          .join(', '),
    );
  });
}
