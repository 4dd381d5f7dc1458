import test from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import {
  closeHttp,
  eventually,
  freePort,
  greeterBackend,
  httpBackend,
  httpGet,
  lineClient,
  metricValue,
  newMesh,
  service,
  type LineClient,
  ENGINES,
} from './mesh-fixtures.js';

for (const engine of ENGINES) {
  test(`${engine}: round-robin spreads new connections evenly over three backends`, async (t) => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => httpBackend(n)));
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await Promise.all(backends.map((b) => closeHttp(b.server)));
    });
    const port = await freePort();
    mesh.apply([service('web', [{ port, backends: backends.map((b) => b.addr) }])]);
    await mesh.settled();
    const counts = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const name = await httpGet(port);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries([...counts].sort()), { a: 3, b: 3, c: 3 });
    const metrics = mesh.metricsText();
    assert.equal(metricValue(metrics, 'baton_mesh_connections_total', ['service="web"', `port="${port}"`]), 9);
    for (const b of backends) {
      assert.equal(metricValue(metrics, 'baton_mesh_connections_total', [`backend="${b.addr}"`]), 3);
      assert.ok(metricValue(metrics, 'baton_mesh_bytes_total', [`backend="${b.addr}"`, 'direction="in"']) > 0);
      assert.ok(metricValue(metrics, 'baton_mesh_bytes_total', [`backend="${b.addr}"`, 'direction="out"']) > 0);
    }
    assert.match(metrics, /# TYPE baton_mesh_connections_open gauge/);
    await eventually(() => metricValue(mesh.metricsText(), 'baton_mesh_connections_open', ['service="web"']) === 0, 'connections to close');
  });

  test(`${engine}: least-connections sends a new connection to the idle backend where round-robin would not`, async (t) => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => greeterBackend(n)));
    const mesh = newMesh(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await Promise.all(backends.map((b) => b.close()));
    });
    const port = await freePort();
    mesh.apply([service('lc', [{ port, backends: backends.map((b) => b.addr) }], true)]);
    await mesh.settled();
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await lineClient(port);
      clients.push(c);
      seen.push(await c.nextLine());
    }
    assert.deepEqual([...seen].sort(), ['a', 'b', 'c'], 'three held connections, one per backend');
    // Free the second backend's connection: round-robin would go to the first next, least-connections to it.
    const freed = seen[1]!;
    clients[1]!.socket.destroy();
    await eventually(() => metricValue(mesh.metricsText(), 'baton_mesh_connections_open', [`backend="${backends.find((_, i) => 'abc'[i] === freed)!.addr}"`]) === 0, 'the freed backend to be idle');
    const c4 = await lineClient(port);
    clients.push(c4);
    assert.equal(await c4.nextLine(), freed);
  });

  test(`${engine}: a backend that refuses is skipped: no client connection fails, and the failure is counted`, async (t) => {
    const live = await Promise.all(['a', 'b'].map((n) => httpBackend(n)));
    const deadPort = await freePort();
    const dead = `127.0.0.1:${deadPort}`;
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await Promise.all(live.map((b) => closeHttp(b.server)));
    });
    const port = await freePort();
    mesh.apply([service('web', [{ port, backends: [dead, live[0]!.addr, live[1]!.addr] }])]);
    await mesh.settled();
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) answers.push(await httpGet(port));
    assert.equal(answers.length, 12);
    assert.ok(answers.every((a) => a === 'a' || a === 'b'), answers.join(','));
    const metrics = mesh.metricsText();
    const failures = metricValue(metrics, 'baton_mesh_backend_failures_total', [`backend="${dead}"`]);
    assert.ok(failures >= 1, `failures on the dead backend: ${failures}`);
    // Marked failed after the first refusal, it is avoided by the following connections.
    assert.ok(failures <= 2, `the dead backend should be avoided for a while, yet was tried ${failures} times`);
    assert.equal(metricValue(metrics, 'baton_mesh_connections_total', [`backend="${dead}"`]), 0);
  });

  test(`${engine}: when every backend refuses, the client gets a reset`, async (t) => {
    const mesh = newMesh(engine);
    t.after(() => mesh.close());
    const port = await freePort();
    mesh.apply([service('web', [{ port, backends: [`127.0.0.1:${await freePort()}`] }])]);
    await mesh.settled();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', resolve);
      s.on('close', () => resolve(undefined));
      s.resume();
    });
    assert.equal(err?.code, 'ECONNRESET');
  });

  test(`${engine}: a port with no backends stays bound and resets new connections at once`, async (t) => {
    const mesh = newMesh(engine);
    t.after(() => mesh.close());
    const port = await freePort();
    mesh.apply([service('empty', [{ port, backends: [] }])]);
    await mesh.settled();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', resolve);
      s.on('close', () => resolve(undefined));
      s.resume();
    });
    assert.equal(err?.code, 'ECONNRESET', 'a reset, not a refusal (the port is bound) nor a hang');
  });

  test(`${engine}: apply() with a new backend set keeps established connections; new ones use the new set`, async (t) => {
    const a = await greeterBackend('a');
    const b = await greeterBackend('b');
    const mesh = newMesh(engine);
    const clients: LineClient[] = [];
    t.after(async () => {
      for (const c of clients) c.socket.destroy();
      await mesh.close();
      await Promise.all([a.close(), b.close()]);
    });
    const port = await freePort();
    mesh.apply([service('web', [{ port, backends: [a.addr] }])]);
    await mesh.settled();
    const held = await lineClient(port);
    clients.push(held);
    assert.equal(await held.nextLine(), 'a');
    mesh.apply([service('web', [{ port, backends: [b.addr] }])]);
    const fresh = await lineClient(port);
    clients.push(fresh);
    assert.equal(await fresh.nextLine(), 'b');
    held.socket.write('still here\n');
    assert.equal(await held.nextLine(), 'still here', 'the connection to the removed backend still relays');
    // Metrics keep the retired backend's counters.
    assert.equal(metricValue(mesh.metricsText(), 'baton_mesh_connections_total', [`backend="${a.addr}"`]), 1);
  });

  test(`${engine}: removing a port from the table closes its listener and frees the port`, async (t) => {
    const a = await httpBackend('a');
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeHttp(a.server);
    });
    const port = await freePort();
    mesh.apply([service('web', [{ port, backends: [a.addr] }])]);
    await mesh.settled();
    assert.equal(await httpGet(port), 'a');
    mesh.apply([]);
    await mesh.settled();
    const server = createServer();
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          server.once('error', () => resolve(false));
          server.listen(port, '127.0.0.1', () => resolve(true));
        }),
      'the port to be free',
      50,
    );
    await new Promise<void>((r) => server.close(() => r()));
    assert.doesNotMatch(mesh.metricsText(), new RegExp(`port="${port}"`));
  });

  test(`${engine}: a port that cannot be bound is retried on the next apply`, async (t) => {
    const a = await httpBackend('a');
    const squatter = createServer();
    const port = await freePort();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeHttp(a.server);
    });
    const table = [service('web', [{ port, backends: [a.addr] }])];
    assert.doesNotThrow(() => mesh.apply(table));
    await mesh.settled();
    await new Promise<void>((r) => squatter.close(() => r()));
    mesh.apply(table);
    await mesh.settled();
    assert.equal(await httpGet(port), 'a');
  });
}
