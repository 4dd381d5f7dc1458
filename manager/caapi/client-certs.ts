// Client certificates (`baton cert create|ls|rm`), as Control calls behind the one entry (so the
// caller's role is checked there). The client sends a CSR and keeps its key; the manager decides
// the name, role and lifetime, signs, and records the certificate in the store. A call with a
// client certificate is accepted only while that record exists (rpc/caller.ts): removing it
// revokes the certificate on every manager at once.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { isClientRole } from '../../rpc/tls/identity.js';
import { echo, MAX_NAME_LENGTH, NAME_PATTERN } from '../../spec/index.js';
import { CAError } from '../ca/index.js';
import type { ControlHandlers } from '../controlapi/entry.js';
import { listFilterOf } from '../controlapi/filters.js';
import { page } from '../controlapi/paging.js';
import { resolveObject } from '../controlapi/resolve.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId } from '../store/index.js';
import { clusterSigner } from './signer.js';

/** 90 days unless `baton cert create --expiry` says otherwise. */
export const DEFAULT_CLIENT_CERT_VALIDITY_MS = 90 * 24 * 3600 * 1000;

export type CertificateMethods = 'CreateCertificate' | 'ListCertificates' | 'RemoveCertificate';

export interface ClientCertDeps {
  manager: Manager;
  clusterId: string;
  /** The managers' sealing key (unseals the root CA key). */
  managerKey: Uint8Array;
  now?: () => number;
}

export function clientCertificateHandlers(deps: ClientCertDeps): ControlHandlers<CertificateMethods> {
  const { manager } = deps;
  const now = deps.now ?? Date.now;
  const { cluster, signer } = clusterSigner(manager, deps.managerKey);

  return {
    async CreateCertificate(req) {
      const name = req.name ?? '';
      const role = req.role ?? '';
      const problems = requestProblems(name, role, Number(req.expiryMs ?? 0));
      if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', problems.join('; '));
      if (!isClientRole(role)) throw new BatonError('INVALID_ARGUMENT', `bad role "${echo(role)}"`);
      // The store refuses a taken name too (at apply); this says it before a Raft round, clearly.
      if (manager.store.list('certificate', { names: [name] }).length > 0) throw new BatonError('ALREADY_EXISTS', `certificate ${name} already exists`);
      const validity = Number(req.expiryMs ?? 0) || DEFAULT_CLIENT_CERT_VALIDITY_MS;
      const t = now();
      let issued;
      try {
        issued = await (await signer()).issueClientCertificate(req.csrPem ?? '', { name, role, clusterId: deps.clusterId }, validity, new Date(t));
      } catch (err) {
        if (err instanceof CAError) throw new BatonError('INVALID_ARGUMENT', err.message);
        throw err;
      }
      const record = {
        meta: { id: newObjectId(), createdAt: t, updatedAt: t },
        spec: { annotations: { name, labels: {} }, role },
        serial: issued.serial,
        expiresAt: issued.notAfter.getTime(),
      };
      const [stored] = await manager.propose([createAction('certificate', record)]);
      return { certificate: stored!.object as baton.ClientCertificate, certPem: issued.certPem, caCertPem: cluster().rootCa?.caCertPem ?? '' };
    },

    async ListCertificates(req) {
      const all = manager.store.list('certificate', listFilterOf(req.filters));
      const { items, nextPageToken } = page(all, req, (c) => baton.ClientCertificate.encode(c as baton.ClientCertificate).finish().length);
      return { certificates: items as baton.ClientCertificate[], nextPageToken };
    },

    async RemoveCertificate(req) {
      const cert = resolveObject(manager, 'certificate', req.id ?? '');
      await manager.propose([deleteAction('certificate', cert)]);
      return { warning: '' };
    },
  };
}

/** Every problem of a create request at once. */
export function requestProblems(name: string, role: string, expiryMs: number): string[] {
  const problems: string[] = [];
  if (name === '') problems.push('a certificate name is required');
  else if (name.length > MAX_NAME_LENGTH) problems.push(`certificate name "${echo(name)}" is ${name.length} characters, more than the limit of ${MAX_NAME_LENGTH}`);
  else if (!NAME_PATTERN.test(name)) problems.push(`invalid certificate name "${echo(name)}": use letters, digits, '_', '.', '-', starting with a letter or digit`);
  if (!isClientRole(role)) problems.push(`bad role "${echo(role)}" (want admin or readonly)`);
  if (!Number.isFinite(expiryMs) || expiryMs < 0) problems.push(`bad expiry ${expiryMs} ms (want a positive duration)`);
  return problems;
}

/**
 * The role a client certificate still has, or undefined once it was revoked: the store must
 * list a certificate of that name with that serial (a new certificate of the same name, made
 * after a `cert rm`, does not bring the old one back).
 */
export function clientCertificateRole(manager: Manager, name: string, serial: string): 'admin' | 'readonly' | undefined {
  const record = manager.store.list('certificate', { names: [name] })[0];
  if (!record || record.serial !== serial || serial === '') return undefined;
  const role = record.spec?.role ?? '';
  return isClientRole(role) ? role : undefined;
}
