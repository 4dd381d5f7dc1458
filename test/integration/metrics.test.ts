// GET /metrics on a real cluster (a manager and a worker, each with --http-addr): the control
// plane's metrics are there with their types, and their values follow what the cluster does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, nodes } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { sampleValue, scrape, type Scrape } from '../lib/prometheus.js';

const TYPES: Record<string, string> = {
  baton_raft_term: 'gauge',
  baton_raft_leader: 'gauge',
  baton_raft_commit_index: 'gauge',
  baton_raft_applied_index: 'gauge',
  baton_raft_snapshots_taken_total: 'counter',
  baton_raft_proposals_total: 'counter',
  baton_raft_proposal_duration_seconds: 'histogram',
  baton_store_objects: 'gauge',
  baton_tasks: 'gauge',
  baton_nodes: 'gauge',
  baton_service_desired_tasks: 'gauge',
  baton_dispatcher_sessions: 'gauge',
  baton_loop_pass_duration_seconds: 'histogram',
  baton_agent_tasks: 'gauge',
  baton_executor_call_duration_seconds: 'histogram',
  baton_agent_heartbeat_rtt_seconds: 'histogram',
};

test('metrics: control-plane families with their types, values moving with the cluster', async (t) => {
  const managerHttp = `127.0.0.1:${await freePort()}`;
  const workerHttp = `127.0.0.1:${await freePort()}`;
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--http-addr', managerHttp]);
  // The old name of the flag still works.
  await c.join('w1', 'worker', 'm1', ['--metrics-addr', workerHttp]);
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);

  const before = await scrape(managerHttp);
  for (const [name, type] of Object.entries(TYPES)) assert.equal(before.types.get(name), type, `${name} is a ${type}`);
  assert.equal(sampleValue(before, 'baton_raft_leader'), 1, 'the only manager leads');
  assert.ok((sampleValue(before, 'baton_raft_term') ?? 0) >= 1);
  assert.equal(sampleValue(before, 'baton_store_objects', { kind: 'node' }), 2);
  await waitFor('both nodes counted ready', async () => {
    const s = await scrape(managerHttp);
    return sampleValue(s, 'baton_nodes', { role: 'manager', state: 'ready', availability: 'active' }) === 1 && sampleValue(s, 'baton_nodes', { role: 'worker', state: 'ready', availability: 'active' }) === 1;
  });

  const created = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '2', '--', 'sleep', '300']);
  assert.equal(created.code, 0, created.stderr);
  let after: Scrape | undefined;
  await waitFor('2 running tasks of web counted', async () => {
    after = await scrape(managerHttp);
    return sampleValue(after, 'baton_tasks', { service: 'web', state: 'running' }) === 2;
  });
  assert.ok(after);
  assert.equal(sampleValue(after, 'baton_service_desired_tasks', { service: 'web' }), 2);
  assert.equal(sampleValue(after, 'baton_store_objects', { kind: 'service' }), 1);
  assert.ok(sampleValue(after, 'baton_raft_commit_index')! > sampleValue(before, 'baton_raft_commit_index')!, 'the commit index moved');
  const applied = (s: Scrape): number => sampleValue(s, 'baton_raft_proposals_total', { result: 'applied' }) ?? 0;
  assert.ok(applied(after) > applied(before), 'applied proposals counted');
  assert.equal(sampleValue(after, 'baton_raft_proposal_duration_seconds_count'), sampleValue(after, 'baton_raft_proposals_total'), 'every proposal timed');
  assert.ok((sampleValue(after, 'baton_loop_pass_duration_seconds_count', { loop: 'scheduler' }) ?? 0) > 0, 'scheduler passes timed');
  assert.equal(sampleValue(after, 'baton_dispatcher_sessions'), 2, 'both nodes hold a session with the leader');

  // The worker: its own agent's metrics, none of a manager's.
  const worker = await scrape(workerHttp);
  assert.equal(worker.types.get('baton_raft_term'), undefined, 'a worker has no Raft');
  assert.equal(sampleValue(worker, 'baton_agent_tasks', { state: 'running' }), 1, 'one replica runs on the worker');
  assert.ok((sampleValue(worker, 'baton_executor_call_duration_seconds_count', { runtime: 'process', call: 'start', result: 'ok' }) ?? 0) >= 1);
  assert.ok((sampleValue(worker, 'baton_agent_heartbeat_rtt_seconds_count') ?? 0) >= 1, 'heartbeats timed');

  // Scaled to 0: the running count drops (and a removed service's labels do not linger).
  assert.equal(c.cli('m1', ['service', 'scale', 'web=0']).code, 0);
  await waitFor('no running task of web counted', async () => (sampleValue(await scrape(managerHttp), 'baton_tasks', { service: 'web', state: 'running' }) ?? 0) === 0);
  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  await waitFor('web gone from the metrics', async () => {
    const s = await scrape(managerHttp);
    return sampleValue(s, 'baton_service_desired_tasks', { service: 'web' }) === undefined && sampleValue(s, 'baton_store_objects', { kind: 'service' }) === 0;
  });
});
