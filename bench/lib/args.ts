// What every benchmark's entry point needs: where the project is, and numeric flags.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** dist/bench, where the compiled benchmarks live. */
export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder with package.json above the benchmarks (dist/bench/ normally, or any other build dir). */
export const projectRoot = ((): string => {
  for (let dir = benchDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
})();

/**
 * The built dist/ of `--base DIR`, the flag by which a benchmark runs another build of this
 * repository beside this one (main's, for an A/B). Every bench takes DIR as that checkout's root
 * (as `git archive main | tar -x -C DIR`, node_modules linked, `npm run build` leaves it); a DIR
 * without a dist/ (a dist/ itself, or a checkout not built) is refused, saying so.
 */
export function baseDist(root: string): string {
  const dist = join(resolve(root), 'dist');
  if (!existsSync(dist)) throw new Error(`--base ${root}: no dist/ in it (--base takes the root of a built checkout, not its dist/)`);
  return dist;
}

/** A non-negative number from a flag, else an environment variable, else the fallback. */
export function num(flag: string | undefined, env: string | undefined, fallback: number): number {
  const text = flag ?? env;
  if (text === undefined || text === '') return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new Error(`not a number: ${text}`);
  return v;
}

/**
 * A whole number from a flag (a count: nodes, tasks, turns), rounded, at least `min` (1 unless
 * told), else the fallback. Pass `flag ?? process.env.X` for a flag an environment variable
 * may also give.
 */
export function count(flag: string | undefined, fallback: number, min = 1): number {
  return Math.max(min, Math.round(num(flag, undefined, fallback)));
}

/** The flags every timed benchmark (control, raft, mesh) takes. */
export interface TimedArgs {
  quick: boolean;
  duration?: string | undefined;
  keep: boolean;
  'cpu-prof': boolean;
  out?: string | undefined;
}

/**
 * The command line of a timed benchmark: the common flags, and its own `strings` (--name value)
 * and `booleans` (--name). Unknown flags are refused, as parseArgs does.
 */
export function timedArgs<S extends string, B extends string = never>(
  strings: readonly S[],
  booleans: readonly B[] = [],
): TimedArgs & { [K in S]?: string | undefined } & { [K in B]: boolean } {
  const options: ParseArgsConfig['options'] = {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  };
  for (const name of strings) options[name] = { type: 'string' };
  for (const name of booleans) options[name] = { type: 'boolean', default: false };
  return parseArgs({ options }).values as TimedArgs & { [K in S]?: string | undefined } & { [K in B]: boolean };
}
