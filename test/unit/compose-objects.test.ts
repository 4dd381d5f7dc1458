// Secrets and configs on re-deploy: a file unchanged keeps its object, a changed one is replaced
// when unused and refused when in use, an external one must exist, a foreign one is not taken.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planObjects, DIGEST_LABEL, type StoredObject } from '../../cli/compose/sync-objects.js';
import type { ObjectDecl } from '../../cli/compose/objects.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-compose-objects-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function decl(key: string, data: string | undefined, external = false): ObjectDecl {
  const file = join(dir, key);
  if (data !== undefined) writeFileSync(file, data);
  return { kind: 'secret', key, name: external ? key : `app_${key}`, external, ...(external ? {} : { file }), labels: {}, where: `compose.yml: secrets.${key}` };
}

const NS = 'com.docker.stack.namespace';
const user = (id: string) => ({ spec: { annotations: { name: 'app_web' }, task: { container: { secrets: [{ secretId: id }] } } } });

test('first deploy creates; the same data again reuses the object', () => {
  const first = planObjects('app', [decl('db', 'pw')], [], []);
  assert.equal(first.create.length, 1);
  const labels = first.create[0]!.labels;
  assert.equal(labels[NS], 'app');
  assert.match(labels[DIGEST_LABEL] ?? '', /^[0-9a-f]{64}$/);
  const stored: StoredObject[] = [{ id: 's1', name: 'app_db', labels }];
  const again = planObjects('app', [decl('db', 'pw')], stored, [user('s1')]);
  assert.deepEqual(again.create, []);
  assert.deepEqual(again.replace, []);
  assert.equal(again.ids.get('app_db'), 's1');
});

test('changed data: replaced when no service uses it, refused (one line) when one does', () => {
  const { labels } = planObjects('app', [decl('db', 'pw')], [], []).create[0]!;
  const stored: StoredObject[] = [{ id: 's1', name: 'app_db', labels }];
  const unused = planObjects('app', [decl('db', 'new')], stored, []);
  assert.deepEqual(unused.replace.map((o) => o.id), ['s1']);
  assert.equal(unused.create.length, 1);
  assert.throws(() => planObjects('app', [decl('db', 'new')], stored, [user('s1')]), {
    message: 'compose.yml: secrets.db: the data of secret app_db changed, but it is in use by app_web and a secret cannot be changed in place; give it a new name (e.g. db_v2) or remove the stack first',
  });
});

test('external objects must exist; names of other stacks are not taken; empty and missing files refused', () => {
  assert.throws(() => planObjects('app', [decl('ext', undefined, true)], [], []), { message: 'compose.yml: secrets.ext: external secret "ext" not found (create it with baton secret create)' });
  assert.equal(planObjects('app', [decl('ext', undefined, true)], [{ id: 'e1', name: 'ext', labels: {} }], []).ids.get('ext'), 'e1');
  assert.throws(() => planObjects('app', [decl('db', 'pw')], [{ id: 'x', name: 'app_db', labels: { [NS]: 'other' } }], []), /a secret named app_db already exists and is not part of stack app/);
  assert.throws(() => planObjects('app', [decl('empty', '')], [], []), /secrets\.empty\.file: .*empty is empty \(a secret needs data\)/);
  assert.throws(() => planObjects('app', [{ ...decl('gone', undefined), file: join(dir, 'nope') }], [], []), /secrets\.gone\.file: cannot read .*nope \(ENOENT\)/);
});
