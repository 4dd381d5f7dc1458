// What a re-deploy must do: compare the spec we would send with the stored one (both in one
// canonical form, so field order, map order and default values do not count as changes).
import { baton } from '../../client/index.js';

export interface ServicePlan {
  create: baton.ServiceSpec.$Properties[];
  update: { service: baton.Service.$Properties; spec: baton.ServiceSpec.$Properties }[];
  unchanged: baton.Service.$Properties[];
  /** In the stack but no longer in the file: removed only with --prune (Docker's default). */
  orphaned: baton.Service.$Properties[];
}

/** A stable text of a spec: keys sorted, zero values (0, "", false, empty, unset) left out. */
export function canonicalSpec(spec: baton.ServiceSpec.$Properties): string {
  // Enums as numbers: their default is 0 like every other scalar's.
  // Through the wire format first: a float field (max_failure_ratio) is stored as float32.
  const wire = baton.ServiceSpec.decode(baton.ServiceSpec.encode(baton.ServiceSpec.fromObject(spec)).finish());
  const obj = baton.ServiceSpec.toObject(wire, { longs: Number, defaults: false });
  return JSON.stringify(strip(obj) ?? {});
}

/** The spec's map fields (a mount's volume options and labels among them). */
const MAPS = new Set(['labels', 'volumeOptions', 'volumeLabels', 'sysctls', 'options']);

/** Empty messages whose presence is the data (a global job has no settings). */
const MARKERS = new Set(['globalJob']);

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? undefined : (v as unknown[]).map((x) => strip(x) ?? (typeof x === 'object' ? {} : x));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const value = (v as Record<string, unknown>)[k];
      // A map's entries are data: `k: ""` is a label (or a volume driver option), not a default.
      const s = MAPS.has(k) ? sortedMap(value) : MARKERS.has(k) && value ? (strip(value) ?? {}) : strip(value);
      if (s !== undefined) out[k] = s;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (v === 0 || v === '' || v === false || v === null || v === undefined) return undefined;
  return v;
}

function sortedMap(v: unknown): Record<string, unknown> | undefined {
  if (v === null || typeof v !== 'object' || Object.keys(v).length === 0) return undefined;
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function sameSpec(a: baton.ServiceSpec.$Properties, b: baton.ServiceSpec.$Properties): boolean {
  return canonicalSpec(a) === canonicalSpec(b);
}

/** The file's spec as it replaces the stored `current` one, keeping what a file cannot say. */
export function deployedSpec(spec: baton.ServiceSpec.$Properties, current: baton.ServiceSpec.$Properties): baton.ServiceSpec.$Properties {
  // `service update --force` bumps this counter; the file cannot say it, so it is kept.
  return { ...spec, task: { ...spec.task, forceUpdate: current.task?.forceUpdate ?? 0 } };
}

export function planServices(existing: readonly baton.Service.$Properties[], desired: readonly baton.ServiceSpec.$Properties[]): ServicePlan {
  const byName = new Map(existing.map((s) => [s.spec?.annotations?.name ?? '', s]));
  const plan: ServicePlan = { create: [], update: [], unchanged: [], orphaned: [] };
  const wanted = new Set<string>();
  for (const spec of desired) {
    const name = spec.annotations?.name ?? '';
    wanted.add(name);
    const current = byName.get(name);
    if (!current) {
      plan.create.push(spec);
      continue;
    }
    const next = deployedSpec(spec, current.spec ?? {});
    if (sameSpec(current.spec ?? {}, next)) plan.unchanged.push(current);
    else plan.update.push({ service: current, spec: next });
  }
  for (const s of existing) if (!wanted.has(s.spec?.annotations?.name ?? '')) plan.orphaned.push(s);
  plan.orphaned.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
  return plan;
}
