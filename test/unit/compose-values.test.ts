// Compose's command strings and Docker's variable interpolation, on their own (durations, sizes
// and CPUs are spec/'s: test/unit/spec-values.test.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import { shellWords } from '../../cli/compose/values.js';
import { interpolate, type InterpolateContext } from '../../cli/compose/interpolate.js';

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
