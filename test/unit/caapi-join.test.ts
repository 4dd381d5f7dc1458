// The Join call's read barrier: a leader whose store may lag what its predecessors committed
// waits for one before checking the token; a caught-up leader checks against its own store and
// joins the node in one Raft round (the record's commit), so that a barrier timing out under
// load does not fail joins (docs/scale.md, "5,000 nodes joining").
import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createRootCA, generateJoinToken, newSealKey, seal, sealJoinTokens } from '../../manager/ca/index.js';
import { caHandlers } from '../../manager/caapi/ca.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { Manager } from '../../manager/manager.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { createAction } from '../../manager/store/index.js';
import type { Guard } from '../../rpc/caller.js';
import { BatonError } from '../../rpc/errors.js';
import { generateNodeKey } from '../../rpc/tls/index.js';
import { waitFor } from '../lib/wait.js';

const CLUSTER = 'c1';

/**
 * A leader on a local store whose read barrier never confirms (as when its heartbeat round
 * times out), caught up with its term or not.
 */
async function leader(caughtUp: boolean) {
  const root = await createRootCA(CLUSTER);
  const managerKey = newSealKey();
  const tokens = { worker: generateJoinToken(root.digest), manager: generateJoinToken(root.digest) };
  const host = new LocalHost();
  host.apply([
    createAction('cluster', {
      meta: { id: CLUSTER },
      spec: { annotations: { name: 'default' } },
      rootCa: { caCertPem: root.certPem, encryptedCaKey: seal(managerKey, root.keyPkcs8), caCertDigest: root.digest, ...sealJoinTokens(managerKey, tokens) },
    }),
  ]);
  let barriers = 0;
  const manager = Object.assign(host, {
    isLeader: () => true,
    leaderId: () => 'm1',
    leaderCaughtUp: () => caughtUp,
    readBarrier: async () => {
      barriers++;
      throw new BatonError('UNAVAILABLE', 'read index not confirmed in time');
    },
  }) as unknown as Manager;
  const guard: Guard = () => {
    throw new Error('Join is called without a certificate');
  };
  const handlers = caHandlers({ manager, forwarder: {} as LeaderForwarder, guard, clusterId: CLUSTER, caPem: root.certPem, managerKey });
  return { host, handlers, tokens, barriers: () => barriers };
}

test('a caught-up leader joins a node without a read barrier: the record is written, the certificate names it', async () => {
  const { host, handlers, tokens, barriers } = await leader(true);
  const { csrPem } = await generateNodeKey();
  const res = await handlers.Join({ token: tokens.worker, csrPem, advertiseAddr: '127.0.5.1:4242' }, {} as never);
  assert.equal(barriers(), 0);
  const node = host.store.get('node', res.nodeId ?? '');
  assert.equal(node?.status?.addr, '127.0.5.1:4242');
  assert.equal(node?.spec?.desiredRole, baton.NodeRole.WORKER);
  assert.match(new X509Certificate(res.certPem ?? '').subject, new RegExp(`CN=${res.nodeId}`));
});

test('a caught-up leader still refuses a token that is not the cluster\'s current one', async () => {
  const { handlers, barriers } = await leader(true);
  const { csrPem } = await generateNodeKey();
  const other = generateJoinToken((await createRootCA(CLUSTER)).digest);
  await assert.rejects(handlers.Join({ token: other, csrPem, advertiseAddr: '127.0.5.1:4242' }, {} as never), (err: unknown) => err instanceof BatonError && err.code === 'INVALID_ARGUMENT');
  assert.equal(barriers(), 0);
});

test('a leader not yet caught up with its term waits for its read barrier before it checks the token, and records nothing when it fails', async () => {
  const { host, handlers, tokens, barriers } = await leader(false);
  const { csrPem } = await generateNodeKey();
  await assert.rejects(handlers.Join({ token: tokens.worker, csrPem, advertiseAddr: '127.0.5.1:4242' }, {} as never), /read index not confirmed in time/);
  assert.equal(barriers(), 1);
  assert.equal(host.store.count('node'), 0);
});

test('a manager is a caught-up leader once its term\'s first read barrier passed, and no longer once it stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-caught-up-'));
  const manager = await Manager.start({
    nodeId: 'm1',
    raftDir: join(dir, 'raft'),
    server: new grpc.Server(),
    channelCredentials: grpc.credentials.createInsecure(),
    authenticate: () => ({ id: 'm1' }),
    peers: {},
    bootstrap: true,
    logger: pino({ level: 'silent' }),
  });
  try {
    await waitFor('m1 to lead, caught up', () => manager.leaderCaughtUp(), { timeoutMs: 10_000 });
    assert.ok(manager.isLeader());
  } finally {
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(manager.leaderCaughtUp(), false);
});
