// Object ids, Docker's way: 25 lowercase base36 characters, drawn without modulo bias.
import { randomFillSync } from 'node:crypto';
import { baton } from '../../proto/gen/baton.js';

// One call into the random source per id was a tenth of the leader's CPU to create a task
// (randomBytes' allocation and call, ~8 µs each): the bytes come from a pool refilled a few
// KiB at a time, as crypto.randomUUID does, from the same source.
const randomPool = Buffer.alloc(4096);
let randomPoolAt = randomPool.length;

function randomByte(): number {
  if (randomPoolAt === randomPool.length) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  return randomPool[randomPoolAt++]!;
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

export function newObjectId(): string {
  let id = '';
  while (id.length < 25) {
    const b = randomByte();
    // 252 = 7 x 36: bytes above it would favour the first digits.
    if (b < 252) id += BASE36[b % 36]!;
  }
  return id;
}

const S = baton.TaskState;

/** The task has stopped for good (Swarm's terminal states; REMOVE is only ever desired). */
export function isFinished(state: baton.TaskState | null | undefined): boolean {
  return state === S.TASK_COMPLETE || state === S.TASK_SHUTDOWN || state === S.TASK_FAILED || state === S.TASK_REJECTED || state === S.TASK_ORPHANED;
}
