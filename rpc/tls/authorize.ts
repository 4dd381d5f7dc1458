// Authorization for handlers on the node's one TCP port. Two different failures, two statuses:
// no verified certificate is UNAUTHENTICATED (the caller must get one first); a verified node of
// the wrong role or cluster is PERMISSION_DENIED (retrying with the same certificate is futile).
import * as grpc from '@grpc/grpc-js';
import { peerIdentity } from './identity.js';
import { isClientRole } from './identity.js';
import type { CallWithAuthContext, CertRole, NodeIdentity, NodeRole, PeerIdentity } from './identity.js';

/** A refusal that grpc-js accepts as-is: pass it to a unary callback or emit it on a stream. */
export class AuthError extends Error implements grpc.StatusObject {
  readonly details: string;
  readonly metadata = new grpc.Metadata();
  constructor(
    readonly code: grpc.status.UNAUTHENTICATED | grpc.status.PERMISSION_DENIED,
    details: string,
  ) {
    super(details);
    this.name = 'AuthError';
    this.details = details;
  }
}

/** The outcome of checkPeer. */
export type AuthResult<R extends CertRole = NodeRole> = { ok: true; identity: PeerIdentity<R> } | { ok: false; error: AuthError };

/** Checks that the caller holds a verified, unexpired certificate of `clusterId` with one of `roles`. */
export function checkPeer<R extends CertRole>(call: CallWithAuthContext, roles: readonly R[], clusterId: string, now = new Date()): AuthResult<R> {
  const identity = peerIdentity(call);
  if (!identity) {
    return { ok: false, error: new AuthError(grpc.status.UNAUTHENTICATED, 'a verified node certificate is required') };
  }
  // The handshake checked expiry, but an HTTP/2 connection may outlive the certificate.
  if (identity.notAfter.getTime() <= now.getTime()) {
    return { ok: false, error: new AuthError(grpc.status.UNAUTHENTICATED, `certificate of ${identity.nodeId} expired at ${identity.notAfter.toISOString()}`) };
  }
  if (identity.clusterId !== clusterId) {
    return { ok: false, error: new AuthError(grpc.status.PERMISSION_DENIED, `node ${identity.nodeId} belongs to cluster ${identity.clusterId}, not ${clusterId}`) };
  }
  if (!hasRole(identity, roles)) return { ok: false, error: new AuthError(grpc.status.PERMISSION_DENIED, roleRefusal(identity, roles)) };
  return { ok: true, identity };
}

function hasRole<R extends CertRole>(identity: PeerIdentity, roles: readonly R[]): identity is PeerIdentity<R> {
  return (roles as readonly CertRole[]).includes(identity.role);
}

/**
 * Why a certificate of `identity.role` may not make a call open to `roles`, in one line naming
 * the role. A client is told about client roles only: a node certificate is not for it to get.
 */
export function roleRefusal(identity: { nodeId: string; role: CertRole }, roles: readonly CertRole[]): string {
  if (!isClientRole(identity.role)) return `node ${identity.nodeId} is a ${identity.role}; this call needs ${roles.join(' or ')}`;
  const clientRoles = roles.filter(isClientRole);
  if (identity.role === 'readonly' && clientRoles.includes('admin')) {
    return `permission denied: certificate "${identity.nodeId}" has role readonly, which may only list, inspect and read logs`;
  }
  const needs = clientRoles.length > 0 ? `an ${clientRoles.join(' or ')} certificate` : 'a node certificate';
  return `permission denied: certificate "${identity.nodeId}" has role ${identity.role}; this call needs ${needs}`;
}

/** checkPeer that returns the identity or throws the AuthError. */
export function requireRole(call: CallWithAuthContext, clusterId: string, ...roles: NodeRole[]): NodeIdentity {
  const result = checkPeer(call, roles, clusterId);
  if (!result.ok) throw result.error;
  return result.identity;
}

/** A unary handler that is also told who called. */
export type AuthorizedUnaryHandler<Req, Res> = (
  call: grpc.ServerUnaryCall<Req, Res>,
  callback: grpc.sendUnaryData<Res>,
  identity: NodeIdentity,
) => void;

/** Wraps a unary handler so it runs only for an authorized caller; others get the AuthError. */
export function authorize<Req, Res>(
  roles: readonly NodeRole[],
  clusterId: string,
  handler: AuthorizedUnaryHandler<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const result = checkPeer(call, roles, clusterId);
    if (!result.ok) {
      callback(result.error);
      return;
    }
    handler(call, callback, result.identity);
  };
}

/** A server-streaming or bidi handler that is also told who called. */
export type AuthorizedStreamHandler<Call> = (call: Call, identity: NodeIdentity) => void;

/** Wraps a server-streaming or bidi handler: an unauthorized call ends with the AuthError's status. */
export function authorizeStream<Call extends grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>>(
  roles: readonly NodeRole[],
  clusterId: string,
  handler: AuthorizedStreamHandler<Call>,
): (call: Call) => void {
  return (call) => {
    const result = checkPeer(call, roles, clusterId);
    if (!result.ok) {
      // grpc-js turns an 'error' event on a server stream into the call's final status.
      call.emit('error', result.error);
      return;
    }
    handler(call, result.identity);
  };
}
