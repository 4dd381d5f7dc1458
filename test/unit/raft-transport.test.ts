// GrpcTransport over real sockets on 127.0.0.1. Every wait is bounded by waitFor(); every test
// stops what it started (in `finally`), so the file's process exits on its own.
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { EntryType, MessageType, message } from '../../raft/core/types.js';
import type { Message } from '../../raft/core/types.js';
import { GrpcTransport } from '../../raft/transport/index.js';
import type { GrpcTransportOptions } from '../../raft/transport/index.js';
import { waitFor } from '../lib/wait.js';

// Messages arrive within milliseconds on loopback: look often, give up after 15 s.
const POLL = { timeoutMs: 15_000, intervalMs: 5 };

const HOST = '127.0.0.1';


/** A transport plus everything it received, per sender. */
interface Node {
  id: string;
  t: GrpcTransport;
  port: number;
  got: Map<string, Message[]>;
}

async function startNode(id: string, opts: Partial<GrpcTransportOptions> = {}, port = 0): Promise<Node> {
  const got = new Map<string, Message[]>();
  const t = new GrpcTransport({
    id,
    listen: `${HOST}:${port}`,
    onMessages: (from, msgs) => {
      let list = got.get(from);
      if (!list) got.set(from, (list = []));
      for (const m of msgs) list.push(m);
    },
    ...opts,
  });
  return { id, t, port: await t.start(), got };
}

/** `host`: TLS peers dial by name, as Node refuses an IP address as the TLS server name. */
function link(nodes: Node[], host = HOST): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.addPeer(b.id, `${host}:${b.port}`);
}

async function stopAll(nodes: (Node | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((n) => (n ? n.t.stop() : Promise.resolve())));
}

/** startNode for one test: every node it starts is stopped when the test ends, pass or fail. */
function nodesFor(t: { after(fn: () => Promise<void>): void }): typeof startNode {
  const started: Node[] = [];
  t.after(() => stopAll(started));
  return async (...args) => {
    const n = await startNode(...args);
    started.push(n);
    return n;
  };
}

function appMsg(from: string, to: string, seq: number, payload = 0): Message {
  return message({
    type: MessageType.MSG_APP,
    from,
    to,
    term: 1,
    index: seq,
    entries: payload > 0 ? [{ term: 1, index: seq + 1, type: EntryType.ENTRY_NORMAL, data: new Uint8Array(payload).fill(seq & 255) }] : [],
  });
}

function received(n: Node, from: string): Message[] {
  return n.got.get(from) ?? [];
}

/** Sends `count` messages per (from, to) pair without overrunning the queues, so none is dropped. */
async function pump(pairs: [Node, Node][], count: number, payload = 0): Promise<void> {
  const round = 256;
  for (let base = 0; base < count; base += round) {
    for (const [a, b] of pairs) {
      const msgs: Message[] = [];
      for (let seq = base; seq < Math.min(count, base + round); seq++) msgs.push(appMsg(a.id, b.id, seq, payload));
      a.t.send(msgs);
    }
    await waitFor('outbound queues to drain', () => pairs.every(([a]) => a.t.stats().queued < 1024), POLL);
  }
}

function assertInOrder(n: Node, from: string, count: number): void {
  const seqs = received(n, from).map((m) => m.index);
  assert.equal(seqs.length, count, `${n.id} got ${seqs.length} of ${count} from ${from}`);
  for (let i = 0; i < count; i++) if (seqs[i] !== i) assert.fail(`${n.id} from ${from}: message ${i} has seq ${seqs[i]}`);
}

test('send(msgs, true) hands them to the stream before it returns; plain send() waits for the next turn', async (t) => {
  const start = nodesFor(t);
  const a = await start('a');
  const b = await start('b');
  link([a, b]);
  // The stream is up once a first message got through.
  a.t.send([appMsg('a', 'b', 0)]);
  await waitFor('the first message', () => received(b, 'a').length === 1, POLL);
  const written = a.t.stats().sent;
  a.t.send([appMsg('a', 'b', 1)]);
  assert.equal(a.t.stats().sent, written, 'batched: written on the next turn');
  await waitFor('the batched message written', () => a.t.stats().sent === written + 1, POLL);
  // A leader's appends: written at once, before the leader's own disk write is set up.
  a.t.send([appMsg('a', 'b', 2)], true);
  assert.equal(a.t.stats().sent, written + 2, 'written before send returned');
  await waitFor('all three', () => received(b, 'a').length === 3, POLL);
  assertInOrder(b, 'a', 3);
});

test('two transports exchange many messages, in order, both ways', async (t) => {
  const start = nodesFor(t);
  const a = await start('a');
  const b = await start('b');
  link([a, b]);
  const n = 20_000;
  const started = process.hrtime.bigint();
  await pump([[a, b], [b, a]], n, 64);
  await waitFor('all messages', () => received(b, 'a').length >= n && received(a, 'b').length >= n, POLL);
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(`${Math.round((2 * n) / secs)} messages/s (64-byte entries, both directions, one process)`);
  assertInOrder(b, 'a', n);
  assertInOrder(a, 'b', n);
  const m = received(b, 'a')[7];
  assert.deepEqual(m, appMsg('a', 'b', 7, 64));
  const sa = a.t.stats();
  assert.equal(sa.sent, n);
  assert.equal(sa.dropped, 0);
  assert.equal(sa.received, n);
  assert.equal(sa.rejected, 0);
  assert.deepEqual(sa.connectedPeers, ['b']);
  assert.deepEqual(sa.inboundPeers, ['b']);
});

test('three transports: every ordered pair delivers in order', async (t) => {
  const start = nodesFor(t);
  const nodes: Node[] = [];
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await start(id));
  link(nodes);
  const pairs: [Node, Node][] = [];
  for (const a of nodes) for (const b of nodes) if (a !== b) pairs.push([a, b]);
  const n = 5_000;
  await pump(pairs, n);
  await waitFor('all messages', () => pairs.every(([a, b]) => received(b, a.id).length >= n), POLL);
  for (const [a, b] of pairs) assertInOrder(b, a.id, n);
  for (const node of nodes) {
    const s = node.t.stats();
    assert.equal(s.dropped, 0);
    assert.equal(s.connectedPeers.length, 2);
    assert.equal(s.inboundPeers.length, 2);
  }
});

test('one send() spanning several peers is split by destination', async (t) => {
  const start = nodesFor(t);
  const nodes: Node[] = [];
  for (const id of ['p', 'q', 'r']) nodes.push(await start(id));
  link(nodes);
  const [p, q, r] = nodes as [Node, Node, Node];
  const msgs: Message[] = [];
  for (let i = 0; i < 100; i++) msgs.push(appMsg('p', i % 2 ? 'q' : 'r', i));
  p.t.send(msgs);
  await waitFor('both halves', () => received(q, 'p').length === 50 && received(r, 'p').length === 50, POLL);
  assert.deepEqual(received(q, 'p').map((m) => m.index), msgs.filter((m) => m.to === 'q').map((m) => m.index));
  assert.deepEqual(received(r, 'p').map((m) => m.index), msgs.filter((m) => m.to === 'r').map((m) => m.index));
});

test('a peer stopped and restarted on the same port is reconnected to', async (t) => {
  const start = nodesFor(t);
  const a = await start('a', { backoff: { initialMs: 20, maxMs: 200 } });
  const b = await start('b');
  link([a, b]);
  a.t.send([appMsg('a', 'b', 0)]);
  await waitFor('first message', () => received(b, 'a').length === 1, POLL);
  assert.deepEqual(a.t.stats().connectedPeers, ['b']);

  await b.t.stop();
  await waitFor('a to notice b is gone', () => a.t.stats().connectedPeers.length === 0, POLL);
  // Sent while b is down: queued, then delivered or lost with a broken stream; never reordered.
  a.t.send([appMsg('a', 'b', 1), appMsg('a', 'b', 2)]);

  const b2 = await start('b', {}, b.port);
  await waitFor('a to reconnect to the new b', () => a.t.stats().connectedPeers.includes('b'), POLL);
  const msgs: Message[] = [];
  for (let i = 3; i < 1000; i++) msgs.push(appMsg('a', 'b', i));
  a.t.send(msgs);
  await waitFor('messages after the restart', () => received(b2, 'a').at(-1)?.index === 999, POLL);
  const seqs = received(b2, 'a').map((m) => m.index);
  assert.ok(seqs.length >= 997, `only ${seqs.length} arrived after the restart`);
  for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), 'reordered');
  // And the restarted b can talk back over its own new stream.
  b2.t.addPeer('a', `${HOST}:${a.port}`);
  b2.t.send([appMsg('b', 'a', 42)]);
  await waitFor('b to a after the restart', () => received(a, 'b').some((m) => m.index === 42), POLL);
});

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('while a peer is down the queue stays bounded: the oldest are dropped and counted', async (t) => {
  const start = nodesFor(t);
  // A port that was just listening and is now closed: connections are refused.
  const gone = await start('b');
  await gone.t.stop();
  const bound = 100;
  const a = await start('a', { maxQueuedMessages: bound, backoff: { initialMs: 10, maxMs: 50 } });
  a.t.addPeer('b', `${HOST}:${gone.port}`);
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  // 100k messages of 1 KiB each: about 100 MiB if anything kept them all.
  const total = 100_000;
  for (let base = 0; base < total; base += 1000) {
    const msgs: Message[] = [];
    for (let i = base; i < base + 1000; i++) msgs.push(appMsg('a', 'b', i, 1024));
    a.t.send(msgs);
    assert.ok(a.t.stats().queued <= bound);
    await new Promise((r) => setImmediate(r));
  }
  collectGarbage();
  const grownMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  const s = a.t.stats();
  assert.equal(s.queued, bound);
  assert.equal(s.sent, 0);
  assert.equal(s.dropped, total - bound);
  assert.deepEqual(s.connectedPeers, []);
  assert.ok(grownMiB < 20, `heap grew by ${grownMiB.toFixed(1)} MiB`);

  // Unknown peers are dropped and counted too, without touching any queue.
  a.t.send([appMsg('a', 'nobody', 0)]);
  assert.equal(a.t.stats().dropped, total - bound + 1);
  // removePeer discards what was queued for it.
  a.t.removePeer('b');
  assert.equal(a.t.stats().queued, 0);
  assert.equal(a.t.stats().dropped, total + 1);
});

test('when the peer comes up the newest queued messages are delivered, oldest dropped', async (t) => {
  const start = nodesFor(t);
  const probe = await startNode('b');
  const port = probe.port;
  await probe.t.stop();
  const a = await start('a', { maxQueuedMessages: 50, backoff: { initialMs: 10, maxMs: 50 } });
  a.t.addPeer('b', `${HOST}:${port}`);
  const msgs: Message[] = [];
  for (let i = 0; i < 500; i++) msgs.push(appMsg('a', 'b', i));
  a.t.send(msgs);
  const b = await start('b', {}, port);
  await waitFor('the 50 newest', () => received(b, 'a').length === 50, POLL);
  assert.deepEqual(received(b, 'a').map((m) => m.index), msgs.slice(450).map((m) => m.index));
  assert.equal(a.t.stats().dropped, 450);
});

test('a peer re-added at a new address keeps its queued messages', async (t) => {
  const start = nodesFor(t);
  const a = await start('a');
  const b = await start('b');
  a.t.addPeer('b', `${HOST}:1`); // nothing listens on port 1
  a.t.send([appMsg('a', 'b', 0), appMsg('a', 'b', 1)]);
  a.t.addPeer('b', `${HOST}:${b.port}`);
  await waitFor('the messages queued before the move', () => received(b, 'a').length === 2, POLL);
  assert.deepEqual(received(b, 'a').map((m) => m.index), [0, 1]);
});

test('inbound messages with a foreign from or to are rejected; the stream identity is the first from', async (t) => {
  const start = nodesFor(t);
  const a = await start('a');
  const b = await start('b');
  // a believes 'x' lives at b's address (a stale address): b must not take x's messages.
  a.t.addPeer('x', `${HOST}:${b.port}`);
  a.t.addPeer('b', `${HOST}:${b.port}`);
  a.t.send([appMsg('a', 'x', 0)]);
  a.t.send([appMsg('a', 'b', 1), appMsg('z', 'b', 2), appMsg('a', 'b', 3)]);
  await waitFor('b to sort them', () => b.t.stats().rejected === 2 && b.t.stats().received === 2, POLL);
  assert.deepEqual([...b.got.keys()], ['a']);
  assert.deepEqual(received(b, 'a').map((m) => m.index), [1, 3]);
});

test('a batch the receiver cannot decode ends only that stream; the sender reconnects', async (t) => {
  const start = nodesFor(t);
  const a = await start('a', { backoff: { initialMs: 10, maxMs: 50 } });
  const b = await start('b');
  a.t.addPeer('b', `${HOST}:${b.port}`);
  a.t.send([appMsg('a', 'b', 1)]);
  await waitFor('first', () => received(b, 'a').length === 1, POLL);
  // A term beyond 2^53 encodes, but the codec refuses to decode it.
  a.t.send([message({ type: MessageType.MSG_HEARTBEAT, from: 'a', to: 'b', term: 2 ** 60 })]);
  // What follows may go out on the dying stream and be lost, so retransmit as Raft would.
  for (let attempt = 0; attempt < 50 && received(b, 'a').length < 2; attempt++) {
    a.t.send([appMsg('a', 'b', 3)]);
    await waitFor('a retransmission', () => received(b, 'a').length >= 2, { timeoutMs: 200, intervalMs: 5 }).catch(() => undefined);
  }
  const seqs = received(b, 'a').map((m) => m.index);
  assert.equal(seqs[0], 1);
  assert.ok(seqs.length >= 2 && seqs.slice(1).every((i) => i === 3), `got ${seqs.join(',')}`);
  assert.equal(b.t.stats().rejected, 0);
});

test('an onMessages handler that throws does not break the stream', async () => {
  let a: Node | undefined;
  let b: GrpcTransport | undefined;
  try {
    const seen: number[] = [];
    b = new GrpcTransport({
      id: 'b',
      listen: `${HOST}:0`,
      onMessages: (_from, msgs) => {
        for (const m of msgs) seen.push(m.index);
        throw new Error('consumer bug');
      },
    });
    const port = await b.start();
    a = await startNode('a');
    a.t.addPeer('b', `${HOST}:${port}`);
    a.t.send([appMsg('a', 'b', 1)]);
    await waitFor('first', () => seen.length === 1, POLL);
    a.t.send([appMsg('a', 'b', 2)]);
    await waitFor('second', () => seen.length === 2, POLL);
    assert.deepEqual(a.t.stats().connectedPeers, ['b']);
  } finally {
    await Promise.all([a?.t.stop() ?? Promise.resolve(), b?.stop() ?? Promise.resolve()]);
  }
});

test('stop() leaves no handles behind: not the listener, the streams, nor a pending reconnect', async () => {
  const countOf = (list: string[], kind: string): number => list.filter((k) => k === kind).length;
  const baseline = process.getActiveResourcesInfo();
  // A long backoff, so that once b is gone a's reconnect timer is certainly still pending at stop().
  const a = await startNode('a', { backoff: { initialMs: 5_000, maxMs: 10_000 } });
  const b = await startNode('b');
  link([a, b]);
  a.t.addPeer('c', `${HOST}:1`); // never answers: its call waits for the channel
  a.t.send([appMsg('a', 'b', 0), appMsg('a', 'c', 0)]);
  await waitFor('one message', () => received(b, 'a').length === 1, POLL);
  await b.t.stop();
  await waitFor('a to see the stream to b end', () => a.t.stats().connectedPeers.length === 0, POLL);
  await a.t.stop();
  // Sockets finish closing a few event-loop turns after stop() resolves; a leaked reconnect
  // timer (5 s away) or a retrying channel would still be there when this gives up.
  const kinds = ['Timeout', 'TCPServerWrap', 'TCPSocketWrap', 'Immediate'];
  const leftovers = (): string[] => {
    const now = process.getActiveResourcesInfo();
    return kinds.filter((k) => countOf(now, k) > countOf(baseline, k));
  };
  await waitFor('handles to close', () => leftovers().length === 0, { timeoutMs: 2_000, intervalMs: 5 }).catch(() => {
    assert.fail(`left behind after stop(): ${leftovers().join(', ')}`);
  });
  // A stopped transport cannot be restarted and sends nothing more.
  await assert.rejects(a.t.start(), /start\(\) called when stopped/);
  a.t.addPeer('b', `${HOST}:${b.port}`);
  a.t.send([appMsg('a', 'b', 1)]);
  assert.equal(a.t.stats().sent, 1);
  assert.deepEqual(a.t.stats().connectedPeers, []);
});

interface Pki {
  ca: Buffer;
  key(id: string): Buffer;
  cert(id: string): Buffer;
}

/** A throwaway CA and one certificate per node, valid for 127.0.0.1, for both server and client use. */
function makePki(dir: string, ids: string[]): Pki {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=baton test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const id of ids) {
    run('req', ...ec, '-keyout', `${id}.key`, '-out', `${id}.csr`, '-subj', `/CN=${id}`);
    run('x509', '-req', '-in', `${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', `${id}.crt`);
  }
  const read = (name: string): Buffer => readFileSync(join(dir, name));
  return { ca: read('ca.crt'), key: (id) => read(`${id}.key`), cert: (id) => read(`${id}.crt`) };
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function mtls(pki: Pki, id: string): Pick<GrpcTransportOptions, 'serverCredentials' | 'channelCredentials'> {
  return {
    serverCredentials: grpc.ServerCredentials.createSsl(pki.ca, [{ private_key: pki.key(id), cert_chain: pki.cert(id) }], true),
    channelCredentials: grpc.credentials.createSsl(pki.ca, pki.key(id), pki.cert(id)),
  };
}

test('messages flow over mutual TLS, and a client without a certificate gets nothing in', async (t: TestContext) => {
  if (!hasOpenssl()) {
    t.skip('openssl CLI not found: cannot make throwaway certificates');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-raft-tls-'));
  const nodes: Node[] = [];
  try {
    const pki = makePki(dir, ['a', 'b']);
    const a = await startNode('a', mtls(pki, 'a'));
    nodes.push(a);
    const b = await startNode('b', mtls(pki, 'b'));
    nodes.push(b);
    link([a, b], 'localhost');
    await pump([[a, b], [b, a]], 2000, 32);
    await waitFor('all messages over TLS', () => received(b, 'a').length === 2000 && received(a, 'b').length === 2000, POLL);
    assertInOrder(b, 'a', 2000);
    assertInOrder(a, 'b', 2000);

    // Trusts the CA but presents no certificate of its own: the server must refuse it.
    const anon = await startNode('anon', { channelCredentials: grpc.credentials.createSsl(pki.ca) });
    nodes.push(anon);
    anon.t.addPeer('b', `localhost:${b.port}`);
    anon.t.send([appMsg('anon', 'b', 0)]);
    // Plaintext against a TLS server fails as well.
    const plain = await startNode('plain');
    nodes.push(plain);
    plain.t.addPeer('b', `${HOST}:${b.port}`);
    plain.t.send([appMsg('plain', 'b', 0)]);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(anon.t.stats().connectedPeers, []);
    assert.deepEqual(plain.t.stats().connectedPeers, []);
    assert.deepEqual([...b.got.keys()], ['a']);
  } finally {
    await stopAll(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
});
