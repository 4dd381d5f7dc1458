// `baton info`'s Raft section from a manager's answer, and the node's --hostname kept in its data
// dir (node.json) for a start without the flag. Docker's reference for the section:
// https://docs.docker.com/reference/cli/docker/system/info/ (Raft: Snapshot Interval, Heartbeat
// Tick, Election Tick).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baton } from '../../proto/gen/baton.js';
import { infoObject, infoText } from '../../cli/info.js';
import { DataDir, type NodeState } from '../../src/daemon/state.js';
import { describeHost, keepHostname, useHostname } from '../../src/daemon/host.js';

test("info: the answering manager's Raft settings in Docker's words, and its manager addresses", () => {
  const info: baton.ClusterInfo.$Properties = {
    clusterId: 'c1',
    nodeId: 'n1',
    managers: [{ nodeId: 'n1', addr: '127.0.0.1:4242' }, { nodeId: 'n2', addr: '127.0.0.1:4243' }],
    raft: { tickMs: 100, heartbeatTick: 1, electionTick: 5, snapshotInterval: 10_000 },
  };
  const nodes: baton.Node.$Properties[] = [{ meta: { id: 'n1' }, role: baton.NodeRole.MANAGER, status: { addr: '127.0.0.1:4242' }, description: { hostname: 'manager-1' } }];
  const o = infoObject(info, nodes, { spec: { heartbeatPeriodMs: 1000, heartbeatGrace: 3 } });
  assert.deepEqual(o.Swarm.Cluster.Spec.Raft, { SnapshotInterval: 10_000, HeartbeatTick: 1, ElectionTick: 5, TickMs: 100 });
  const text = infoText(o);
  assert.match(text, /\n {2}Raft:\n {3}Snapshot Interval: 10000\n {3}Heartbeat Tick: 1\n {3}Election Tick: 5\n {3}Tick: 100 ms\n {2}Dispatcher:\n/);
  assert.match(text, /\n {2}Manager Addresses:\n {3}127\.0\.0\.1:4242\n {3}127\.0\.0\.1:4243\n/);
  // An older manager that does not say: no Raft section rather than zeros.
  assert.doesNotMatch(infoText(infoObject({ ...info, raft: null }, nodes, undefined)), /Raft:/);
});

test('--hostname is kept in node.json: a start without it keeps the name, a new one replaces it', (t) => {
  const dir = new DataDir(mkdtempSync(join(tmpdir(), 'baton-host-')));
  t.after(() => {
    rmSync(dir.path, { recursive: true, force: true });
    useHostname(undefined);
  });
  const state: NodeState = { nodeId: 'n1', clusterId: 'c1', role: 'worker', listenAddr: '127.0.0.1:1', advertiseAddr: '127.0.0.1:1', managers: [] };
  dir.save(state);

  useHostname('worker-1');
  const named = keepHostname(dir.load());
  assert.equal(named.hostname, 'worker-1');
  dir.save(named);
  assert.equal(keepHostname(dir.load()).hostname, 'worker-1');

  // The next start, without --hostname (a new process: nothing chosen yet).
  useHostname(undefined);
  const resumed = dir.load();
  assert.equal(keepHostname(resumed), resumed, 'nothing to save');
  assert.equal(describeHost().hostname, 'worker-1');

  useHostname('worker-9');
  assert.equal(keepHostname(dir.load()).hostname, 'worker-9');
  assert.equal(describeHost().hostname, 'worker-9');
});
