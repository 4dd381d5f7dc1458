// Names of the enum values users see (`service ps`, metrics labels), as Docker prints them:
// task states `running`, `pending`…; node states `ready`, `down`…; availability `active`, `drain`….
import { baton } from '../proto/gen/baton.js';

function lowerNames(values: Record<string, string | number>, prefix: RegExp): Record<number, string> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => [v, k.replace(prefix, '').toLowerCase()]),
  );
}

const TASK_STATES = lowerNames(baton.TaskState, /^TASK_/);
const NODE_STATES = lowerNames(baton.NodeState, /^NODE_/);
const AVAILABILITIES = lowerNames(baton.NodeAvailability, /^$/);

export function taskStateName(s: baton.TaskState | null | undefined): string {
  return TASK_STATES[s ?? 0] ?? 'unknown';
}

export function nodeStateName(s: baton.NodeState | null | undefined): string {
  return NODE_STATES[s ?? 0] ?? 'unknown';
}

export function availabilityName(a: baton.NodeAvailability | null | undefined): string {
  return AVAILABILITIES[a ?? 0] ?? 'unknown';
}
