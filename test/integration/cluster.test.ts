// Real baton daemons on 127.0.0.1 (process runtime, no Docker): init, joins, leader SIGKILL, restarts,
// promote/demote/rm, and a manager that joins late and catches up from a Raft snapshot.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { BatonCluster, baton, nodeIdOf, nodes } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('init, two managers and two workers join; the cluster survives a leader SIGKILL and full restarts', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1');
  assert.match(c.workerToken, /^BTN-1-[a-z2-7]+-[a-z2-7]+$/);
  await c.join('m2', 'manager', 'm1');
  await c.join('m3', 'manager', 'm1');
  await c.join('w1', 'worker', 'm1');
  await c.join('w2', 'worker', 'm2');
  const ids = new Map([...c.daemons.values()].map((d) => [d.name, nodeIdOf(d)]));
  await waitFor('5 ready nodes, 3 of them managers', () => {
    const ns = nodes(c, 'm1');
    return ns.length === 5 && ns.every((n) => n.status === 'NODE_READY') && ns.filter((n) => n.managerStatus).length === 3;
  });
  const table = c.cli('m1', ['node', 'ls']);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ADDRESS/);
  // The node asked is starred; which manager leads may have changed under load since init.
  assert.match(table.stdout, new RegExp(`${ids.get('m1')} \\*.*Ready.*Active.*(Leader|Reachable).*${m1.addr.replace(/\./g, '\\.')}`));
  assert.equal(table.stdout.split('\n').filter((l) => /\sLeader\s/.test(l)).length, 1, 'exactly one leader');
  assert.equal(c.cli('m1', ['node', 'ls', '-q']).stdout.trim().split('\n').length, 5);
  // A worker has no control API: its socket and its TCP port both say so in one line.
  const viaSocket = c.cli('w1', ['node', 'ls']);
  const viaTcp = baton(['node', 'ls', '--host', `tcp://${c.get('w1').addr}`, '--data-dir', c.dataDir('m1')]);
  for (const [how, refused] of [['socket', viaSocket], ['tcp', viaTcp]] as const) {
    assert.equal(refused.code, 1, how);
    assert.equal(refused.stderr.trim(), 'Error: this node is a worker: run the command on a manager (or point --host at one)', how);
  }

  // SIGKILL the leader: a survivor answers again and shows it Unreachable.
  await c.kill('m1');
  await waitFor('a new leader, old one unreachable', () => {
    const ns = nodes(c, 'm2');
    const old = ns.find((n) => n.id === ids.get('m1'));
    const leader = ns.find((n) => n.managerStatus === 'Leader');
    return old?.managerStatus === 'UNREACHABLE' && leader !== undefined && leader.id !== ids.get('m1');
  });
  // Restarted, it rejoins as a follower with no manual step.
  await c.restart('m1');
  await waitFor('the old leader is back as a reachable follower', () => {
    const old = nodes(c, 'm1').find((n) => n.id === ids.get('m1'));
    return old?.managerStatus === 'REACHABLE' && old.status === 'NODE_READY';
  });

  // Restart every node from its data dir: same identities, all ready again.
  for (const name of c.daemons.keys()) await c.kill(name, 'SIGTERM');
  for (const name of ['m1', 'm2', 'm3', 'w1', 'w2']) {
    const d = await c.restart(name);
    assert.match(d.stdout, new RegExp(`Node ${ids.get(name)} resumed`));
  }
  await waitFor('all 5 nodes ready after a full restart, same ids', () => {
    const ns = nodes(c, 'm3');
    return ns.length === 5 && ns.every((n) => n.status === 'NODE_READY') && [...ids.values()].every((id) => ns.some((n) => n.id === id));
  }, { timeoutMs: 30_000 });
});

test('promote, demote (including the leader) and rm move Raft membership with the role', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  await c.join('m2', 'manager', 'm1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  const w2 = nodeIdOf(await c.join('w2', 'worker', 'm1'));
  await waitFor('4 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 4);

  assert.equal(c.cli('m1', ['node', 'promote', w1]).code, 0);
  await waitFor('w1 is a reachable manager', () => nodes(c, 'm2').find((n) => n.id === w1)?.managerStatus === 'REACHABLE');
  // It serves the control API itself now.
  await waitFor('w1 answers node ls', () => c.cli('w1', ['node', 'ls', '-q']).code === 0);

  const leaderId = nodes(c, 'm1').find((n) => n.managerStatus === 'Leader')!.id;
  const leaderName = [...c.daemons.values()].find((d) => nodeIdOf(d) === leaderId)!.name;
  // Keep a copy of its manager certificate to try after the demotion.
  cpSync(`${c.dataDir(leaderName)}/tls`, `${c.root}/stale-${leaderName}/tls`, { recursive: true });
  const demote = c.cli(leaderName, ['node', 'demote', leaderId]);
  assert.equal(demote.code, 0, demote.stderr);
  await waitFor('the old leader is a worker and another manager leads', () => {
    const ns = nodes(c, 'w1');
    const old = ns.find((n) => n.id === leaderId);
    return old?.role === 'WORKER' && old.managerStatus === '' && ns.some((n) => n.managerStatus === 'Leader');
  });
  await waitFor('the demoted node refuses control commands', () => /is a worker/.test(c.cli(leaderName, ['node', 'ls']).stderr));
  // Its old manager certificate is worth nothing now, whatever it says.
  const oldCert = baton(['node', 'ls', '--host', `tcp://${c.get('w1').addr}`, '--data-dir', `${c.root}/stale-${leaderName}`]);
  assert.equal(oldCert.code, 1);
  assert.match(oldCert.stderr, /is now a worker; this call needs manager/);
  // And it can be promoted again in the same process.
  assert.equal(c.cli('w1', ['node', 'promote', leaderId]).code, 0);
  await waitFor('the re-promoted node is a reachable manager again', () => nodes(c, 'w1').find((n) => n.id === leaderId)?.managerStatus === 'REACHABLE');
  assert.equal(c.cli('w1', ['node', 'demote', leaderId]).code, 0);
  await waitFor('and a worker again', () => nodes(c, 'w1').find((n) => n.id === leaderId)?.role === 'WORKER');

  // Two managers left: demoting one of them would leave no quorum if the other is down.
  const managers = nodes(c, 'w1').filter((n) => n.role === 'MANAGER');
  assert.equal(managers.length, 2);

  // rm: a ready node needs --force; a manager must be demoted first.
  const busy = c.cli('w1', ['node', 'rm', w2]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /^Error: node \S+ is not down and can't be removed \(use --force\)\n$/);
  const mgr = c.cli('w1', ['node', 'rm', managers.find((m) => m.id !== w1)!.id]);
  assert.equal(mgr.code, 1);
  assert.match(mgr.stderr, /is a manager: demote it first/);
  await c.kill('w2');
  await waitFor('w2 is down', () => nodes(c, 'w1').find((n) => n.id === w2)?.status === 'NODE_DOWN', { timeoutMs: 15_000 });
  assert.equal(c.cli('w1', ['node', 'rm', w2]).code, 0);
  assert.equal(nodes(c, 'w1').some((n) => n.id === w2), false);
});

test('a manager that joins late catches up from a Raft snapshot', async (t) => {
  const c = BatonCluster.forTest(t, ['--snapshot-interval', '20']);
  await c.init('m1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  // Enough writes for several snapshots (each label is one Raft entry).
  for (let i = 0; i < 30; i++) {
    const r = c.cli('m1', ['node', 'update', '--label-add', `k${i}=v${i}`, w1]);
    assert.equal(r.code, 0, r.stderr);
  }
  const late = await c.join('m2', 'manager', 'm1');
  await waitFor('the late manager serves the whole state', () => {
    const n = nodes(c, 'm2').find((x) => x.id === w1);
    return n?.labels.k29 === 'v29' && Object.keys(n.labels).length === 30;
  });
  const { readFileSync } = await import('node:fs');
  assert.match(readFileSync(late.logFile, 'utf8'), /installed a snapshot from the leader/);
});

test('node certificates renew at half-life; Raft reconnects with the renewed ones after a restart', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--cert-expiry', '12s']);
  await c.join('m2', 'manager', 'm1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  const { readFileSync } = await import('node:fs');
  const { X509Certificate } = await import('node:crypto');
  const expiry = (name: string): number => Date.parse(new X509Certificate(readFileSync(`${c.dataDir(name)}/tls/node.crt`)).validTo);
  const first = new Map(['m1', 'm2', 'w1'].map((n) => [n, expiry(n)]));
  const lastExpiry = Math.max(...first.values());
  await waitFor('every node renewed its certificate before it expired', () => [...first].every(([name, notAfter]) => expiry(name) > notAfter), { timeoutMs: lastExpiry - Date.now() });
  // Past the first certificates' expiry: only the renewed ones can be in use now.
  await new Promise((r) => setTimeout(r, Math.max(0, lastExpiry - Date.now()) + 1000));
  await waitFor('all nodes ready on renewed certificates', () => nodes(c, 'm2').every((n) => n.status === 'NODE_READY'));
  // A restart forces new connections, which must present the renewed certificates.
  await c.kill('m2');
  await c.restart('m2');
  await waitFor('the restarted manager forwards a write to the leader', () => c.cli('m2', ['node', 'update', '--label-add', 'renewed=yes', w1]).code === 0, { timeoutMs: 60_000 });
  await waitFor('the write replicated to the restarted manager', () => nodes(c, 'm2').find((n) => n.id === w1)?.labels.renewed === 'yes');
});
