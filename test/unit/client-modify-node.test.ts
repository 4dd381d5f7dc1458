// A node's version moves without anyone editing it (its status and manager status are written
// on it), so `baton node update|promote|demote` (the SDK's modifyNode) redo their change on the
// newest version instead of failing: a 1,000-node run's `node update --availability drain` was
// refused with "version 2632 is stale, current is 2635" while nobody else changed the node.
// A service's moves too (its autoscaler): `baton service scale|update` go through modifyService,
// after a CI run's `service scale` of an autoscaled service was refused the same way.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ControlCalls } from '../../client/calls.js';
import { BatonError } from '../../rpc/errors.js';
import { baton } from '../../proto/gen/baton.js';
import type { RpcClient } from '../../rpc/client.js';
import type { ControlService } from '../../rpc/services.js';

/**
 * A manager holding one object (a node, or a service) whose version moves `racing` times
 * between a read and the write that follows it.
 */
class FakeManager<Spec extends object = baton.NodeSpec.$Properties> {
  version = 7;
  writes = 0;
  /** Each write's noResolveImage (UpdateService's option). */
  noResolveImage: (boolean | undefined)[] = [];
  constructor(
    private racing: number,
    public spec: Spec = { availability: baton.NodeAvailability.ACTIVE, annotations: { labels: { zone: 'a' } } } as Spec,
  ) {}

  call(method: string, req: { id?: string; version?: number; spec?: Spec; noResolveImage?: boolean }): Promise<unknown> {
    if (method === 'GetNode' || method === 'GetService') {
      const object = { meta: { id: 'x1', version: this.version }, spec: this.spec };
      if (this.racing > 0) {
        this.racing--;
        this.version++; // a status write lands between this read and the update
      }
      return Promise.resolve(object);
    }
    if (method === 'UpdateNode' || method === 'UpdateService') {
      this.writes++;
      this.noResolveImage.push(req.noResolveImage);
      if (req.version !== this.version) return Promise.reject(new BatonError('VERSION_CONFLICT', `update of x1: version ${req.version} is stale, current is ${this.version}`));
      this.spec = req.spec ?? ({} as Spec);
      this.version++;
      return Promise.resolve({ meta: { id: 'x1', version: this.version }, spec: this.spec });
    }
    return Promise.reject(new BatonError('INTERNAL', `not faked: ${method}`));
  }
}

class Calls extends ControlCalls {
  readonly control: RpcClient<ControlService>;
  constructor(fake: FakeManager<object>) {
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
  const node = await new Calls(fake).modifyNode('x1', drain);
  assert.equal(fake.writes, 3, 'two stale writes, then the one that lands');
  assert.equal(node.spec?.availability, baton.NodeAvailability.DRAIN);
  assert.deepEqual(node.spec?.annotations?.labels, { zone: 'a' });
});

test('a node that keeps moving: the conflict is reported after the attempts, and other errors at once', async () => {
  const fake = new FakeManager(10);
  await assert.rejects(new Calls(fake).modifyNode('x1', drain, 3), { code: 'VERSION_CONFLICT' });
  assert.equal(fake.writes, 3);
  await assert.rejects(
    new Calls(new FakeManager(0)).modifyNode('x1', () => {
      throw new BatonError('INVALID_ARGUMENT', 'bad change');
    }),
    { code: 'INVALID_ARGUMENT' },
  );
});

test('a service scaled while its autoscaler moves it: redone on the newest version, with the options of the write', async () => {
  const fake = new FakeManager<baton.ServiceSpec.$Properties>(2, { annotations: { name: 'web' }, replicas: 3, autoscale: { min: 1, max: 3 } });
  const service = await new Calls(fake).modifyService('web', (spec) => ({ ...spec, replicas: 2 }), 5, { noResolveImage: true });
  assert.equal(fake.writes, 3, 'two stale writes, then the one that lands');
  assert.equal(service.spec?.replicas, 2);
  assert.deepEqual(service.spec?.autoscale, { min: 1, max: 3 });
  assert.deepEqual(fake.noResolveImage, [true, true, true]);
});
