// A task as `--format json` prints it, and Docker's "5 seconds ago": shared by the task listings.
import { baton } from '../client/index.js';

export function taskObject(t: baton.Task.$Properties): Record<string, unknown> {
  return baton.Task.toObject(baton.Task.fromObject(t), { enums: String, longs: Number, defaults: true });
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  return `${h} hour${h === 1 ? '' : 's'} ago`;
}
