// The API's face for clients, as a user meets it: `baton events` and the SDK's event iterable
// (in order, resumable from a version, from a follower), `baton version`, gRPC reflection on
// the socket and the TCP port, the replicas default and the whole-spec rule of UpdateService.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BatonError, connect, type BatonClient, type Event } from '../../client/index.js';
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../../rpc/tls/index.js';
import { BatonCluster, baton } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { decodeFiles, reflect } from '../lib/reflection-client.js';

const SLEEP = { runtime: 'process', container: { command: ['sleep', '100000'] } };

/** Events until one passes `until` (or the stream ends); fails after `ms`. */
async function take(events: AsyncIterable<Event>, until: (e: Event) => boolean, ms = 30_000): Promise<Event[]> {
  const out: Event[] = [];
  const it = events[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  for (;;) {
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())).unref());
    const r = await Promise.race([it.next(), timeout]);
    if (r === 'timeout') throw new Error(`no final event within ${ms} ms; got ${out.map((e) => e.action).join(', ')}`);
    if (r.done) return out;
    out.push(r.value);
    if (until(r.value)) {
      void it.return?.();
      return out;
    }
  }
}

function tlsCredentials(dir: string): grpc.ChannelCredentials {
  const read = (f: string): string => readFileSync(join(dir, 'tls', f), 'utf8');
  return clientCredentials({ caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') });
}

test('events: create, scale and remove a service, seen in order by the SDK and `baton events` on a follower, resumable from a version', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(2);
  // m2 follows: it answers from its own store.
  const sdk: BatonClient = connect({ dataDir: c.dataDir('m2') });
  t.after(() => sdk.close());
  const stream = sdk.events({ kinds: ['service'], names: ['ev'] });
  const seen = take(stream, (e) => e.action === 'remove');
  // The stream is open once the manager has the call: give the request a moment to arrive.
  await new Promise((r) => setTimeout(r, 500));

  const created = await sdk.createService({ annotations: { name: 'ev' }, task: SLEEP });
  assert.equal(Number(created.spec?.replicas), 1, 'no replicas given means 1, as Docker');
  const scale = c.cli('m1', ['service', 'scale', 'ev=2']);
  assert.equal(scale.code, 0, scale.stderr);
  const rm = c.cli('m1', ['service', 'rm', 'ev']);
  assert.equal(rm.code, 0, rm.stderr);

  const events = await seen;
  const actions = events.map((e) => e.action);
  assert.equal(actions[0], 'create', `${actions.join(',')}`);
  assert.equal(actions.at(-1), 'remove', `${actions.join(',')}`);
  assert.ok(actions.includes('update'), `a scale is an update: ${actions.join(',')}`);
  const versions = events.map((e) => Number(e.version));
  assert.deepEqual(versions, [...versions].sort((a, b) => a - b), 'in log order');
  assert.ok(events.every((e) => e.kind === 'service' && e.id === created.meta?.id && e.name === 'ev' && Number(e.time) > 0));
  const first = versions[0]!;
  const last = versions.at(-1)!;

  // The CLI, JSON lines, replaying from before the create up to the remove (then it ends).
  const dir = c.dataDir('m2');
  const json = baton(['events', '--since', String(first - 1), '--until', String(last), '--filter', 'type=service', '--filter', 'name=ev', '--format', 'json', '--data-dir', dir]);
  assert.equal(json.code, 0, json.stderr);
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
  assert.deepEqual(rows.map((r) => r.Action), actions);
  assert.deepEqual(rows.map((r) => Number(r.Actor.Attributes.version)), versions);
  assert.ok(rows.every((r) => r.Type === 'service' && r.Actor.ID === created.meta?.id && r.Actor.Attributes.name === 'ev'));

  // Resumed after the create: the rest, in Docker's line format.
  const lines = baton(['events', '--since', String(first), '--until', String(last), '--filter', 'name=ev', '--data-dir', dir]);
  assert.equal(lines.code, 0, lines.stderr);
  const out = lines.stdout.trim().split('\n');
  assert.equal(out.length, actions.length - 1, lines.stdout);
  assert.match(out[0]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z service update ${created.meta?.id} \\(name=ev, version=${versions[1]}\\)$`));
  assert.match(out.at(-1)!, / service remove .* \(name=ev, version=\d+\)$/);

  // By time: the last minute, up to now.
  const recent = baton(['events', '--since', '1m', '--until', '0s', '--filter', 'type=service', '--data-dir', dir]);
  assert.equal(recent.code, 0, recent.stderr);
  assert.match(recent.stdout, / service create /);

  // Bad flags: one line, every problem, non-zero exit.
  const bad = baton(['events', '--since', 'soon', '--filter', 'type=wizard', '--data-dir', dir]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^Error: 2 problems: bad --since "soon": want a version .*; bad --filter "type=wizard": want type=service, node, task, network, secret, config or cluster$/m);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('version, reflection, the replicas default and the whole-spec update', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1');

  const v = c.cli('m1', ['version']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^Client:\n Version: +0\.\d+\.\d+\n API version: +\d+\.\d+\n Node version: +v\d+.*\n OS\/Arch: +linux\/\w+\n\nServer:\n Version: +0\.\d+\.\d+\n API version: +\d+\.\d+\n/);
  const short = baton(['--version']);
  assert.equal(short.code, 0, short.stderr);
  assert.match(short.stdout, /^baton version \d+\.\d+\.\d+, API version \d+\.\d+\n$/);

  // Reflection on the local socket (the control API only) and on TCP (the internal services too).
  const socket = `unix://${join(c.dataDir('m1'), 'baton.sock')}`;
  const [list, file, missing] = await reflect(socket, grpc.credentials.createInsecure(), [{ listServices: '' }, { fileContainingSymbol: 'baton.Control.Events' }, { fileContainingSymbol: 'baton.Nothing' }]);
  assert.deepEqual(list!.listServicesResponse?.service.map((s) => s.name).sort(), ['baton.Control', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
  const files = decodeFiles(file!);
  // proto-loader describes a package as one file (control.proto and objects.proto are baton.proto).
  assert.deepEqual(files.map((f) => f.name), ['baton.proto'], 'the file and what it imports');
  assert.ok(files[0]!.messageType.some((m) => m.name === 'ServiceSpec'), 'the objects are in it too');
  // The public package holds the public API only: the internal protocols are package baton.internal.
  assert.deepEqual(files[0]!.service.map((s) => s.name), ['Control']);
  assert.ok(!files[0]!.messageType.some((m) => m.name === 'SessionMessage' || m.name === 'StoreBatch'), 'no internal message in package baton');
  const control = files[0]!.service.find((s) => s.name === 'Control');
  const events = control?.method.find((m) => m.name === 'Events');
  assert.equal(events?.outputType, '.baton.Event');
  assert.equal(events?.serverStreaming, true);
  assert.equal(missing!.errorResponse?.errorCode, grpc.status.NOT_FOUND);
  const [tcpList] = await reflect(m1.addr, tlsCredentials(c.dataDir('m1')), [{ listServices: '' }], NODE_CHANNEL_OPTIONS, 'v1alpha');
  const tcpNames = tcpList!.listServicesResponse?.service.map((s) => s.name) ?? [];
  for (const name of ['baton.Control', 'baton.internal.CA', 'baton.internal.Dispatcher', 'raftpb.Raft']) assert.ok(tcpNames.includes(name), `${name} in ${tcpNames.join(', ')}`);

  // Replicas: unset is 1, an explicit 0 stays 0.
  const sdk = connect({ dataDir: c.dataDir('m1') });
  t.after(() => sdk.close());
  const one = await sdk.createService({ annotations: { name: 'one' }, task: SLEEP });
  assert.equal(Number(one.spec?.replicas), 1);
  const zero = await sdk.createService({ annotations: { name: 'zero' }, replicas: 0, task: SLEEP });
  assert.equal(Number(zero.spec?.replicas), 0);

  // UpdateService replaces the whole spec: a spec of only replicas is refused in one line.
  const id = one.meta?.id ?? '';
  await assert.rejects(sdk.updateService(id, Number(one.meta?.version), { replicas: 3 }), (err: unknown) => {
    assert.ok(err instanceof BatonError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /^UpdateService replaces the whole spec: read the service with GetService, change its spec and send all of it back with meta.version/);
    return true;
  });
  // Read-modify-write works; a stale version says what to do.
  const read = await sdk.getService(id);
  const scaled = await sdk.updateService(id, Number(read.meta?.version), { ...read.spec, replicas: 3 });
  assert.equal(Number(scaled.spec?.replicas), 3);
  await assert.rejects(sdk.updateService(id, Number(read.meta?.version), { ...read.spec, replicas: 4 }), /VERSION_CONFLICT|version \d+ is stale, current is \d+ \(read the service again with GetService/);
  const modified = await sdk.modifyService('one', (spec) => ({ ...spec, replicas: 2 }));
  assert.equal(Number(modified.spec?.replicas), 2);
  // A whole spec without a count keeps the current one.
  const again = await sdk.getService(id);
  const { replicas: _dropped, ...withoutCount } = again.spec ?? {};
  const kept = await sdk.updateService(id, Number(again.meta?.version), withoutCount);
  assert.equal(Number(kept.spec?.replicas), 2);
});

test("an event stream on a follower goes on through the leader's death, with the new leader's changes", async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(3);
  const probe = connect({ dataDir: c.dataDir('m2') });
  const leader = (await probe.info()).leaderId;
  probe.close();
  const names = ['m1', 'm2', 'm3'];
  const leaderName = names.find((n) => c.get(n).nodeId === leader);
  assert.ok(leaderName, `the leader ${leader} is one of ${names.join(', ')}`);
  const follower = names.find((n) => n !== leaderName)!;
  const sdk = connect({ dataDir: c.dataDir(follower) });
  t.after(() => sdk.close());
  const seen = take(sdk.events({ kinds: ['service'], names: ['after'] }), (e) => e.action === 'create', 60_000);
  await new Promise((r) => setTimeout(r, 500));
  await c.kill(leaderName, 'SIGKILL');
  // Writes are refused (UNAVAILABLE) until the two survivors elect a leader.
  await waitFor('a service created under the new leader', () => sdk.createService({ annotations: { name: 'after' }, task: SLEEP }), { timeoutMs: 40_000, intervalMs: 500 });
  const events = await seen;
  assert.equal(events.at(-1)?.action, 'create');
  assert.equal(events.at(-1)?.name, 'after');
});
