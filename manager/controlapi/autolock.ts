// Autolock's calls of the Control service: `baton cluster update --autolock`, `baton unlock-key
// [--rotate]`. The unlock key is replicated through Raft in the cluster object, sealed with the
// managers' key like the join tokens; each manager then seals its keys at rest under it
// (src/daemon/autolock.ts). A manager that was down during a rotation still opens with the old
// key once: its files were sealed under it, and the store it replays brings it the new one.
import { BatonError } from '../../rpc/errors.js';
import { baton } from '../../proto/gen/baton.js';
import { generateUnlockKey, seal, unseal } from '../ca/index.js';
import { updateAction, type Stored } from '../store/index.js';
import type { Manager } from '../manager.js';
import type { ControlHandlers } from './entry.js';

export interface AutolockDeps {
  manager: Manager;
  managerKey: Uint8Array;
  now?: () => number;
}

export type AutolockMethods = 'UpdateCluster' | 'GetUnlockKey' | 'RotateUnlockKey' | 'Unlock';

const AUTOLOCK_OFF = 'no unlock key is set: autolock is off (turn it on with baton cluster update --autolock=true)';

/** The cluster's unlock key in clear, or undefined while autolock is off. */
export function openUnlockKey(managerKey: Uint8Array, cluster: Pick<baton.Cluster.$Properties, 'sealedUnlockKey'>): string | undefined {
  const sealed = cluster.sealedUnlockKey;
  return sealed && sealed.length > 0 ? Buffer.from(unseal(managerKey, sealed)).toString() : undefined;
}

export function autolockHandlers(deps: AutolockDeps): ControlHandlers<AutolockMethods> {
  const { manager, managerKey } = deps;
  const now = deps.now ?? Date.now;

  function cluster(): Stored<'cluster'> {
    const c = manager.store.list('cluster')[0];
    if (!c) throw new BatonError('UNAVAILABLE', 'the cluster is still initializing; retry');
    return c;
  }

  /** Stores `key` (undefined: autolock off) in the cluster object; resolves once committed. */
  async function setKey(c: Stored<'cluster'>, key: string | undefined): Promise<void> {
    const sealedUnlockKey = key === undefined ? new Uint8Array(0) : seal(managerKey, new Uint8Array(Buffer.from(key)));
    await manager.propose([updateAction('cluster', { ...(c as baton.Cluster), meta: { ...c.meta, updatedAt: now() }, sealedUnlockKey })]);
  }

  return {
    async UpdateCluster(req) {
      const c = cluster();
      let key = openUnlockKey(managerKey, c);
      if (req.autolock === true && key === undefined) {
        key = generateUnlockKey();
        await setKey(c, key);
      } else if (req.autolock === false && key !== undefined) {
        key = undefined;
        await setKey(c, key);
      }
      return { unlockKey: key ?? '' };
    },

    async GetUnlockKey() {
      const key = openUnlockKey(managerKey, cluster());
      if (key === undefined) throw new BatonError('FAILED_PRECONDITION', AUTOLOCK_OFF);
      return { unlockKey: key };
    },

    async RotateUnlockKey() {
      const c = cluster();
      if (openUnlockKey(managerKey, c) === undefined) throw new BatonError('FAILED_PRECONDITION', `cannot rotate: ${AUTOLOCK_OFF}`);
      const key = generateUnlockKey();
      await setKey(c, key);
      return { unlockKey: key };
    },

    // A locked manager answers this itself (src/daemon/autolock.ts) before its control API exists.
    async Unlock() {
      throw new BatonError('FAILED_PRECONDITION', 'this node is not locked');
    },
  };
}
