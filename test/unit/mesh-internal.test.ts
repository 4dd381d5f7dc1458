// Service addresses (east-west): listeners on given addresses (applyInternal), with the allow
// list that keeps networks apart. Loopback stands in for a network's bridge: every 127.0.0.x is
// a local address, so a listener on 127.0.0.21 and a client bound to 127.0.0.40 behave as a VIP
// and a container of another network would.
import test from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import { createRoutingMesh, type InternalPort, type RoutingMesh } from '../../mesh/index.js';
import { ENGINES, eventually, freePort, greeterBackend, lineClient, metricValue, quietLogger, service, udpSocket, type Engine, type GreeterBackend, type LineClient } from './mesh-fixtures.js';

const VIP = '127.0.0.21';
const VIP2 = '127.0.0.23';
const BACKEND_HOST = '127.0.0.22';
/** In the allow list used below (127.0.0.30/31), and outside it. */
const INSIDE = '127.0.0.31';
const OUTSIDE = '127.0.0.40';

function meshOn(engine: Engine, workers = 1, preconnect?: number): RoutingMesh {
  return createRoutingMesh({ bindAddress: '127.0.0.1', logger: quietLogger, engine, workers, ...(preconnect === undefined ? {} : { preconnect }) });
}

function tcpPort(address: string, port: number, backends: string[], allowFrom: string[] = [], serviceName = 'api'): InternalPort {
  return { address, protocol: 'tcp', port, serviceName, leastConnections: false, backends, allowFrom };
}

/** Connections a backend has accepted so far. */
function countAccepts(b: GreeterBackend): () => number {
  let n = 0;
  b.server.on('connection', () => n++);
  return () => n;
}

/**
 * Connects from `localAddress` and reads until the connection ends (at most 3 s: then code
 * 'TIMEOUT'): its error code (if any) and what arrived.
 */
function connectAndRead(host: string, port: number, localAddress?: string): Promise<{ code: string | undefined; data: string }> {
  return new Promise((resolve) => {
    const s = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let data = '';
    let code: string | undefined;
    const timer = setTimeout(() => {
      code = 'TIMEOUT';
      s.destroy();
    }, 3000);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('error', (err: NodeJS.ErrnoException) => (code = err.code));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ code, data });
    });
  });
}

for (const engine of ENGINES) {
  test(`${engine}: a service address relays to backends on another address; its metrics carry the address; apply() leaves it alone`, async (t) => {
    const backends = await Promise.all(['a', 'b'].map((n) => greeterBackend(n, undefined, BACKEND_HOST)));
    const mesh = meshOn(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await Promise.all(backends.map((b) => b.close()));
    });
    const port = await freePort(VIP);
    mesh.applyInternal([tcpPort(VIP, port, backends.map((b) => b.addr))]);
    await mesh.settled();
    const seen: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await lineClient(port, VIP);
      clients.push(c);
      seen.push(await c.nextLine());
    }
    assert.deepEqual(seen.sort(), ['a', 'b']);
    // The published-port table is another set: replacing it (here: with nothing) keeps this one.
    mesh.apply([]);
    await mesh.settled();
    const c3 = await lineClient(port, VIP);
    clients.push(c3);
    assert.match(await c3.nextLine(), /^[ab]$/);
    c3.socket.write('ping\n');
    assert.equal(await c3.nextLine(), 'ping');
    const metrics = mesh.metricsText();
    assert.equal(metricValue(metrics, 'baton_mesh_connections_total', ['service="api"', `port="${port}"`, `address="${VIP}"`]), 3);
    assert.equal(metricValue(metrics, 'baton_mesh_connections_open', [`address="${VIP}"`]), 3);
    assert.match(metrics, new RegExp(`baton_mesh_refused_total\\{service="api",protocol="tcp",port="${port}",address="${VIP}"\\} 0`));
  });

  test(`${engine}: allowFrom: a source outside is reset before any backend is dialled and counted; one inside is relayed`, async (t) => {
    const a = await greeterBackend('a', undefined, BACKEND_HOST);
    const accepts = countAccepts(a);
    // No pre-opened backend connections: every connection the backend accepts is a relayed one.
    const mesh = meshOn(engine, 1, 0);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await a.close();
    });
    const port = await freePort(VIP);
    mesh.applyInternal([tcpPort(VIP, port, [a.addr], ['10.0.0.0/8', '127.0.0.30/31'])]);
    await mesh.settled();
    const outside = await connectAndRead(VIP, port, OUTSIDE);
    assert.equal(outside.code, 'ECONNRESET', 'a reset, not a greeting');
    assert.equal(outside.data, '');
    const held = await lineClient(port, VIP, INSIDE);
    clients.push(held);
    assert.equal(await held.nextLine(), 'a');
    assert.equal(accepts(), 1, 'the refused connection never reached the backend');
    let metrics = mesh.metricsText();
    assert.equal(metricValue(metrics, 'baton_mesh_refused_total', [`address="${VIP}"`, `port="${port}"`]), 1);
    assert.equal(metricValue(metrics, 'baton_mesh_connections_total', [`address="${VIP}"`]), 1);

    // A new list applies to new connections; the one established from the source now outside goes on.
    mesh.applyInternal([tcpPort(VIP, port, [a.addr], [OUTSIDE])]);
    await mesh.settled();
    const nowInside = await lineClient(port, VIP, OUTSIDE);
    clients.push(nowInside);
    assert.equal(await nowInside.nextLine(), 'a');
    const nowOutside = await connectAndRead(VIP, port, INSIDE);
    assert.equal(nowOutside.code, 'ECONNRESET');
    held.socket.write('still here\n');
    assert.equal(await held.nextLine(), 'still here');
    metrics = mesh.metricsText();
    assert.equal(metricValue(metrics, 'baton_mesh_refused_total', [`address="${VIP}"`]), 2);
    assert.equal(accepts(), 2);

    // An empty list lets every source in.
    mesh.applyInternal([tcpPort(VIP, port, [a.addr], [])]);
    const anyone = await lineClient(port, VIP, INSIDE);
    clients.push(anyone);
    assert.equal(await anyone.nextLine(), 'a');
  });

  test(`${engine}: replacing the set closes removed addresses (freed), keeps established connections of kept ones, swaps backends; none left resets`, async (t) => {
    const a = await greeterBackend('a', undefined, BACKEND_HOST);
    const b = await greeterBackend('b', undefined, BACKEND_HOST);
    const mesh = meshOn(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await Promise.all([a.close(), b.close()]);
    });
    // The same port on two addresses: two listeners, told apart by address.
    const port = await freePort(VIP);
    mesh.applyInternal([tcpPort(VIP, port, [a.addr], [], 'one'), tcpPort(VIP2, port, [a.addr], [], 'two')]);
    await mesh.settled();
    const held = await lineClient(port, VIP);
    clients.push(held);
    assert.equal(await held.nextLine(), 'a');
    const other = await lineClient(port, VIP2);
    clients.push(other);
    assert.equal(await other.nextLine(), 'a');

    mesh.applyInternal([tcpPort(VIP, port, [b.addr], [], 'one')]);
    await mesh.settled();
    const fresh = await lineClient(port, VIP);
    clients.push(fresh);
    assert.equal(await fresh.nextLine(), 'b', 'new connections use the new backends');
    held.socket.write('kept\n');
    assert.equal(await held.nextLine(), 'kept', 'an established connection of a kept listener goes on');
    other.socket.write('removed\n');
    assert.equal(await other.nextLine(), 'removed', 'so does one of a removed listener (only the listening socket closes)');
    const squat = createServer();
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          squat.once('error', () => resolve(false));
          squat.listen(port, VIP2, () => resolve(true));
        }),
      'the removed address to be free',
      50,
    );
    await new Promise<void>((r) => squat.close(() => r()));
    const metrics = mesh.metricsText();
    assert.doesNotMatch(metrics, new RegExp(`address="${VIP2.replace(/\./g, '\\.')}"`));
    assert.equal(metricValue(metrics, 'baton_mesh_connections_total', ['service="one"', `backend="${b.addr}"`]), 1);

    mesh.applyInternal([tcpPort(VIP, port, [], [], 'one')]);
    const empty = await connectAndRead(VIP, port);
    assert.equal(empty.code, 'ECONNRESET', 'bound, no backend: reset at once');
  });

  test(`${engine}: a service address opens no connection ahead of a caller (no pre-connected pool), while a published port does`, async (t) => {
    const vipBackend = await greeterBackend('v', undefined, BACKEND_HOST);
    const pubBackend = await greeterBackend('p', undefined, BACKEND_HOST);
    const vipAccepts = countAccepts(vipBackend);
    const pubAccepts = countAccepts(pubBackend);
    // The mesh's default pool size: published ports keep pre-connecting, as before.
    const mesh = meshOn(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await Promise.all([vipBackend.close(), pubBackend.close()]);
    });
    const vipPort = await freePort(VIP);
    const pubPort = await freePort();
    mesh.applyInternal([tcpPort(VIP, vipPort, [vipBackend.addr])]);
    mesh.apply([service('pub', [{ port: pubPort, backends: [pubBackend.addr] }])]);
    await mesh.settled();
    for (let i = 0; i < 3; i++) {
      const v = await lineClient(vipPort, VIP);
      const p = await lineClient(pubPort);
      clients.push(v, p);
      assert.equal(await v.nextLine(), 'v');
      assert.equal(await p.nextLine(), 'p');
    }
    // The published port's pool refills after each take: its backend sees more connections
    // than callers. A backend behind a service address sees exactly one per caller (a small
    // accept queue, such as busybox httpd's, is never overflowed by the mesh's own connections).
    await eventually(() => pubAccepts() > 3, 'the published port pre-connects');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(vipAccepts(), 3, 'one backend connection per caller through the service address');
  });

  test(`${engine}: a service address that cannot be bound is retried on the next call`, async (t) => {
    const a = await greeterBackend('a', undefined, BACKEND_HOST);
    const mesh = meshOn(engine);
    const squatter = createServer();
    const port = await freePort(VIP);
    await new Promise<void>((r) => squatter.listen(port, VIP, r));
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await a.close();
    });
    const ports = [tcpPort(VIP, port, [a.addr])];
    assert.doesNotThrow(() => mesh.applyInternal(ports));
    await mesh.settled();
    await new Promise<void>((r) => squatter.close(() => r()));
    mesh.applyInternal(ports);
    await mesh.settled();
    const c = await lineClient(port, VIP);
    clients.push(c);
    assert.equal(await c.nextLine(), 'a');
  });

  test(`${engine}: with worker processes, service addresses relay and refuse as without, their counters complete at once (this process's); published ports still relay`, async (t) => {
    const a = await greeterBackend('a', undefined, BACKEND_HOST);
    const mesh = meshOn(engine, 2);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await a.close();
    });
    const vipPort = await freePort(VIP);
    const published = await freePort();
    mesh.apply([service('pub', [{ port: published, backends: [a.addr] }])]);
    mesh.applyInternal([tcpPort(VIP, vipPort, [a.addr], [INSIDE])]);
    await mesh.settled();
    for (let i = 0; i < 4; i++) {
      const c = await lineClient(vipPort, VIP, INSIDE);
      clients.push(c);
      assert.equal(await c.nextLine(), 'a');
    }
    // Workers report their counters only every 500 ms: counts complete at once mean this process accepted every one.
    assert.equal(metricValue(mesh.metricsText(), 'baton_mesh_connections_open', [`address="${VIP}"`]), 4);
    assert.equal((await connectAndRead(VIP, vipPort, OUTSIDE)).code, 'ECONNRESET', 'the allow list holds with workers');
    const viaPublished = await lineClient(published);
    clients.push(viaPublished);
    assert.equal(await viaPublished.nextLine(), 'a');
  });
}

/** A UDP echo server on BACKEND_HOST that prefixes each reply with its name and counts what it got. */
async function udpEcho(name: string): Promise<{ addr: string; socket: UdpSocket; received: () => number }> {
  const socket = udpSocket();
  let received = 0;
  socket.on('message', (msg, rinfo) => {
    received++;
    socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, BACKEND_HOST, r));
  return { addr: `${BACKEND_HOST}:${socket.address().port}`, socket, received: () => received };
}

function ask(client: UdpSocket, address: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP reply to ${text}`)), 3000);
    client.once('message', (msg: Buffer, _r: RemoteInfo) => {
      clearTimeout(timer);
      resolve(msg.toString());
    });
    client.send(text, port, address);
  });
}

test('UDP on a service address: datagrams from outside allowFrom are dropped and counted, from inside relayed; removal frees it', async (t) => {
  const echo = await udpEcho('a');
  const inside = udpSocket();
  const outside = udpSocket();
  const mesh = meshOn('net');
  t.after(async () => {
    await mesh.close();
    for (const s of [inside, outside, echo.socket]) s.close();
  });
  await new Promise<void>((r) => inside.bind(0, INSIDE, r));
  await new Promise<void>((r) => outside.bind(0, OUTSIDE, r));
  let outsideReplies = 0;
  outside.on('message', () => outsideReplies++);
  const port = await freePort(VIP);
  const udp: InternalPort = { address: VIP, protocol: 'udp', port, serviceName: 'dns', leastConnections: false, backends: [echo.addr], allowFrom: ['127.0.0.30/31'] };
  mesh.applyInternal([udp]);
  await mesh.settled();
  // Both reach the mesh's one socket in the order sent: once the inside one is answered, the outside one was handled.
  outside.send('blocked', port, VIP);
  assert.equal(await ask(inside, VIP, port, 'hello'), 'a:hello');
  assert.equal(echo.received(), 1, 'only the allowed datagram reached the backend');
  assert.equal(outsideReplies, 0);
  let metrics = mesh.metricsText();
  assert.equal(metricValue(metrics, 'baton_mesh_refused_total', ['protocol="udp"', `address="${VIP}"`]), 1);
  assert.equal(metricValue(metrics, 'baton_mesh_udp_datagrams_total', [`address="${VIP}"`, 'direction="in"']), 1);

  // The list changes: every datagram is checked, so the open flow from INSIDE is cut off too.
  mesh.applyInternal([{ ...udp, allowFrom: [OUTSIDE] }]);
  inside.send('now blocked', port, VIP);
  assert.equal(await ask(outside, VIP, port, 'now allowed'), 'a:now allowed');
  assert.equal(echo.received(), 2);
  metrics = mesh.metricsText();
  assert.equal(metricValue(metrics, 'baton_mesh_refused_total', ['protocol="udp"', `address="${VIP}"`]), 2);

  mesh.applyInternal([]);
  await mesh.settled();
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        // A fresh socket each try: a dgram socket whose bind failed cannot bind again.
        const probe = udpSocket();
        probe.once('error', () => {
          probe.close();
          resolve(false);
        });
        probe.bind(port, VIP, () => probe.close(() => resolve(true)));
      }),
    'the UDP service address to be free',
    50,
  );
  assert.doesNotMatch(mesh.metricsText(), /address="127\.0\.0\.21"/);
});

test('connections the kernel path took (kernelConnections) count with the service and show as baton_mesh_kernel_connections_total', async (t) => {
  const backend = await greeterBackend('a', undefined, BACKEND_HOST);
  const mesh = meshOn('net');
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const port = await freePort(VIP);
  const listener = { ...tcpPort(VIP, port, [backend.addr]), kernelConnections: 5 };
  mesh.applyInternal([listener]);
  await mesh.settled();
  const c = await lineClient(port, VIP);
  assert.equal(await c.nextLine(), 'a');
  c.socket.destroy();
  // Counted when the backend accepted, before it greeted.
  assert.equal(mesh.connectionTotals().get('api'), 6, 'one relayed + five by the kernel');
  assert.equal(metricValue(mesh.metricsText(), 'baton_mesh_kernel_connections_total', ['service="api"', `address="${VIP}"`, `port="${port}"`]), 5);
  // Later counts replace earlier ones (cumulative); a list without them keeps the last.
  mesh.applyInternal([{ ...listener, kernelConnections: 9 }]);
  assert.equal(mesh.connectionTotals().get('api'), 10);
  mesh.applyInternal([tcpPort(VIP, port, [backend.addr])]);
  assert.equal(mesh.connectionTotals().get('api'), 10);
});
