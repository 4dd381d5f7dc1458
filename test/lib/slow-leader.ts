// A leader for control-API tests without Raft: a real store (LocalHost applies each batch as
// the next entry) whose proposals take a few turns of the event loop, as a Raft round does, so
// writes that race each other in the product race here too.
import { setImmediate as tick } from 'node:timers/promises';
import type { Manager } from '../../manager/manager.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import type { StoreActionT } from '../../manager/store/index.js';

export class SlowLeader {
  readonly host = new LocalHost();
  get store(): LocalHost['store'] {
    return this.host.store;
  }
  isLeader(): boolean {
    return true;
  }
  async readBarrier(): Promise<void> {}
  async propose(actions: StoreActionT[]): ReturnType<Manager['propose']> {
    for (let i = 0; i < 5; i++) await tick();
    return this.host.propose(actions);
  }
}
