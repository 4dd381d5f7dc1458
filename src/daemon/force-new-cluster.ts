// `baton init --force-new-cluster --data-dir D`: after a quorum of managers is lost for good,
// make the stopped manager in D the only manager of its cluster, keeping every object its log
// holds. Offline, before the daemon starts: the store is rebuilt from the log's snapshot and
// every entry after it; the managers it cannot reach are written down as down workers
// (manager/recovery.ts); the log is replaced by one snapshot of that store whose configuration
// names this manager alone, in a new term (raft/single-voter.ts). Nothing changes when a
// quorum is still there: the other managers are asked first.
import { BatonError } from '../../rpc/errors.js';
import { RpcClient } from '../../rpc/client.js';
import { caService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../../rpc/tls/index.js';
import { readLocalLog, writeSingleVoterLog } from '../../raft/index.js';
import { ClusterStore } from '../../manager/store/index.js';
import { recoverAsOnlyManager } from '../../manager/recovery.js';
import { DataDir } from './state.js';
import { socketAnswers } from './socket-probe.js';
import { storeSummary } from './recovery-summary.js';

/** How long an old manager has to answer before it counts as lost. */
const PROBE_MS = 3_000;

/** Rewrites the data dir; returns what it did, in lines for the operator. */
export async function forceNewCluster(path: string): Promise<string[]> {
  const dir = new DataDir(path);
  if (!dir.exists()) throw new BatonError('FAILED_PRECONDITION', `--force-new-cluster: ${path} holds no node; give the --data-dir of a surviving manager`);
  const state = dir.load();
  if (state.role !== 'manager') throw new BatonError('FAILED_PRECONDITION', `--force-new-cluster: ${path} is a worker's data dir; give a surviving manager's`);
  if (await socketAnswers(dir.socketPath)) {
    throw new BatonError('FAILED_PRECONDITION', `--force-new-cluster: a daemon runs on ${path}; stop it first (the log is rewritten offline)`);
  }

  const store = new ClusterStore();
  const log = await readLocalLog(dir.raftDir, store);
  if (!log.voters.includes(state.nodeId)) {
    throw new BatonError('FAILED_PRECONDITION', `--force-new-cluster: this manager (${state.nodeId}) is not a voter in its own log (it was removed or demoted); use another manager's data dir`);
  }
  const others = log.voters.filter((id) => id !== state.nodeId);
  if (others.length === 0) {
    throw new BatonError('FAILED_PRECONDITION', `--force-new-cluster: this manager is already its cluster's only manager; start it with: baton init --data-dir ${path}`);
  }
  const addressOf = (id: string): string =>
    store.get('node', id)?.managerStatus?.addr || log.addresses[id] || state.managers.find((m) => m.nodeId === id)?.addr || '';
  const answering = await answeringManagers(dir, others.map((id) => ({ id, addr: addressOf(id) })));
  const quorum = Math.floor(log.voters.length / 2) + 1;
  if (answering.length + 1 >= quorum) {
    throw new BatonError(
      'FAILED_PRECONDITION',
      `--force-new-cluster refused: the quorum is still there (${answering.map((m) => `${m.id} at ${m.addr}`).join(', ')} answer${answering.length === 1 ? 's' : ''}; with this one that is ${answering.length + 1} of ${log.voters.length} managers, ${quorum} needed): start this manager normally with: baton init --data-dir ${path}`,
    );
  }

  const index = log.lastIndex + 1;
  const term = log.term + 1;
  const recovered = recoverAsOnlyManager(store, { nodeId: state.nodeId, addr: state.advertiseAddr }, index, term, Date.now());
  await writeSingleVoterLog(dir.raftDir, { id: state.nodeId, index, term, data: recovered.data });
  dir.save({ ...state, managers: [{ nodeId: state.nodeId, addr: state.advertiseAddr }] });

  const beyond = log.lastIndex - log.commitIndex;
  return [
    `Forced a new cluster from this manager's log (node ${state.nodeId}, cluster ${state.clusterId}):`,
    `  - kept every object as of Raft index ${log.lastIndex}${beyond > 0 ? ` (${beyond} entries past the last commit this manager knew of were kept too: it may have been part of the majority that committed them)` : ''}: ${storeSummary(store)}; the CA and the join tokens are unchanged`,
    `  - this manager is now the only one, at ${state.advertiseAddr} (Raft term ${term}); ${recovered.lost.length} manager(s) that did not answer are now down workers: ${recovered.lost.map((m) => `${m.nodeId} (${m.name}, ${m.addr})`).join(', ')}; remove them with: baton node rm ID`,
    `  - workers reconnect by themselves; add managers with the token from: baton join-token manager`,
    '',
  ];
}

/** The old managers that answer as managers of this cluster (mTLS against its root). */
async function answeringManagers(dir: DataDir, managers: { id: string; addr: string }[]): Promise<{ id: string; addr: string }[]> {
  const tls = dir.loadTls();
  const credentials = clientCredentials({ ...tls, serverRole: 'manager' });
  const answers = await Promise.all(
    managers.map(async (m) => {
      if (!m.addr) return false;
      const client = new RpcClient(m.addr, credentials, caService, NODE_CHANNEL_OPTIONS);
      try {
        await client.call('GetRootCACertificate', {}, PROBE_MS);
        return true;
      } catch {
        return false;
      } finally {
        client.close();
      }
    }),
  );
  return managers.filter((_, i) => answers[i]);
}
