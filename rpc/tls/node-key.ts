// A node's own key never leaves the node: it generates the key, sends only a CSR to the CA, and
// the CA takes nothing from the CSR but the public key (the identity comes from the join token).
import { webcrypto } from 'node:crypto';
import { toPem } from './encoding.js';
import { EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, x509 } from './x509.js';

/** A fresh node key and the CSR proving possession of it. */
export interface NodeKey {
  /** PKCS#8 PEM ("PRIVATE KEY"), as Node's TLS and grpc-js take it. */
  keyPem: string;
  /** PKCS#10 PEM whose subject is a placeholder: the CA writes the real one. */
  csrPem: string;
}

/** Generates an ECDSA P-256 key and a self-signed CSR for it. */
export async function generateNodeKey(): Promise<NodeKey> {
  // Extractable only so the private key can be written out as PEM for TLS.
  const keys = await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=pending',
    keys,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: toPem(pkcs8, 'PRIVATE KEY'), csrPem: csr.toString('pem') };
}
