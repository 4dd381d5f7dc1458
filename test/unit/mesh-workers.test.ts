import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createRoutingMesh, meshWorkerPids } from '../../mesh/index.js';
import { ENGINES, closeHttp, eventually, freePort, httpBackend, httpGet, metricValue, quietLogger, service } from './mesh-fixtures.js';
import { alive } from '../lib/processes.js';

for (const engine of ENGINES) test(`${engine}: with worker processes: every connection is relayed, counters add up, removing the port frees it, close() ends the workers`, async (t) => {
  const backends = await Promise.all(['a', 'b', 'c'].map((n) => httpBackend(n)));
  const mesh = createRoutingMesh({ bindAddress: '127.0.0.1', logger: quietLogger, workers: 2, engine });
  const pids = meshWorkerPids(mesh);
  t.after(async () => {
    await mesh.close();
    await Promise.all(backends.map((b) => closeHttp(b.server)));
  });
  assert.equal(pids.length, 1);
  const port = await freePort();
  mesh.apply([service('web', [{ port, backends: backends.map((b) => b.addr) }])]);
  await mesh.settled();
  const answers: string[] = [];
  for (let round = 0; round < 8; round++) answers.push(...(await Promise.all(Array.from({ length: 5 }, () => httpGet(port)))));
  assert.equal(answers.length, 40);
  assert.deepEqual([...new Set(answers)].sort(), ['a', 'b', 'c']);
  await eventually(() => metricValue(mesh.metricsText(), 'baton_mesh_connections_total', ['service="web"']) === 40, 'the workers to report 40 connections in all');
  mesh.apply([]);
  await mesh.settled();
  const server = createServer();
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => resolve(true));
      }),
    'the port to be free in every process',
    100,
  );
  await new Promise<void>((r) => server.close(() => r()));
  await mesh.close();
  await eventually(() => pids.every((p) => !alive(p)), 'the worker processes to exit');
});
