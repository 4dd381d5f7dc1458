// The root CA as loaded on this manager, for every call that signs (joins, renewals, client
// certificates): the key is unsealed once per version of the cluster object, not per call.
import { BatonError } from '../../rpc/errors.js';
import { loadRootCA, unseal, type RootCA } from '../ca/index.js';
import type { Manager } from '../manager.js';
import type { Stored } from '../store/index.js';

export interface ClusterSigner {
  /** The cluster object; UNAVAILABLE until `baton init` has written it. */
  cluster: () => Stored<'cluster'>;
  /** The root CA with its key unsealed. */
  signer: () => Promise<RootCA>;
}

export function clusterSigner(manager: Manager, managerKey: Uint8Array): ClusterSigner {
  let loaded: { version: number; ca: RootCA } | undefined;

  function cluster(): Stored<'cluster'> {
    const c = manager.store.list('cluster')[0];
    if (!c?.rootCa) throw new BatonError('UNAVAILABLE', 'the cluster is still initializing; retry');
    return c;
  }

  return {
    cluster,
    signer: async () => {
      const c = cluster();
      if (loaded?.version !== c.meta.version) {
        const root = c.rootCa!;
        const key = unseal(managerKey, root.encryptedCaKey ?? new Uint8Array(0));
        loaded = { version: c.meta.version, ca: await loadRootCA(root.caCertPem ?? '', key) };
      }
      return loaded.ca;
    },
  };
}

/** The host of a host:port (an IPv6 address without its brackets). */
export function hostOf(addr: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(addr) ?? /^([^:]+):\d+$/.exec(addr);
  return m?.[1] ?? '';
}
