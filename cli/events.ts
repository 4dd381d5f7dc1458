// `baton events`: the cluster's changes as they happen, in `docker events`' shapes (a line per
// event, or --format json a JSON object per line). --since replays what the manager still holds.
import type { Argv } from 'yargs';
import type { baton } from '../client/index.js';
import { parseDuration } from '../spec/index.js';
import { globalOptions, repeated, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { print } from './output.js';

interface EventsArgs extends GlobalArgs {
  since?: string;
  until?: string;
  filter?: string | string[];
  format?: string;
}

/** A point in the event stream: a version (a whole number), a duration before now, or a timestamp. */
export type Point = { version: number } | { time: number };

export function parsePoint(text: string, flag: string, now: number, p: FlagProblems): Point | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const version = Number(t);
    if (Number.isSafeInteger(version)) return { version };
    p.add(`bad ${flag} "${t}": a version is at most ${Number.MAX_SAFE_INTEGER}`);
    return undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(t)) {
    const time = Date.parse(t);
    if (Number.isFinite(time)) return { time };
    p.add(`bad ${flag} "${t}": not a timestamp (want e.g. 2026-01-02T15:04:05Z)`);
    return undefined;
  }
  const d = parseDuration(t, flag);
  if (d.ok) return { time: now - d.value };
  p.add(`bad ${flag} "${t}": want a version (42), a duration before now (10m, 1h30m) or a timestamp (2026-01-02T15:04:05Z)`);
  return undefined;
}

const FILTER_KEYS = { type: 'kinds', id: 'ids', name: 'names', event: 'actions' } as const;
/** The values `type=` and `event=` take (the manager checks them too, for other clients). */
const KNOWN: Partial<Record<keyof typeof FILTER_KEYS, readonly string[]>> = {
  type: ['service', 'node', 'task', 'network', 'secret', 'config', 'cluster'],
  event: ['create', 'update', 'remove', 'rebalance'],
};

/** The request of a command line; every problem of it at once. */
export function eventsRequest(args: EventsArgs, now = Date.now()): baton.EventsRequest.$Properties {
  const p = new FlagProblems();
  const req: baton.EventsRequest.$Properties & { kinds: string[]; ids: string[]; names: string[]; actions: string[] } = { kinds: [], ids: [], names: [], actions: [] };
  if (args.since !== undefined) {
    const since = parsePoint(args.since, '--since', now, p);
    if (since && 'version' in since) req.sinceVersion = since.version;
    else if (since) req.sinceTime = since.time;
  }
  if (args.until !== undefined) {
    const until = parsePoint(args.until, '--until', now, p);
    if (until && 'version' in until) req.untilVersion = until.version;
    else if (until) req.untilTime = Math.max(until.time, 1);
  }
  const sinceAt = req.sinceVersion ?? req.sinceTime;
  const untilAt = req.untilVersion ?? req.untilTime;
  const sameKind = (req.sinceVersion !== undefined) === (req.untilVersion !== undefined);
  if (sinceAt != null && untilAt != null && sameKind && Number(sinceAt) > Number(untilAt)) p.add(`--since (${args.since}) is after --until (${args.until})`);
  for (const f of repeated(args.filter)) {
    const at = f.indexOf('=');
    const key = f.slice(0, at);
    const value = f.slice(at + 1);
    if (at <= 0 || value === '') p.add(`bad --filter "${f}": want key=value`);
    else if (!(key in FILTER_KEYS)) p.add(`bad --filter "${f}": unknown key "${key}" (want one of ${Object.keys(FILTER_KEYS).join(', ')})`);
    else {
      const known = KNOWN[key as keyof typeof FILTER_KEYS];
      if (known && !known.includes(value)) p.add(`bad --filter "${f}": want ${key}=${known.slice(0, -1).join(', ')} or ${known.at(-1)}`);
      else req[FILTER_KEYS[key as keyof typeof FILTER_KEYS]].push(value);
    }
  }
  if (args.format !== undefined && args.format !== 'json') p.add(`bad --format "${args.format}": want json (or no --format)`);
  p.check();
  return req;
}

/** Docker's line: time with nanoseconds, type, action, id, then the attributes sorted by key. */
export function eventLine(e: baton.Event.$Properties): string {
  const attrs = attributes(e);
  const pairs = Object.keys(attrs)
    .sort()
    .map((k) => `${k}=${attrs[k]}`);
  return `${nanoTime(Number(e.time ?? 0))} ${e.kind ?? ''} ${e.action ?? ''} ${e.id ?? ''} (${pairs.join(', ')})`;
}

/** Docker's JSON message (Type, Action, Actor, scope, time, timeNano). */
export function eventJson(e: baton.Event.$Properties): Record<string, unknown> {
  const ms = Number(e.time ?? 0);
  return {
    Type: e.kind ?? '',
    Action: e.action ?? '',
    Actor: { ID: e.id ?? '', Attributes: attributes(e) },
    scope: 'swarm',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1_000_000,
  };
}

function attributes(e: baton.Event.$Properties): Record<string, string> {
  return { ...(e.name ? { name: e.name } : {}), version: String(e.version ?? 0) };
}

function nanoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export function eventsCommand<T>(y: Argv<T>): Argv<T & EventsArgs> {
  return globalOptions(y)
    .option('since', { type: 'string', requiresArg: true, describe: 'replay from a version (42), a duration before now (10m) or a timestamp' })
    .option('until', { type: 'string', requiresArg: true, describe: 'stop after a version, or at a duration before now / a timestamp' })
    .option('filter', { alias: 'f', type: 'string', requiresArg: true, describe: 'type=service|node|task|network|secret|config|cluster, id=, name=, event=create|update|remove|rebalance (repeatable)' })
    .option('format', { type: 'string', requiresArg: true, describe: 'json: one JSON object per line' });
}

export async function runEvents(args: EventsArgs): Promise<void> {
  const req = eventsRequest(args);
  await withClient(args, async (client) => {
    for await (const e of client.events(req)) {
      if (e.gap) process.stderr.write(`Warning: ${e.gap}\n`);
      else print(args.format === 'json' ? JSON.stringify(eventJson(e)) : eventLine(e));
    }
  });
}
