// What every node needs for mTLS (a worker may import this; it never imports manager/).
export { caDigest, CLIENT_ROLES, IdentityError, isClientRole, isNodeRole, NODE_ROLES, normalSerial, parseNodeIdentity, peerIdentity } from './identity.js';
export type { CallWithAuthContext, CertRole, ClientRole, NodeIdentity, NodeRole, PeerIdentity } from './identity.js';
export { generateNodeKey } from './node-key.js';
export type { NodeKey } from './node-key.js';
export { bootstrapCredentials, clientCredentials, NODE_CHANNEL_OPTIONS, NodeServerCredentials } from './credentials.js';
export { LISTEN_BACKLOG, NodeTlsListener } from './listener.js';
export type { ClientTlsOptions, NodeTlsMaterial } from './credentials.js';
export { AuthError, authorize, authorizeStream, checkPeer, requireRole, roleRefusal } from './authorize.js';
export type { AuthorizedStreamHandler, AuthorizedUnaryHandler, AuthResult } from './authorize.js';
