// `baton events`' command line (every problem at once) and Docker's output shapes; `baton
// --version`'s release is package.json's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventJson, eventLine, eventsRequest } from '../../cli/events.js';
import { BATON_VERSION } from '../../rpc/version.js';
import { BatonError } from '../../rpc/errors.js';

test('--since and --until take a version, a duration before now or a timestamp; filters map to the request', () => {
  const now = 1_800_000_000_000;
  assert.deepEqual(eventsRequest({ since: '42', until: '50', filter: ['type=service', 'name=web', 'id=abc', 'event=create'] }, now), {
    kinds: ['service'],
    names: ['web'],
    ids: ['abc'],
    actions: ['create'],
    sinceVersion: 42,
    untilVersion: 50,
  });
  const r = eventsRequest({ since: '10m', until: '2027-01-15T08:00:00Z' }, now);
  assert.equal(r.sinceTime, now - 600_000);
  assert.equal(r.untilTime, Date.parse('2027-01-15T08:00:00Z'));
});

test('--since after --until is refused, as Docker does (versions with versions, times with times)', () => {
  assert.throws(() => eventsRequest({ since: '50', until: '10' }), /--since \(50\) is after --until \(10\)/);
  assert.throws(() => eventsRequest({ since: '1m', until: '10m' }, Date.now()), /--since \(1m\) is after --until \(10m\)/);
  assert.doesNotThrow(() => eventsRequest({ since: '10', until: '50' }));
});

test('bad events flags are reported together in one line', () => {
  assert.throws(
    () => eventsRequest({ since: 'yesterday', filter: ['colour=red', 'type'], format: 'table' }),
    (err: unknown) => {
      assert.ok(err instanceof BatonError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /^4 problems: bad --since "yesterday": want a version .*; bad --filter "colour=red": unknown key "colour" .*; bad --filter "type": want key=value; bad --format "table": want json/);
      return true;
    },
  );
});

test("events print in docker events' line and JSON shapes", () => {
  const e = { kind: 'service', action: 'create', id: 'abc123', name: 'web', version: 7, time: Date.parse('2026-12-06T10:00:00.123Z') };
  assert.equal(eventLine(e), '2026-12-06T10:00:00.123000000Z service create abc123 (name=web, version=7)');
  assert.deepEqual(eventJson(e), {
    Type: 'service',
    Action: 'create',
    Actor: { ID: 'abc123', Attributes: { name: 'web', version: '7' } },
    scope: 'swarm',
    time: Math.floor(e.time / 1000),
    timeNano: e.time * 1_000_000,
  });
  assert.equal(eventLine({ ...e, kind: 'task', name: '' }), '2026-12-06T10:00:00.123000000Z task create abc123 (version=7)');
});

test("BATON_VERSION is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../package.json'), 'utf8')) as { version: string };
  assert.equal(BATON_VERSION, pkg.version);
});
