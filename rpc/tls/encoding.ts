// PEM and base32 by hand: both are a few lines, and join tokens need base32 exactly as
// specified (RFC 4648 alphabet, lowercase, no padding) so that every node prints the same digest.
import { X509Certificate, createHash, randomBytes } from 'node:crypto';

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lowercase RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** True when every character of `s` is in the lowercase base32 alphabet. */
export function isBase32(s: string): boolean {
  return /^[a-z2-7]*$/.test(s);
}

/** `n` base32 characters drawn uniformly from the OS CSPRNG (32 divides 256: no modulo bias). */
export function randomBase32(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += BASE32_ALPHABET[b & 31];
  return out;
}

/** DER bytes wrapped as PEM with the given label (e.g. CERTIFICATE, PRIVATE KEY). */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of a certificate given as PEM or DER; throws on anything that is not a certificate. */
export function certificateDer(certPemOrDer: string | Uint8Array): Buffer {
  return new X509Certificate(typeof certPemOrDer === 'string' ? certPemOrDer : Buffer.from(certPemOrDer)).raw;
}

/**
 * The CA digest printed in join tokens: lowercase base32 of SHA-256 over the certificate's DER
 * (52 characters). A joining node compares it with the root it was handed (trust on first use).
 */
export function caDigest(certPemOrDer: string | Uint8Array): string {
  return base32(createHash('sha256').update(certificateDer(certPemOrDer)).digest());
}
