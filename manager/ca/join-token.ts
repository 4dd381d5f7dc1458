// Join tokens: BTN-1-<CA digest>-<secret>. The digest pins the root CA a joining node must see
// (trust on first use); the secret is what it proves to be issued a certificate. Both
// parts are lowercase base32 so a token survives copy-paste, shells and URLs unquoted.
import { createHash, timingSafeEqual } from 'node:crypto';
import { baton } from '../../proto/gen/baton.js';
import { isBase32, randomBase32 } from '../../rpc/tls/encoding.js';
import { seal, unseal } from './seal.js';

const PREFIX = 'BTN';
const VERSION = '1';
/** Characters of base32 SHA-256 (256 bits / 5, rounded up). */
const DIGEST_CHARS = 52;
/** 125 bits of entropy. */
const SECRET_CHARS = 25;

/** A token that is not of the form BTN-1-<digest>-<secret>. */
export class JoinTokenError extends Error {
  readonly code = 'INVALID_TOKEN';
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenError';
  }
}

/** The two parts of a join token. */
export interface ParsedJoinToken {
  digest: string;
  secret: string;
}

/** A new token for the root CA with this digest (see caDigest), with a fresh random secret. */
export function generateJoinToken(digest: string): string {
  checkPart('CA digest', digest, DIGEST_CHARS);
  return `${PREFIX}-${VERSION}-${digest}-${randomBase32(SECRET_CHARS)}`;
}

/** Splits a token into digest and secret; throws JoinTokenError saying what is wrong with it. */
export function parseJoinToken(token: string): ParsedJoinToken {
  const parts = token.trim().split('-');
  if (parts[0] !== PREFIX) throw new JoinTokenError(`join token must start with "${PREFIX}-"`);
  if (parts[1] !== VERSION) {
    throw new JoinTokenError(`join token version "${parts[1] ?? ''}" is not supported (expected ${VERSION})`);
  }
  if (parts.length !== 4) {
    throw new JoinTokenError(`join token must have 4 dash-separated parts (${PREFIX}-${VERSION}-<digest>-<secret>), got ${parts.length}`);
  }
  const digest = parts[2] ?? '';
  const secret = parts[3] ?? '';
  checkPart('CA digest', digest, DIGEST_CHARS);
  checkPart('secret', secret, SECRET_CHARS);
  return { digest, secret };
}

/**
 * Whether a presented token equals the stored one, in time independent of where they differ:
 * both are hashed first, so timingSafeEqual always compares equal lengths and even the length
 * of the stored token does not leak.
 */
export function tokenMatches(presented: string, stored: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(stored, 'utf8').digest();
  return timingSafeEqual(a, b) && stored.length > 0;
}

function checkPart(name: string, value: string, chars: number): void {
  if (value.length !== chars) throw new JoinTokenError(`join token ${name} must be ${chars} characters, got ${value.length}`);
  if (!isBase32(value)) {
    const bad = [...value].find((c) => !isBase32(c)) ?? '';
    throw new JoinTokenError(`join token ${name} has "${bad}", outside base32 (a-z, 2-7)`);
  }
}

/** The two tokens of a cluster, in clear. */
export interface JoinTokenPair {
  worker: string;
  manager: string;
}

/**
 * The tokens as stored in the cluster object: sealed with the managers' key like the root CA
 * key, so the Raft log, its snapshots and a copied data dir do not hold a token that lets
 * anyone join as a manager. Sealed rather than hashed because `baton join-token` prints them
 * at any time, as Docker does.
 */
export function sealJoinTokens(key: Uint8Array, tokens: JoinTokenPair): { joinTokens: null; sealedJoinTokens: Uint8Array } {
  return { joinTokens: null, sealedJoinTokens: seal(key, baton.JoinTokens.encode(tokens).finish()) };
}

/**
 * The tokens of a stored root CA, in clear. A cluster object written before tokens were sealed
 * holds them in clear in joinTokens: they are used as they are (rotating both seals them).
 */
export function openJoinTokens(
  key: Uint8Array,
  root: { readonly joinTokens?: { readonly worker?: string | null; readonly manager?: string | null } | null; readonly sealedJoinTokens?: Uint8Array | null },
): JoinTokenPair {
  const sealed = root.sealedJoinTokens;
  if (!sealed || sealed.length === 0) return { worker: root.joinTokens?.worker ?? '', manager: root.joinTokens?.manager ?? '' };
  const open = baton.JoinTokens.decode(unseal(key, sealed));
  return { worker: open.worker, manager: open.manager };
}
