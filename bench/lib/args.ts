// What every benchmark's entry point needs: where the project is, and numeric flags.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench, where the compiled benchmarks live. */
export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder with package.json above the benchmarks (dist/bench/ normally, or any other build dir). */
export const projectRoot = ((): string => {
  for (let dir = benchDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
})();

/** A non-negative number from a flag, else an environment variable, else the fallback. */
export function num(flag: string | undefined, env: string | undefined, fallback: number): number {
  const text = flag ?? env;
  if (text === undefined || text === '') return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new Error(`not a number: ${text}`);
  return v;
}
