// A client certificate from the managers (`baton cert create`): the key is made here and only a
// CSR goes out, so the private key never leaves the client. Loaded on demand: it brings in the
// x509 library, which nothing else a client does needs.
import { generateNodeKey } from '../rpc/tls/node-key.js';
import type { baton } from '../proto/gen/baton.js';
import type { BatonClient } from './index.js';

export interface NewClientCertificate {
  /** The cluster's root CA certificate (ca.pem). */
  caPem: string;
  /** The signed certificate (cert.pem). */
  certPem: string;
  /** Its private key, PKCS#8 PEM (key.pem): write it where only its user can read it. */
  keyPem: string;
  certificate: baton.ClientCertificate.$Properties;
}

export async function createClientCertificate(client: BatonClient, request: { name: string; role: string; expiryMs?: number }): Promise<NewClientCertificate> {
  const key = await generateNodeKey();
  const res = await client.control.call('CreateCertificate', { name: request.name, role: request.role, csrPem: key.csrPem, expiryMs: request.expiryMs ?? 0 });
  return { caPem: res.caCertPem ?? '', certPem: res.certPem ?? '', keyPem: key.keyPem, certificate: res.certificate ?? {} };
}
