import test from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import { PROXY_V2_SIGNATURE, ipv6Bytes, proxyV1Header, proxyV2Header } from '../../mesh/proxy-header.js';
import { ENGINES, eventually, freePort, greeterBackend, lineClient, metricValue, newMesh, service, udpSocket, type LineClient } from './mesh-fixtures.js';

/** A UDP echo server that prefixes each reply with its name. */
async function udpEcho(name: string): Promise<{ addr: string; socket: UdpSocket }> {
  const socket = udpSocket();
  socket.on('message', (msg, rinfo) => socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { addr: `127.0.0.1:${socket.address().port}`, socket };
}

function ask(client: UdpSocket, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP reply to ${text}`)), 3000);
    client.once('message', (msg: Buffer, _r: RemoteInfo) => {
      clearTimeout(timer);
      resolve(msg.toString());
    });
    client.send(text, port, '127.0.0.1');
  });
}

test('UDP: each client gets its own flow to a backend and the replies back', async (t) => {
  const echoes = await Promise.all(['a', 'b'].map((n) => udpEcho(n)));
  const clients = [udpSocket(), udpSocket()];
  const mesh = newMesh();
  t.after(async () => {
    await mesh.close();
    for (const s of [...clients, ...echoes.map((e) => e.socket)]) s.close();
  });
  const port = await freePort();
  mesh.apply([service('dns', [{ port, protocol: 'udp', backends: echoes.map((e) => e.addr) }])]);
  await mesh.settled();
  await Promise.all(clients.map((c) => new Promise<void>((r) => c.bind(0, '127.0.0.1', r))));
  const first = await ask(clients[0]!, port, 'one');
  const second = await ask(clients[1]!, port, 'two');
  const again = await ask(clients[0]!, port, 'three');
  const backendOf = (reply: string): string => reply.split(':')[0]!;
  assert.match(first, /^[ab]:one$/);
  assert.match(second, /^[ab]:two$/);
  assert.notEqual(backendOf(first), backendOf(second), 'two clients, two flows, round-robin');
  assert.equal(backendOf(again), backendOf(first), 'a client stays on its flow');
  const metrics = mesh.metricsText();
  assert.equal(metricValue(metrics, 'baton_mesh_udp_datagrams_total', ['service="dns"', 'direction="in"']), 3);
  assert.equal(metricValue(metrics, 'baton_mesh_udp_datagrams_total', ['service="dns"', 'direction="out"']), 3);
  assert.equal(metricValue(metrics, 'baton_mesh_connections_open', ['protocol="udp"']), 2);
});

test('UDP: a port with no backends drops datagrams; a backend leaving the table moves its flows', async (t) => {
  const a = await udpEcho('a');
  const b = await udpEcho('b');
  const client = udpSocket();
  const mesh = newMesh();
  t.after(async () => {
    await mesh.close();
    for (const s of [client, a.socket, b.socket]) s.close();
  });
  const port = await freePort();
  mesh.apply([service('dns', [{ port, protocol: 'udp', backends: [] }])]);
  await mesh.settled();
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  await assert.rejects(ask(client, port, 'lost'), /no UDP reply/);
  mesh.apply([service('dns', [{ port, protocol: 'udp', backends: [a.addr] }])]);
  assert.equal(await ask(client, port, 'x'), 'a:x');
  mesh.apply([service('dns', [{ port, protocol: 'udp', backends: [b.addr] }])]);
  assert.equal(await ask(client, port, 'y'), 'b:y');
});

/** Reads a PROXY header (v1 line or v2 binary) from the start of a connection. */
function readProxyHeader(socket: Socket): Promise<{ src: string; srcPort: number; dst: string; dstPort: number; version: 1 | 2 }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 16 && buf.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) {
        const len = buf.readUInt16BE(14);
        if (buf.length < 16 + len) return;
        socket.off('data', onData);
        if (buf[12] !== 0x21 || buf[13] !== 0x11 || len !== 12) return reject(new Error(`unexpected v2 header ${buf.subarray(0, 16).toString('hex')}`));
        const ip = (o: number): string => [...buf.subarray(o, o + 4)].join('.');
        resolve({ version: 2, src: ip(16), dst: ip(20), srcPort: buf.readUInt16BE(24), dstPort: buf.readUInt16BE(26) });
        return;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      socket.off('data', onData);
      const parts = buf.subarray(0, nl).toString('latin1').split(' ');
      if (parts[0] !== 'PROXY' || parts[1] !== 'TCP4' || parts.length !== 6) return reject(new Error(`unexpected v1 header ${parts.join(' ')}`));
      resolve({ version: 1, src: parts[2]!, dst: parts[3]!, srcPort: Number(parts[4]), dstPort: Number(parts[5]) });
    };
    socket.on('data', onData);
  });
}

for (const [engine, version] of ENGINES.flatMap((e) => (['v1', 'v2'] as const).map((v) => [e, v] as const))) {
  test(`${engine}: PROXY protocol ${version}: the backend learns the client's address and port`, async (t) => {
    const headers: Awaited<ReturnType<typeof readProxyHeader>>[] = [];
    const backend = await greeterBackend('p', (s) => {
      void readProxyHeader(s).then((h) => {
        headers.push(h);
        s.write('ok\n');
      });
    });
    const mesh = newMesh(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await backend.close();
    });
    const port = await freePort();
    mesh.apply([service('pp', [{ port, backends: [backend.addr], proxy: version }])]);
    await mesh.settled();
    const c = await lineClient(port);
    clients.push(c);
    assert.equal(await c.nextLine(), 'ok');
    await eventually(() => headers.length === 1, 'the header');
    assert.deepEqual(headers[0], { version: version === 'v1' ? 1 : 2, src: '127.0.0.1', srcPort: c.socket.localPort, dst: '127.0.0.1', dstPort: port });
  });
}

test('PROXY headers: exact bytes for IPv4 and IPv6', () => {
  const v4 = { sourceAddress: '::ffff:10.1.2.3', sourcePort: 5555, destAddress: '::ffff:10.0.0.1', destPort: 80 };
  assert.equal(proxyV1Header(v4).toString(), 'PROXY TCP4 10.1.2.3 10.0.0.1 5555 80\r\n');
  assert.equal(proxyV2Header(v4).toString('hex'), `${PROXY_V2_SIGNATURE.toString('hex')}2111000c0a0102030a00000115b30050`);
  const v6 = { sourceAddress: '2001:db8::1', sourcePort: 1, destAddress: '::1', destPort: 2 };
  assert.equal(proxyV1Header(v6).toString(), 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n');
  const h6 = proxyV2Header(v6);
  assert.equal(h6.length, 16 + 36);
  assert.equal(h6[13], 0x21);
  assert.equal(h6.subarray(16, 32).toString('hex'), '20010db8000000000000000000000001');
  assert.equal(h6.subarray(32, 48).toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipv6Bytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(proxyV1Header({ sourceAddress: undefined, sourcePort: undefined, destAddress: '::1', destPort: 1 }).toString(), 'PROXY UNKNOWN\r\n');
});
