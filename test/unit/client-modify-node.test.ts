// A node's version moves without anyone editing it (its status and manager status are written
// on it), so `baton node update|promote|demote` (the SDK's modifyNode) redo their change on the
// newest version instead of failing: a 1,000-node run's `node update --availability drain` was
// refused with "version 2632 is stale, current is 2635" while nobody else changed the node.
// A service's moves too (its autoscaler): `baton service scale|update` and `stack deploy` go
// through modifyService, `service rollback` and `service rebalance` through their own redo,
// after a CI run's `service scale` of an autoscaled service was refused the same way.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ControlCalls } from '../../client/calls.js';
import { BatonClient } from '../../client/index.js';
import { deployStack } from '../../cli/compose/apply.js';
import { NAMESPACE_LABEL } from '../../cli/compose/service.js';
import type { ObjectStore } from '../../cli/compose/sync-objects.js';
import { BatonError } from '../../rpc/errors.js';
import { baton } from '../../proto/gen/baton.js';
import type { RpcClient } from '../../rpc/client.js';
import type { ControlService } from '../../rpc/services.js';

/**
 * A manager holding one object (a node, or a service) whose version moves `racing` times
 * between a read (a get, or a list) and the write that follows it: by a status write (a node's
 * status, a service's autoscaler, which keep the service's spec version) or, with
 * `racingWritesSpec`, by someone else's write of the spec (which starts a new spec version).
 */
class FakeManager<Spec extends object = baton.NodeSpec.$Properties> {
  version = 7;
  /** Service.spec_version: 0 while the last write was a spec write (meta.version is then it). */
  specVersion = 0;
  previousSpec: Spec | undefined;
  racingWritesSpec = false;
  /** Whether a rebalance finds tasks to move (else the manager writes nothing). */
  uneven = true;
  writes = 0;
  /** Each write's noResolveImage (UpdateService's option). */
  noResolveImage: (boolean | undefined)[] = [];
  constructor(
    private racing: number,
    public spec: Spec = { availability: baton.NodeAvailability.ACTIVE, annotations: { labels: { zone: 'a' } } } as Spec,
  ) {}

  call(method: string, req: { id?: string; version?: number; spec?: Spec; noResolveImage?: boolean; rollback?: boolean; rebalance?: boolean }): Promise<unknown> {
    if (method === 'GetNode' || method === 'GetService' || method === 'ListServices') {
      const object = this.object();
      if (this.racing > 0) {
        this.racing--;
        // Another write lands between this read and the update.
        if (this.racingWritesSpec) this.writeSpec({ ...this.spec });
        else this.writeStatus();
      }
      return Promise.resolve(method === 'ListServices' ? { services: [object] } : object);
    }
    if (method === 'ListNetworks') return Promise.resolve({ networks: [] });
    if (method === 'UpdateNode' || method === 'UpdateService') {
      this.writes++;
      this.noResolveImage.push(req.noResolveImage);
      if (req.version !== this.version) return Promise.reject(new BatonError('VERSION_CONFLICT', `update of x1: version ${req.version} is stale, current is ${this.version}`));
      if (req.rebalance) {
        if (this.uneven) this.writeStatus();
      } else if (req.rollback) {
        if (!this.previousSpec) return Promise.reject(new BatonError('FAILED_PRECONDITION', 'no previous spec to roll back to'));
        this.writeSpec(this.previousSpec);
      } else this.writeSpec(req.spec ?? ({} as Spec));
      return Promise.resolve(this.object());
    }
    return Promise.reject(new BatonError('INTERNAL', `not faked: ${method}`));
  }

  private object(): { meta: { id: string; version: number }; spec: Spec; previousSpec: Spec | undefined; specVersion: number } {
    return { meta: { id: 'x1', version: this.version }, spec: this.spec, previousSpec: this.previousSpec, specVersion: this.specVersion };
  }

  private writeStatus(): void {
    this.specVersion = this.specVersion || this.version;
    this.version++;
  }

  private writeSpec(spec: Spec): void {
    this.previousSpec = this.spec;
    this.spec = spec;
    this.specVersion = 0;
    this.version++;
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

/** A service at image v2 whose previous spec had v1 (what `service rollback` returns to). */
function updatedService(racing: number): FakeManager<baton.ServiceSpec.$Properties> {
  const fake = new FakeManager<baton.ServiceSpec.$Properties>(racing, { annotations: { name: 'web' }, replicas: 3, task: { container: { image: 'web:2' } } });
  fake.previousSpec = { annotations: { name: 'web' }, replicas: 3, task: { container: { image: 'web:1' } } };
  return fake;
}

test('a rollback while the autoscaler moves the service: redone, to the previous spec of the version read', async () => {
  const fake = updatedService(2);
  const service = await new Calls(fake).rollbackServiceAsRead('web');
  assert.equal(fake.writes, 3, 'two stale writes, then the one that lands');
  assert.equal(service.spec?.task?.container?.image, 'web:1');
  assert.equal(fake.previousSpec?.task?.container?.image, 'web:2');
});

test("a rollback after someone else wrote the spec meanwhile is refused, not redone onto that spec's previous one", async () => {
  const fake = updatedService(1);
  fake.racingWritesSpec = true;
  await assert.rejects(new Calls(fake).rollbackServiceAsRead('web'), { code: 'VERSION_CONFLICT', message: /its spec was written again since it was read/ });
  assert.equal(fake.writes, 1, 'the stale write only');
  assert.equal(fake.spec.task?.container?.image, 'web:2', 'not rolled back to the spec the other write replaced');
});

test('a rebalance while the service moves: redone on the newest version; "nothing moved" said against the version written to', async () => {
  const fake = updatedService(2);
  const { service, moved } = await new Calls(fake).rebalanceService('web');
  assert.equal(fake.writes, 3, 'two stale writes, then the one that lands');
  assert.equal(moved, true);
  assert.equal(service.meta?.version, fake.version);
  const even = updatedService(1);
  even.uneven = false;
  assert.equal((await new Calls(even).rebalanceService('web')).moved, false, 'the version moved before the write, not by it');
});

test("a stack deploy over a service its autoscaler moved since the listing: the file's spec is written over the newest version", async () => {
  const stored: baton.ServiceSpec.$Properties = { annotations: { name: 'demo_web', labels: { [NAMESPACE_LABEL]: 'demo' } }, replicas: 3, task: { container: { image: 'web:1' }, forceUpdate: 4 } };
  const fake = new FakeManager<baton.ServiceSpec.$Properties>(2, stored);
  const file: baton.ServiceSpec.$Properties = { ...stored, replicas: 1, task: { container: { image: 'web:1' } } };
  const noObjects: ObjectStore = { list: () => Promise.resolve([]), create: () => Promise.reject(new Error('not used')), remove: () => Promise.reject(new Error('not used')) };
  const lines: string[] = [];
  const client = new BatonClient('fake', fake as unknown as RpcClient<ControlService>);
  await deployStack(client, noObjects, { name: 'demo', services: [file], secrets: [], configs: [], networks: [] }, { prune: false }, { line: (l) => lines.push(l), warn: (l) => lines.push(l) });
  assert.deepEqual(lines, ['Updating service demo_web']);
  assert.equal(fake.spec.replicas, 1, "the file's deploy.replicas, set back as a deploy does");
  assert.equal(fake.spec.task?.forceUpdate, 4, 'what the file cannot say is kept');
  assert.deepEqual(fake.noResolveImage.at(-1), true);
});
