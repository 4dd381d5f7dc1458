// Stream behaviour of the TCP relay under both engines: half-close, back-pressure on a large
// transfer, concurrent connections whose relays reuse read buffers, pooled backend connections
// that the backend closed while idle.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ENGINES, freePort, httpGet, newMesh, service, type Engine } from './mesh-fixtures.js';

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

/** `server` on loopback, published as `name` by a mesh of `engine`; both closed after the test. The mesh's port. */
async function publish(t: TestContext, engine: Engine, name: string, server: Server): Promise<number> {
  const sockets = tracked(server);
  const addr = await listen(server);
  const mesh = newMesh(engine);
  t.after(async () => {
    await mesh.close();
    await closeServer(server, sockets);
  });
  const port = await freePort();
  mesh.apply([service(name, [{ port, backends: [addr] }])]);
  await mesh.settled();
  return port;
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
    const port = await publish(t, engine, 'half', server);
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
    const port = await publish(t, engine, 'bulk', server);
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

  test(`${engine}: concurrent connections under back-pressure each get their own bytes back (read buffers are per connection, reused only after it ends)`, async (t) => {
    // An echo backend; each client sends its own random bytes, reads the echo slowly (so the
    // relay holds back both ways), and the connections end at different times, so the read
    // buffers of finished relays are taken by later ones while others are still relaying. A
    // buffer read into again while a write from it was still queued, or shared by two relays,
    // would show as bytes of another connection or in the wrong order.
    const server = createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const port = await publish(t, engine, 'echo', server);
    const echo = (bytes: number, pauseEvery: number): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const data = randomBytes(bytes);
        const got: Buffer[] = [];
        let n = 0;
        const c = connect({ host: '127.0.0.1', port });
        c.on('data', (d: Buffer) => {
          got.push(d);
          // A long stall first (every buffer on the way fills, the relay has to queue), then short ones.
          if (n++ === 0 || n % pauseEvery === 0) {
            c.pause();
            setTimeout(() => c.resume(), n === 1 ? 200 : 5);
          }
        });
        c.on('end', () => resolve(Buffer.concat(got).equals(data)));
        c.on('error', reject);
        c.end(data);
      });
    for (let round = 0; round < 2; round++) {
      const sizes = [64 * 1024, 4 * 1024 * 1024, 256 * 1024, 2 * 1024 * 1024, 16 * 1024, 1024 * 1024, 3 * 1024 * 1024, 512 * 1024];
      const results = await Promise.all(sizes.map((size, i) => echo(size, 4 + i)));
      assert.deepEqual(results, Array(sizes.length).fill(true), `round ${round}: every connection's echo equals what it sent`);
    }
  });

  test(`${engine}: connections taking turns with reads of one length each get their own bytes (a reused read view is never another connection's)`, async (t) => {
    // The libuv engine keeps the view of a handle's read buffer while reads keep one length.
    // Here 6 connections take turns (ping-pong through an echo backend), every message the
    // same length, so equal-length reads of different connections follow each other in the
    // relay; then a second wave takes the buffers the first gave back. A view shared between
    // handles, or kept past its buffer's return to the free list, would show as another
    // connection's bytes in an echo.
    const server = createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const port = await publish(t, engine, 'turns', server);
    const LEN = 100;
    const pingPong = (id: number, rounds: number): Promise<string[]> =>
      new Promise((resolve, reject) => {
        const wrong: string[] = [];
        const c = connect({ host: '127.0.0.1', port });
        let round = 0;
        let sent = Buffer.alloc(0);
        let got: Buffer[] = [];
        let have = 0;
        const next = (): void => {
          sent = Buffer.concat([Buffer.from(`${id}:${round}:`), randomBytes(LEN)]).subarray(0, LEN);
          got = [];
          have = 0;
          c.write(sent);
        };
        c.on('data', (d: Buffer) => {
          got.push(d);
          have += d.length;
          if (have < LEN) return;
          const echo = Buffer.concat(got);
          if (!echo.equals(sent)) wrong.push(`connection ${id} round ${round}: got ${JSON.stringify(echo.subarray(0, 12).toString('latin1'))}`);
          if (++round === rounds) c.end();
          else next();
        });
        c.on('end', () => resolve(wrong));
        c.on('error', reject);
        c.on('connect', next);
      });
    for (let wave = 0; wave < 2; wave++) {
      const wrong = (await Promise.all(Array.from({ length: 6 }, (_, i) => pingPong(wave * 10 + i, 40)))).flat();
      assert.deepEqual(wrong, [], `wave ${wave}: every echo equals what its own connection sent`);
    }
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
    const port = await publish(t, engine, 'pool', server);
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
    const port = await publish(t, engine, 'rst', server);
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
