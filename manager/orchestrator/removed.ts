// Tasks of a service that no longer exists. Each is told to go away (desired REMOVE): the
// dispatcher deletes it once its node reports it stopped. One that never reached a node, has
// already finished, or whose node is down or gone has nobody left to report, so it is deleted
// here at once.
import { baton } from '../../proto/gen/baton.js';
import type { Stored } from '../store/index.js';
import { nodeIsDown } from './instance.js';
import { isFinished, stateOf } from '../reconcile/tasks.js';
import type { TaskWrites } from '../reconcile/writes.js';

export function removeTasks(writes: TaskWrites, tasks: readonly Stored<'task'>[], node: (id: string) => Stored<'node'> | undefined): void {
  for (const t of tasks) {
    if (t.nodeId === '' || isFinished(stateOf(t)) || nodeIsDown(node(t.nodeId))) writes.delete(t);
    else if (t.desiredState !== baton.TaskState.TASK_REMOVE) {
      writes.update(t, (c) => {
        c.desiredState = baton.TaskState.TASK_REMOVE;
      });
    }
  }
}
