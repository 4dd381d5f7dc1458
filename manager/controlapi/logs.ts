// `service logs`: the manager asks each node that has tasks of the service for their output
// (NodeAgent.TaskLogs over mTLS) and streams it all back to the client, prefixed with the task.
import * as grpc from '@grpc/grpc-js';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { isOversize, OVERSIZE } from '../../rpc/define.js';
import type { Guard } from '../../rpc/caller.js';
import { taskLogsMethod } from '../../rpc/services.js';
import type { Manager } from '../manager.js';
import { resolveObject } from './resolve.js';
import { checkReferences, toBatonError } from './entry.js';
import { SERVICE_LOGS_RULE } from './methods.js';

type LogsCall = grpc.ServerWritableStream<baton.ServiceLogsRequest.$Properties, baton.LogLine.$Properties>;

export interface LogsDeps {
  manager: Manager;
  guard: Guard;
  credentials: () => grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
}

export function serviceLogsHandler(deps: LogsDeps): (call: LogsCall) => void {
  return (call) => {
    const streams: grpc.ClientReadableStream<baton.LogLine>[] = [];
    const clients: grpc.Client[] = [];
    const cleanup = (): void => {
      for (const s of streams) s.cancel();
      for (const c of clients) c.close();
    };
    call.on('cancelled', cleanup);
    const fail = (err: unknown): void => {
      cleanup();
      const mapped = toBatonError(err);
      call.emit('error', (mapped instanceof BatonError ? mapped : new BatonError('INTERNAL', mapped instanceof Error ? mapped.message : String(mapped))).toStatus());
    };
    const run = async (): Promise<void> => {
      // A stream, so not behind the unary entry; the same rule, checks and barrier by hand.
      deps.guard(call, SERVICE_LOGS_RULE.roles);
      if (isOversize(call.request)) throw new BatonError('RESOURCE_EXHAUSTED', `request of ${call.request[OVERSIZE].bytes} bytes is larger than the limit of ${call.request[OVERSIZE].limit}`);
      checkReferences(call.request);
      await deps.manager.readBarrier();
      const req = call.request;
      const svc = resolveObject(deps.manager, 'service', req.service ?? '');
      const tasks = deps.manager.store.list('task', { serviceIds: [svc.meta.id] }).filter((t) => t.nodeId && t.status?.containerId);
      const names = new Map(tasks.map((t) => [t.meta.id, `${t.annotations?.name ?? ''}.${t.meta.id}`]));
      const byNode = new Map<string, string[]>();
      for (const t of tasks) byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t.meta.id]);
      let open = 0;
      let paused = false;
      const pauseAll = (): void => {
        if (paused) return;
        paused = true;
        for (const s of streams) s.pause();
        call.once('drain', () => {
          paused = false;
          for (const s of streams) s.resume();
        });
      };
      for (const [nodeId, taskIds] of byNode) {
        const addr = deps.manager.store.get('node', nodeId)?.status?.addr;
        if (!addr) continue;
        const client = new grpc.Client(addr, deps.credentials(), deps.channelOptions);
        clients.push(client);
        const stream = client.makeServerStreamRequest<baton.internal.TaskLogsRequest.$Properties, baton.LogLine>(
          taskLogsMethod.path,
          taskLogsMethod.requestSerialize,
          taskLogsMethod.responseDeserialize as (b: Buffer) => baton.LogLine,
          { taskIds, follow: req.follow ?? false, tail: req.tail ?? 0 },
        );
        streams.push(stream);
        open++;
        stream.on('data', (line: baton.LogLine) => {
          // The client reads slower than the nodes send: stop reading them until it catches up,
          // so the lines wait in the nodes' files and gRPC flow control, not in our memory.
          if (!call.write({ ...line, taskName: names.get(line.taskId) ?? line.taskId })) pauseAll();
        });
        // A node that is down or gone just contributes nothing. 'end' and 'error' may both come.
        let finished = false;
        const done = (): void => {
          if (finished) return;
          finished = true;
          if (--open === 0) {
            cleanup();
            call.end();
          }
        };
        stream.on('end', done);
        stream.on('error', (err: grpc.ServiceError) => {
          // A node that cannot read its tasks' output (`--log-driver none`) says so, in Docker's
          // words, and the whole call fails with that one line.
          if (err.code === grpc.status.FAILED_PRECONDITION && !finished) fail(new BatonError('FAILED_PRECONDITION', err.details));
          else done();
        });
      }
      if (open === 0) call.end();
    };
    run().catch(fail);
  };
}
