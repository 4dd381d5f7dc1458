// A gRPC client in another language, written against proto/ alone: Debian's python3-grpcio with
// stubs generated at test time by Debian's protoc and its gRPC Python plugin (protobuf-compiler,
// protobuf-compiler-grpc: Debian's python3-grpc-tools bundles a protoc too old for proto3
// `optional`). It connects over TCP with the files of
// `baton cert create`, verifying the server by the address it dialled, creates a service, scales
// it and removes it; with a readonly certificate its write is refused with PERMISSION_DENIED.
// Without python3-grpcio the test skips, except under CI=true (.ci/run installs it), where it fails.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatonCluster } from '../lib/baton-cluster.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLIENT = join(ROOT, 'test/fixtures/grpc-python/client.py');
// Debian's interpreter, where apt-get puts python3-grpcio (another python3 may come first on PATH).
const PYTHON = process.env.BATON_TEST_PYTHON ?? '/usr/bin/python3';
const PROTOC = '/usr/bin/protoc';
const GRPC_PYTHON_PLUGIN = '/usr/bin/grpc_python_plugin';

function python(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** Why python3-grpcio, protoc or its gRPC plugin cannot be used, or undefined when they can. */
function grpcioProblem(): string | undefined {
  for (const tool of [PROTOC, GRPC_PYTHON_PLUGIN]) {
    if (!existsSync(tool)) return `no ${tool} (apt-get install -y protobuf-compiler protobuf-compiler-grpc)`;
  }
  const r = python(['-c', 'import grpc, google.protobuf']);
  return r.code === 0 ? undefined : `${PYTHON} cannot import grpc (apt-get install -y python3-grpcio): ${r.stderr.trim().split('\n').pop() ?? ''}`;
}

type Step = { step: string; code?: string; details?: string; services?: string[]; replicas?: number; id?: string };

function steps(out: string): Step[] {
  return out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Step);
}

test('a Python gRPC client with baton cert create files: admin creates, scales, removes; readonly is refused', { timeout: 240_000 }, async (t) => {
  const problem = grpcioProblem();
  if (problem) {
    if (process.env.CI === 'true') assert.fail(problem);
    t.skip(problem);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'baton-python-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const stubs = join(work, 'stubs');
  mkdirSync(stubs);
  const proto = join(ROOT, 'proto');
  const gen = spawnSync(PROTOC, [`-I${proto}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, `--plugin=protoc-gen-grpc_python=${GRPC_PYTHON_PLUGIN}`, join(proto, 'objects.proto'), join(proto, 'control.proto')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(gen.status, 0, `protoc: ${gen.stderr}`);

  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(2, 0);
  const addr = c.get('m2').addr;
  const admin = join(work, 'admin');
  const viewer = join(work, 'viewer');
  assert.equal(c.cli('m1', ['cert', 'create', '--name', 'py-admin', '--role', 'admin', '--out', admin]).code, 0);
  assert.equal(c.cli('m1', ['cert', 'create', '--name', 'py-viewer', '--role', 'readonly', '--out', viewer]).code, 0);
  const env = { PYTHONPATH: stubs };

  // The follower m2 at its own address: the certificate must name that IP for Python to accept it.
  const run = python([CLIENT, addr, admin, 'admin', 'pyweb'], env);
  assert.equal(run.code, 0, run.stderr);
  const s = steps(run.stdout);
  assert.deepEqual(s.map((x) => x.step), ['list', 'create', 'scale', 'remove']);
  assert.equal(s[1]!.code, 'OK');
  assert.equal(s[2]!.replicas, 3);
  assert.deepEqual(s[3]!.services, []);

  // m1 (on 127.0.0.1) by a name its certificate does not carry: Python's own name check refuses it.
  const port = c.get('m1').addr.split(':')[1]!;
  const misnamed = python([CLIENT, `localhost:${port}`, admin, 'admin', 'never'], env);
  assert.equal(misnamed.code, 0, misnamed.stderr);
  const m = steps(misnamed.stdout);
  assert.deepEqual(m.map((x) => [x.step, x.code]), [['list', 'UNAVAILABLE']]);
  assert.match(m[0]!.details ?? '', /not in peer certificate/);

  const ro = python([CLIENT, addr, viewer, 'readonly', 'pyro'], env);
  assert.equal(ro.code, 0, ro.stderr);
  const r = steps(ro.stdout);
  assert.deepEqual(r.map((x) => [x.step, x.code]), [['list', 'OK'], ['create', 'PERMISSION_DENIED']]);
  assert.match(r[1]!.details ?? '', /role readonly/);
});
