// Autolock's unlock key: BTNKEY-1-<43 base64url characters> (32 random bytes), Swarm's
// SWMKEY-1-… in baton's spelling. It is the key-encryption key of a manager's keys at rest (its
// TLS key and the managers' sealing key, which seals the CA key and secrets in the Raft store):
// each file is sealed (AES-256-GCM, seal.ts) under a key derived from it with HKDF-SHA256 and a
// per-file random salt. The key is 256 random bits, so HKDF is enough; a password KDF such as
// scrypt would only slow every unlock.
import { hkdfSync, randomBytes } from 'node:crypto';
import { CodedError } from './coded-error.js';
import { seal, unseal, SealError } from './seal.js';

const PREFIX = 'BTNKEY-1-';
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const INFO = 'baton autolock key-encryption key';
const BEGIN = '-----BEGIN BATON LOCKED KEY-----';
const END = '-----END BATON LOCKED KEY-----';

/** Text that is not an unlock key, or a locked file this key does not open. */
export class UnlockKeyError extends CodedError<'MALFORMED_KEY' | 'WRONG_KEY' | 'MALFORMED_FILE'> {}

/** A new random unlock key, as printed to the user. */
export function generateUnlockKey(): string {
  return PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

/** The key's 32 bytes; throws UnlockKeyError saying what is wrong with the text. */
export function parseUnlockKey(text: string): Uint8Array {
  const t = text.trim();
  if (!t.startsWith(PREFIX)) throw new UnlockKeyError('MALFORMED_KEY', `an unlock key starts with "${PREFIX}"`);
  const body = t.slice(PREFIX.length);
  const bytes = Buffer.from(body, 'base64url');
  // Buffer.from skips characters that are not base64url: compare the round trip to catch them.
  if (bytes.length !== KEY_BYTES || bytes.toString('base64url') !== body) {
    throw new UnlockKeyError('MALFORMED_KEY', `an unlock key is "${PREFIX}" and 43 base64url characters`);
  }
  return new Uint8Array(bytes);
}

/** Whether these bytes are a file lockFile() wrote. */
export function isLockedFile(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, BEGIN.length)).toString('latin1') === BEGIN;
}

/** `plaintext` sealed under the unlock key, as a PEM-like text block (no private key header in clear). */
export function lockFile(unlockKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const salt = randomBytes(SALT_BYTES);
  const body = Buffer.concat([salt, seal(derive(unlockKey, salt), plaintext)]).toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return new Uint8Array(Buffer.from(`${BEGIN}\n${lines.join('\n')}\n${END}\n`));
}

/** What lockFile() sealed; throws UnlockKeyError WRONG_KEY when this key did not lock it. */
export function openLockedFile(unlockKey: Uint8Array, data: Uint8Array): Uint8Array {
  const text = Buffer.from(data).toString('latin1');
  const inner = text.slice(BEGIN.length, text.indexOf(END));
  if (!isLockedFile(data) || text.indexOf(END) < 0) throw new UnlockKeyError('MALFORMED_FILE', 'not a locked key file');
  const bytes = Buffer.from(inner.replace(/\s+/g, ''), 'base64');
  try {
    return unseal(derive(unlockKey, bytes.subarray(0, SALT_BYTES)), bytes.subarray(SALT_BYTES));
  } catch (err) {
    if (err instanceof SealError && err.code === 'UNSEAL_FAILED') throw new UnlockKeyError('WRONG_KEY', 'the unlock key is wrong');
    throw new UnlockKeyError('MALFORMED_FILE', `locked key file is damaged: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function derive(unlockKey: Uint8Array, salt: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', unlockKey, salt, INFO, KEY_BYTES));
}
