// The cluster CA without sockets: root creation, node certificates from CSRs, join tokens, sealing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import {
  CAError,
  createRootCA,
  generateJoinToken,
  JoinTokenError,
  loadRootCA,
  newSealKey,
  openJoinTokens,
  parseJoinToken,
  sealJoinTokens,
  seal,
  SealError,
  tokenMatches,
  unseal,
} from '../../manager/ca/index.js';
import { base32 } from '../../rpc/tls/encoding.js';
import { caDigest, generateNodeKey, IdentityError, parseNodeIdentity } from '../../rpc/tls/index.js';
import { EC_SIGNING_ALGORITHM, x509 } from '../../rpc/tls/x509.js';

const HOUR = 3600_000;
const NOW = new Date('2030-01-02T03:04:05Z');

function isCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof Error && (err as Error & { code?: string }).code === code;
}

test('base32 is RFC 4648 lowercase without padding', () => {
  const enc = (s: string) => base32(new TextEncoder().encode(s));
  assert.deepEqual(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc), ['', 'my', 'mzxq', 'mzxw6', 'mzxw6yq', 'mzxw6ytb', 'mzxw6ytboi']);
});

test('createRootCA: a self-signed P-256 CA valid for ~20 years, with the token digest', async () => {
  const root = await createRootCA('cluster-a', NOW);
  const cert = new X509Certificate(root.certPem);
  assert.equal(cert.ca, true);
  assert.ok(cert.checkIssued(cert));
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.match(cert.subject, /O=cluster-a/);
  assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - 60_000);
  const years = (new Date(cert.validTo).getTime() - NOW.getTime()) / (365 * 24 * HOUR);
  assert.ok(years > 19.9 && years < 20.1, `validity ${years} years`);
  assert.match(root.digest, /^[a-z2-7]{52}$/);
  assert.equal(root.digest, caDigest(root.certPem));
  assert.equal(root.digest, caDigest(cert.raw));
  assert.ok(cert.checkPrivateKey(createPrivateKey({ key: Buffer.from(root.keyPkcs8), format: 'der', type: 'pkcs8' })));
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  assert.equal(ca.digest, root.digest);
  assert.throws(() => parseNodeIdentity(root.certPem), IdentityError, 'a root CA is not a node');
});

test('loadRootCA refuses a key that is not the certificate\'s', async () => {
  const a = await createRootCA('cluster-a');
  const b = await createRootCA('cluster-a');
  await assert.rejects(loadRootCA(a.certPem, b.keyPkcs8), (err: unknown) => err instanceof CAError && err.code === 'BAD_CA' && /does not belong/.test(err.message));
});

test('issueNodeCertificate: identity from the caller, key from the CSR, chain to the root', async () => {
  const root = await createRootCA('cluster-a', NOW);
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const { keyPem, csrPem } = await generateNodeKey();
  const certPem = await ca.issueNodeCertificate(csrPem, { nodeId: 'node-1', role: 'worker', clusterId: 'cluster-a' }, 2 * HOUR, NOW);

  const cert = new X509Certificate(certPem);
  const rootCert = new X509Certificate(root.certPem);
  assert.ok(cert.checkIssued(rootCert));
  assert.ok(cert.verify(rootCert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  assert.equal(cert.ca, false);
  assert.doesNotMatch(cert.subject, /pending/, 'the CSR subject is ignored');
  assert.equal(cert.subjectAltName, 'DNS:node-1');
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - 60_000);
  assert.equal(new Date(cert.validTo).getTime(), NOW.getTime() + 2 * HOUR);

  assert.deepEqual(parseNodeIdentity(certPem), {
    nodeId: 'node-1',
    role: 'worker',
    clusterId: 'cluster-a',
    notAfter: new Date(NOW.getTime() + 2 * HOUR),
    serial: new X509Certificate(certPem).serialNumber.toLowerCase().replace(/^0+/, ''),
  });
  assert.deepEqual(parseNodeIdentity(cert.raw), parseNodeIdentity(certPem));
});

test('issueNodeCertificate never outlives the root', async () => {
  const root = await createRootCA('cluster-a', NOW);
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const { csrPem } = await generateNodeKey();
  const certPem = await ca.issueNodeCertificate(csrPem, { nodeId: 'n', role: 'manager', clusterId: 'cluster-a' }, 100 * 365 * 24 * HOUR, NOW);
  assert.equal(new X509Certificate(certPem).validTo, new X509Certificate(root.certPem).validTo);
});

test('issueNodeCertificate refuses a CSR whose signature does not verify', async () => {
  const root = await createRootCA('cluster-a');
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const subject = { nodeId: 'n', role: 'worker', clusterId: 'cluster-a' } as const;
  const badCsr = isCode('BAD_CSR');

  // A CSR for someone else's public key, signed with ours: we do not hold the key it names.
  const mine = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const theirs = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const forged = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=x',
    keys: { publicKey: theirs.publicKey, privateKey: mine.privateKey },
    signingAlgorithm: EC_SIGNING_ALGORITHM,
  });
  await assert.rejects(ca.issueNodeCertificate(forged.toString('pem'), subject, HOUR), (err: unknown) => badCsr(err) && /does not verify/.test((err as Error).message));

  // A genuine CSR with one byte of its signature flipped.
  const der = Buffer.from(new x509.Pkcs10CertificateRequest((await generateNodeKey()).csrPem).rawData);
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  await assert.rejects(ca.issueNodeCertificate(new x509.Pkcs10CertificateRequest(der).toString('pem'), subject, HOUR), badCsr);

  await assert.rejects(ca.issueNodeCertificate('not a csr', subject, HOUR), badCsr);

  const p384 = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
  const wrongCurve = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=x', keys: p384, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } });
  await assert.rejects(ca.issueNodeCertificate(wrongCurve.toString('pem'), subject, HOUR), (err: unknown) => badCsr(err) && /P-256/.test((err as Error).message));
});

test('issueNodeCertificate refuses an empty node ID, unknown role or non-positive validity', async () => {
  const root = await createRootCA('cluster-a');
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const { csrPem } = await generateNodeKey();
  const bad = isCode('BAD_REQUEST');
  await assert.rejects(ca.issueNodeCertificate(csrPem, { nodeId: '', role: 'worker', clusterId: 'c' }, HOUR), bad);
  await assert.rejects(ca.issueNodeCertificate(csrPem, { nodeId: 'n', role: 'admin' as 'worker', clusterId: 'c' }, HOUR), bad);
  await assert.rejects(ca.issueNodeCertificate(csrPem, { nodeId: 'n', role: 'worker', clusterId: 'c' }, 0), bad);
});

test('join tokens: generate and parse round-trip, fresh secret each time', async () => {
  const { digest } = await createRootCA('cluster-a');
  const token = generateJoinToken(digest);
  assert.match(token, /^BTN-1-[a-z2-7]{52}-[a-z2-7]{25}$/);
  const parsed = parseJoinToken(token);
  assert.equal(parsed.digest, digest);
  assert.equal(parsed.secret.length, 25);
  assert.deepEqual(parseJoinToken(`  ${token}\n`), parsed, 'surrounding whitespace from copy-paste is ignored');
  assert.notEqual(generateJoinToken(digest), token);
  assert.throws(() => generateJoinToken('short'), JoinTokenError);
});

test('malformed join tokens each fail with JoinTokenError saying what is wrong', () => {
  const digest = 'a'.repeat(52);
  const secret = 'b'.repeat(25);
  const cases: [string, RegExp][] = [
    [`SWMTKN-1-${digest}-${secret}`, /must start with "BTN-"/],
    ['', /must start with "BTN-"/],
    [`btn-1-${digest}-${secret}`, /must start with "BTN-"/],
    [`BTN-2-${digest}-${secret}`, /version "2" is not supported/],
    [`BTN-${digest}-${secret}`, /version ".*" is not supported/],
    [`BTN-1-${digest}-${secret.slice(1)}`, /secret must be 25 characters, got 24/],
    [`BTN-1-${digest.slice(2)}-${secret}`, /CA digest must be 52 characters, got 50/],
    [`BTN-1-${digest}-${secret.slice(1)}B`, /secret has "B", outside base32/],
    [`BTN-1-${digest.toUpperCase()}-${secret}`, /CA digest has "A", outside base32/],
    [`BTN-1-${digest}-${secret.slice(1)}1`, /secret has "1", outside base32/],
    [`BTN-1-${digest.slice(1)}!-${secret}`, /CA digest has "!", outside base32/],
    [`BTN-1-${digest}-${secret}-extra`, /must have 4 dash-separated parts .* got 5/],
    [`BTN-1-${digest}--${secret}`, /must have 4 dash-separated parts .* got 5/],
    [`BTN-1-${digest}`, /must have 4 dash-separated parts .* got 3/],
  ];
  for (const [token, message] of cases) {
    assert.throws(
      () => parseJoinToken(token),
      (err: unknown) => err instanceof JoinTokenError && err.code === 'INVALID_TOKEN' && message.test(err.message) && !err.message.includes('\n'),
      `token ${JSON.stringify(token)} should fail with ${message}`,
    );
  }
});

test('tokenMatches compares whole tokens', () => {
  const token = generateJoinToken('a'.repeat(52));
  assert.equal(tokenMatches(token, token), true);
  assert.equal(tokenMatches(`${token}x`, token), false);
  assert.equal(tokenMatches(token.slice(0, -1), token), false);
  assert.equal(tokenMatches(generateJoinToken('a'.repeat(52)), token), false);
  assert.equal(tokenMatches('', ''), false, 'an unset stored token matches nothing');
});

test('seal/unseal round-trip; wrong key, flipped bytes and bad input are refused', () => {
  const key = newSealKey();
  assert.equal(key.length, 32);
  const plaintext = new TextEncoder().encode('the root CA key');
  const sealed = seal(key, plaintext);
  assert.deepEqual(unseal(key, sealed), plaintext);
  assert.notDeepEqual(seal(key, plaintext), sealed, 'a fresh nonce every time');
  assert.deepEqual(unseal(key, seal(key, new Uint8Array(0))), new Uint8Array(0));

  assert.throws(() => unseal(newSealKey(), sealed), (err: unknown) => err instanceof SealError && err.code === 'UNSEAL_FAILED');
  for (let i = 1; i < sealed.length; i++) {
    const tampered = Uint8Array.from(sealed);
    tampered[i] = (tampered[i] ?? 0) ^ 0x80;
    assert.throws(() => unseal(key, tampered), (err: unknown) => err instanceof SealError && err.code === 'UNSEAL_FAILED', `byte ${i}`);
  }
  const badVersion = Uint8Array.from(sealed);
  badVersion[0] = 9;
  assert.throws(() => unseal(key, badVersion), (err: unknown) => err instanceof SealError && err.code === 'MALFORMED');
  assert.throws(() => unseal(key, sealed.subarray(0, 20)), (err: unknown) => err instanceof SealError && err.code === 'MALFORMED');
  assert.throws(() => seal(new Uint8Array(16), plaintext), (err: unknown) => err instanceof SealError && err.code === 'BAD_KEY');
});

test('join tokens at rest: sealed with the managers\' key, opened only with it; older clear tokens still read', () => {
  const key = newSealKey();
  const tokens = { worker: generateJoinToken('a'.repeat(52)), manager: generateJoinToken('a'.repeat(52)) };
  const stored = sealJoinTokens(key, tokens);
  assert.equal(stored.joinTokens, null, 'nothing in clear');
  const bytes = Buffer.from(stored.sealedJoinTokens);
  for (const t of [tokens.worker, tokens.manager]) {
    assert.equal(bytes.includes(Buffer.from(parseJoinToken(t).secret)), false, 'no secret in the stored bytes');
  }
  assert.deepEqual(openJoinTokens(key, stored), tokens);
  assert.throws(() => openJoinTokens(newSealKey(), stored), (err: unknown) => err instanceof SealError && err.code === 'UNSEAL_FAILED');
  // A cluster object written before tokens were sealed.
  assert.deepEqual(openJoinTokens(key, { joinTokens: tokens }), tokens);
  assert.deepEqual(openJoinTokens(key, {}), { worker: '', manager: '' });
});
