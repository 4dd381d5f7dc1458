// A create sent again under the same request id (a client that lost the answer to its first
// attempt, which committed) is answered with what the first attempt created, not "already
// exists" (nor "port already in use", for a service that publishes one): the control entry
// answers it without running the create again. Under another id the name is taken as before.
// Real manager, gRPC over its socket.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { BatonCluster } from '../lib/baton-cluster.js';
import { BatonError, connect } from '../../client/index.js';
import { freePort } from '../../src/launcher/ports.js';

const withId = (id: string): grpc.Metadata => {
  const md = new grpc.Metadata();
  md.set('x-baton-request-id', id);
  return md;
};

test('a create retried under its request id answers with the first attempt\'s object; another id is refused', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const client = connect({ dataDir: c.dataDir('m1') });
  t.after(() => client.close());

  const secret = { spec: { annotations: { name: 'once', labels: {} }, data: new TextEncoder().encode('x') } };
  const first = await client.control.call('CreateSecret', secret, 10_000, withId('retry-1'));
  const again = await client.control.call('CreateSecret', secret, 10_000, withId('retry-1'));
  assert.equal(again.meta?.id, first.meta?.id, 'the retry gets the secret its first attempt made');
  await assert.rejects(client.control.call('CreateSecret', secret, 10_000, withId('other')), (e: unknown) => e instanceof BatonError && e.code === 'ALREADY_EXISTS');

  const network = { spec: { annotations: { name: 'net-once', labels: {} }, driver: 'overlay' } };
  const n1 = await client.control.call('CreateNetwork', network, 10_000, withId('retry-2'));
  const n2 = await client.control.call('CreateNetwork', network, 10_000, withId('retry-2'));
  assert.equal(n2.meta?.id, n1.meta?.id);

  const config = { spec: { annotations: { name: 'conf-once', labels: {} }, data: new TextEncoder().encode('k=v') } };
  const c1 = await client.control.call('CreateConfig', config, 10_000, withId('retry-4'));
  const c2 = await client.control.call('CreateConfig', config, 10_000, withId('retry-4'));
  assert.equal(c2.meta?.id, c1.meta?.id);

  // Its published port is the first attempt's: a create run again would find it taken.
  const port = await freePort();
  const service = { spec: { annotations: { name: 'svc-once', labels: {} }, replicas: 0, task: { runtime: 'process', container: { command: ['sleep', '600'] } }, endpoint: { ports: [{ targetPort: 80, publishedPort: port }] } } };
  const s1 = await client.control.call('CreateService', service, 10_000, withId('retry-3'));
  const s2 = await client.control.call('CreateService', service, 10_000, withId('retry-3'));
  assert.equal(s2.meta?.id, s1.meta?.id, 'the retried service create answers with the stored service');
  assert.deepEqual(s2.endpoint?.ports?.map((p) => p.publishedPort), [port]);
  assert.equal((await client.list('ListServices')).length, 1);
  assert.equal((await client.list('ListSecrets')).length, 1);
  assert.equal((await client.list('ListConfigs')).length, 1);
  assert.equal((await client.list('ListNetworks')).filter((n) => n.spec?.annotations?.name === 'net-once').length, 1);
});
