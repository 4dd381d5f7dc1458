// The "client failover" part of npm run bench:control: baton beside etcd, both 3 members on
// 127.0.0.1, SIGKILL of the leader → first acknowledged write through a follower, over N kills.
import { batonClientFailover, etcdClientFailover, type ClientFailoverResult } from './lib/client-failover.js';
import { cell, formatTable, ratio } from './lib/results.js';

/** Target from issue 15: first write through a follower acknowledged ≤ 1 s (median) after the kill. */
export const FAILOVER_TARGET_MS = 1000;

export interface ClientFailover {
  baton: ClientFailoverResult;
  etcd: ClientFailoverResult | { error: string };
  table: string;
  verdict: string;
}

export async function measureClientFailover(kills: number, log: (m: string) => void): Promise<ClientFailover> {
  log(`client failover: ${kills} leader SIGKILLs, baton then etcd`);
  const baton = await batonClientFailover(kills, log);
  let etcd: ClientFailoverResult | { error: string };
  try {
    etcd = await etcdClientFailover(kills, log);
  } catch (err) {
    etcd = { error: err instanceof Error ? err.message : String(err) };
  }
  const e = 'error' in etcd ? undefined : etcd;
  const rows: string[][] = [
    ['client failover (SIGKILL leader → first write acked via a follower)', 'baton', 'etcd', 'baton/etcd'],
    [`median ms over ${kills} kills`, cell(baton.medianMs, 0), e ? cell(e.medianMs, 0) : '-', ratio(baton.medianMs, e?.medianMs)],
    ['max ms', cell(baton.maxMs, 0), e ? cell(e.maxMs, 0) : '-', ratio(baton.maxMs, e?.maxMs)],
    ['kills with no acknowledged write in 30 s', String(baton.failedKills), e ? String(e.failedKills) : '-', ''],
    ['slowest single write after a kill, ms (max)', cell(Math.max(...baton.samples.map((s) => s.slowestWriteMs)), 0), e ? cell(Math.max(...e.samples.map((s) => s.slowestWriteMs)), 0) : '-', ''],
  ];
  const verdict = `target first write through a follower ≤ ${FAILOVER_TARGET_MS} ms (median) after the leader's SIGKILL: ${baton.medianMs <= FAILOVER_TARGET_MS ? 'MET' : 'NOT MET'} (median ${cell(baton.medianMs, 0)} ms)`;
  return { baton, etcd, table: formatTable(rows) + ('error' in etcd ? `\netcd: not measured (${etcd.error})` : ''), verdict };
}
