// A leader loop's pass with more writes than one proposal holds (ReconcileLoop.write): task
// writes go to Raft together (one commit round, not one per batch), writes of other kinds stay
// in turn, and the next pass never starts before every batch of the last one is settled.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { ReconcileLoop } from '../../manager/reconcile/loop.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { BatonError } from '../../rpc/errors.js';
import type { StoreActionT, StoreChange } from '../../manager/store/index.js';

const CREATE = baton.internal.StoreActionKind.STORE_CREATE;
const UPDATE = baton.internal.StoreActionKind.STORE_UPDATE;

function taskWrite(i: number): StoreActionT {
  return { kind: CREATE, object: { task: { meta: { id: `t${i}` }, serviceId: 's1', slot: i } } };
}

interface Pending {
  actions: StoreActionT[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A host whose proposals stay in flight until the test settles them. */
class HeldHost extends LocalHost {
  readonly pending: Pending[] = [];
  override propose(actions: StoreActionT[]): Promise<never[]> {
    this.proposals++;
    return new Promise((resolve, reject) => this.pending.push({ actions, resolve: () => resolve([]), reject }));
  }
}

/** A loop that writes `writes` on its first pass and nothing after. */
class OnePass extends ReconcileLoop {
  passes = 0;
  constructor(
    host: HeldHost,
    private writes: StoreActionT[],
  ) {
    super(host, 'one-pass', { maxBatch: 10 });
  }
  protected markAll(): void {}
  protected onChange(_change: StoreChange): boolean {
    return false;
  }
  protected reconcile(): StoreActionT[] {
    this.passes++;
    const w = this.writes;
    this.writes = [];
    return w;
  }
  poke(): void {
    this.kick();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a pass of task writes proposes all its batches at once (one commit round), in order', async () => {
  const host = new HeldHost();
  const loop = new OnePass(host, Array.from({ length: 45 }, (_, i) => taskWrite(i)));
  loop.start();
  await turn();
  // Before: one batch in flight, the next proposed only once it had applied.
  assert.equal(host.pending.length, 5, 'every batch is in flight');
  assert.deepEqual(
    host.pending.map((p) => p.actions.length),
    [10, 10, 10, 10, 5],
  );
  assert.deepEqual(
    host.pending.flatMap((p) => p.actions.map((a) => a.object?.task?.meta?.id)),
    Array.from({ length: 45 }, (_, i) => `t${i}`),
  );
  for (const p of host.pending) p.resolve();
  await loop.idle();
  loop.stop();
});

test('writes of other kinds go one batch after the other (a service write before its tasks)', async () => {
  const host = new HeldHost();
  const service: StoreActionT = { kind: UPDATE, object: { service: { meta: { id: 's1', version: 3 } } } };
  const loop = new OnePass(host, [service, ...Array.from({ length: 15 }, (_, i) => taskWrite(i))]);
  loop.start();
  await turn();
  assert.equal(host.pending.length, 1);
  host.pending[0]!.resolve();
  await turn();
  assert.equal(host.pending.length, 2, 'the second batch once the first applied');
  host.pending[1]!.resolve();
  await loop.idle();
  loop.stop();
});

test('a failed batch: the next pass waits until every batch of the pass is settled', async () => {
  const host = new HeldHost();
  const loop = new OnePass(host, Array.from({ length: 30 }, (_, i) => taskWrite(i)));
  loop.start();
  await turn();
  assert.equal(host.pending.length, 3);
  host.pending[0]!.reject(new BatonError('VERSION_CONFLICT', 'raced'));
  loop.poke();
  for (let i = 0; i < 5; i++) await turn();
  // A pass now would read a store that the two batches still in flight have not reached.
  assert.equal(loop.passes, 1, 'no pass while batches are in flight');
  host.pending[1]!.resolve();
  host.pending[2]!.resolve();
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(loop.passes, 2, 'the conflict is retried with a fresh read once all are settled');
  await loop.idle();
  loop.stop();
});
