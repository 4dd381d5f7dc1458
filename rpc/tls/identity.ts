// Who a certificate speaks for. A node certificate names its node in CN, its role in OU and its
// cluster in O (manager/ca issues them that way); nothing else in it is trusted for identity.
import type { PeerCertificate } from 'node:tls';
import { x509 } from './x509.js';

export { caDigest } from './encoding.js';

/** The roles a node certificate can carry. */
export const NODE_ROLES = ['manager', 'worker'] as const;
/** A node's role as written in its certificate's OU. */
export type NodeRole = (typeof NODE_ROLES)[number];

/** The identity a verified node certificate proves. */
export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  notAfter: Date;
}

/** A certificate that does not carry a node identity. */
export class IdentityError extends Error {
  readonly code = 'INVALID_IDENTITY';
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** True for 'manager' or 'worker'. */
export function isNodeRole(s: unknown): s is NodeRole {
  return typeof s === 'string' && (NODE_ROLES as readonly string[]).includes(s);
}

/** Reads CN/OU/O and the expiry of a node certificate (PEM or DER); does NOT verify its chain. */
export function parseNodeIdentity(certPemOrDer: string | Uint8Array): NodeIdentity {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(typeof certPemOrDer === 'string' ? certPemOrDer : Uint8Array.from(certPemOrDer));
  } catch (e) {
    throw new IdentityError(`not a certificate: ${(e as Error).message}`);
  }
  const field = (name: string): string => {
    const values = cert.subjectName.getField(name);
    if (values.length !== 1 || !values[0]) {
      throw new IdentityError(`certificate subject "${cert.subject}" must have exactly one ${name}`);
    }
    return values[0];
  };
  return fromFields(field('CN'), field('OU'), field('O'), cert.notAfter, cert.subject);
}

/** The structural slice of a grpc-js server call this module reads (unary and streaming calls alike). */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

/**
 * The caller's identity, or undefined when it presented no certificate or one that did not
 * verify against our root: grpc-js fills sslPeerCertificate only for an authorized TLS socket,
 * which with NodeServerCredentials means "chain verified against the cluster root CA".
 */
export function peerIdentity(call: CallWithAuthContext): NodeIdentity | undefined {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert?.subject) return undefined;
  const { CN, OU, O } = cert.subject as Partial<Record<string, string | string[]>>;
  if (typeof CN !== 'string' || typeof OU !== 'string' || typeof O !== 'string') return undefined;
  try {
    return fromFields(CN, OU, O, new Date(cert.valid_to), `CN=${CN}, OU=${OU}, O=${O}`);
  } catch (_) {
    return undefined;
  }
}

function fromFields(nodeId: string, role: string, clusterId: string, notAfter: Date, subject: string): NodeIdentity {
  if (!isNodeRole(role)) throw new IdentityError(`certificate subject "${subject}" has role "${role}", expected manager or worker`);
  if (Number.isNaN(notAfter.getTime())) throw new IdentityError(`certificate subject "${subject}" has no valid expiry`);
  return { nodeId, role, clusterId, notAfter };
}
