// Secrets inside the Raft store (the root CA key, user secrets) are sealed with a key the
// managers hold outside the log, so a copied data dir or snapshot does not give them away.
// Format: version byte | 12-byte random nonce | AES-256-GCM ciphertext | 16-byte tag; the
// version byte is authenticated too, so it cannot be swapped to change how a blob is read.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodedError } from './coded-error.js';

const VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed blob that cannot be opened: wrong key, tampered bytes, or not a sealed blob at all. */
export class SealError extends CodedError<'BAD_KEY' | 'MALFORMED' | 'UNSEAL_FAILED'> {}

/** A new random 32-byte AES-256 key. */
export function newSealKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

/** Encrypts and authenticates `plaintext` under `key` (32 bytes) with a fresh random nonce. */
export function seal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkKey(key);
  const header = Buffer.from([VERSION]);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, nonce, body, cipher.getAuthTag()]));
}

/** Opens what seal() produced; throws SealError if the key is wrong or any byte changed. */
export function unseal(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES) {
    throw new SealError('MALFORMED', `sealed data is ${sealed.length} bytes, shorter than any sealed blob`);
  }
  if (sealed[0] !== VERSION) throw new SealError('MALFORMED', `sealed data has version ${sealed[0]}, expected ${VERSION}`);
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(sealed.subarray(0, 1));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch (_) {
    throw new SealError('UNSEAL_FAILED', 'cannot unseal: wrong key or the data was altered');
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new SealError('BAD_KEY', `seal key must be ${KEY_BYTES} bytes, got ${key.length}`);
}
