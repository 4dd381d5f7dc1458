// A task as `inspect` prints it, and Docker's "5 seconds ago": shared by the listings.
import { baton } from '../client/index.js';

export function taskObject(t: baton.Task.$Properties): Record<string, unknown> {
  return baton.Task.toObject(baton.Task.fromObject(t), { enums: String, longs: Number, defaults: true });
}

/**
 * A duration in words as Docker's CLI prints ages (go-units HumanDuration): "Less than a second",
 * "1 second", "45 seconds", "About a minute", "5 minutes", "About an hour", "3 hours", "2 days",
 * "3 weeks", "4 months", "2 years".
 */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const minutes = Math.floor(s / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  // Hours rounded, as go-units rounds the duration to the hour here.
  const hours = Math.round(s / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(s / 3600 / 24 / 365)} years`;
}

/** "5 seconds ago", as a secret's CREATED; a task's CURRENT STATE has it in lower case. */
export function ago(ms: number, now = Date.now()): string {
  return `${humanDuration(now - ms)} ago`;
}
