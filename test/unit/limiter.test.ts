import test from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from '../../worker/agent/limiter.js';

test('the agent limiter bounds concurrency and lets starts go ahead of waiting creates', async () => {
  const limiter = new Limiter(1);
  const order: string[] = [];
  let release!: () => void;
  const blocker = limiter.run(() => new Promise<void>((r) => (release = r)));
  const create = limiter.run(async () => void order.push('create'));
  const start = limiter.run(async () => void order.push('start'), true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'nothing runs while the only slot is taken');
  release();
  await Promise.all([blocker, create, start]);
  assert.deepEqual(order, ['start', 'create']);
});
