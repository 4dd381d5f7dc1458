// The node's TCP port, with the TLS handshake done here and the connections handed to grpc-js
// (its public connection injector), rather than grpc-js listening with its own TLS.
//
// Why: grpc-js answers every call's getAuthContext() by asking the socket for its peer
// certificate, and Node's getPeerCertificate() builds a new object each time (subject, key, three
// fingerprints: ~22 µs). On a leader every heartbeat and status report pays it: 5.6 s of one
// leader's CPU in a 100-node run. A connection's peer certificate cannot change (TLS 1.3 has no
// renegotiation, and we ask for no post-handshake authentication), so only the owner of the TLS
// socket can read it once and answer from that for the connection's life. Everything decided per
// call stays per call: expiry (checkPeer), and the cluster's current view of the holder
// (revocation, removal, demotion: rpc/caller.ts's currentRole).
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { contextOptions, type NodeTlsMaterial } from './credentials.js';

/**
 * Connections the kernel queues before they are accepted (it caps this at net.core.somaxconn).
 * Node's default, 511, overflowed on a leader that thousands of nodes joined or reconnected to at
 * once: 16,774 connection attempts dropped in 4 minutes at 2,000 nodes (docs/scale.md), each
 * retried by its node seconds later, its heartbeats late meanwhile and the node marked down.
 */
export const LISTEN_BACKLOG = 4096;

export class NodeTlsListener {
  private readonly tls: tls.Server;
  private readonly injector: ReturnType<grpc.Server['createConnectionInjector']>;

  /** Serves `server`'s services over mTLS with `material`; nothing listens until listen(). */
  constructor(server: grpc.Server, material: NodeTlsMaterial) {
    // A client certificate is requested, not required: a joining node without one reaches the CA's
    // join call, and every other handler sees a verified identity through peerIdentity().
    this.tls = tls.createServer({ ...contextOptions(material), requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    // The connections arrive already decrypted-and-verified: grpc-js must not add TLS of its own.
    this.injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.tls.on('secureConnection', (socket: tls.TLSSocket) => {
      // A reset peer must not become an uncaught 'error' (the HTTP/2 session also listens).
      socket.on('error', () => undefined);
      // Only HTTP/2 is spoken on this port; grpc-js' own TLS server refuses the rest too.
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy();
        return;
      }
      keepPeerCertificate(socket);
      this.injector.injectConnection(socket);
    });
    // A failed handshake (a scanner, a client that distrusts our root) is the client's problem.
    this.tls.on('tlsClientError', () => undefined);
  }

  /** Listens on host:port (port 0 for any); resolves to the port, rejects with the system's error. */
  listen(address: string): Promise<number> {
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
    if (!m) return Promise.reject(new Error(`want host:port, got "${address}"`));
    return new Promise((resolve, reject) => {
      this.tls.once('error', reject);
      this.tls.listen({ host: m[1], port: Number(m[2]), backlog: LISTEN_BACKLOG }, () => {
        this.tls.off('error', reject);
        resolve((this.tls.address() as net.AddressInfo).port);
      });
    });
  }

  /** Uses new material for connections accepted from now on; throws, changing nothing, if it is unusable. */
  reload(material: NodeTlsMaterial): void {
    this.tls.setSecureContext(contextOptions(material));
  }

  /** Stops accepting connections; those open are the gRPC server's to close (its shutdown). */
  close(): void {
    if (this.tls.listening) this.tls.close();
    this.injector.destroy();
  }
}

/**
 * Makes `socket` answer getPeerCertificate() (the form grpc-js asks for, not the detailed one)
 * from the one read at the handshake. The object is frozen: every call shares it.
 */
function keepPeerCertificate(socket: tls.TLSSocket): void {
  const read = socket.getPeerCertificate.bind(socket);
  let kept: PeerCertificate | undefined;
  socket.getPeerCertificate = ((detailed?: boolean) => {
    if (detailed) return read(true);
    kept ??= Object.freeze(read());
    return kept;
  }) as tls.TLSSocket['getPeerCertificate'];
}
