// `baton events`: the changes of cluster objects, replayed from the answering manager's recent
// history (manager/events/history.ts) and then followed as its store applies them. Local to
// the manager called: no barrier, no forwarding, so a follower answers while no leader is.
import type * as grpc from '@grpc/grpc-js';
import type { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { isOversize, OVERSIZE } from '../../rpc/define.js';
import type { Guard } from '../../rpc/caller.js';
import { MAX_REFERENCE_LENGTH } from '../../rpc/limits.js';
import { describeProblems, echo } from '../../spec/index.js';
import type { EventHistory, EventT } from '../events/history.js';
import { KINDS } from '../store/index.js';
import { toBatonError } from './entry.js';
import { EVENTS_RULE } from './methods.js';

type EventsCall = grpc.ServerWritableStream<baton.EventsRequest, baton.Event.$Properties>;

export const EVENT_ACTIONS = ['create', 'update', 'remove', 'rebalance'] as const;

/** Events waiting for a client that reads slower than the cluster changes; past it the stream ends. */
export const MAX_PENDING_EVENTS = 10_000;

export interface EventsDeps {
  history: EventHistory;
  guard: Guard;
  now?: () => number;
}

/** Every problem of a request at once (unknown kinds or actions, ids or names too long). */
export function checkEventsRequest(req: baton.EventsRequest.$Properties): void {
  const problems: string[] = [];
  for (const k of req.kinds ?? []) if (!(KINDS as readonly string[]).includes(k)) problems.push(`unknown event type "${echo(k)}" (want one of ${KINDS.join(', ')})`);
  for (const a of req.actions ?? []) if (!(EVENT_ACTIONS as readonly string[]).includes(a)) problems.push(`unknown event action "${echo(a)}" (want one of ${EVENT_ACTIONS.join(', ')})`);
  for (const r of [...(req.ids ?? []), ...(req.names ?? [])]) {
    if (r.length > MAX_REFERENCE_LENGTH) problems.push(`"${echo(r)}" is longer than any id or name (at most ${MAX_REFERENCE_LENGTH} characters)`);
  }
  if (req.sinceVersion != null && Number(req.sinceTime ?? 0) > 0) problems.push('since_version and since_time cannot both be set');
  if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', describeProblems(problems));
}

export function eventFilter(req: baton.EventsRequest.$Properties): (e: EventT) => boolean {
  const kinds = req.kinds ?? [];
  const actions = req.actions ?? [];
  const ids = req.ids ?? [];
  const names = (req.names ?? []).map((n) => n.toLowerCase());
  return (e) =>
    (kinds.length === 0 || kinds.includes(e.kind)) &&
    (actions.length === 0 || actions.includes(e.action)) &&
    (ids.length === 0 || ids.some((id) => e.id.startsWith(id))) &&
    (names.length === 0 || names.includes(e.name.toLowerCase()));
}

export function eventsHandler(deps: EventsDeps): (call: EventsCall) => void {
  const now = deps.now ?? Date.now;
  return (call) => {
    let unsubscribe: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const end = (status?: grpc.StatusObject): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      if (status) call.emit('error', status);
      else call.end();
    };
    call.on('cancelled', () => end());
    try {
      deps.guard(call, EVENTS_RULE.roles);
      if (isOversize(call.request)) throw new BatonError('RESOURCE_EXHAUSTED', `request of ${call.request[OVERSIZE].bytes} bytes is larger than the limit of ${call.request[OVERSIZE].limit}`);
      const req = call.request;
      checkEventsRequest(req);
      const wanted = eventFilter(req);
      const untilVersion = Number(req.untilVersion ?? 0);
      const untilTime = Number(req.untilTime ?? 0);
      let last = 0;
      let pending = 0;
      const send = (e: EventT): void => {
        if (ended) return;
        if (untilVersion > 0 && e.version > untilVersion) return end();
        if (untilTime > 0 && e.time >= untilTime) return end();
        last = Math.max(last, e.version);
        if (!wanted(e)) return;
        if (!call.write(e)) {
          // The client is behind: gRPC keeps what was written; refuse to keep more than a bound.
          if (++pending > MAX_PENDING_EVENTS) {
            end(new BatonError('RESOURCE_EXHAUSTED', `the client reads events slower than the cluster changes; resume with since_version ${last}`).toStatus());
          }
        } else pending = 0;
      };
      // Subscribed before the replay is read (both synchronous): nothing falls in between.
      const live: EventT[] = [];
      let replaying = true;
      unsubscribe = deps.history.subscribe((e) => (replaying ? live.push(e) : send(e)));
      const replay = replayOf(deps.history, req, now());
      if (replay.gap) call.write({ gap: replay.gap });
      for (const e of replay.events) send(e);
      replaying = false;
      for (const e of live) if (e.version > last) send(e);
      call.on('drain', () => (pending = 0));
      if (untilVersion > 0 && last >= untilVersion) return end();
      if (untilTime > 0) {
        const wait = untilTime - now();
        if (wait <= 0) return end();
        timer = setTimeout(() => end(), Math.min(wait, 2 ** 31 - 1));
      }
    } catch (err) {
      const mapped = toBatonError(err);
      end((mapped instanceof BatonError ? mapped : new BatonError('INTERNAL', mapped instanceof Error ? mapped.message : String(mapped))).toStatus());
    }
  };
}

/** What to replay first, and the line to send when part of it is no longer held. */
function replayOf(history: EventHistory, req: baton.EventsRequest.$Properties, now: number): { events: EventT[]; gap?: string } {
  if (req.sinceVersion != null) {
    const since = Number(req.sinceVersion);
    const r = history.afterVersion(since);
    if (r.complete) return { events: r.events };
    return { events: r.events, gap: `this manager no longer holds every event after version ${since}: it holds those after version ${r.oldest} (the last ${history.capacity} changes it applied since it started)` };
  }
  const sinceTime = Number(req.sinceTime ?? 0);
  if (sinceTime <= 0) return { events: [] };
  const r = history.sinceTime(sinceTime);
  if (r.complete || sinceTime > now) return { events: r.events };
  return { events: r.events, gap: `this manager no longer holds every event since ${new Date(sinceTime).toISOString()}: it holds those since ${new Date(r.oldest).toISOString()} (the last ${history.capacity} changes it applied since it started)` };
}
