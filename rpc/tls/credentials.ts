// TLS credentials for every gRPC server and client in the cluster. Trust is the cluster root CA
// alone (never the system roots), and identity is the certificate's CN/OU/O, not a hostname:
// nodes are reached by IP and addresses get reused, so hostname checks would prove nothing.
import { createSecureContext } from 'node:tls';
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { NodeRole } from './identity.js';

/** PEM material of one node: the cluster root it trusts, its certificate and its key. */
export interface NodeTlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

// Our nodes all run Node >= 20: there is no older peer to negotiate down to.
const MIN_VERSION = 'TLSv1.3';

/**
 * Channel options to pass with clientCredentials/bootstrapCredentials: grpc-js otherwise sends
 * the target's IP as the TLS server name, which Node flags as an RFC 6066 violation (DEP0123).
 * The name is never checked (identity comes from the certificate subject).
 */
export const NODE_CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': 'baton' };

/**
 * Server credentials for the node's one port (every gRPC service): a client certificate is requested but
 * not required, so a joining node without one can reach the CA's join call while every other
 * handler sees a verified identity through peerIdentity(). `reload()` swaps the certificate (or
 * root) for new connections without restarting the server.
 */
export class NodeServerCredentials extends grpc.ServerCredentials {
  constructor(material: NodeTlsMaterial) {
    super({ requestCert: true, rejectUnauthorized: false }, contextOptions(material));
  }

  /** Uses new material for connections accepted from now on; throws, changing nothing, if it is unusable. */
  reload(material: NodeTlsMaterial): void {
    this.updateSecureContextOptions(contextOptions(material));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * The context options, checked up front: grpc-js applies a reload with setSecureContext and, if
 * that throws (say a key that does not match the certificate), drops every new connection until
 * the next good reload. Building the context here first turns that outage into an exception.
 */
export function contextOptions(m: NodeTlsMaterial): SecureContextOptions {
  const options: SecureContextOptions = { ca: m.caPem, cert: m.certPem, key: m.keyPem, minVersion: MIN_VERSION };
  createSecureContext(options);
  return options;
}

/** What clientCredentials needs: the cluster root, and the node's own certificate once it has one. */
export interface ClientTlsOptions {
  caPem: string;
  certPem?: string;
  keyPem?: string;
  /** When set, a server whose certificate carries another role (OU) is refused. */
  serverRole?: NodeRole;
}

/**
 * Client credentials that accept only a server whose chain verifies against `caPem` (hostname
 * not checked) and present the node's certificate when given. Without a certificate the server
 * sees an unauthenticated caller.
 */
export function clientCredentials(options: ClientTlsOptions): grpc.ChannelCredentials {
  const { caPem, certPem, keyPem, serverRole } = options;
  if ((certPem === undefined) !== (keyPem === undefined)) {
    throw new Error('clientCredentials: certPem and keyPem must be given together');
  }
  const context = createSecureContext({ ca: caPem, cert: certPem, key: keyPem, minVersion: MIN_VERSION });
  return grpc.credentials.createFromSecureContext(context, {
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      if (serverRole === undefined || cert.subject?.OU === serverRole) return undefined;
      return new Error(`server certificate has role "${String(cert.subject?.OU)}", expected ${serverRole}`);
    },
  });
}

/**
 * TLS that does NOT verify the server: only for a joining node fetching the root CA certificate,
 * which it must then check with caDigest() against the digest in its join token before trusting
 * it or sending the token's secret. Never use it for anything else.
 */
export function bootstrapCredentials(): grpc.ChannelCredentials {
  return grpc.credentials.createFromSecureContext(createSecureContext({ minVersion: MIN_VERSION }), {
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
}
