// `service create --mode replicated-job|global-job` and `--max-concurrent`, as Docker's CLI reads
// them: for a replicated job `--replicas` is the total number of completions (default 1) and
// `--max-concurrent` defaults to it; the restart condition defaults to on-failure (a job's task
// that completes is never run again); and the flags Docker refuses for a job are refused here,
// with every other problem of the command line, in one line.
import { baton } from '../client/index.js';
import type { FlagProblems } from './flag-problems.js';
import type { UpdateConfigFlags } from './update-config-flags.js';
import { MAX_REPLICAS, parseCount } from '../spec/index.js';

/** A count of tasks, as `--replicas` takes it: a whole number up to the replica limit. */
function parseTasks(text: string | number, flag: string): ReturnType<typeof parseCount> {
  return parseCount(text, flag, { max: MAX_REPLICAS, limit: 'replicas per service' });
}

export const MODES = ['replicated', 'global', 'replicated-job', 'global-job'] as const;
export type Mode = (typeof MODES)[number];

export interface JobFlags extends UpdateConfigFlags {
  mode?: string | undefined;
  replicas?: string | number | undefined;
  'max-concurrent'?: string | number | undefined;
}

export function isJobMode(mode: string | undefined): boolean {
  return mode === 'replicated-job' || mode === 'global-job';
}

/** The mode given, checked (undefined when it is not one of Docker's four). */
export function modeFromFlags(f: JobFlags, p: FlagProblems): Mode | undefined {
  const mode = f.mode ?? 'replicated';
  if ((MODES as readonly string[]).includes(mode)) return mode as Mode;
  p.add(`bad --mode "${mode}" (want replicated, global, replicated-job or global-job)`);
  return undefined;
}

/** Docker's refusal of the --update-* and --rollback-* flags for a job, naming those given. */
function refuseUpdateConfig(f: JobFlags, p: FlagProblems): void {
  const given = (Object.keys(f) as (keyof JobFlags)[]).filter((k) => (k.startsWith('update-') || k.startsWith('rollback-')) && f[k] !== undefined);
  if (given.length > 0) p.add(`update and rollback configuration is not supported for jobs (${given.map((k) => `--${k}`).join(', ')})`);
}

/** The job part of the spec (replicated_job or global_job); {} for a service that is not a job. */
export function jobSpecFromFlags(f: JobFlags, mode: Mode | undefined, p: FlagProblems): Pick<baton.ServiceSpec.$Properties, 'replicatedJob' | 'globalJob'> {
  if (f['max-concurrent'] !== undefined && mode !== 'replicated-job') p.add('--max-concurrent can only be used with replicated-job mode');
  if (!isJobMode(mode)) return {};
  refuseUpdateConfig(f, p);
  if (mode === 'global-job') {
    if (f.replicas !== undefined) p.add('--replicas can only be used with replicated or replicated-job mode');
    return { globalJob: {} };
  }
  const total = f.replicas !== undefined ? p.take(parseTasks(f.replicas, '--replicas'), 0) : 1;
  const maxConcurrent = f['max-concurrent'] !== undefined ? p.take(parseTasks(f['max-concurrent'], '--max-concurrent'), 0) : total;
  return { replicatedJob: { totalCompletions: total, maxConcurrent } };
}

/**
 * `service update` of a job: `--replicas` sets a replicated job's total completions and
 * `--max-concurrent` its concurrency; a global job takes neither; update and rollback flags are
 * refused. Returns false (and does nothing) for a service that is not a job.
 */
export function applyJobUpdateFlags(spec: baton.ServiceSpec.$Properties, f: JobFlags, p: FlagProblems): boolean {
  if (!spec.replicatedJob && !spec.globalJob) {
    if (f['max-concurrent'] !== undefined) p.add('--max-concurrent can only be used with replicated-job mode');
    return false;
  }
  refuseUpdateConfig(f, p);
  if (spec.globalJob) {
    if (f.replicas !== undefined) p.add('--replicas can only be used with replicated or replicated-job mode');
    if (f['max-concurrent'] !== undefined) p.add('--max-concurrent can only be used with replicated-job mode');
    return true;
  }
  const job = { ...spec.replicatedJob };
  if (f.replicas !== undefined) job.totalCompletions = p.take(parseTasks(f.replicas, '--replicas'), Number(job.totalCompletions ?? 0));
  if (f['max-concurrent'] !== undefined) job.maxConcurrent = p.take(parseTasks(f['max-concurrent'], '--max-concurrent'), Number(job.maxConcurrent ?? 0));
  spec.replicatedJob = job;
  return true;
}
