// The files a TCP client proves itself with, found as Docker's CLI finds them: --tlscacert,
// --tlscert, --tlskey each, else ca.pem, cert.pem and key.pem in BATON_CERT_PATH (as
// DOCKER_CERT_PATH), else the node certificate of the data dir (a manager's own).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { BatonError } from '../rpc/errors.js';

export interface TlsFileOptions {
  /** --tlscacert: the cluster's root CA certificate. */
  caCert?: string | undefined;
  /** --tlscert: the client certificate. */
  cert?: string | undefined;
  /** --tlskey: the client certificate's key. */
  key?: string | undefined;
  /** A directory with ca.pem, cert.pem and key.pem; default BATON_CERT_PATH. */
  certPath?: string | undefined;
}

export interface TlsFiles {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Where each file comes from, or undefined when no flag and no BATON_CERT_PATH name one. */
export function tlsFilePaths(opts: TlsFileOptions): { ca: string; cert: string; key: string } | undefined {
  const dir = opts.certPath ?? process.env.BATON_CERT_PATH;
  if (!dir && opts.caCert === undefined && opts.cert === undefined && opts.key === undefined) return undefined;
  const missing: string[] = [];
  const pick = (given: string | undefined, file: string, flag: string): string => {
    if (given !== undefined) return given;
    if (dir) return join(dir, file);
    missing.push(flag);
    return '';
  };
  const paths = { ca: pick(opts.caCert, 'ca.pem', '--tlscacert'), cert: pick(opts.cert, 'cert.pem', '--tlscert'), key: pick(opts.key, 'key.pem', '--tlskey') };
  if (missing.length > 0) throw new BatonError('INVALID_ARGUMENT', `--tlscacert, --tlscert and --tlskey go together (or set BATON_CERT_PATH): missing ${missing.join(', ')}`);
  return paths;
}

/** Reads the three files and checks they make a TLS identity; every problem in one line. */
export function readTlsFiles(paths: { ca: string; cert: string; key: string }): TlsFiles {
  const problems: string[] = [];
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`cannot read ${what} ${path}${code === 'ENOENT' ? ': no such file' : code ? ` (${code})` : ''}`);
      return '';
    }
  };
  const files = { caPem: read(paths.ca, 'CA certificate'), certPem: read(paths.cert, 'certificate'), keyPem: read(paths.key, 'key') };
  if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', problems.join('; '));
  try {
    createSecureContext({ ca: files.caPem, cert: files.certPem, key: files.keyPem });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new BatonError('INVALID_ARGUMENT', `${paths.ca}, ${paths.cert} and ${paths.key} are not a usable CA certificate, certificate and key: ${reason}`);
  }
  return files;
}
