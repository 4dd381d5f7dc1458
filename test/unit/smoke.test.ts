import test from 'node:test';
import assert from 'node:assert/strict';
import { message, MessageType } from '../../raft/core/types.js';
test('message() fills zero values', () => {
  const m = message({ type: MessageType.MSG_APP, from: 'a', to: 'b', term: 1 });
  assert.equal(m.index, 0);
});
