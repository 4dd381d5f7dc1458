// Who a certificate speaks for. A node certificate names its node in CN, its role in OU and its
// cluster in O (manager/ca issues them that way); nothing else in it is trusted for identity.
// A client certificate (`baton cert create`) has the same shape: its name in CN, its role
// (admin or readonly) in OU; a manager also checks that the cluster still lists it.
import type { PeerCertificate } from 'node:tls';
import { x509 } from './x509.js';

export { caDigest } from './encoding.js';

/** The roles a node certificate can carry. */
export const NODE_ROLES = ['manager', 'worker'] as const;
/** A node's role as written in its certificate's OU. */
export type NodeRole = (typeof NODE_ROLES)[number];

/** The roles a client certificate can carry: admin may do what the CLI can, readonly only read. */
export const CLIENT_ROLES = ['admin', 'readonly'] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number];
/** Any role a certificate of the cluster can carry in its OU. */
export type CertRole = NodeRole | ClientRole;

/** The identity a verified certificate proves. */
export interface PeerIdentity<R extends CertRole = CertRole> {
  /** The CN: a node's ID, or a client certificate's name. */
  nodeId: string;
  role: R;
  clusterId: string;
  notAfter: Date;
  /** Lowercase hex without leading zeros (normalSerial), '' when not known. */
  serial: string;
}

/** The identity a verified node certificate proves. */
export type NodeIdentity = PeerIdentity<NodeRole>;

/** A certificate that does not carry a node identity. */
export class IdentityError extends Error {
  readonly code = 'INVALID_IDENTITY';
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** True for 'admin' or 'readonly'. */
export function isClientRole(s: unknown): s is ClientRole {
  return typeof s === 'string' && (CLIENT_ROLES as readonly string[]).includes(s);
}

/** A certificate serial as one spelling: Node prints it upper case, padded to whole bytes. */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
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
  const identity = fromFields(field('CN'), field('OU'), field('O'), cert.notAfter, cert.subject, cert.serialNumber);
  if (!isNodeRole(identity.role)) throw new IdentityError(`certificate subject "${cert.subject}" has role "${identity.role}", expected manager or worker`);
  return { ...identity, role: identity.role };
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
export function peerIdentity(call: CallWithAuthContext): PeerIdentity | undefined {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert?.subject) return undefined;
  const { CN, OU, O } = cert.subject as Partial<Record<string, string | string[]>>;
  if (typeof CN !== 'string' || typeof OU !== 'string' || typeof O !== 'string') return undefined;
  try {
    return fromFields(CN, OU, O, new Date(cert.valid_to), `CN=${CN}, OU=${OU}, O=${O}`, cert.serialNumber ?? '');
  } catch (_) {
    return undefined;
  }
}

function fromFields(nodeId: string, role: string, clusterId: string, notAfter: Date, subject: string, serial: string): PeerIdentity {
  if (!isNodeRole(role) && !isClientRole(role)) throw new IdentityError(`certificate subject "${subject}" has role "${role}", expected manager, worker, admin or readonly`);
  if (Number.isNaN(notAfter.getTime())) throw new IdentityError(`certificate subject "${subject}" has no valid expiry`);
  return { nodeId, role, clusterId, notAfter, serial: normalSerial(serial) };
}
