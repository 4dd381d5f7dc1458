// Whether a process is still there, for tests that check what a kill or a stop leaves behind.
import { readFileSync } from 'node:fs';

/** True while `pid` runs or sleeps; false once it has exited, even if not yet reaped (a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The state letter follows the command name, which is in parentheses and may contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
