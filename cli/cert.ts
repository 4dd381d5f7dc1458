// `baton cert create|ls|rm`: client certificates for gRPC clients over TCP (this CLI with
// --host tcp://… and BATON_CERT_PATH, or any other gRPC client). The key is made here and
// never leaves this machine: the managers get a CSR and sign it with the cluster CA.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { BatonError, type baton } from '../client/index.js';
import { parseDuration } from '../spec/index.js';
import { removeEach, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { json, print, table } from './output.js';

/** Docker's names for the files of a TLS client (DOCKER_CERT_PATH). */
export const CERT_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;

type CreateArgs = GlobalArgs & { name?: string; role?: string; expiry?: string; out?: string };

/** Everything wrong with a create command line, at once, before a key is made or a call sent. */
function createRequest(args: CreateArgs): { name: string; role: string; expiryMs: number; out: string } {
  const problems = new FlagProblems();
  const name = args.name ?? '';
  const role = args.role ?? '';
  const out = args.out ?? '';
  if (!name) problems.add('--name is required');
  if (role !== 'admin' && role !== 'readonly') problems.add(role ? `bad --role "${role}" (want admin or readonly)` : '--role is required (admin or readonly)');
  let expiryMs = 0;
  if (args.expiry !== undefined) {
    expiryMs = problems.take(parseDuration(args.expiry, '--expiry'), 0);
    if (expiryMs === 0 && problems.list.length === 0) problems.add('--expiry must be positive');
  }
  if (!out) problems.add('--out DIR is required (where ca.pem, cert.pem and key.pem go)');
  else {
    const taken = Object.values(CERT_FILES).filter((f) => existsSync(join(out, f)));
    if (taken.length > 0) problems.add(`${out} already has ${taken.join(', ')}: not overwriting`);
  }
  problems.check();
  return { name, role, expiryMs, out };
}

function writeFiles(out: string, caPem: string, certPem: string, keyPem: string): void {
  try {
    mkdirSync(out, { recursive: true, mode: 0o700 });
    writeFileSync(join(out, CERT_FILES.key), keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(join(out, CERT_FILES.cert), certPem, { mode: 0o644, flag: 'wx' });
    writeFileSync(join(out, CERT_FILES.ca), caPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    throw new BatonError('FAILED_PRECONDITION', `cannot write the certificate files to ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** YYYY-MM-DD HH:MM:SS +0000 UTC, as Docker prints times in tables. */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

function asJson(c: baton.ClientCertificate.$Properties): Record<string, unknown> {
  return {
    ID: c.meta?.id ?? '',
    Name: c.spec?.annotations?.name ?? '',
    Role: c.spec?.role ?? '',
    Serial: c.serial ?? '',
    CreatedAt: new Date(Number(c.meta?.createdAt ?? 0)).toISOString(),
    ExpiresAt: new Date(Number(c.expiresAt ?? 0)).toISOString(),
  };
}

export function certCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<CreateArgs>(
      'create',
      'Create a client certificate signed by the cluster CA: writes ca.pem, cert.pem and key.pem to --out',
      (c) =>
        c
          .option('name', { type: 'string', requiresArg: true, describe: 'the certificate name (its CN)' })
          .option('role', { type: 'string', requiresArg: true, describe: 'admin (what the CLI can do) or readonly (list, inspect, logs)' })
          .option('expiry', { type: 'string', requiresArg: true, describe: 'lifetime, e.g. 30d (default 90d)' })
          .option('out', { type: 'string', requiresArg: true, describe: 'directory for ca.pem, cert.pem, key.pem (key mode 0600)' }),
      (args) =>
        withClient(args, async (client) => {
          const req = createRequest(args);
          // On demand: the x509 library it loads is for this command alone.
          const { createClientCertificate } = await import('../client/certificates.js');
          const made = await createClientCertificate(client, req);
          writeFiles(req.out, made.caPem, made.certPem, made.keyPem);
          print(req.name);
        }),
    )
    .command<GlobalArgs & { quiet?: boolean; format?: string }>(
      ['ls', 'list'],
      'List client certificates',
      (c) => c.option('quiet', { alias: 'q', type: 'boolean', describe: 'only names' }).option('format', { type: 'string', choices: ['table', 'json'], default: 'table' }),
      (args) =>
        withClient(args, async (client) => {
          const all: baton.ClientCertificate.$Properties[] = [];
          let pageToken = '';
          // Bounded: a server that repeats a page token does not keep us here.
          for (let pages = 0; pages < 10_000; pages++) {
            const res = await client.control.call('ListCertificates', { pageToken });
            all.push(...(res.certificates ?? []));
            if (!res.nextPageToken || res.nextPageToken === pageToken) break;
            pageToken = res.nextPageToken;
          }
          const list = all.sort((a, b) => (a.spec?.annotations?.name ?? '').localeCompare(b.spec?.annotations?.name ?? ''));
          if (args.quiet) return print(list.map((c) => c.spec?.annotations?.name ?? '').join('\n'));
          if (args.format === 'json') return print(json(list.map(asJson)));
          const rows = list.map((c) => [c.spec?.annotations?.name ?? '', c.spec?.role ?? '', c.serial ?? '', utc(Number(c.expiresAt ?? 0))]);
          print(table(['NAME', 'ROLE', 'SERIAL', 'EXPIRES'], rows));
        }),
    )
    .command<GlobalArgs & { names: string[] }>(
      ['rm <names..>', 'remove <names..>'],
      'Revoke client certificates: every manager refuses them from their next call',
      (c) => c.positional('names', { type: 'string', array: true, demandOption: true }),
      (args) =>
        withClient(args, async (client) => {
          await removeEach(args.names, (name) => client.control.call('RemoveCertificate', { id: name }), print);
        }),
    )
    .demandCommand(1, 'baton cert needs a subcommand: create, ls, rm');
}
