// A node's version moves without anyone editing it (its status and manager status are written
// on it), so `baton node update|promote|demote` (the SDK's modifyNode) redo their change on the
// newest version instead of failing: a 1,000-node run's `node update --availability drain` was
// refused with "version 2632 is stale, current is 2635" while nobody else changed the node.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ControlCalls } from '../../client/calls.js';
import { BatonError } from '../../rpc/errors.js';
import { baton } from '../../proto/gen/baton.js';
import type { RpcClient } from '../../rpc/client.js';
import type { ControlService } from '../../rpc/services.js';

/** A manager holding one node whose version moves `racing` times between a read and the write that follows it. */
class FakeManager {
  version = 7;
  spec: baton.NodeSpec.$Properties = { availability: baton.NodeAvailability.ACTIVE, annotations: { labels: { zone: 'a' } } };
  writes = 0;
  constructor(private racing: number) {}

  call(method: string, req: { id?: string; version?: number; spec?: baton.NodeSpec.$Properties }): Promise<unknown> {
    if (method === 'GetNode') {
      const node = { meta: { id: 'n1', version: this.version }, spec: this.spec };
      if (this.racing > 0) {
        this.racing--;
        this.version++; // a status write lands between this read and the update
      }
      return Promise.resolve(node);
    }
    if (method === 'UpdateNode') {
      this.writes++;
      if (req.version !== this.version) return Promise.reject(new BatonError('VERSION_CONFLICT', `update of node n1: version ${req.version} is stale, current is ${this.version}`));
      this.spec = req.spec ?? {};
      this.version++;
      return Promise.resolve({ meta: { id: 'n1', version: this.version }, spec: this.spec });
    }
    return Promise.reject(new BatonError('INTERNAL', `not faked: ${method}`));
  }
}

class Calls extends ControlCalls {
  readonly control: RpcClient<ControlService>;
  constructor(fake: FakeManager) {
    super();
    this.control = fake as unknown as RpcClient<ControlService>;
  }
  list(): Promise<unknown[]> {
    return Promise.resolve([]);
  }
}

const drain = (spec: baton.NodeSpec.$Properties): baton.NodeSpec.$Properties => ({ ...spec, availability: baton.NodeAvailability.DRAIN });

test('a node update that meets a newer version is redone on it, keeping what it did not change', async () => {
  const fake = new FakeManager(2);
  const node = await new Calls(fake).modifyNode('n1', drain);
  assert.equal(fake.writes, 3, 'two stale writes, then the one that lands');
  assert.equal(node.spec?.availability, baton.NodeAvailability.DRAIN);
  assert.deepEqual(node.spec?.annotations?.labels, { zone: 'a' });
});

test('a node that keeps moving: the conflict is reported after the attempts, and other errors at once', async () => {
  const fake = new FakeManager(10);
  await assert.rejects(new Calls(fake).modifyNode('n1', drain, 3), { code: 'VERSION_CONFLICT' });
  assert.equal(fake.writes, 3);
  await assert.rejects(
    new Calls(new FakeManager(0)).modifyNode('n1', () => {
      throw new BatonError('INVALID_ARGUMENT', 'bad change');
    }),
    { code: 'INVALID_ARGUMENT' },
  );
});
