// Autolock in the daemon (Swarm's `--autolock`): a manager whose key files are sealed under the
// unlock key starts locked: no Raft, no TCP port, no tasks, only its local socket, where every
// Control call answers one line (LOCKED_MESSAGE) but Unlock. Unlocked, it keeps its key files
// sealed under whatever unlock key the cluster object holds (turned on, off, rotated).
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { parseUnlockKey, UnlockKeyError } from '../../manager/ca/index.js';
import { openUnlockKey } from '../../manager/controlapi/index.js';
import type { Manager } from '../../manager/manager.js';
import { BatonError } from '../../rpc/errors.js';
import { addService } from '../../rpc/server.js';
import { controlService, eventsMethod, serviceLogsMethod, type ControlService } from '../../rpc/services.js';
import type { Handlers } from '../../rpc/define.js';
import { CONTROL_MESSAGE_BYTES, messageLimits } from '../../rpc/limits.js';
import { LOCKED_MESSAGE } from './key-lock.js';
import { shareSocket } from './private-files.js';
import type { DataDir } from './state.js';

/**
 * Serves the locked node's socket until `baton unlock` brings a key that opens its key files;
 * resolves once the socket is closed again, for the daemon to bind it as usual.
 */
export async function untilUnlocked(dataDir: DataDir, logger: Logger, socketGroup: number | undefined): Promise<void> {
  const server = new grpc.Server(messageLimits(CONTROL_MESSAGE_BYTES));
  let unlocked!: () => void;
  const done = new Promise<void>((resolve) => (unlocked = resolve));
  const refuse = (): Promise<never> => Promise.reject(new BatonError('FAILED_PRECONDITION', LOCKED_MESSAGE));
  const handlers = Object.fromEntries(Object.keys(controlService).map((k) => [k, refuse])) as unknown as Handlers<ControlService>;
  handlers.Unlock = async (req) => {
    let key: Uint8Array;
    try {
      key = parseUnlockKey(req.unlockKey ?? '');
    } catch (err) {
      if (err instanceof UnlockKeyError) throw new BatonError('INVALID_ARGUMENT', `invalid unlock key: ${err.message}`);
      throw err;
    }
    if (!dataDir.lock.unlock(key)) {
      logger.warn('unlock refused: wrong key');
      throw new BatonError('PERMISSION_DENIED', 'wrong unlock key: this node stays locked');
    }
    // After the answer is on its way: the socket closes next.
    setImmediate(unlocked);
    return {};
  };
  addService(server, controlService, handlers, logger);
  // The streams (`service logs`, `events`) too, or they would say "unimplemented".
  const refuseStream = (call: grpc.ServerWritableStream<unknown, unknown>): void => {
    call.emit('error', new BatonError('FAILED_PRECONDITION', LOCKED_MESSAGE).toStatus());
  };
  server.addService({ ServiceLogs: serviceLogsMethod, Events: eventsMethod }, { ServiceLogs: refuseStream, Events: refuseStream });
  rmSync(dataDir.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${dataDir.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(new BatonError('FAILED_PRECONDITION', `cannot listen on ${dataDir.socketPath}: ${err.message}`)) : resolve()));
  });
  shareSocket(dataDir.socketPath, socketGroup);
  const { nodeId } = dataDir.load();
  logger.warn('node is locked (autolock); waiting for baton unlock');
  process.stdout.write(`Node ${nodeId} is locked: run \`baton unlock\` with the cluster's unlock key to start it.\n`);
  await done;
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  rmSync(dataDir.socketPath, { force: true });
  logger.info('node unlocked');
}

/**
 * Keeps this manager's key files sealed under the cluster's unlock key, now and on every change
 * of it (the store applies the change on every manager, so each one re-seals its own files).
 * Returns the unsubscribe.
 */
export function keepKeysSealed(manager: Manager, dataDir: DataDir, managerKey: Uint8Array, logger: Logger): () => void {
  let seen: Uint8Array | undefined;
  const sync = (): void => {
    // No cluster object yet (a new cluster, a joining manager's empty store): nothing to follow.
    const cluster = manager.store.list('cluster')[0];
    if (!cluster) return;
    const sealed = cluster.sealedUnlockKey ?? new Uint8Array(0);
    if (seen && Buffer.from(seen).equals(sealed)) return;
    seen = sealed;
    const text = openUnlockKey(managerKey, cluster);
    const want = text === undefined ? undefined : parseUnlockKey(text);
    const have = dataDir.lock.key;
    if (want === undefined ? have === undefined : have !== undefined && Buffer.from(have).equals(want)) return;
    dataDir.relock(want);
    logger.info({ autolock: want !== undefined }, want ? 'key files sealed under the current unlock key' : 'key files in clear: autolock is off');
  };
  sync();
  // Only the cluster object holds the key (a restore's reset passes any filter): without the
  // filter, every task write on every manager read the cluster and copied its sealed key.
  return manager.store.onChange(() => sync(), { kinds: ['cluster'] });
}
