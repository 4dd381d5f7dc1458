// `baton backup`: the store as this manager holds it at a committed index (after a read
// barrier, so no write acknowledged before the call is missing), read in one synchronous step
// with the index it was applied to: no write can fall in between, and nothing stops. Any
// manager answers; the file holds the managers' key, so a readonly certificate may not ask.
import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Guard } from '../../rpc/caller.js';
import type { Manager } from '../manager.js';
import { encodeBackup } from '../backup-file.js';
import { toBatonError } from './entry.js';
import { BACKUP_RULE } from './methods.js';

type BackupCall = grpc.ServerWritableStream<baton.BackupRequest, baton.BackupChunk.$Properties>;

/** Well under the control API's message limit (rpc/limits.ts). */
const CHUNK_BYTES = 1 << 20;

export interface BackupDeps {
  manager: Manager;
  managerKey: Uint8Array;
  clusterId: string;
  guard: Guard;
}

export function backupHandler(deps: BackupDeps): (call: BackupCall) => void {
  return (call) => {
    void (async () => {
      deps.guard(call, BACKUP_RULE.roles);
      await deps.manager.readBarrier();
      const index = deps.manager.raftStatus().applied;
      const createdAt = Date.now();
      const file = encodeBackup({
        clusterId: deps.clusterId,
        index,
        createdAt,
        managerId: deps.manager.nodeId,
        storeSnapshot: deps.manager.store.snapshot(),
        managerKey: deps.managerKey,
      });
      const sha256 = createHash('sha256').update(file).digest('hex');
      for (let at = 0; at < file.length || at === 0; at += CHUNK_BYTES) {
        if (call.cancelled) return;
        const chunk: baton.BackupChunk.$Properties = { data: file.subarray(at, at + CHUNK_BYTES) };
        if (at === 0) Object.assign(chunk, { totalBytes: file.length, sha256, clusterId: deps.clusterId, index, createdAt });
        if (!call.write(chunk)) await new Promise((resolve) => call.once('drain', resolve));
      }
      call.end();
    })().catch((err: unknown) => {
      const mapped = toBatonError(err);
      call.emit('error', (mapped instanceof BatonError ? mapped : new BatonError('INTERNAL', mapped instanceof Error ? mapped.message : String(mapped))).toStatus());
    });
  };
}
