// Compose's value formats and Docker's variable interpolation, on their own.
import test from 'node:test';
import assert from 'node:assert/strict';
import { bytes, durationMs, nanoCpus, shellWords } from '../../cli/compose/values.js';
import { interpolate, type InterpolateContext } from '../../cli/compose/interpolate.js';

test('durations in Go format', () => {
  assert.equal(durationMs('10s'), 10_000);
  assert.equal(durationMs('1m30s'), 90_000);
  assert.equal(durationMs('500ms'), 500);
  assert.equal(durationMs('1.5h'), 5_400_000);
  assert.equal(durationMs('0'), 0);
  for (const bad of ['', '10', 's', '1m 30s', '-5s', '5 s', '1d']) assert.equal(durationMs(bad), undefined, bad);
});

test('byte sizes and CPUs', () => {
  assert.equal(bytes('64M'), 64 * 1024 ** 2);
  assert.equal(bytes('64mb'), 64 * 1024 ** 2);
  assert.equal(bytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(bytes('512k'), 512 * 1024);
  assert.equal(bytes(1024), 1024);
  assert.equal(bytes('1024'), 1024);
  for (const bad of ['lots', '-1m', '64 x', '']) assert.equal(bytes(bad), undefined, bad);
  assert.equal(bytes(-1), undefined);
  assert.equal(nanoCpus('0.5'), 5e8);
  assert.equal(nanoCpus(2), 2e9);
  assert.equal(nanoCpus('half'), undefined);
  assert.equal(nanoCpus(''), undefined);
  assert.equal(nanoCpus(-1), undefined);
});

test('command strings split like a shell', () => {
  assert.deepEqual(shellWords('httpd -f -p 80'), ['httpd', '-f', '-p', '80']);
  assert.deepEqual(shellWords(`sh -c "echo 'hi there'; exit 1"`), ['sh', '-c', "echo 'hi there'; exit 1"]);
  assert.deepEqual(shellWords(`a\\ b 'c d' "" e"f"g`), ['a b', 'c d', '', 'efg']);
  assert.deepEqual(shellWords(`"a \\"quoted\\" word"`), ['a "quoted" word']);
  assert.deepEqual(shellWords('  '), []);
  assert.equal(shellWords('echo "unclosed'), undefined);
});

function ctx(env: Record<string, string>, unset: string[] = []): InterpolateContext {
  return {
    env,
    unset: (n) => unset.push(n),
    fail: (path, message) => {
      throw new Error(`${path}: ${message}`);
    },
  };
}

test('interpolation: Docker forms', () => {
  const c = ctx({ A: 'a', EMPTY: '', TAG: '1.2' });
  assert.equal(interpolate('x-$A-${A}', 'p', c), 'x-a-a');
  assert.equal(interpolate('img:${TAG:-latest}', 'p', c), 'img:1.2');
  assert.equal(interpolate('${NOPE:-dflt} ${EMPTY:-dflt} ${EMPTY-dflt} ${NOPE-d2}', 'p', c), 'dflt dflt  d2');
  assert.equal(interpolate('${A:+set} ${NOPE:+set}|${EMPTY+set}', 'p', c), 'set |set');
  assert.equal(interpolate('${NOPE:-${A}-x}', 'p', c), 'a-x');
  assert.equal(interpolate('cost $$5 and $${A}', 'p', c), 'cost $5 and ${A}');
  assert.equal(interpolate('no vars here', 'p', c), 'no vars here');
});

test('interpolation: unset variables warn and become empty; required ones fail; bad syntax fails', () => {
  const unset: string[] = [];
  assert.equal(interpolate('[${MISSING}][$ALSO]', 'p', ctx({}, unset)), '[][]');
  assert.deepEqual(unset, ['MISSING', 'ALSO']);
  assert.throws(() => interpolate('${DB:?set DB first}', 'services.db.image', ctx({})), /services\.db\.image: required variable DB is missing: set DB first/);
  assert.throws(() => interpolate('${DB:?}', 'p', ctx({ DB: '' })), /required variable DB is empty/);
  assert.equal(interpolate('${DB?}', 'p', ctx({ DB: '' })), '');
  assert.throws(() => interpolate('${UNCLOSED', 'p', ctx({})), /unclosed/);
  assert.throws(() => interpolate('${1BAD}', 'p', ctx({})), /invalid interpolation format/);
  assert.throws(() => interpolate('a $ b', 'p', ctx({})), /must be followed by a name/);
});
