// The --update-* and --rollback-* flags that `service create` and `service update` share, and
// the update (or rollback) config they make. Values use spec/'s parsers; every bad one is noted
// in the command line's FlagProblems, so all are reported at once.
import type { Argv } from 'yargs';
import { baton } from '../client/index.js';
import { DEFAULT_UPDATE_PARALLELISM, MAX_REPLICAS, parseCount, parseDuration, parseRatio } from '../spec/index.js';
import { FlagProblems } from './flag-problems.js';

export type Which = 'update' | 'rollback';

export interface UpdateConfigFlags {
  'update-parallelism'?: string | number | undefined;
  'update-delay'?: string | undefined;
  'update-failure-action'?: string | undefined;
  'update-monitor'?: string | undefined;
  'update-max-failure-ratio'?: string | number | undefined;
  'update-order'?: string | undefined;
  'rollback-parallelism'?: string | number | undefined;
  'rollback-delay'?: string | undefined;
  'rollback-failure-action'?: string | undefined;
  'rollback-monitor'?: string | undefined;
  'rollback-max-failure-ratio'?: string | number | undefined;
  'rollback-order'?: string | undefined;
}

/** Adds the --update-* and --rollback-* options (create and update share them). */
export function updateConfigOptions<T>(y: Argv<T>): Argv<T & UpdateConfigFlags> {
  for (const which of ['update', 'rollback'] as const) {
    const what = which === 'update' ? 'an update' : 'a rollback';
    y.option(`${which}-parallelism`, { type: 'string', requiresArg: true, describe: `tasks replaced at once during ${what} (0: all; default ${DEFAULT_UPDATE_PARALLELISM})` })
      .option(`${which}-delay`, { type: 'string', requiresArg: true, describe: `wait between batches of ${what}, e.g. 10s (default 0s)` })
      .option(`${which}-failure-action`, { type: 'string', requiresArg: true, describe: which === 'update' ? 'pause (default), continue or rollback' : 'pause (default) or continue' })
      .option(`${which}-monitor`, { type: 'string', requiresArg: true, describe: 'how long each new task is watched for failure (default 5s)' })
      .option(`${which}-max-failure-ratio`, { type: 'string', requiresArg: true, describe: 'failures tolerated, as a fraction of the tasks (default 0)' })
      .option(`${which}-order`, { type: 'string', requiresArg: true, describe: 'stop-first (default) or start-first' });
  }
  return y as Argv<T & UpdateConfigFlags>;
}

const ACTIONS: Record<string, baton.UpdateFailureAction> = {
  pause: baton.UpdateFailureAction.FAILURE_PAUSE,
  continue: baton.UpdateFailureAction.FAILURE_CONTINUE,
  rollback: baton.UpdateFailureAction.FAILURE_ROLLBACK,
};
const ORDERS: Record<string, baton.UpdateOrder> = { 'stop-first': baton.UpdateOrder.STOP_FIRST, 'start-first': baton.UpdateOrder.START_FIRST };

/**
 * The update (or rollback) config: `base` with the flags given applied; with no base, Docker's
 * defaults (parallelism 1, pause, stop-first; a monitor of 0 means the default 5 s). Problems go
 * to `problems`; without one given, they are thrown here, all at once.
 */
export function updateConfigFromFlags(f: UpdateConfigFlags, which: Which, base?: baton.UpdateConfig.$Properties | null, problems?: FlagProblems): baton.UpdateConfig.$Properties {
  const p = problems ?? new FlagProblems();
  const c: baton.UpdateConfig.$Properties = { ...(base ?? { parallelism: DEFAULT_UPDATE_PARALLELISM }) };
  const flag = (name: string): string => `--${which}-${name}`;
  const parallelism = f[`${which}-parallelism`];
  if (parallelism !== undefined) c.parallelism = p.take(parseCount(parallelism, flag('parallelism'), { max: MAX_REPLICAS, limit: '(the replica limit)' }), c.parallelism ?? 0);
  const delay = f[`${which}-delay`];
  if (delay !== undefined) c.delayMs = p.take(parseDuration(delay, flag('delay')), 0);
  const monitor = f[`${which}-monitor`];
  if (monitor !== undefined) c.monitorMs = p.take(parseDuration(monitor, flag('monitor')), 0);
  const action = f[`${which}-failure-action`];
  if (action !== undefined) {
    const allowed = which === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
    if (allowed.includes(action)) c.failureAction = ACTIONS[action]!;
    else p.add(`bad ${flag('failure-action')} "${action}" (want ${allowed.join(', ')})`);
  }
  const ratio = f[`${which}-max-failure-ratio`];
  if (ratio !== undefined) c.maxFailureRatio = p.take(parseRatio(ratio, flag('max-failure-ratio')), 0);
  const order = f[`${which}-order`];
  if (order !== undefined) {
    if (order in ORDERS) c.order = ORDERS[order]!;
    else p.add(`bad ${flag('order')} "${order}" (want stop-first or start-first)`);
  }
  if (problems === undefined) p.check();
  return c;
}
