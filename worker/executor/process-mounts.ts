// What a mount is for the process runtime, which has no filesystem of its own to mount into: a
// directory of the node, handed to the program as BATON_MOUNT_<TARGET> (the target upper-cased,
// what is not a letter or digit made '_': /var/lib/data → BATON_MOUNT_VAR_LIB_DATA).
//
//  - a named volume is `<volumesDir>/<name>`, made on first use and kept across tasks (so a task
//    replaced on the node finds what the last one wrote, as a Docker volume); the driver and its
//    options do not apply (there is no volume plugin here);
//  - an anonymous volume is a directory of the task's own, gone with the task;
//  - a bind is its source path, which must exist (Docker's rule and words);
//  - a tmpfs is a directory of the task's in memory (/dev/shm when the node has it), removed with
//    the task; its mode applies, its size cannot be enforced (a directory of a shared tmpfs).
//
// Read-only cannot be enforced either: the program runs as the node's user, with that user's
// rights on the directory. A mount that must not be written should be a directory the user
// cannot write.
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecutorError, errorMessage, type TaskMount, type TaskRunSpec } from './types.js';

export interface MountDirs {
  /** Named volumes, one directory each. */
  volumesDir: string;
  /** Where tmpfs mounts get their per-task directories. */
  tmpfsDir: string;
}

/** /dev/shm (memory) when the node has it, else the task's state directory. */
export function defaultTmpfsDir(fallback: string): string {
  return existsSync('/dev/shm') ? '/dev/shm/baton-tmpfs' : fallback;
}

/** BATON_MOUNT_<TARGET>: /data → BATON_MOUNT_DATA. */
export function mountVariable(target: string): string {
  return `BATON_MOUNT_${target.replace(/^\/+|\/+$/g, '').toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The directory that stands for each mount of the task, in order. `taskDir` is the task's own state directory. */
export function mountPaths(spec: Pick<TaskRunSpec, 'taskId' | 'mounts'>, taskDir: string, dirs: MountDirs): string[] {
  return (spec.mounts ?? []).map((m, i) => {
    if (m.type === 'bind') return m.source;
    if (m.type === 'tmpfs') return join(dirs.tmpfsDir, spec.taskId, String(i));
    return m.source === '' ? join(taskDir, 'volumes', String(i)) : join(dirs.volumesDir, m.source);
  });
}

/** Two targets that make one variable (/a-b and /a_b) cannot both be told to the program. */
export function checkMountVariables(spec: Pick<TaskRunSpec, 'taskId' | 'mounts'>): void {
  const seen = new Map<string, string>();
  for (const m of spec.mounts ?? []) {
    const name = mountVariable(m.target);
    const other = seen.get(name);
    if (other !== undefined) throw new ExecutorError('INVALID_SPEC', `task ${spec.taskId}: mounts ${other} and ${m.target} would both be ${name}`);
    seen.set(name, m.target);
  }
}

/** Makes the directories of the task's mounts (a bind's source must exist already). */
export async function prepareMounts(spec: Pick<TaskRunSpec, 'taskId' | 'mounts'>, paths: readonly string[]): Promise<void> {
  const mounts: readonly TaskMount[] = spec.mounts ?? [];
  for (const [i, m] of mounts.entries()) {
    const path = paths[i]!;
    if (m.type === 'bind') {
      const found = await stat(path).catch((err: unknown) => errorMessage(err));
      if (typeof found === 'string') throw new ExecutorError('START_FAILED', `task ${spec.taskId}: bind source path does not exist: ${path}`);
      continue;
    }
    await mkdir(path, { recursive: true });
    if (m.type === 'tmpfs') await chmod(path, m.tmpfsMode || 0o1777);
  }
}

/** Removes what belongs to the task alone: its tmpfs directories (anonymous volumes go with its state directory). */
export async function removeTaskMounts(taskId: string, dirs: MountDirs): Promise<void> {
  await rm(join(dirs.tmpfsDir, taskId), { recursive: true, force: true });
}
