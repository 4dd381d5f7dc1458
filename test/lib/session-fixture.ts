// The dispatcher's Sessions against a real store (LocalHost, no Raft), with the server stream
// reduced to what Sessions uses (write/end and its events): tests read exactly the messages a
// node would receive, and can make the stream refuse more (a node that reads slowly).
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import type { LocalHost } from '../../manager/reconcile/local-host.js';
import { Sessions, type SessionDeps } from '../../dispatcher/index.js';

export class FakeSessionStream extends EventEmitter {
  readonly messages: baton.internal.SessionMessage.$Properties[] = [];
  /** What write() answers: false is a full stream, as gRPC's when the node does not keep up. */
  accepting = true;

  constructor(readonly nodeId: string) {
    super();
  }

  write(msg: baton.internal.SessionMessage.$Properties): boolean {
    this.messages.push(msg);
    return this.accepting;
  }

  end(): void {
    this.emit('finished');
  }

  /** The node caught up. */
  drain(): void {
    this.accepting = true;
    this.emit('drain');
  }
}

/** Started Sessions of a leader whose store is the host's; every caller is the worker its stream names. */
export function leaderSessions(host: LocalHost, extra: Partial<SessionDeps> = {}): Sessions {
  const sessions = new Sessions({
    host: { store: host.store, isLeader: () => true, propose: (a) => host.propose(a) },
    guard: (call) => ({ nodeId: (call as unknown as FakeSessionStream).nodeId, role: 'worker' }),
    logger: pino({ level: 'silent' }),
    forwardStatus: () => Promise.reject(new Error('not forwarded in this test')),
    unseal: (b) => b,
    ...extra,
  });
  sessions.start();
  return sessions;
}

/** Opens the session of node `nodeId`; its first message (the full set) is already written. */
export function openSession(sessions: Sessions, nodeId: string): FakeSessionStream {
  const stream = new FakeSessionStream(nodeId);
  sessions.session(stream as unknown as Parameters<Sessions['session']>[0]);
  return stream;
}

/** Lets the session's batched flush (setImmediate) run. */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The task IDs of every backend in a session message's mesh table. */
export function meshBackends(msg: baton.internal.SessionMessage.$Properties | undefined): string[] {
  return (msg?.mesh ?? []).flatMap((m) => (m.ports ?? []).flatMap((p) => (p.backends ?? []).map((b) => b.taskId ?? '')));
}
