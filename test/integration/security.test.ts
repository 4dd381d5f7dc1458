// Bad input and security cases of `baton init/join` and the control API, against real daemons:
// each bad input is one clear error line, a non-zero exit and nothing written; each unauthorized
// caller is refused with the right status and the refusal is logged.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { controlService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../../rpc/tls/index.js';
import { connect } from '../../client/index.js';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { bootstrapCredentials } from '../../rpc/tls/index.js';
import { BatonCluster, baton, nodeIdOf, nodes, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stdout: ${r.stdout})`);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, `one error line, got: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, pattern);
}

function tls(dataDir: string): { caPem: string; certPem: string; keyPem: string } {
  const read = (f: string): string => readFileSync(join(dataDir, 'tls', f), 'utf8');
  return { caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') };
}

async function callStatus(addr: string, creds: Parameters<typeof clientCredentials>[0]): Promise<string> {
  const client = new RpcClient(addr, clientCredentials(creds), controlService, NODE_CHANNEL_OPTIONS);
  try {
    await client.call('ListNodes', {}, 5_000);
    return 'OK';
  } catch (err) {
    return err instanceof BatonError ? err.code : String(err);
  } finally {
    client.close();
  }
}

async function health(addr: string, service: string): Promise<string> {
  const check = healthService.Check as unknown as grpc.MethodDefinition<{ service: string }, { status: string }>;
  const client = new grpc.Client(addr, bootstrapCredentials(), NODE_CHANNEL_OPTIONS);
  try {
    return await new Promise((resolve, reject) => {
      client.makeUnaryRequest(check.path, check.requestSerialize, check.responseDeserialize, { service }, (err, res) =>
        err ? reject(err) : resolve(String(res?.status)),
      );
    });
  } finally {
    client.close();
  }
}

test('join and init refuse bad input with one line and write nothing', async (t) => {
  const a = BatonCluster.forTest(t);
  const b = BatonCluster.forTest(t);
  const m = await a.init('m1');
  await b.init('other');
  const fresh = (name: string): string => join(a.root, name);
  const port = await freePort();
  const joinWith = (token: string, remote: string, dir: string): CliResult =>
    baton(['join', '--token', token, remote, '--data-dir', dir, '--listen-addr', `127.0.0.1:${port}`]);

  assertOneLineError(joinWith('BTN-1-nonsense', m.addr, fresh('x1')), /invalid join token/);
  assertOneLineError(joinWith('not-a-token-at-all', m.addr, fresh('x2')), /invalid join token/);
  // Right cluster digest, wrong secret.
  const wrongSecret = a.workerToken.replace(/-[a-z2-7]+$/, '-aaaaaaaaaaaaaaaaaaaaaaaaa');
  assertOneLineError(joinWith(wrongSecret, m.addr, fresh('x3')), /join token is not valid/);
  // Another cluster's token: the manager's CA does not match the digest pinned in the token.
  assertOneLineError(joinWith(b.workerToken, m.addr, fresh('x4')), /does not match the join token/);
  // Nobody listening there.
  assertOneLineError(joinWith(a.workerToken, `127.0.0.1:${await freePort()}`, fresh('x5')), /cannot reach a manager/);
  for (const dir of ['x1', 'x2', 'x3', 'x4', 'x5']) assert.equal(existsSync(fresh(dir)), false, `nothing written for ${dir}`);

  // A data dir that belongs to another cluster.
  const other = b.dataDir('other');
  const before = readdirSync(other).sort();
  assertOneLineError(joinWith(a.workerToken, m.addr, other), /belongs to another cluster/);
  assert.deepEqual(readdirSync(other).sort(), before);

  // Rotation: the old token stops working at once, the new one works, joined nodes are unaffected.
  await a.join('w1', 'worker', 'm1');
  const rotated = a.cli('m1', ['join-token', 'worker', '--rotate', '-q']);
  assert.equal(rotated.code, 0);
  const newToken = rotated.stdout.trim();
  assert.notEqual(newToken, a.workerToken);
  assertOneLineError(joinWith(a.workerToken, m.addr, fresh('x6')), /join token is not valid \(it may have been rotated\)/);
  assert.equal(existsSync(fresh('x6')), false);
  a.workerToken = newToken;
  await a.join('w2', 'worker', 'm1');
  await waitFor('w1 and w2 ready', () => nodes(a, 'm1').filter((n) => n.status === 'NODE_READY').length === 3);

  // Bad flags and addresses.
  assertOneLineError(baton(['init', '--data-dir', fresh('x7'), '--listen-addr', 'nonsense']), /bad --listen-addr/);
  assertOneLineError(baton(['init', '--data-dir', fresh('x8')]), /--advertise-addr is required/);
  assertOneLineError(baton(['init', '--data-dir', fresh('x9'), '--listen-addr', `127.0.0.1:${port}`, '--heartbeat-grace', '0']), /bad --heartbeat-grace/);
  assertOneLineError(baton(['init', '--data-dir', fresh('x9'), '--listen-addr', `127.0.0.1:${port}`, '--heartbeat-period', 'often']), /bad duration "often" for --heartbeat-period/);
  assert.equal(existsSync(fresh('x9')), false, 'nothing written for a refused init');
  assertOneLineError(baton(['node', 'frobnicate', '--data-dir', a.dataDir('m1')]), /Unknown argument|Unknown command|subcommand/);
  assertOneLineError(a.cli('m1', ['node', 'inspect', 'nosuchnode']), /not found|no node/i);
  assertOneLineError(a.cli('m1', ['node', 'update', '--availability', 'sideways', nodeIdOf(a.get('w1'))]), /availability/);

  // A second daemon on a running node's data dir is refused, and the running one stays reachable.
  const dataDir = a.dataDir('m1');
  const files = readdirSync(dataDir).sort();
  for (const cmd of [
    ['init', '--data-dir', dataDir, '--listen-addr', `127.0.0.1:${port}`],
    ['join', '--token', a.workerToken, m.addr, '--data-dir', dataDir, '--listen-addr', `127.0.0.1:${port}`],
  ]) {
    assertOneLineError(baton(cmd), /a baton node is already running with data dir .* stop it first/);
  }
  assert.deepEqual(readdirSync(dataDir).sort(), files, 'nothing added or removed in the running node\'s data dir');
  assert.equal(a.cli('m1', ['node', 'ls', '-q']).code, 0, 'the running node still answers on its socket');
});

test('the control API refuses workers, callers without a certificate and other clusters', async (t) => {
  const a = BatonCluster.forTest(t);
  const b = BatonCluster.forTest(t);
  const m = await a.init('m1');
  await a.join('w1', 'worker', 'm1');
  await b.init('other');
  const ours = tls(a.dataDir('m1'));
  const worker = tls(a.dataDir('w1'));
  const foreign = tls(b.dataDir('other'));

  assert.equal(await callStatus(m.addr, ours), 'OK', 'a manager certificate is accepted');
  assert.equal(await callStatus(m.addr, worker), 'PERMISSION_DENIED', 'a worker certificate is refused');
  assert.equal(await callStatus(m.addr, { caPem: ours.caPem }), 'UNAUTHENTICATED', 'no client certificate');
  // Trusting our root to reach the server, but presenting another cluster's certificate.
  assert.equal(await callStatus(m.addr, { caPem: ours.caPem, certPem: foreign.certPem, keyPem: foreign.keyPem }), 'UNAUTHENTICATED');

  // The CLI over tcp with a worker's certificate: one line, non-zero exit.
  const r = baton(['node', 'ls', '--host', `tcp://${m.addr}`, '--data-dir', a.dataDir('w1')]);
  assertOneLineError(r, /is a worker; this call needs manager/);
  const ok = baton(['node', 'ls', '-q', '--host', `tcp://${m.addr}`, '--data-dir', a.dataDir('m1')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim().split('\n').length, 2);

  // The standard health service answers anyone: the node, and the control API on managers only.
  assert.equal(await health(m.addr, ''), 'SERVING');
  assert.equal(await health(m.addr, 'baton.Control'), 'SERVING');
  assert.equal(await health(a.get('w1').addr, ''), 'SERVING');
  assert.equal(await health(a.get('w1').addr, 'baton.Control'), 'NOT_SERVING');

  await waitFor('refusals are logged', () => {
    const log = readFileSync(m.logFile, 'utf8');
    return /"code":"PERMISSION_DENIED"/.test(log) && /"code":"UNAUTHENTICATED"/.test(log);
  }, { timeoutMs: 5_000 });
});

test('two clients racing to update the same node: one wins, the other gets a version conflict', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('w1 ready', () => nodes(c, 'm1').some((n) => n.id === w1 && n.status === 'NODE_READY'));
  const one = connect({ dataDir: c.dataDir('m1') });
  const two = connect({ dataDir: c.dataDir('m1') });
  t.after(() => {
    one.close();
    two.close();
  });
  const read = await one.control.call('GetNode', { id: w1 });
  const spec = (label: string) => ({ ...read.spec, annotations: { labels: { winner: label } } });
  const results = await Promise.allSettled([
    one.control.call('UpdateNode', { id: w1, version: read.meta?.version ?? 0, spec: spec('one') }),
    two.control.call('UpdateNode', { id: w1, version: read.meta?.version ?? 0, spec: spec('two') }),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1, 'exactly one update wins');
  assert.equal(lost.length, 1);
  assert.ok(lost[0]!.reason instanceof BatonError);
  assert.equal((lost[0]!.reason).code, 'VERSION_CONFLICT');
  assert.match((lost[0]!.reason).message, /stale/);
  const winner = results[0].status === 'fulfilled' ? 'one' : 'two';
  const after = nodes(c, 'm1').find((n) => n.id === w1)!;
  assert.deepEqual(after.labels, { winner }, 'the winning write is intact');
});

test('oversize input gets a short status at once on the unix socket and over mTLS, and the manager stays up', async (t) => {
  const c = BatonCluster.forTest(t);
  const m = await c.init('m1');
  const dataDir = c.dataDir('m1');
  const creds = clientCredentials(tls(dataDir));
  const socket = `unix://${join(dataDir, 'baton.sock')}`;
  const sdk = connect({ dataDir });
  const tcp = new RpcClient(m.addr, creds, controlService, NODE_CHANNEL_OPTIONS);
  // Clients that let a 50 MB request out (the SDK's stops it before sending: checked below).
  const unlimited = { 'grpc.max_send_message_length': 64 << 20 };
  const rawUnix = new RpcClient(socket, grpc.credentials.createInsecure(), controlService, unlimited);
  const rawTcp = new RpcClient(m.addr, creds, controlService, { ...NODE_CHANNEL_OPTIONS, ...unlimited });
  t.after(() => {
    for (const client of [sdk.control, tcp, rawUnix, rawTcp]) client.close();
  });
  const failure = (p: Promise<unknown>): Promise<BatonError> =>
    p.then(
      () => assert.fail('the call should fail'),
      (err: unknown) => (err instanceof BatonError ? err : assert.fail(`not a BatonError: ${String(err)}`)),
    );

  // A 100,000-character name: refused by length before any lookup; the message repeats only a
  // prefix (a status that echoed it all was over the HTTP/2 trailer limit and never arrived).
  const long = 'x'.repeat(100_000);
  for (const [name, client] of [['unix socket', sdk.control], ['tcp', tcp]] as const) {
    const err = await failure(client.call('GetService', { id: long }, 5_000));
    assert.equal(err.code, 'INVALID_ARGUMENT', name);
    assert.ok(err.message.length < 200, `${name}: ${err.message.length} characters`);
    assert.match(err.message, /…\(100000 bytes\)" is longer than any id or name/);
    assert.equal((await client.call('Info', {}, 5_000)).nodeId, nodeIdOf(m), `${name}: the same connection answers the next call`);
  }
  const inspect = c.cli('m1', ['service', 'inspect', long]);
  assertOneLineError(inspect, /is longer than any id or name/);
  assert.ok(inspect.stderr.length < 300, `one short line, got ${inspect.stderr.length} characters`);

  // 50 MB: the SDK refuses to send it; the unix socket's transport limit and the node port's
  // per-method limit (the port itself takes 64 MiB for Raft) answer RESOURCE_EXHAUSTED.
  const huge = 'y'.repeat(50 << 20);
  assert.equal((await failure(sdk.control.call('GetService', { id: huge }, 20_000))).code, 'RESOURCE_EXHAUSTED', 'SDK client');
  for (const [name, client] of [['unix socket', rawUnix], ['tcp', rawTcp]] as const) {
    const err = await failure(client.call('GetService', { id: huge }, 20_000));
    assert.equal(err.code, 'RESOURCE_EXHAUSTED', `${name}: ${err.message}`);
    assert.ok(err.message.length < 300, `${name}: a short message`);
    assert.equal((await client.call('Info', {}, 5_000)).nodeId, nodeIdOf(m), `${name}: the next call works`);
  }
  assert.equal(m.proc.running, true, 'the manager is still running');
  const ls = c.cli('m1', ['node', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /Ready +Active +Leader/);
});
