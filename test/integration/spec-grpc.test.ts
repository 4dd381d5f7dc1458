// The control API is the authoritative check of a service spec: a client other than our CLI,
// speaking raw protobuf over gRPC, cannot store what the limits refuse. Values that protobufjs
// would decode inexactly (a uint64 above 2^53) and that re-encoded would wrap (2^64-1 became
// replicas 0) get INVALID_ARGUMENT listing every problem, and nothing is stored or changed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { baton } from '../../proto/gen/baton.js';
import { RpcClient } from '../../rpc/client.js';
import { controlService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../../rpc/tls/index.js';
import { BatonCluster } from '../lib/baton-cluster.js';

/** A varint field on the wire: tag (field << 3, wire type 0), then the value's 64 bits as given. */
function varintField(field: number, value: bigint): Buffer {
  const bytes = [field << 3];
  let v = BigInt.asUintN(64, value);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    bytes.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(bytes);
}

/** A length-delimited field holding `body`. */
function messageField(field: number, body: Uint8Array): Buffer {
  return Buffer.from(protobuf.Writer.create().uint32((field << 3) | 2).bytes(body).finish());
}

/** A TaskSpec whose restart policy and resources carry raw 64-bit values. */
function taskWith(raw: { delayMs?: bigint; nanoCpus?: bigint }): Buffer {
  const task = Buffer.from(baton.TaskSpec.encode({ runtime: 'process', container: { command: ['sleep', '100000'] } }).finish());
  const parts: Uint8Array[] = [task];
  // RestartPolicy.delay_ms is field 2; TaskSpec.restart field and ResourceRequirements.limits come from the proto.
  if (raw.delayMs !== undefined) parts.push(messageField(fieldOf(baton.TaskSpec, 'restart'), varintField(2, raw.delayMs)));
  if (raw.nanoCpus !== undefined) parts.push(messageField(fieldOf(baton.TaskSpec, 'resources'), messageField(1, varintField(1, raw.nanoCpus))));
  return Buffer.concat(parts);
}

/** A field's number, read from the generated encoder (so the test follows the .proto). */
function fieldOf(type: { encode(m: object): { finish(): Uint8Array } }, name: string, probeValue: object | number = {}): number {
  const probe: Record<string, object | number> = { [name]: probeValue };
  const [tag] = type.encode(probe).finish();
  return (tag ?? 0) >> 3;
}

function rawCall(addr: string, creds: grpc.ChannelCredentials, method: 'CreateService' | 'UpdateService', body: Buffer): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(addr, creds, NODE_CHANNEL_OPTIONS);
  const path = (controlService as Record<string, { path: string }>)[method]!.path;
  return new Promise<grpc.ServiceError | undefined>((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + 10_000 },
      (err) => {
        client.close();
        resolve(err ?? undefined);
      },
    );
  });
}

test('a raw gRPC client cannot store replicas 2^64-1, a huge delay or CPU count: INVALID_ARGUMENT, nothing stored', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1');
  const dir = c.dataDir('m1');
  const read = (f: string): string => readFileSync(join(dir, 'tls', f), 'utf8');
  const tlsId = { caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') };
  const creds = clientCredentials(tlsId);
  const control = new RpcClient(m1.addr, creds, controlService, NODE_CHANNEL_OPTIONS);
  t.after(() => control.close());

  const spec = (name: string, extra: Buffer[] = [], task = taskWith({})): Buffer =>
    Buffer.concat([Buffer.from(baton.ServiceSpec.encode({ annotations: { name } }).finish()), messageField(fieldOf(baton.ServiceSpec, 'task'), task), ...extra]);
  const replicasField = fieldOf(baton.ServiceSpec, 'replicas', 1);
  const create = (body: Buffer): Promise<grpc.ServiceError | undefined> => rawCall(m1.addr, creds, 'CreateService', messageField(1, body));

  const cases: [string, Buffer, RegExp][] = [
    ['replicas 2^64-1', spec('a', [varintField(replicasField, 2n ** 64n - 1n)]), /^replicas 18446744073709551616 is more than the limit of 10000 replicas per service$/],
    ['replicas 2^53+1', spec('b', [varintField(replicasField, 2n ** 53n + 1n)]), /^replicas 9007199254740992 is more than the limit of 10000/],
    ['replicas 10001', spec('c', [varintField(replicasField, 10_001n)]), /^replicas 10001 is more than the limit of 10000/],
    ['restart delay 2^63-1 ms', spec('d', [], taskWith({ delayMs: 2n ** 63n - 1n })), /^restart delay_ms \d+ is more than the limit of 9223372036854 ms$/],
    ['restart delay -1', spec('e', [], taskWith({ delayMs: -1n })), /^restart delay_ms -1 is less than 0$/],
    ['nano-CPUs 2^63-1', spec('f', [], taskWith({ nanoCpus: 2n ** 63n - 1n })), /^limits nano_cpus \d+ is more than the limit of 1024000000000 \(1024 CPUs\)$/],
    [
      'three problems at once',
      spec('g'.repeat(64), [varintField(replicasField, 2n ** 64n - 1n)], taskWith({ nanoCpus: 2n ** 62n })),
      /^3 problems: service name "g{64}" is 64 characters, more than the limit of 63; replicas 18446744073709551616 is more than the limit of 10000 replicas per service; limits nano_cpus \d+ is more than/,
    ],
  ];
  for (const [what, body, message] of cases) {
    const err = await create(body);
    assert.ok(err, `${what}: refused`);
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${what}: ${err.details}`);
    assert.match(err.details, message, what);
  }
  assert.deepEqual((await control.call('ListServices', {})).services ?? [], [], 'nothing was stored');

  // An update is checked the same way; the stored service keeps its spec.
  const ok = await control.call('CreateService', { spec: { annotations: { name: 'ok' }, replicas: 1, task: { runtime: 'process', container: { command: ['sleep', '100000'] } } } });
  const id = ok.meta?.id ?? '';
  const update = Buffer.concat([
    Buffer.from(baton.UpdateServiceRequest.encode({ id, version: ok.meta?.version ?? 0 }).finish()),
    messageField(fieldOf(baton.UpdateServiceRequest, 'spec'), spec('ok', [varintField(replicasField, 2n ** 64n - 1n)])),
  ]);
  const err = await rawCall(m1.addr, creds, 'UpdateService', update);
  assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, err?.details);
  assert.match(err?.details ?? '', /^replicas 18446744073709551616 is more than the limit of 10000/);
  const after = await control.call('GetService', { id });
  assert.equal(Number(after.spec?.replicas), 1, 'replicas unchanged');
  assert.equal(Number(after.meta?.version), Number(ok.meta?.version), 'not written');

  // Through a follower: forwarding encodes the request again, where 2^64-1 would become 0.
  const m2 = await c.join('m2', 'manager', 'm1');
  const viaFollower = await rawCall(m2.addr, creds, 'CreateService', messageField(1, spec('via-follower', [varintField(replicasField, 2n ** 64n - 1n)])));
  assert.equal(viaFollower?.code, grpc.status.INVALID_ARGUMENT, viaFollower?.details);
  assert.match(viaFollower?.details ?? '', /^replicas 18446744073709551616 is more than the limit of 10000/);
  const names = ((await control.call('ListServices', {})).services ?? []).map((s) => s.spec?.annotations?.name);
  assert.deepEqual(names, ['ok'], 'nothing stored through the follower either');
});
