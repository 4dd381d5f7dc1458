// Task states as Docker prints them: `running`, `pending`, `rejected`...
import { baton } from '../src/client/index.js';

const STATE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(baton.TaskState).map(([k, v]) => [v, k.replace(/^TASK_/, '').toLowerCase()]),
);

export function taskStateName(s: baton.TaskState | null | undefined): string {
  return STATE_NAMES[s ?? 0] ?? 'unknown';
}
