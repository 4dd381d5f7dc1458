// A gRPC client in another language, written against proto/ alone: Debian's python3-grpcio with
// stubs generated at test time by grpc_tools.protoc. It connects over TCP with the files of
// `baton cert create`, verifying the server by the address it dialled, creates a service, scales
// it and removes it; with a readonly certificate its write is refused with PERMISSION_DENIED.
// Without python3-grpcio the test skips, except under CI=true (.ci/run installs it), where it fails.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatonCluster } from '../lib/baton-cluster.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLIENT = join(ROOT, 'test/fixtures/grpc-python/client.py');
// Debian's interpreter, where apt-get puts python3-grpcio (another python3 may come first on PATH).
const PYTHON = process.env.BATON_TEST_PYTHON ?? '/usr/bin/python3';

function python(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** Why python3-grpcio and grpc_tools cannot be used, or undefined when they can. */
function grpcioProblem(): string | undefined {
  const r = python(['-c', 'import grpc, grpc_tools.protoc']);
  return r.code === 0 ? undefined : `${PYTHON} cannot import grpc and grpc_tools (apt-get install -y python3-grpcio python3-grpc-tools): ${r.stderr.trim().split('\n').pop() ?? ''}`;
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
  const gen = python(['-c', 'import os,sys; os.makedirs(sys.argv[1]); from grpc_tools import protoc; sys.exit(protoc.main(["protoc", "-I" + sys.argv[2], "--python_out=" + sys.argv[1], "--grpc_python_out=" + sys.argv[1], sys.argv[2] + "/objects.proto", sys.argv[2] + "/control.proto"]))', stubs, join(ROOT, 'proto')]);
  assert.equal(gen.code, 0, `grpc_tools.protoc: ${gen.stderr}`);

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
