// The issuing side of the cluster CA, run on managers: root CA, node certificates, join tokens,
// and sealing of the secrets (the CA key among them) kept in the Raft store.
export { CAError, createRootCA, loadRootCA, RootCA } from './root-ca.js';
export type { ClientCertificateSubject, IssuedClientCertificate, NodeCertificateSubject, RootCAMaterial } from './root-ca.js';
export { generateJoinToken, JoinTokenError, openJoinTokens, parseJoinToken, sealJoinTokens, tokenMatches } from './join-token.js';
export type { JoinTokenPair, ParsedJoinToken } from './join-token.js';
export { newSealKey, seal, SealError, unseal } from './seal.js';
export { generateUnlockKey, isLockedFile, lockFile, openLockedFile, parseUnlockKey, UnlockKeyError } from './unlock-key.js';
