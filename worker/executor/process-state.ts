// The process executor's durable record of a task: `<stateDir>/<taskId>/task.json`. It is what
// lets a restarted worker adopt a process that outlived the previous one (the pid, and the
// kernel's start time of that pid so a recycled pid is never mistaken for the task), and what
// keeps an exit code once the executor has seen it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PortBinding, TaskRunSpec } from './types.js';

export const TASK_FILE = 'task.json';
export const STDOUT_FILE = 'stdout.log';
export const STDERR_FILE = 'stderr.log';

export interface TaskFile {
  version: 1;
  spec: Omit<TaskRunSpec, 'image' | 'runtime'>;
  state: 'created' | 'running' | 'exited';
  pid?: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), as read right after spawning. */
  procStart?: string;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  error?: string;
  hostPorts: PortBinding[];
}

/** undefined when the task has no file (never prepared, or removed). */
export async function readTaskFile(dir: string): Promise<TaskFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, TASK_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const f = JSON.parse(text) as TaskFile;
  if (f.version !== 1) throw new Error(`${join(dir, TASK_FILE)}: unknown version ${String(f.version)}`);
  return f;
}

let tmpCounter = 0;

/** Write to a temp file and rename over, so a crash never leaves half a record. */
export async function writeTaskFile(dir: string, f: TaskFile): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${TASK_FILE}.${process.pid}.${++tmpCounter}.tmp`);
  await writeFile(tmp, JSON.stringify(f, null, 2));
  await rename(tmp, join(dir, TASK_FILE));
}

interface ProcStat {
  state: string;
  start: string;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Field 2 is the command in parentheses and may itself hold spaces and parentheses: the
  // fields after it start after the last ')'. Fields from 3 on: rest[0] is 3, so 22 is rest[19].
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const start = rest[19];
  return state !== undefined && start !== undefined ? { state, start } : undefined;
}

/** The kernel's start time of pid, to recognise it later; undefined without /proc or if it is gone. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/**
 * Whether pid is still the process we started: alive (a zombie has exited), and, where /proc
 * exists, with the same start time (a pid recycled for another program has a later one).
 */
export function isSameProcess(pid: number, procStart: string | undefined): boolean {
  const stat = procStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X' && (procStart === undefined || stat.start === procStart);
  if (procStart !== undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Signals the whole process group (the task and whatever it forked); a group already gone is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
