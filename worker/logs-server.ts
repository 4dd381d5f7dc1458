// The node's TaskLogs stream (proto NodeAgent): managers ask a node for the output of the tasks
// it runs; several tasks' logs are interleaved as they come.
import type * as grpc from '@grpc/grpc-js';
import type { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';
import type { Guard } from '../rpc/caller.js';
import { ExecutorError, type LogChunk, type LogOptions } from './executor/index.js';

type LogsCall = grpc.ServerWritableStream<baton.internal.TaskLogsRequest.$Properties, baton.LogLine.$Properties>;

export interface LogSource {
  logs(taskId: string, opts: LogOptions): AsyncIterable<LogChunk>;
}

export function taskLogsHandler(source: () => LogSource | undefined, nodeId: string, guard: Guard): (call: LogsCall) => void {
  return (call) => {
    let cancelled = false;
    // Waiting for 'drain' also ends when the call does, so a pump never waits forever.
    const wakeWaiters = new Set<() => void>();
    const drained = (): Promise<void> => new Promise((resolve) => wakeWaiters.add(resolve));
    const wake = (): void => {
      for (const resolve of wakeWaiters) resolve();
      wakeWaiters.clear();
    };
    call.on('drain', wake);
    call.on('cancelled', () => {
      cancelled = true;
      wake();
    });
    try {
      guard(call, ['manager']);
    } catch (err) {
      call.emit('error', (err instanceof BatonError ? err : new BatonError('INTERNAL', String(err))).toStatus());
      return;
    }
    const agent = source();
    const req = call.request;
    const opts: LogOptions = { follow: req.follow ?? false, tail: Number(req.tail ?? 0) };
    // A task whose log driver keeps nothing to read: the whole call fails with Docker's words.
    let unreadable: string | undefined;
    const pump = async (taskId: string): Promise<void> => {
      if (!agent) return;
      try {
        for await (const chunk of agent.logs(taskId, opts)) {
          if (cancelled) return;
          // A slow reader (a paused `service logs`, a slow link) must slow the reading of the
          // task's output, not pile it up in this process's memory.
          if (!call.write({ taskId, nodeId, stderr: chunk.stream === 'stderr', data: chunk.data, timestamp: chunk.timestamp })) await drained();
        }
      } catch (err) {
        if (err instanceof ExecutorError && err.code === 'LOGS_UNREADABLE') unreadable ??= err.message;
        // Otherwise a task this node no longer has: nothing to show for it.
      }
    };
    const finish = (): void => {
      if (unreadable !== undefined && !cancelled) call.emit('error', new BatonError('FAILED_PRECONDITION', unreadable).toStatus());
      else call.end();
    };
    Promise.all((req.taskIds ?? []).map(pump)).then(finish, finish);
  };
}
