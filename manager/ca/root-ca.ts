// The cluster's root CA (ECDSA P-256): created once at `baton init`, its key sealed into the Raft
// store, and loaded on whichever manager issues certificates. It signs node certificates and
// client certificates (`baton cert create`), and what a certificate says (name, role, cluster,
// addresses) comes from the caller of issue*Certificate (who checked the join token or the
// caller's role), never from the CSR.
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { caDigest, certificateDer } from '../../rpc/tls/encoding.js';
import { isClientRole, isNodeRole, normalSerial } from '../../rpc/tls/identity.js';
import type { ClientRole, NodeRole } from '../../rpc/tls/identity.js';
import { EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, x509 } from '../../rpc/tls/x509.js';
import { CodedError } from './coded-error.js';

const ROOT_VALIDITY_MS = 20 * 365 * 24 * 3600 * 1000;
// Tolerates clocks a little behind ours, so a fresh certificate is valid on the node at once.
const BACKDATE_MS = 60 * 1000;

/** A request the CA refuses (bad CSR, bad subject) or CA material that does not hold together. */
export class CAError extends CodedError<'BAD_CSR' | 'BAD_REQUEST' | 'BAD_CA'> {}

/** What createRootCA returns, to be stored (key sealed) in Cluster.root_ca. */
export interface RootCAMaterial {
  certPem: string;
  /** PKCS#8 DER of the CA's private key: seal() it before it goes anywhere. */
  keyPkcs8: Uint8Array;
  /** caDigest(certPem), as printed in join tokens. */
  digest: string;
}

/** Who a node certificate is for; decided by the manager, not by the CSR. */
export interface NodeCertificateSubject {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  /**
   * The hosts the node is reached at (its advertise address's host): IP or DNS SANs besides the
   * node ID, so a client that checks the name it dialled (any gRPC client does) accepts it.
   */
  hosts?: readonly string[];
}

/** Who a client certificate is for; decided by the manager (the CSR's subject is ignored). */
export interface ClientCertificateSubject {
  name: string;
  role: ClientRole;
  clusterId: string;
}

/** A signed client certificate and what the store records of it. */
export interface IssuedClientCertificate {
  certPem: string;
  /** normalSerial() of the certificate's serial, as peerIdentity reports it. */
  serial: string;
  notAfter: Date;
}

/** Creates a self-signed ECDSA P-256 root CA for the cluster, valid for about 20 years. */
export async function createRootCA(clusterId: string, now = new Date()): Promise<RootCAMaterial> {
  if (!clusterId) throw new CAError('BAD_REQUEST', 'createRootCA: cluster ID is empty');
  const keys = await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ O: [clusterId] }, { CN: ['baton root CA'] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + ROOT_VALIDITY_MS),
    keys,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    extensions: [
      // pathLength 0: this root signs node certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  const keyPkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem, keyPkcs8, digest: caDigest(certPem) };
}

/** Loads a root CA from its certificate and (unsealed) PKCS#8 key; throws CAError if they do not match. */
export async function loadRootCA(certPem: string, keyPkcs8: Uint8Array): Promise<RootCA> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new CAError('BAD_CA', `root CA certificate does not parse: ${(e as Error).message}`);
  }
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) throw new CAError('BAD_CA', 'root CA certificate is not a CA (basicConstraints CA:false)');
  let spki: Buffer;
  try {
    spki = createPublicKey(createPrivateKey({ key: Buffer.from(keyPkcs8), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw new CAError('BAD_CA', `root CA key does not parse: ${(e as Error).message}`);
  }
  if (!spki.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new CAError('BAD_CA', 'root CA key does not belong to the root CA certificate');
  }
  const signingKey = await webcrypto.subtle.importKey('pkcs8', keyPkcs8, EC_KEY_ALGORITHM, false, ['sign']);
  return new RootCA(cert, signingKey);
}

/** A loaded root CA that issues node certificates. */
export class RootCA {
  /** The root certificate, PEM. */
  readonly certPem: string;
  /** caDigest(certPem), as printed in join tokens. */
  readonly digest: string;
  /** The same in every certificate it signs (a hash of its key): made once, not per join (~0.5 ms each). */
  private authorityKeyId: Promise<x509.AuthorityKeyIdentifierExtension> | undefined;

  constructor(
    private readonly cert: x509.X509Certificate,
    private readonly signingKey: webcrypto.CryptoKey,
  ) {
    this.certPem = cert.toString('pem');
    this.digest = caDigest(certificateDer(this.certPem));
  }

  /**
   * Signs a node certificate for the CSR's public key: CN=nodeId, OU=role, O=clusterId, SAN
   * DNS:nodeId, serverAuth+clientAuth, valid from a minute ago for `validityMs` (never past the
   * root's own expiry). The CSR's signature must verify; its subject and extensions are ignored.
   */
  async issueNodeCertificate(csrPem: string, subject: NodeCertificateSubject, validityMs: number, now = new Date()): Promise<string> {
    checkSubject(subject);
    const names = [{ type: 'dns' as const, value: subject.nodeId }, ...[...new Set(subject.hosts ?? [])].filter((h) => h !== subject.nodeId).map(hostName)];
    const usages = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    return (await this.sign(csrPem, [subject.clusterId, subject.role, subject.nodeId], usages, names, validityMs, now)).toString('pem');
  }

  /**
   * Signs a client certificate for the CSR's public key: CN=name, OU=role (admin or readonly),
   * O=clusterId, clientAuth only (it cannot serve as a node), for `validityMs`.
   */
  async issueClientCertificate(csrPem: string, subject: ClientCertificateSubject, validityMs: number, now = new Date()): Promise<IssuedClientCertificate> {
    if (!subject.name) throw new CAError('BAD_REQUEST', 'client certificate needs a name');
    if (!subject.clusterId) throw new CAError('BAD_REQUEST', 'client certificate needs a cluster ID');
    if (!isClientRole(subject.role)) throw new CAError('BAD_REQUEST', `client certificate role must be admin or readonly, got "${String(subject.role)}"`);
    const cert = await this.sign(csrPem, [subject.clusterId, subject.role, subject.name], [x509.ExtendedKeyUsage.clientAuth], [], validityMs, now);
    const certPem = cert.toString('pem');
    return { certPem, serial: normalSerial(new X509Certificate(certPem).serialNumber), notAfter: cert.notAfter };
  }

  private async sign(
    csrPem: string,
    [o, ou, cn]: [string, string, string],
    usages: x509.ExtendedKeyUsageType[],
    names: x509.JsonGeneralName[],
    validityMs: number,
    now: Date,
  ): Promise<x509.X509Certificate> {
    if (!Number.isFinite(validityMs) || validityMs <= 0) throw new CAError('BAD_REQUEST', `validity must be a positive number of ms, got ${validityMs}`);
    const publicKey = await verifiedCsrKey(csrPem);
    const notAfter = Math.min(now.getTime() + validityMs, this.cert.notAfter.getTime());
    return await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: [{ O: [o] }, { OU: [ou] }, { CN: [cn] }],
      issuer: this.cert.subjectName,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(notAfter),
      publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: EC_SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usages),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await (this.authorityKeyId ??= x509.AuthorityKeyIdentifierExtension.create(this.cert.publicKey)),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    });
  }
}

/** A host as a SAN: an IP address as one (clients compare IPs with iPAddress SANs), else a DNS name. */
function hostName(host: string): x509.JsonGeneralName {
  return isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host };
}

/** The CSR's public key, once its self-signature verifies and it is an ECDSA P-256 key. */
async function verifiedCsrKey(csrPem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new CAError('BAD_CSR', `CSR does not parse: ${(e as Error).message}`);
  }
  const details = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).asymmetricKeyDetails;
  if (details?.namedCurve !== 'prime256v1') throw new CAError('BAD_CSR', 'CSR key must be ECDSA P-256');
  let valid = false;
  try {
    valid = await csr.verify();
  } catch (_) {
    valid = false;
  }
  if (!valid) throw new CAError('BAD_CSR', 'CSR signature does not verify (the requester does not hold the key)');
  return csr.publicKey;
}

function checkSubject(s: NodeCertificateSubject): void {
  if (!s.nodeId) throw new CAError('BAD_REQUEST', 'node certificate needs a node ID');
  if (!s.clusterId) throw new CAError('BAD_REQUEST', 'node certificate needs a cluster ID');
  if (!isNodeRole(s.role)) throw new CAError('BAD_REQUEST', `node certificate role must be manager or worker, got "${String(s.role)}"`);
}

/** 128 random bits; x509 makes it a positive DER INTEGER. */
function serialNumber(): string {
  return randomBytes(16).toString('hex');
}
