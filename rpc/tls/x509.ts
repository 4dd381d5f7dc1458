// The one place @peculiar/x509 is loaded: its dependency-injection container (tsyringe) needs
// the Reflect metadata API installed before the library's module body runs, and ES modules
// evaluate imports in order, so importing x509 from here (never directly) guarantees that.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };

/** ECDSA P-256 for every key in the cluster: the root CA's and every node's. */
export const EC_KEY_ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** The signature algorithm for every certificate and CSR. */
export const EC_SIGNING_ALGORITHM: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
