import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { DnsServer, type DnsLookup, type DnsLookupQuery, type DnsServerOptions } from '../../worker/network/dns-server.js';
import { nodeResolvers } from '../../worker/network/resolv-conf.js';
import { FakeUpstream, RCODE, TcpClient, UdpClient, addressOf, deadPort, decodeMessage, encodeQuery, quietLogger } from './dns-fixtures.js';

// Every socket of these tests is on 127.0.53.0/24, each part on its own address: the server,
// the upstreams, the querier (whose address the lookup is given).
const SERVER = '127.0.53.1';
const UPSTREAM_A = '127.0.53.2';
const UPSTREAM_B = '127.0.53.3';
const CLIENT = '127.0.53.9';

const OWNED: Readonly<{ [name: string]: string[] }> = {
  'web.front': ['10.213.4.10', '10.213.4.11'],
  db: ['10.213.4.20'],
  'big.service': Array.from({ length: 100 }, (_, i) => `10.214.0.${i + 1}`),
};

interface World {
  server: DnsServer;
  client: UdpClient;
  lookups: DnsLookupQuery[];
  to: { address: string; port: number };
}

/** The lookup the tests use: OWNED's names with TTL 5, 'gone.front' NXDOMAIN, the rest not ours. */
function tableLookup(lookups: DnsLookupQuery[]): DnsLookup {
  return (q) => {
    lookups.push(q);
    if (q.name === 'gone.front') return 'nxdomain';
    const addresses = OWNED[q.name];
    return addresses ? { addresses, ttl: 5 } : undefined;
  };
}

async function world(t: TestContext, opts: Partial<DnsServerOptions> = {}): Promise<World> {
  const lookups: DnsLookupQuery[] = [];
  const server = new DnsServer({ address: SERVER, port: 0, lookup: tableLookup(lookups), upstreams: [], logger: quietLogger, ...opts });
  await server.listen();
  const client = await UdpClient.on(CLIENT);
  t.after(async () => {
    client.close();
    await server.close();
  });
  return { server, client, lookups, to: { address: SERVER, port: server.port } };
}

async function upstream(t: TestContext, address: string, table: { [name: string]: string } = {}): Promise<FakeUpstream> {
  const fake = await new FakeUpstream(address, table).start();
  t.after(() => fake.stop());
  return fake;
}

test('UDP: an owned name is answered with its addresses, and the lookup learns who asked', async (t) => {
  const w = await world(t);
  const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 0x5151, name: 'Web.Front.' })));
  assert.equal(reply.id, 0x5151);
  assert.equal(reply.rcode, RCODE.NOERROR);
  assert.equal(reply.aa, true);
  assert.deepEqual(reply.questions, [{ name: 'Web.Front', type: 1, class: 1 }]);
  assert.deepEqual(reply.answers.map(addressOf), ['10.213.4.10', '10.213.4.11']);
  assert.deepEqual(reply.answers.map((a) => a.ttl), [5, 5]);
  assert.deepEqual(w.lookups, [{ name: 'web.front', type: 1, from: CLIENT }]);
  assert.deepEqual(w.server.counters, { answered: 1, forwarded: 0, failed: 0, malformed: 0 });
});

test('UDP: AAAA and MX of an owned name are NODATA, an unknown name of our own is NXDOMAIN', async (t) => {
  const w = await world(t);
  for (const type of [28, 15]) {
    const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: type, name: 'db', type })));
    assert.deepEqual([reply.id, reply.rcode, reply.aa, reply.answers.length], [type, RCODE.NOERROR, true, 0], `type ${type}`);
  }
  const nx = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 3, name: 'gone.front' })));
  assert.deepEqual([nx.rcode, nx.aa, nx.answers.length], [RCODE.NXDOMAIN, true, 0]);
  assert.equal(w.server.counters.answered, 3);
});

test('UDP: names not ours go to the upstream and its answer comes back under the querier id', async (t) => {
  const up = await upstream(t, UPSTREAM_A, { 'example.org': '192.0.2.7' });
  const w = await world(t, { upstreams: [up.upstream] });
  const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 0x7777, name: 'Example.org' })));
  assert.equal(reply.id, 0x7777);
  assert.equal(reply.rcode, RCODE.NOERROR);
  assert.deepEqual(reply.answers.map(addressOf), ['192.0.2.7']);
  assert.deepEqual(up.seen.map((s) => [s.name, s.transport]), [['Example.org', 'udp']]);
  const nx = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 0x7778, name: 'nowhere.example' })));
  assert.deepEqual([nx.id, nx.rcode], [0x7778, RCODE.NXDOMAIN]);
  assert.deepEqual(w.server.counters, { answered: 0, forwarded: 2, failed: 0, malformed: 0 });
  // Not the Internet class (CHAOS version.bind): not looked up, the upstream's to answer.
  await w.client.ask(w.to, encodeQuery({ id: 1, name: 'web.front', class: 3, type: 16 }));
  assert.deepEqual(up.seen.at(-1), { name: 'web.front', id: up.seen.at(-1)?.id, type: 16, class: 3, transport: 'udp' });
  assert.equal(w.lookups.length, 2);
});

test('UDP: a burst of forwarded queries, each under a fresh id at the upstream and its own back at the client', async (t) => {
  const table = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`host${i}.example`, `192.0.2.${i + 1}`]));
  const up = await upstream(t, UPSTREAM_A, table);
  const w = await world(t, { upstreams: [up.upstream] });
  const clients = await Promise.all(Array.from({ length: 50 }, () => UdpClient.on(CLIENT)));
  t.after(() => clients.forEach((c) => c.close()));
  const replies = await Promise.all(clients.map((c, i) => c.ask(w.to, encodeQuery({ id: 0x4000, name: `host${i}.example` }))));
  replies.forEach((raw, i) => {
    const reply = decodeMessage(raw);
    assert.deepEqual([reply.id, reply.answers.map(addressOf)], [0x4000, [`192.0.2.${i + 1}`]]);
  });
  assert.equal(up.seen.length, 50);
  // The upstream saw random ids, not the client's (all 50 equal to it by chance: 2^-800).
  assert.ok(up.seen.some((s) => s.id !== 0x4000));
  assert.deepEqual(w.server.counters, { answered: 0, forwarded: 50, failed: 0, malformed: 0 });
});

test('upstreams are tried in order: a refusing one, then one that cannot help, then one that answers', async (t) => {
  const failing = await upstream(t, UPSTREAM_A);
  failing.mode = 'servfail';
  const good = await upstream(t, UPSTREAM_B, { 'example.org': '192.0.2.8' });
  const dead = { host: '127.0.53.4', port: await deadPort('127.0.53.4') };
  const w = await world(t, { upstreams: [dead, failing.upstream, good.upstream] });
  const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 11, name: 'example.org' })));
  assert.deepEqual([reply.id, reply.rcode, reply.answers.map(addressOf)], [11, RCODE.NOERROR, ['192.0.2.8']]);
  assert.equal(failing.seen.length, 1);
  assert.equal(good.seen.length, 1);
  // When no upstream does better, the SERVFAIL an upstream gave is what the client gets.
  w.server.upstreams = [failing.upstream];
  const fallback = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 12, name: 'example.org' })));
  assert.deepEqual([fallback.id, fallback.rcode], [12, RCODE.SERVFAIL]);
});

test('no upstream, upstreams down or silent: SERVFAIL, and the server goes on answering', async (t) => {
  const silent = await upstream(t, UPSTREAM_A);
  silent.mode = 'silent';
  const w = await world(t, { forwardTimeoutMs: 300 });
  const none = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 21, name: 'example.org' })));
  assert.deepEqual([none.id, none.rcode], [21, RCODE.SERVFAIL]);
  w.server.upstreams = [{ host: '127.0.53.4', port: await deadPort('127.0.53.4') }, silent.upstream];
  const down = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 22, name: 'example.org', edns: { udpSize: 1232 } })));
  assert.deepEqual([down.id, down.rcode], [22, RCODE.SERVFAIL]);
  assert.equal(down.additional[0]?.type, 41, 'an EDNS query gets its OPT record on our SERVFAIL too');
  assert.equal(silent.seen.length, 1, 'the silent one was asked once');
  const owned = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 23, name: 'db' })));
  assert.deepEqual(owned.answers.map(addressOf), ['10.213.4.20']);
  assert.deepEqual(w.server.counters, { answered: 1, forwarded: 0, failed: 2, malformed: 0 });
});

test('the upstreams setter: the next query goes to the new list; names and bad ports are ignored', async (t) => {
  const first = await upstream(t, UPSTREAM_A, { 'example.org': '192.0.2.1' });
  const second = await upstream(t, UPSTREAM_B, { 'example.org': '192.0.2.2' });
  const w = await world(t, { upstreams: [first.upstream] });
  const ask = async (id: number): Promise<string[]> => decodeMessage(await w.client.ask(w.to, encodeQuery({ id, name: 'example.org' }))).answers.map(addressOf);
  assert.deepEqual(await ask(1), ['192.0.2.1']);
  w.server.upstreams = [{ host: 'dns.example', port: 53 }, { host: UPSTREAM_A, port: 0 }, second.upstream];
  assert.deepEqual(w.server.upstreams, [second.upstream]);
  assert.deepEqual(await ask(2), ['192.0.2.2']);
  // Its own address is never an upstream: that would loop.
  w.server.upstreams = [{ host: SERVER, port: w.server.port }];
  const self = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 3, name: 'example.org' })));
  assert.equal(self.rcode, RCODE.SERVFAIL);
});

test('BATON_DNS_UPSTREAM points the server at a fake upstream', async (t) => {
  const up = await upstream(t, UPSTREAM_A, { 'example.org': '192.0.2.9' });
  const resolvers = await nodeResolvers({ env: { BATON_DNS_UPSTREAM: `${UPSTREAM_A}:${up.port}` }, path: '/nonexistent/resolv.conf' });
  assert.equal(resolvers.source, 'env');
  const w = await world(t, { upstreams: resolvers.upstreams });
  const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 1, name: 'example.org' })));
  assert.deepEqual(reply.answers.map(addressOf), ['192.0.2.9']);
});

test('UDP truncation: 100 addresses do not fit 512 bytes (TC), they fit an EDNS 4096 answer and TCP', async (t) => {
  const w = await world(t);
  const raw = await w.client.ask(w.to, encodeQuery({ id: 1, name: 'big.service' }));
  const small = decodeMessage(raw);
  assert.ok(raw.length <= 512, `${raw.length} bytes`);
  assert.equal(small.tc, true);
  assert.ok(small.answers.length > 0 && small.answers.length < 100);
  const edns = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 2, name: 'big.service', edns: { udpSize: 4096 } })));
  assert.deepEqual([edns.tc, edns.answers.length], [false, 100]);
  const tcp = await TcpClient.connect(w.to);
  t.after(() => tcp.close());
  tcp.send(encodeQuery({ id: 3, name: 'big.service' }));
  const [whole] = await tcp.receive(1);
  const decoded = decodeMessage(whole!);
  assert.deepEqual([decoded.id, decoded.tc, decoded.answers.length], [3, false, 100]);
  assert.deepEqual(decoded.answers.map(addressOf), OWNED['big.service']);
});

test('TCP: several queries on one connection, owned and forwarded (over TCP), in one write or byte by byte', async (t) => {
  const up = await upstream(t, UPSTREAM_A, { 'example.org': '192.0.2.5' });
  const w = await world(t, { upstreams: [up.upstream] });
  const tcp = await TcpClient.connect(w.to, CLIENT);
  t.after(() => tcp.close());
  tcp.send(encodeQuery({ id: 1, name: 'db' }), encodeQuery({ id: 2, name: 'example.org' }), encodeQuery({ id: 3, name: 'gone.front' }));
  const answers = (await tcp.receive(3)).map(decodeMessage).sort((a, b) => a.id - b.id);
  assert.deepEqual(
    answers.map((a) => [a.id, a.rcode, a.answers.map(addressOf)]),
    [
      [1, RCODE.NOERROR, ['10.213.4.20']],
      [2, RCODE.NOERROR, ['192.0.2.5']],
      [3, RCODE.NXDOMAIN, []],
    ],
  );
  assert.deepEqual(up.seen.map((s) => s.transport), ['tcp']);
  assert.equal(w.lookups[0]?.from, CLIENT);
  // A message split across writes is put back together.
  const framed = Buffer.concat([Buffer.from([0, 0]), encodeQuery({ id: 4, name: 'web.front' })]);
  framed.writeUInt16BE(framed.length - 2, 0);
  for (const byte of framed) {
    tcp.sendRaw(Buffer.from([byte]));
    await new Promise((r) => setImmediate(r));
  }
  const [late] = await tcp.receive(1);
  assert.deepEqual(decodeMessage(late!).answers.map(addressOf), ['10.213.4.10', '10.213.4.11']);
});

test('TCP: a client that shuts its side still gets its answers; an idle connection is closed', async (t) => {
  const w = await world(t, { tcpIdleTimeoutMs: 200 });
  const halfClosed = await TcpClient.connect(w.to);
  t.after(() => halfClosed.close());
  halfClosed.send(encodeQuery({ id: 8, name: 'db' }));
  halfClosed.socket.end();
  const [answer] = await halfClosed.receive(1);
  assert.equal(decodeMessage(answer!).id, 8);
  await halfClosed.closedByServer();

  const idle = await TcpClient.connect(w.to);
  t.after(() => idle.close());
  // Half a message, then nothing: the server does not wait for the rest forever.
  idle.sendRaw(Buffer.from([0, 40, 1, 2]));
  await idle.closedByServer();

  // A message whose bytes trickle in, each well within the idle timeout, is not waited for
  // forever either: 39 more bytes would complete it, and the server hangs up before.
  const trickle = await TcpClient.connect(w.to);
  t.after(() => trickle.close());
  trickle.sendRaw(Buffer.from([0, 40]));
  for (let i = 0; i < 39 && !trickle.closed; i++) {
    await new Promise((r) => setTimeout(r, 50));
    trickle.sendRaw(Buffer.from([0]));
  }
  assert.equal(trickle.closed, true, 'closed before the message was complete');
});

test('bad packets: short ones dropped, unreadable ones FORMERR, loops refused, and the server keeps serving', async (t) => {
  const w = await world(t);
  w.client.send(w.to, Buffer.from([1, 2, 3]));
  const loop = encodeQuery({ id: 0x0bad, name: 'x' });
  loop[12] = 0xc0; // the question name: a pointer to itself
  loop[13] = 12;
  const formerr = decodeMessage(await w.client.ask(w.to, loop));
  assert.deepEqual([formerr.id, formerr.qr, formerr.rcode, formerr.questions.length], [0x0bad, true, RCODE.FORMERR, 0]);
  const twoQuestions = encodeQuery({ id: 0x0bae, name: 'db' });
  twoQuestions.writeUInt16BE(2, 4);
  assert.equal(decodeMessage(await w.client.ask(w.to, twoQuestions)).rcode, RCODE.FORMERR);
  const badVersion = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 0x0baf, name: 'db', edns: { udpSize: 1232, version: 1 } })));
  assert.deepEqual([badVersion.id, badVersion.rcode, badVersion.answers.length], [0x0baf, RCODE.BADVERS, 0]);
  // A response sent to the server is not answered (two servers answering each other would loop).
  const response = encodeQuery({ id: 0x0bb0, name: 'db' });
  response.writeUInt16BE(0x8180, 2);
  const collected = w.client.collect(300);
  w.client.send(w.to, response);
  assert.deepEqual(await collected, []);
  const fine = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 0x600d, name: 'db' })));
  assert.deepEqual([fine.id, fine.answers.map(addressOf)], [0x600d, ['10.213.4.20']]);
  assert.deepEqual(w.server.counters, { answered: 1, forwarded: 0, failed: 0, malformed: 5 });
  // Over TCP: a question cut short is FORMERR, text is no query we implement (its "opcode" is
  // 13), and the connection stays usable.
  const tcp = await TcpClient.connect(w.to);
  t.after(() => tcp.close());
  tcp.send(encodeQuery({ id: 0x600e, name: 'database' }).subarray(0, 16), Buffer.from('this is not dns'), encodeQuery({ id: 0x600f, name: 'db' }));
  const replies = (await tcp.receive(3)).map(decodeMessage);
  assert.deepEqual(
    replies.map((r) => [r.id, r.rcode]),
    [
      [0x600e, RCODE.FORMERR],
      [0x7468, RCODE.NOTIMP],
      [0x600f, RCODE.NOERROR],
    ],
  );
});

test('a lookup that throws is SERVFAIL for that query only', async (t) => {
  const w = await world(t, {
    lookup: (q) => {
      if (q.name === 'boom') throw new Error('network state unavailable');
      return { addresses: ['10.0.0.1'], ttl: 1 };
    },
  });
  const boom = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 1, name: 'boom' })));
  assert.equal(boom.rcode, RCODE.SERVFAIL);
  const ok = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 2, name: 'fine' })));
  assert.deepEqual(ok.answers.map(addressOf), ['10.0.0.1']);
  assert.equal(w.server.counters.failed, 1);
});

test('forwarding in flight is bounded: past the limit a query is SERVFAIL at once', async (t) => {
  const silent = await upstream(t, UPSTREAM_A);
  silent.mode = 'silent';
  const w = await world(t, { upstreams: [silent.upstream], maxInFlight: 1, forwardTimeoutMs: 1500 });
  const order: number[] = [];
  const waiting = w.client.collect(5000, 2);
  w.client.send(w.to, encodeQuery({ id: 1, name: 'slow.example' }));
  // The first query must be with the upstream before the second arrives.
  for (let i = 0; i < 100 && silent.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(silent.seen.length, 1);
  w.client.send(w.to, encodeQuery({ id: 2, name: 'other.example' }));
  for (const reply of await waiting) {
    const m = decodeMessage(reply);
    assert.equal(m.rcode, RCODE.SERVFAIL);
    order.push(m.id);
  }
  // The second is refused while the first still waits for the silent upstream.
  assert.deepEqual(order, [2, 1]);
  assert.equal(silent.seen.length, 1, 'the refused query never reached the upstream');
  assert.equal(w.server.counters.failed, 2);
});

test('listen reports the bind error; close gives up on queries in flight', async (t) => {
  const w = await world(t);
  const clash = new DnsServer({ address: SERVER, port: w.server.port, lookup: () => undefined, upstreams: [], logger: quietLogger });
  await assert.rejects(clash.listen(), { code: 'EADDRINUSE' });
  // A failed listen may be tried again (here still in use), a second concurrent one may not.
  await assert.rejects(clash.listen(), { code: 'EADDRINUSE' });
  const twice = new DnsServer({ address: SERVER, port: 0, lookup: () => undefined, upstreams: [], logger: quietLogger });
  const first = twice.listen();
  await assert.rejects(twice.listen(), /already started/);
  await first;
  await twice.close();
  await assert.rejects(twice.listen(), /already closed/);
  const abandoned = new DnsServer({ address: SERVER, port: 0, lookup: () => undefined, upstreams: [], logger: quietLogger });
  const starting = abandoned.listen();
  await abandoned.close();
  await assert.rejects(starting, /closed while starting/);
  // TEST-NET-1 is no address of this machine.
  const elsewhere = new DnsServer({ address: '192.0.2.1', port: 0, lookup: () => undefined, upstreams: [], logger: quietLogger });
  await assert.rejects(elsewhere.listen(), { code: 'EADDRNOTAVAIL' });
  await assert.rejects(new DnsServer({ address: '::1', port: 0, lookup: () => undefined, upstreams: [], logger: quietLogger }).listen(), /not an IPv4 address/);

  // TCP taken on a port whose UDP is free: the error is TCP's and the UDP port is given back.
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, SERVER, resolve));
  t.after(() => holder.close());
  const taken = (holder.address() as AddressInfo).port;
  await assert.rejects(new DnsServer({ address: SERVER, port: taken, lookup: () => undefined, upstreams: [], logger: quietLogger }).listen(), { code: 'EADDRINUSE' });
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(taken, SERVER, resolve);
  });
  udp.close();

  const silent = await upstream(t, UPSTREAM_A);
  silent.mode = 'silent';
  const closing = new DnsServer({ address: SERVER, port: 0, lookup: () => undefined, upstreams: [silent.upstream], logger: quietLogger, forwardTimeoutMs: 60_000 });
  await closing.listen();
  const client = await UdpClient.on(CLIENT);
  t.after(() => client.close());
  client.send({ address: SERVER, port: closing.port }, encodeQuery({ id: 1, name: 'slow.example' }));
  for (let i = 0; i < 100 && silent.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(silent.seen.length, 1);
  // Resolves although the upstream would keep the query for a minute.
  await closing.close();
  await closing.close();
  // The port is free again for UDP and TCP.
  const again = new DnsServer({ address: SERVER, port: closing.port, lookup: () => undefined, upstreams: [], logger: quietLogger });
  await again.listen();
  await again.close();
});

test('a name of ours through a search domain: the upstream first, ours when it has no address, its own when it has one', async (t) => {
  const up = await upstream(t, UPSTREAM_A, { 'real.example.com': '192.0.2.30' });
  const lookups: DnsLookupQuery[] = [];
  // db.example.com and real.example.com stand for services db and real asked through the
  // asker's search domain example.com.
  const lookup: DnsLookup = (q) => {
    lookups.push(q);
    if (q.name === 'db.example.com') return { addresses: ['10.213.4.20'], ttl: 5, unlessUpstream: true };
    if (q.name === 'real.example.com') return { addresses: ['10.213.4.30'], ttl: 5, unlessUpstream: true };
    return undefined;
  };
  const w = await world(t, { lookup, upstreams: [up.upstream], forwardTimeoutMs: 300 });
  // NXDOMAIN upstream: our address, authoritative.
  const ours = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 41, name: 'db.example.com' })));
  assert.deepEqual([ours.id, ours.rcode, ours.aa, ours.answers.map(addressOf)], [41, RCODE.NOERROR, true, ['10.213.4.20']]);
  assert.deepEqual(up.seen.map((s) => s.name), ['db.example.com']);
  // A real host of that name upstream wins over the service.
  const theirs = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 42, name: 'real.example.com' })));
  assert.deepEqual([theirs.id, theirs.rcode, theirs.aa, theirs.answers.map(addressOf)], [42, RCODE.NOERROR, false, ['192.0.2.30']]);
  // NODATA upstream (AAAA of its host): ours, NODATA too but authoritative.
  const nodata = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 43, name: 'real.example.com', type: 28 })));
  assert.deepEqual([nodata.id, nodata.rcode, nodata.aa, nodata.answers.length], [43, RCODE.NOERROR, true, 0]);
  assert.deepEqual(w.server.counters, { answered: 2, forwarded: 1, failed: 0, malformed: 0 });
  // An upstream that fails or is silent does not turn our name into SERVFAIL.
  for (const mode of ['servfail', 'silent'] as const) {
    up.mode = mode;
    const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 44, name: 'db.example.com' })));
    assert.deepEqual([reply.rcode, reply.aa, reply.answers.map(addressOf)], [RCODE.NOERROR, true, ['10.213.4.20']], mode);
  }
  // Over TCP the same.
  up.mode = 'answer';
  const tcp = await TcpClient.connect(w.to, CLIENT);
  t.after(() => tcp.close());
  tcp.send(encodeQuery({ id: 45, name: 'DB.example.com' }));
  const overTcp = decodeMessage((await tcp.receive(1))[0]!);
  assert.deepEqual([overTcp.id, overTcp.rcode, overTcp.answers.map(addressOf)], [45, RCODE.NOERROR, ['10.213.4.20']]);
  assert.equal(up.seen.at(-1)?.transport, 'tcp');
  assert.equal(w.server.counters.failed, 0);
});

test('a name of ours through a search domain with no upstream at all is ours at once', async (t) => {
  const lookup: DnsLookup = (q) => (q.name === 'db.example.com' ? { addresses: ['10.213.4.20'], ttl: 5, unlessUpstream: true } : undefined);
  const w = await world(t, { lookup });
  const reply = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 51, name: 'db.example.com' })));
  assert.deepEqual([reply.rcode, reply.aa, reply.answers.map(addressOf)], [RCODE.NOERROR, true, ['10.213.4.20']]);
  const other = decodeMessage(await w.client.ask(w.to, encodeQuery({ id: 52, name: 'other.example.com' })));
  assert.equal(other.rcode, RCODE.SERVFAIL);
  assert.deepEqual(w.server.counters, { answered: 1, forwarded: 0, failed: 1, malformed: 0 });
});
