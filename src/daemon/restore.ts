// `baton init --restore FILE --data-dir D`: a new single-manager cluster from a `baton backup`
// file, with the same cluster id, CA, join tokens, managers' key and every object, so the
// workers of the old cluster keep their certificates and find their tasks again. The new
// manager gets a node id and certificate of its own; the backup's managers become down workers
// (manager/recovery.ts). Everything is checked before the first byte is written to D, and
// node.json is written last, so a failed restore leaves no node behind.
import { readFileSync } from 'node:fs';
import { BatonError } from '../../rpc/errors.js';
import { generateNodeKey } from '../../rpc/tls/index.js';
import { writeSingleVoterLog } from '../../raft/index.js';
import { loadRootCA, unseal } from '../../manager/ca/index.js';
import { DEFAULT_CERT_VALIDITY_MS } from '../../manager/caapi/ca.js';
import { hostOf } from '../../manager/caapi/signer.js';
import { decodeBackup } from '../../manager/backup-file.js';
import { recoverAsOnlyManager } from '../../manager/recovery.js';
import { ClusterStore, newObjectId } from '../../manager/store/index.js';
import { DataDir } from './state.js';
import { addresses, runOptions, type NodeAddresses } from './bootstrap.js';
import { describeHost } from './host.js';
import { makePrivate } from './private-files.js';
import { storeSummary } from './recovery-summary.js';

/** Term of the restored log: any will do for a log no other node shares. */
const RESTORED_TERM = 1;

/** Writes a new manager's data dir from `file`; returns what it did, in lines for the operator. */
export async function restoreFromBackup(file: string, opts: NodeAddresses): Promise<string[]> {
  const dir = new DataDir(opts.dataDir);
  if (dir.exists()) throw new BatonError('FAILED_PRECONDITION', `--restore: ${opts.dataDir} already holds a node; restore into a new or empty --data-dir`);
  const run = runOptions(opts);
  const addrs = addresses(opts);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new BatonError('INVALID_ARGUMENT', `--restore: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`);
  }
  const backup = decodeBackup(bytes, file);
  const store = new ClusterStore();
  try {
    store.restore(backup.storeSnapshot);
  } catch (err) {
    throw new BatonError('INVALID_ARGUMENT', `${file} holds a store this version cannot read (${err instanceof Error ? err.message : String(err)}): refusing to restore from it`);
  }
  const cluster = store.list('cluster')[0];
  const rootCa = cluster?.rootCa;
  if (!cluster || !rootCa?.caCertPem || !rootCa.encryptedCaKey) throw new BatonError('INVALID_ARGUMENT', `${file} holds no cluster object with its CA: refusing to restore from it`);
  let ca;
  try {
    ca = await loadRootCA(rootCa.caCertPem, unseal(backup.managerKey, rootCa.encryptedCaKey));
  } catch (err) {
    throw new BatonError('INVALID_ARGUMENT', `${file}: its key does not open its CA key (${err instanceof Error ? err.message : String(err)}): refusing to restore from it`);
  }

  const nodeId = newObjectId();
  const key = await generateNodeKey();
  const validity = Number(cluster.spec?.nodeCertExpiryMs ?? 0) || DEFAULT_CERT_VALIDITY_MS;
  const certPem = await ca.issueNodeCertificate(key.csrPem, { nodeId, role: 'manager', clusterId: backup.clusterId, hosts: [hostOf(addrs.advertise)] }, validity);
  const index = backup.index + 1;
  const recovered = recoverAsOnlyManager(store, { nodeId, addr: addrs.advertise, description: describeHost() }, index, RESTORED_TERM, Date.now());

  makePrivate(dir.path, run.socketGroup);
  dir.removeManagerState();
  dir.saveTls({ caPem: rootCa.caCertPem, certPem, keyPem: key.keyPem });
  dir.saveManagerKey(backup.managerKey);
  await writeSingleVoterLog(dir.raftDir, { id: nodeId, index, term: RESTORED_TERM, data: recovered.data });
  dir.save({
    nodeId,
    clusterId: backup.clusterId,
    role: 'manager',
    listenAddr: addrs.listen,
    advertiseAddr: addrs.advertise,
    managers: [{ nodeId, addr: addrs.advertise }],
  });
  return [
    `Restored cluster ${backup.clusterId} from ${file} (Raft index ${backup.index}, written ${new Date(backup.createdAt).toISOString()} by manager ${backup.managerId}):`,
    `  - ${storeSummary(store)}; the same CA and join tokens`,
    `  - this node (${nodeId}) is its only manager, at ${addrs.advertise}; the backup's ${recovered.lost.length} manager(s) are now down workers: remove them with: baton node rm ID`,
    `  - workers of the old cluster reconnect by themselves when this manager answers at an address they knew; add managers with the token from: baton join-token manager`,
    '',
  ];
}
