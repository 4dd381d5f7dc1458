// A service spec names the secrets and configs its tasks get; at create and update the names
// are resolved to ids (so a task keeps the object it was created with), defaults are filled in
// (Docker's: secret at /run/secrets/<name>, config at /<name>, mode 0444) and targets checked.
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
