// Object ids, Docker's way: 25 lowercase base36 characters, drawn without modulo bias.
import { randomBytes } from 'node:crypto';
import { baton } from '../../proto/gen/baton.js';

export function newObjectId(): string {
  let id = '';
  while (id.length < 25) {
    for (const b of randomBytes(32)) {
      // 252 = 7 x 36: bytes above it would favour the first digits.
      if (b < 252 && id.length < 25) id += (b % 36).toString(36);
    }
  }
  return id;
}

const S = baton.TaskState;

/** The task has stopped for good (Swarm's terminal states; REMOVE is only ever desired). */
export function isFinished(state: baton.TaskState | null | undefined): boolean {
  return state === S.TASK_COMPLETE || state === S.TASK_SHUTDOWN || state === S.TASK_FAILED || state === S.TASK_REJECTED || state === S.TASK_ORPHANED;
}
