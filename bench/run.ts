// `npm run bench`: every benchmark in turn (each prints its table beside its peer's and writes
// JSON to bench/results/). Arguments pass through, e.g. `npm run bench -- --quick`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BENCHES = ['raft', 'control', 'converge', 'mesh', 'webview'];
const only = process.env.BENCH_ONLY?.split(',');
let failed = 0;
for (const name of BENCHES.filter((b) => !only || only.includes(b))) {
  process.stdout.write(`\n=== bench:${name}\n`);
  const r = spawnSync(process.execPath, [join(here, `${name}.js`), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`=== bench:${name} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed ? 1 : 0);
