// baton's release and its API's version, said by `baton version` (client and server parts) and
// by the Info call. test/unit/version.test.ts holds BATON_VERSION to package.json's version.

export const BATON_VERSION = '0.1.0';

/**
 * The Control API's version (docs/api.md, "Versioning"): the major changes only when a public
 * call, field or meaning is removed or changed; additions raise the minor.
 */
export const API_VERSION = '1.2';

/** This process's software, as Info carries it and `baton version` prints it. */
export function softwareVersion(): { version: string; apiVersion: string; nodeVersion: string; os: string; arch: string } {
  return { version: BATON_VERSION, apiVersion: API_VERSION, nodeVersion: process.version, os: process.platform, arch: process.arch };
}
