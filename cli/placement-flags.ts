// Docker's placement flags beyond --constraint: `--placement-pref spread=node.labels.zone`
// (repeatable), `--replicas-max-per-node N`, and on update `--placement-pref-add`,
// `--placement-pref-rm` (by the same text: a preference with that descriptor is removed) and
// `--replicas-max-per-node`. Values are parsed by spec/; problems are noted, not thrown.
import type { Argv } from 'yargs';
import type { baton } from '../client/index.js';
import { parseCount, parsePlacementPref, MAX_REPLICAS } from '../spec/index.js';
import { repeated } from './context.js';
import type { FlagProblems } from './flag-problems.js';

export interface PlacementCreateFlags {
  'placement-pref'?: string | string[] | undefined;
  'replicas-max-per-node'?: string | number | undefined;
}

export interface PlacementUpdateFlags {
  'placement-pref-add'?: string | string[] | undefined;
  'placement-pref-rm'?: string | string[] | undefined;
  'replicas-max-per-node'?: string | number | undefined;
}

const MAX_DESCRIBE = 'the most tasks of the service on one node (0: no limit)';

export function placementCreateOptions<T>(y: Argv<T>): Argv<T & PlacementCreateFlags> {
  return y
    .option('placement-pref', { type: 'string', requiresArg: true, describe: 'spread=node.labels.KEY: spread tasks evenly over the label\'s values (repeatable)' })
    .option('replicas-max-per-node', { type: 'string', requiresArg: true, describe: MAX_DESCRIBE });
}

export function placementUpdateOptions<T>(y: Argv<T>): Argv<T & PlacementUpdateFlags> {
  return y
    .option('placement-pref-add', { type: 'string', requiresArg: true, describe: 'spread=node.labels.KEY (repeatable)' })
    .option('placement-pref-rm', { type: 'string', requiresArg: true, describe: 'spread=node.labels.KEY, as added (repeatable)' })
    .option('replicas-max-per-node', { type: 'string', requiresArg: true, describe: MAX_DESCRIBE });
}

function prefs(texts: readonly string[], flag: string, p: FlagProblems): baton.PlacementPreference.$Properties[] {
  return texts.flatMap((text) => {
    const parsed = parsePlacementPref(text, flag);
    if (parsed.ok) return [{ spread: parsed.value }];
    p.add(parsed.problem);
    return [];
  });
}

function maxReplicas(text: string | number, p: FlagProblems, fallback: number): number {
  return p.take(parseCount(text, '--replicas-max-per-node', { max: MAX_REPLICAS, limit: 'replicas per service' }), fallback);
}

/** The placement of `service create`: the constraints as given, the preferences and the limit. */
export function placementFromFlags(constraints: string[], f: PlacementCreateFlags, p: FlagProblems): baton.Placement.$Properties {
  const placement: baton.Placement.$Properties = { constraints, preferences: prefs(repeated(f['placement-pref']), '--placement-pref', p) };
  if (f['replicas-max-per-node'] !== undefined) placement.maxReplicas = maxReplicas(f['replicas-max-per-node'], p, 0);
  return placement;
}

/** `service update`'s placement flags on a copy of the spec's placement (Docker's order: rm, then add). */
export function applyPlacementFlags(placement: baton.Placement.$Properties, f: PlacementUpdateFlags, p: FlagProblems): void {
  const rm = new Set(prefs(repeated(f['placement-pref-rm']), '--placement-pref-rm', p).map((x) => x.spread));
  const kept = (placement.preferences ?? []).filter((x) => !rm.has(x.spread));
  placement.preferences = [...kept, ...prefs(repeated(f['placement-pref-add']), '--placement-pref-add', p)];
  if (f['replicas-max-per-node'] !== undefined) placement.maxReplicas = maxReplicas(f['replicas-max-per-node'], p, Number(placement.maxReplicas ?? 0));
}

/** `service inspect --pretty`'s Placement block, in Docker's layout; undefined when nothing is set. */
export function placementText(placement: baton.Placement.$Properties | null | undefined): string | undefined {
  const constraints = placement?.constraints ?? [];
  const preferences = (placement?.preferences ?? []).map((x) => `Spread=${x.spread ?? ''}`);
  const max = Number(placement?.maxReplicas ?? 0);
  const lines = [
    ...(constraints.length > 0 ? [` Constraints:\t[${constraints.join(' ')}]`] : []),
    ...(preferences.length > 0 ? [` Preferences:\t[${preferences.join(' ')}]`] : []),
    ...(max > 0 ? [` Max Replicas Per Node:\t${max}`] : []),
  ];
  return lines.length > 0 ? `\n${lines.join('\n')}` : undefined;
}

/** `service ls`'s REPLICAS suffix, as Docker's: " (max 2 per node)"; '' without a limit. */
export function maxPerNodeSuffix(placement: baton.Placement.$Properties | null | undefined): string {
  const max = Number(placement?.maxReplicas ?? 0);
  return max > 0 ? ` (max ${max} per node)` : '';
}
