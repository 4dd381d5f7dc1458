// The npm package as a user gets it: `npm pack` of the repository, installed into a fresh
// directory, a strict TypeScript program type-checked against its .d.ts with tsc, then run
// against a real cluster (connect, info, typed calls, the events iterable). `npm install
// --offline` of the tarball fails here (the npm cache lacks its dependencies: ENOTCACHED), so
// its production dependencies, and theirs, are linked from this repository's node_modules,
// flat, as npm would have hoisted them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatonCluster } from '../lib/baton-cluster.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The packages `names` need, transitively, that sit at the top of the repository's node_modules. */
function productionClosure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || !existsSync(join(REPO, 'node_modules', name, 'package.json'))) return;
    seen.add(name);
    const p = JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(p.dependencies ?? {})) visit(dep);
  };
  for (const n of names) visit(n);
  return [...seen];
}

const PROGRAM = `import { connect, BatonError, API_VERSION, type Event, type ServiceSpec } from 'baton';

const client = connect({ dataDir: process.argv[2] });
const info = await client.info();
const events = client.events({ kinds: ['service'] });
const firstEvent: Promise<Event | undefined> = (async () => {
  for await (const e of events) return e;
  return undefined;
})();
await new Promise((r) => setTimeout(r, 300));
const spec: ServiceSpec = { annotations: { name: 'from-sdk' }, task: { runtime: 'process', container: { command: ['sleep', '1000'] } } };
const created = await client.createService(spec);
const event = await firstEvent;
const names: string[] = (await client.listServices()).map((s) => s.spec?.annotations?.name ?? '');
const nodes = await client.listNodes();
let missing = '';
try {
  await client.getService('no-such-service');
} catch (err) {
  if (err instanceof BatonError) missing = err.code;
}
client.close();
console.log(JSON.stringify({ api: API_VERSION, server: info.apiVersion, replicas: Number(created.spec?.replicas), names, nodes: nodes.length, event: event?.action, missing }));
`;

test('the npm package installs from its tarball, type-checks with its .d.ts and runs against a cluster', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'baton-sdk-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: REPO, stdio: 'pipe' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');

  const app = join(work, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(join(modules, 'baton'), { recursive: true });
  execFileSync('tar', ['xzf', join(work, tarball), '-C', join(modules, 'baton'), '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(modules, 'baton', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of [...productionClosure(Object.keys(pkg.dependencies)), '@types/node']) {
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', dep), join(modules, dep));
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
  writeFileSync(join(app, 'main.ts'), PROGRAM);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' }, files: ['main.ts'] }),
  );
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' });
  } catch (err) {
    assert.fail(`tsc refused the program: ${(err as { stdout?: Buffer }).stdout?.toString() ?? String(err)}`);
  }

  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const out = execFileSync(process.execPath, [join(app, 'out', 'main.js'), c.dataDir('m1')], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  const result = JSON.parse(out) as Record<string, unknown>;
  assert.deepEqual(result, { api: result.server, server: result.api, replicas: 1, names: ['from-sdk'], nodes: 1, event: 'create', missing: 'NOT_FOUND' });
  assert.match(String(result.api), /^\d+\.\d+$/);
});
