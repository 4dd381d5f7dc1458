// What users read of a spec or a status (`service ls|ps`, metrics labels, the web view), as
// Docker prints it: task states `running`, `pending`…; node states `ready`, `down`…;
// availability `active`, `drain`…; the image column; published ports `*:8080->80/tcp`.
import { baton } from '../proto/gen/baton.js';

function lowerNames(values: Record<string, string | number>, prefix: RegExp): Record<number, string> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => [v, k.replace(prefix, '').toLowerCase()]),
  );
}

const TASK_STATES = lowerNames(baton.TaskState, /^TASK_/);
const NODE_STATES = lowerNames(baton.NodeState, /^NODE_/);
const AVAILABILITIES = lowerNames(baton.NodeAvailability, /^$/);

export function taskStateName(s: baton.TaskState | null | undefined): string {
  return TASK_STATES[s ?? 0] ?? 'unknown';
}

export function nodeStateName(s: baton.NodeState | null | undefined): string {
  return NODE_STATES[s ?? 0] ?? 'unknown';
}

const UPDATE_STATES = lowerNames(baton.UpdateState, /^UPDATE_/);

/** A service's last update (or rollback): `updating`, `paused`, `completed`, `rollback_started`, …; '' when none. */
export function updateStateName(s: baton.UpdateState | null | undefined): string {
  return s === undefined || s === null || s === baton.UpdateState.UPDATE_NONE ? '' : (UPDATE_STATES[s] ?? '');
}

export function availabilityName(a: baton.NodeAvailability | null | undefined): string {
  return AVAILABILITIES[a ?? 0] ?? 'unknown';
}

/** `service ls`'s IMAGE: the image, or the program of a process task. */
export function imageText(task: { readonly runtime?: string | null; readonly container?: { readonly image?: string | null; readonly command?: readonly string[] | null } | null } | null | undefined): string {
  const c = task?.container;
  return task?.runtime === 'process' ? `(process) ${(c?.command ?? []).join(' ')}` : c?.image ?? '';
}

type PortView = Pick<baton.PortConfig.$Properties, 'protocol' | 'targetPort' | 'publishedPort' | 'publishMode' | 'proxyProtocol'>;

export function portsText(ports: readonly Readonly<PortView>[] | null | undefined): string {
  return (ports ?? [])
    .map((p) => `*:${p.publishedPort ?? 0}->${p.targetPort ?? 0}/${p.protocol === baton.PortProtocol.UDP ? 'udp' : 'tcp'}${p.publishMode === baton.PublishMode.HOST ? ' (host)' : ''}${proxyText(p.proxyProtocol)}`)
    .join(', ');
}

function proxyText(p: baton.ProxyProtocol | null | undefined): string {
  if (p === baton.ProxyProtocol.PROXY_V1) return ' (proxy-protocol v1)';
  if (p === baton.ProxyProtocol.PROXY_V2) return ' (proxy-protocol v2)';
  return '';
}
