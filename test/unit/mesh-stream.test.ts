// Stream behaviour of the TCP relay under both engines: half-close, back-pressure on a large
// transfer, pooled backend connections that the backend closed while idle.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ENGINES, freePort, httpGet, newMesh, service } from './mesh-fixtures.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}

function tracked(server: Server): Set<Socket> {
  const set = new Set<Socket>();
  server.on('connection', (s) => {
    set.add(s);
    s.on('close', () => set.delete(s));
  });
  return set;
}

for (const engine of ENGINES) {
  test(`${engine}: a client's half-close reaches the backend, whose reply still comes back`, async (t) => {
    const server = createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (got += d));
      s.on('end', () => s.end(`got ${got.length} bytes then FIN`));
      s.on('error', () => {});
    });
    const sockets = tracked(server);
    const addr = await listen(server);
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeServer(server, sockets);
    });
    const port = await freePort();
    mesh.apply([service('half', [{ port, backends: [addr] }])]);
    await mesh.settled();
    const reply = await new Promise<string>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (text += d));
      c.on('end', () => resolve(text));
      c.on('error', reject);
      c.end('hello');
    });
    assert.equal(reply, 'got 5 bytes then FIN');
  });

  test(`${engine}: 16 MiB to a slow reader arrive intact (back-pressure, no loss)`, async (t) => {
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const total = 256; // chunks
    const sent = createHash('sha256');
    for (let i = 0; i < total; i++) sent.update(chunk);
    const server = createServer((s) => {
      s.on('error', () => {});
      let i = 0;
      const pump = (): void => {
        while (i < total) {
          i++;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
        s.end();
      };
      pump();
    });
    const sockets = tracked(server);
    const addr = await listen(server);
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeServer(server, sockets);
    });
    const port = await freePort();
    mesh.apply([service('bulk', [{ port, backends: [addr] }])]);
    await mesh.settled();
    const { digest, bytes } = await new Promise<{ digest: string; bytes: number }>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port });
      const h = createHash('sha256');
      let bytes = 0;
      let n = 0;
      c.on('data', (d: Buffer) => {
        h.update(d);
        bytes += d.length;
        // Read slowly now and then so the mesh has to hold back the backend.
        if (++n % 16 === 0) {
          c.pause();
          setTimeout(() => c.resume(), 5);
        }
      });
      c.on('end', () => resolve({ digest: h.digest('hex'), bytes }));
      c.on('error', reject);
    });
    assert.equal(bytes, chunk.length * total);
    assert.equal(digest, sent.digest('hex'));
  });

  test(`${engine}: pooled backend connections that the backend closed while idle are never handed out`, async (t) => {
    // A backend that drops connections idle for 300 ms, and answers one HTTP request per
    // connection. (Shorter than the time a pooled connection may wait would race a take with
    // the backend's close: real servers wait seconds.)
    const server = createServer((s) => {
      s.on('error', () => {});
      const idle = setTimeout(() => s.destroy(), 300);
      s.once('data', () => {
        clearTimeout(idle);
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      });
    });
    const sockets = tracked(server);
    const addr = await listen(server);
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeServer(server, sockets);
    });
    const port = await freePort();
    mesh.apply([service('pool', [{ port, backends: [addr] }])]);
    await mesh.settled();
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => httpGet(port)));
      assert.deepEqual(answers, Array(6).fill('ok'));
      await new Promise((r) => setTimeout(r, 600)); // the backend closes what the pool holds
    }
  });

  test(`${engine}: a backend's reset reaches the client as a reset`, async (t) => {
    const server = createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.resetAndDestroy());
    });
    const sockets = tracked(server);
    const addr = await listen(server);
    const mesh = newMesh(engine);
    t.after(async () => {
      await mesh.close();
      await closeServer(server, sockets);
    });
    const port = await freePort();
    mesh.apply([service('rst', [{ port, backends: [addr] }])]);
    await mesh.settled();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const c = connect({ host: '127.0.0.1', port });
      c.on('error', resolve);
      c.on('close', () => resolve(undefined));
      c.resume();
      c.write('x');
    });
    assert.equal(err?.code, 'ECONNRESET');
  });
}
