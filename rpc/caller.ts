// Who is calling a handler. On the node's TCP port that is the verified certificate (CN, OU, O);
// on the local unix socket it is the machine's administrator. A manager forwarding a call to the
// leader says whom it forwards for; only a verified manager is believed.
import * as grpc from '@grpc/grpc-js';
import { checkPeer, isClientRole, isNodeRole, roleRefusal, type CallWithAuthContext, type CertRole, type PeerIdentity } from './tls/index.js';
import { BatonError } from './errors.js';

export interface Caller {
  /** '' for a local administrator; a client certificate's name for a client. */
  nodeId: string;
  role: CertRole | 'local';
}

/** Unary and streaming server calls alike. */
type AnyCall = CallWithAuthContext & { metadata: grpc.Metadata };

/** Returns the caller if it may call with one of `roles` (a local administrator always may). */
export type Guard = (call: AnyCall, roles: readonly CertRole[]) => Caller;

export const FORWARDED_FOR = 'x-baton-forwarded-for';

export const localGuard: Guard = () => ({ nodeId: '', role: 'local' });

/**
 * The role a certificate's holder has in the cluster's current state, or undefined when it is
 * not (or no longer) part of it: a node that was removed, a client certificate that was revoked
 * (`baton cert rm`). A certificate says what was true when it was issued; demotion, removal and
 * revocation take effect at once only because every call is also checked against this.
 */
export type CurrentRole = (identity: PeerIdentity) => CertRole | undefined;

export function certificateGuard(clusterId: () => string, currentRole?: CurrentRole): Guard {
  return (call, roles) => {
    const forwarded = forwardedCaller(call);
    // A forwarding manager vouches for its caller; only the manager itself is checked here.
    const needed = forwarded ? (['manager'] as const) : roles;
    const result = checkPeer(call, needed, clusterId());
    if (!result.ok) throw new BatonError(result.error.code === grpc.status.UNAUTHENTICATED ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED', result.error.details);
    const { identity } = result;
    if (currentRole) {
      const now = currentRole(identity);
      if (now === undefined && isClientRole(identity.role)) {
        throw new BatonError('UNAUTHENTICATED', `certificate "${identity.nodeId}" was revoked (it is not among the cluster's certificates)`);
      }
      if (now === undefined) throw new BatonError('PERMISSION_DENIED', `node ${identity.nodeId} is not part of the cluster`);
      if (!needed.includes(now)) throw new BatonError('PERMISSION_DENIED', `node ${identity.nodeId} is now a ${now}; this call needs ${needed.join(' or ')}`);
    }
    if (!forwarded) return { nodeId: identity.nodeId, role: identity.role };
    if (forwarded.role !== 'local' && !roles.includes(forwarded.role)) {
      throw new BatonError('PERMISSION_DENIED', roleRefusal({ nodeId: forwarded.nodeId, role: forwarded.role }, roles));
    }
    return forwarded;
  };
}

/** Metadata for a call forwarded on behalf of `caller`. */
export function forwardingMetadata(caller: Caller): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(FORWARDED_FOR, `${caller.nodeId}/${caller.role}`);
  return md;
}

function forwardedCaller(call: AnyCall): Caller | undefined {
  const value = call.metadata.get(FORWARDED_FOR)[0];
  if (typeof value !== 'string') return undefined;
  const [nodeId = '', role] = value.split('/');
  if (role === 'local' || isNodeRole(role) || isClientRole(role)) return { nodeId, role };
  return undefined;
}
