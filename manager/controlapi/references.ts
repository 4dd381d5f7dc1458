// A service spec names the secrets and configs its tasks get and the networks they join; at
// create and update the names are resolved to ids (so a task keeps the object it was created
// with), defaults are filled in (Docker's: secret at /run/secrets/<name>, config at /<name>,
// mode 0444) and targets checked.
import type { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { echo } from '../../spec/index.js';
import type { ClusterStore } from '../store/index.js';
import type { DataKind } from './data-objects.js';

const DEFAULT_MODE = 0o444;

/** Fills in secret_id/config_id, target and mode of every reference; throws one clear error. */
export function resolveDataReferences(store: ClusterStore, spec: baton.ServiceSpec): void {
  const container = spec.task?.container;
  if (!container) return;
  container.secrets = (container.secrets ?? []).map((ref) => {
    const obj = find(store, 'secret', ref.secretId ?? '', ref.secretName ?? '');
    const name = obj.spec?.annotations?.name ?? '';
    const target = ref.target || name;
    checkSecretTarget(target);
    return { secretId: obj.meta.id, secretName: name, target, mode: mode(ref.mode, 'secret', name) };
  });
  container.configs = (container.configs ?? []).map((ref) => {
    const obj = find(store, 'config', ref.configId ?? '', ref.configName ?? '');
    const name = obj.spec?.annotations?.name ?? '';
    const target = ref.target || `/${name}`;
    checkConfigTarget(target);
    return { configId: obj.meta.id, configName: name, target, mode: mode(ref.mode, 'config', name) };
  });
  unique('secret', container.secrets.map((r) => r.target ?? ''));
  unique('config', container.configs.map((r) => r.target ?? ''));
}

function find(store: ClusterStore, kind: DataKind, id: string, name: string) {
  // An id given with the name (a spec read back and sent again) must still exist.
  const obj = (id ? store.get(kind, id) : undefined) ?? (name ? store.findByName(kind, name) : undefined);
  if (!obj) {
    const what = name || id;
    throw new BatonError('NOT_FOUND', what ? `${kind} ${echo(what)} not found (create it with \`baton ${kind} create\`)` : `a ${kind} reference needs a name`);
  }
  return obj;
}

function mode(m: number | null | undefined, kind: DataKind, name: string): number {
  if (!m) return DEFAULT_MODE;
  if (m < 0 || m > 0o777) throw new BatonError('INVALID_ARGUMENT', `${kind} ${name}: file mode ${m.toString(8)} is not between 0 and 0777`);
  return m;
}

// Names of path segments: no '..' or '.', nothing that needs quoting.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function segmentsOk(path: string): boolean {
  return path.split('/').every((s) => SEGMENT.test(s) && s !== '..');
}

/** A file name (or relative path) under /run/secrets. */
function checkSecretTarget(target: string): void {
  if (target.startsWith('/') || !segmentsOk(target)) {
    throw new BatonError('INVALID_ARGUMENT', `bad secret target "${echo(target)}": a file name under /run/secrets (letters, digits, '_', '.', '-')`);
  }
}

/** An absolute path in the container. */
function checkConfigTarget(target: string): void {
  if (!target.startsWith('/') || !segmentsOk(target.slice(1))) {
    throw new BatonError('INVALID_ARGUMENT', `bad config target "${echo(target)}": an absolute path (letters, digits, '_', '.', '-' in each part)`);
  }
}

function unique(kind: DataKind, targets: string[]): void {
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t)) throw new BatonError('INVALID_ARGUMENT', `two ${kind}s have the same target ${echo(t)}`);
    seen.add(t);
  }
}

/**
 * Turns each network a service joins, given by name, id or unique id prefix, into the network's
 * id (a task keeps the network it was created on, whatever is renamed or re-created later).
 * Every unknown network is named in one NOT_FOUND; the same network given twice (say by name
 * and by id) is refused.
 */
export function resolveNetworkReferences(store: ClusterStore, spec: baton.ServiceSpec): void {
  const task = spec.task;
  const given = task?.networks ?? [];
  if (!task || given.length === 0) return;
  const missing: string[] = [];
  const ids = new Map<string, string>();
  const resolved = given.map((n) => {
    const ref = n.target ?? '';
    let id = '';
    try {
      id = store.resolve('network', ref).meta.id;
    } catch (err) {
      if ((err as { code?: string }).code !== 'NOT_FOUND') throw new BatonError('INVALID_ARGUMENT', err instanceof Error ? err.message : String(err));
      missing.push(echo(ref));
    }
    if (id && ids.has(id)) {
      const name = store.get('network', id)?.spec?.annotations?.name ?? id;
      throw new BatonError('INVALID_ARGUMENT', `network ${name} is given twice (as ${echo(ids.get(id)!)} and ${echo(ref)}): a service joins a network once`);
    }
    if (id) ids.set(id, ref);
    return { target: id, aliases: [...(n.aliases ?? [])] };
  });
  if (missing.length > 0) {
    throw new BatonError('NOT_FOUND', `network${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found (create ${missing.length > 1 ? 'them' : 'it'} with \`baton network create\`)`);
  }
  task.networks = resolved.map((n) => ({ target: n.target, aliases: n.aliases }) as baton.NetworkAttachmentConfig);
}
