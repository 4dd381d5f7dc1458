// The node's ListVolumes, CreateVolume, PruneVolumes and RemoveVolume (proto NodeAgent): managers
// ask each node for its volumes (worker/volumes.ts) and fan the answers in for `baton volume`.
import type { Handlers } from '../rpc/define.js';
import type { Guard } from '../rpc/caller.js';
import { BatonError } from '../rpc/errors.js';
import type { NodeAgentService } from '../rpc/services.js';
import type { NodeVolumes } from './volumes.js';

export function nodeVolumeHandlers(volumes: () => NodeVolumes | undefined, guard: Guard): Handlers<NodeAgentService> {
  const ready = (): NodeVolumes => {
    const v = volumes();
    // Only between the node's port opening and its tasks starting.
    if (!v) throw new BatonError('UNAVAILABLE', 'this node is starting: its volumes are not known yet');
    return v;
  };
  return {
    ListVolumes: async (req, call) => {
      guard(call, ['manager']);
      return { volumes: await ready().list(req.names ?? []) };
    },
    RemoveVolume: async (req, call) => {
      guard(call, ['manager']);
      return { removed: await ready().remove(req.name ?? '', req.force ?? false) };
    },
    CreateVolume: async (req, call) => {
      guard(call, ['manager']);
      const created = await ready().create({ name: req.name ?? '', driver: req.driver ?? '', options: { ...req.options }, labels: { ...req.labels }, runtime: req.runtime ?? '' });
      return { created };
    },
    PruneVolumes: async (req, call) => {
      guard(call, ['manager']);
      const pruned = await ready().prune({ labels: req.labels ?? [], notLabels: req.notLabels ?? [] });
      return { deleted: pruned.deleted, spaceReclaimed: pruned.spaceReclaimed };
    },
  };
}
