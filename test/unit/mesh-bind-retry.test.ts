// A published port that another program holds when the table arrives is bound as soon as that
// program lets go, without a new table: a cluster at rest sends none, so without the mesh's own
// retry the service stayed unreachable on that node until it changed (a flaky CI run showed it:
// one node never answered on a port taken for a moment while the mesh bound it).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRoutingMesh } from '../../mesh/index.js';
import { waitFor } from '../lib/wait.js';
import { closeHttp, ENGINES, freePort, httpBackend, httpGet, quietLogger, service } from './mesh-fixtures.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((_req, res) => res.end('other'));
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

for (const engine of ENGINES) {
  test(`${engine}: a port held by another program is bound once it is free, with no new table`, async (t) => {
    const backend = await httpBackend('web-1');
    const port = await freePort();
    const other = await listen(port);
    const mesh = createRoutingMesh({ bindAddress: '127.0.0.1', logger: quietLogger, engine, bindRetryMs: 50 });
    t.after(async () => {
      await mesh.close();
      await closeHttp(backend.server);
      if (other.listening) await closeHttp(other);
    });
    mesh.apply([service('web', [{ port, backends: [backend.addr] }])]);
    await mesh.settled();
    // The bind failed: the other program still answers on the port, through several retries.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await httpGet(port), 'other');

    await closeHttp(other);
    assert.equal(await waitFor('the mesh to bind the freed port', async () => (await httpGet(port)) === 'web-1'), true);
  });
}

test('a failed port that leaves the table is not bound later', async (t) => {
  const backend = await httpBackend('web-1');
  const port = await freePort();
  const other = await listen(port);
  const mesh = createRoutingMesh({ bindAddress: '127.0.0.1', logger: quietLogger, bindRetryMs: 20 });
  t.after(async () => {
    await mesh.close();
    await closeHttp(backend.server);
  });
  mesh.apply([service('web', [{ port, backends: [backend.addr] }])]);
  await mesh.settled();
  mesh.apply([]);
  await closeHttp(other);
  await new Promise((r) => setTimeout(r, 300));
  // Nothing took the port again: it can be bound here.
  await closeHttp(await listen(port));
});
