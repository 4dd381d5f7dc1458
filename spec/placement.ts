// Placement preferences and the per-node replica limit, as Docker takes them: `--placement-pref
// spread=node.labels.zone` (only the spread strategy exists, over a node or engine label) and
// `--replicas-max-per-node N`. Parsed here for the CLI, checked here again for any spec that
// comes in (the manager does not trust clients).
import type { baton } from '../proto/gen/baton.js';
import { echo, ok, problem, type Parsed } from './parsed.js';
import { MAX_REPLICAS } from './limits.js';

/** Preferences of one service: each is a level of the scheduler's tree. */
export const MAX_PLACEMENT_PREFERENCES = 16;

/**
 * A node or engine label, or one of the node's own fields. Real stacks spread over `node.id`
 * (dockerswarm.rocks' traefik stack): Swarm takes it, so baton does, as one branch per node.
 */
const DESCRIPTOR = /^((node|engine)\.labels\.[^=!\s]+|node\.(id|hostname))$/;

/** Why a spread descriptor is not one (undefined for `node.labels.KEY`, `engine.labels.KEY`, `node.id`, `node.hostname`). */
export function spreadProblem(descriptor: string): string | undefined {
  return DESCRIPTOR.test(descriptor) ? undefined : `cannot spread over "${echo(descriptor)}" (want node.labels.KEY, engine.labels.KEY, node.id or node.hostname)`;
}

/** `spread=node.labels.zone` (Docker's syntax and words) → the descriptor. */
export function parsePlacementPref(text: string, flag = '--placement-pref'): Parsed<string> {
  const bad = (why: string): Parsed<string> => problem(`bad ${flag} "${echo(text)}": ${why}`, why);
  const fields = text.split('=');
  if (fields.length !== 2) return bad('placement preference must be of the format "<strategy>=<arg>"');
  const [strategy = '', descriptor = ''] = fields;
  if (strategy !== 'spread') return bad(`unsupported placement preference ${echo(strategy)} (only spread is supported)`);
  const why = spreadProblem(descriptor);
  return why === undefined ? ok(descriptor) : bad(why);
}

/** The problems of a spec's preferences and max replicas (the constraints are checked apart). */
export function placementProblems(placement: baton.Placement.$Properties | null | undefined, global: boolean): string[] {
  const out: string[] = [];
  const prefs = placement?.preferences ?? [];
  if (prefs.length > MAX_PLACEMENT_PREFERENCES) out.push(`placement preferences: ${prefs.length} entries, more than the limit of ${MAX_PLACEMENT_PREFERENCES}`);
  for (const pref of prefs.slice(0, MAX_PLACEMENT_PREFERENCES)) {
    const why = spreadProblem(pref?.spread ?? '');
    if (why !== undefined) out.push(`placement preference: ${why}`);
  }
  // A number as decoded (Long is disabled): a uint64 beyond 2^53 arrives rounded, and is refused.
  const max = Number(placement?.maxReplicas ?? 0);
  if (!Number.isInteger(max) || max < 0) out.push(`max_replicas ${String(placement?.maxReplicas)} is not a whole number`);
  else if (max > MAX_REPLICAS) out.push(`max_replicas ${max} is more than the limit of ${MAX_REPLICAS} replicas per service`);
  else if (max > 0 && global) out.push('replicas-max-per-node can only be used with replicated mode');
  return out;
}
