// Client failover: SIGKILL the leader, then write through a follower the way a user does (the
// real SDK client on the follower's unix socket for baton; etcd's own JSON gateway on a
// follower for etcd), one write after the other, and time from the kill to the first
// acknowledged write. The killed member is restarted and the cluster settles before the next kill.
import { performance } from 'node:perf_hooks';
import { BatonError } from '../../client/index.js';
import { BatonDaemonCluster, controlClient, type BatonDaemon } from './baton-daemons.js';
import { EtcdCluster } from './etcd.js';
import { waitForHealthy } from './cluster.js';
import { makeTempDir, removeTempDir, sleep, waitFor } from './proc.js';
import { median } from './stats.js';

export interface ClientFailoverSample {
  kill: number;
  /** ms from SIGKILL to the first acknowledged write through the follower. */
  ms: number | undefined;
  /** Writes sent after the kill until then (failed ones included). */
  attempts: number;
  /** The slowest single write in that time (a write waiting on the dead leader shows here). */
  slowestWriteMs: number;
}

export interface ClientFailoverResult {
  system: string;
  kills: number;
  medianMs: number;
  maxMs: number;
  failedKills: number;
  samples: ClientFailoverSample[];
}

/** Pause after a refused write before the next (a user's retry loop, not a tight spin). */
const RETRY_PAUSE_MS = 20;
/** Give up on one kill after this long. */
const GIVE_UP_MS = 30_000;

async function firstAck(write: (seq: number) => Promise<boolean>, killedAt: number): Promise<Omit<ClientFailoverSample, 'kill'>> {
  let attempts = 0;
  let slowest = 0;
  while (performance.now() - killedAt < GIVE_UP_MS) {
    const sent = performance.now();
    attempts++;
    const ok = await write(attempts);
    slowest = Math.max(slowest, performance.now() - sent);
    if (ok) return { ms: performance.now() - killedAt, attempts, slowestWriteMs: slowest };
    await sleep(RETRY_PAUSE_MS);
  }
  return { ms: undefined, attempts, slowestWriteMs: slowest };
}

function summarize(system: string, samples: ClientFailoverSample[]): ClientFailoverResult {
  const ok = samples.flatMap((s) => (s.ms === undefined ? [] : [s.ms]));
  return { system, kills: samples.length, medianMs: median(ok), maxMs: ok.length ? Math.max(...ok) : Number.NaN, failedKills: samples.length - ok.length, samples };
}

/** baton: 3 managers; each round kills the leader and writes (CreateSecret) through a follower's socket. */
export async function batonClientFailover(kills: number, log: (m: string) => void): Promise<ClientFailoverResult> {
  const root = makeTempDir('baton-bench-failover');
  const cluster = new BatonDaemonCluster(root);
  const samples: ClientFailoverSample[] = [];
  try {
    await cluster.init('m1');
    await cluster.join('m2', 'manager');
    await cluster.join('m3', 'manager');
    await cluster.waitUntilFormed();
    for (let k = 0; k < kills; k++) {
      const leader = await leaderOf(cluster);
      const follower = cluster.managers.find((m) => m !== leader)!;
      const client = controlClient(follower.dataDir);
      try {
        // The follower's connection is up and it knows the leader before the kill.
        await client.control.call('CreateSecret', { spec: { annotations: { name: `warm-${k}` }, data: new Uint8Array([1]) } }, 10_000);
        const killedAt = performance.now();
        await cluster.kill(leader.name);
        const r = await firstAck(async (seq) => {
          try {
            await client.control.call('CreateSecret', { spec: { annotations: { name: `fo-${k}-${seq}` }, data: new Uint8Array([1]) } }, 10_000);
            return true;
          } catch (err) {
            if (err instanceof BatonError) return false;
            throw err;
          }
        }, killedAt);
        samples.push({ kill: k, ...r });
        log(`baton kill ${k + 1}/${kills}: first acknowledged write through ${follower.name} after ${r.ms === undefined ? 'none' : `${r.ms.toFixed(0)} ms`} (${r.attempts} attempts, slowest ${r.slowestWriteMs.toFixed(0)} ms)`);
      } finally {
        client.close();
      }
      await cluster.restart(leader.name);
      await cluster.waitUntilFormed();
    }
  } finally {
    await cluster.stop();
    removeTempDir(root);
  }
  return summarize('baton', samples);
}

async function leaderOf(cluster: BatonDaemonCluster): Promise<BatonDaemon> {
  // Each manager says who it is (a restarted daemon's first line names it differently).
  return waitFor('a leader named by a live manager', async () => {
    const ids = new Map<string, BatonDaemon>();
    let leaderId = '';
    for (const m of cluster.managers) {
      if (!m.proc.running) continue;
      try {
        const info = await cluster.client(m).control.call('Info', {}, 2_000);
        ids.set(info.nodeId ?? '', m);
        leaderId ||= info.leaderId ?? '';
      } catch {
        // Not answering yet: ask the next.
      }
    }
    return ids.get(leaderId);
  }, { timeoutMs: 30_000, intervalMs: 50 });
}

/** etcd: 3 members; each round kills the leader and puts through a follower's gateway. */
export async function etcdClientFailover(kills: number, log: (m: string) => void): Promise<ClientFailoverResult> {
  const root = makeTempDir('etcd-bench-failover');
  const cluster = new EtcdCluster({ root });
  const samples: ClientFailoverSample[] = [];
  try {
    await cluster.start();
    for (let k = 0; k < kills; k++) {
      const leader = await waitForHealthy(cluster);
      const follower = [0, 1, 2].find((m) => m !== leader && cluster.running(m))!;
      const put = async (key: string): Promise<boolean> => (await cluster.write(follower, { key, value: Buffer.from('x'), id: key }, 10_000)).ok;
      await put(`warm-${k}`);
      const killedAt = performance.now();
      cluster.kill(leader);
      const r = await firstAck((seq) => put(`fo-${k}-${seq}`), killedAt);
      samples.push({ kill: k, ...r });
      log(`etcd kill ${k + 1}/${kills}: first acknowledged put through member ${follower} after ${r.ms === undefined ? 'none' : `${r.ms.toFixed(0)} ms`} (${r.attempts} attempts, slowest ${r.slowestWriteMs.toFixed(0)} ms)`);
      await cluster.restart(leader);
    }
    await waitForHealthy(cluster);
  } finally {
    await cluster.stop();
    removeTempDir(root);
  }
  return summarize('etcd', samples);
}
