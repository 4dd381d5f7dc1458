// Concurrent clients against a KvCluster that record what they saw, for checking afterwards
// that acknowledged writes survived and that the history is linearizable.
import type { KvCluster } from './kv-cluster.js';
import type { KvInput, KvOutput, Operation } from './linearizability.js';

/** `return` is Infinity when the outcome is unknown (timeout, connection lost mid-request). */
export type RecordedOp = Operation<KvInput, KvOutput>;

export interface ClientRun {
  ops: RecordedOp[];
  /** Write ids acknowledged with 200, in acknowledgement order. */
  acked: string[];
  stop(): Promise<void>;
}

const KEYS = ['x', 'y', 'z'];

/**
 * Start `clients` loops, each issuing puts (and gets with probability readRatio) until stop().
 * A client whose request ends in an unknown outcome continues under a new client id, because a
 * linearizability history allows one outstanding operation per client.
 */
export function runClients(cluster: KvCluster, clients: number, readRatio: number): ClientRun {
  const ops: RecordedOp[] = [];
  const acked: string[] = [];
  let stopped = false;
  let nextClientId = clients;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;

  async function loop(index: number): Promise<void> {
    let clientId = index;
    let target = cluster.live()[index % cluster.live().length] ?? cluster.ids()[0]!;
    let n = 0;
    while (!stopped) {
      const key = KEYS[n % KEYS.length]!;
      const isRead = Math.random() < readRatio;
      const value = `c${index}-${n++}`;
      const input: KvInput = isRead ? { op: 'get', key } : { op: 'put', key, value };
      const call = now();
      let outcome: 'ok' | 'failed' | 'unknown' = 'unknown';
      let output: KvOutput | undefined;
      try {
        const r = isRead
          ? await cluster.request(target, 'GET', `/kv/${key}`, undefined, {}, 2_000)
          : await cluster.request(target, 'PUT', `/kv/${key}`, value, { 'x-write-id': value }, 2_000);
        if (r.status === 200 || (isRead && r.status === 404)) {
          outcome = 'ok';
          output = isRead ? ((r.body.value as string | null) ?? null) : null;
        } else if (r.body.code === 'NOT_LEADER' || r.body.code === 'PROPOSAL_DROPPED') {
          // Refused before proposing, or overwritten before commit: it never took effect.
          outcome = 'failed';
          const leader = r.body.leader;
          target = typeof leader === 'string' && leader && cluster.live().includes(leader) ? leader : pick(cluster, target);
        } else {
          target = pick(cluster, target);
        }
      } catch {
        target = pick(cluster, target);
      }
      if (outcome === 'ok') {
        ops.push({ clientId, input, output, call, return: now() });
        if (!isRead) acked.push(value);
      } else if (outcome === 'unknown') {
        if (!isRead) ops.push({ clientId, input, output: undefined, call, return: Infinity });
        clientId = nextClientId++;
        await new Promise((r) => setTimeout(r, 20));
      } else {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  const loops = Array.from({ length: clients }, (_, i) => loop(i));
  return {
    ops,
    acked,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

function pick(cluster: KvCluster, current: string): string {
  const live = cluster.live().filter((id) => id !== current);
  return live[Math.floor(Math.random() * live.length)] ?? current;
}
