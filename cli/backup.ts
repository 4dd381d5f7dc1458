// `baton backup --out FILE`: a consistent backup of the cluster's store from any manager, while
// it runs (manager/controlapi/backup.ts). The file is checked against the size and SHA-256 the
// manager announced before it replaces FILE, and is written 0600: it holds every secret, the
// CA key and the join tokens.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { BatonError } from '../client/index.js';
import { globalOptions, withClient, type GlobalArgs } from './context.js';

interface BackupArgs extends GlobalArgs {
  out: string;
}

export function backupCommand(y: Argv): Argv<BackupArgs> {
  return globalOptions(y).option('out', { type: 'string', demandOption: true, requiresArg: true, describe: 'the file to write (mode 0600: it holds the secrets and the CA key)' });
}

export async function runBackup(args: BackupArgs): Promise<void> {
  const out = resolve(args.out);
  if (statSync(out, { throwIfNoEntry: false })?.isDirectory()) throw new BatonError('INVALID_ARGUMENT', `--out ${args.out} is a directory: give a file name`);
  const tmp = `${out}.partial`;
  rmSync(tmp, { force: true });
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (err) {
    throw new BatonError('FAILED_PRECONDITION', `cannot write ${tmp}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let header: { totalBytes: number; sha256: string; clusterId: string; index: number; createdAt: number } | undefined;
  let written = 0;
  const hash = createHash('sha256');
  try {
    await withClient(args, async (client) => {
      for await (const chunk of client.backup()) {
        header ??= {
          totalBytes: Number(chunk.totalBytes ?? 0),
          sha256: chunk.sha256 ?? '',
          clusterId: chunk.clusterId ?? '',
          index: Number(chunk.index ?? 0),
          createdAt: Number(chunk.createdAt ?? 0),
        };
        const data = chunk.data ?? new Uint8Array(0);
        hash.update(data);
        for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
        written += data.length;
      }
    });
    if (!header || written !== header.totalBytes || hash.digest('hex') !== header.sha256) {
      throw new BatonError('UNAVAILABLE', `the backup arrived incomplete (${written} of ${header?.totalBytes ?? '?'} bytes, or a different SHA-256): ${args.out} was not written; run it again`);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, out);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // Already closed before the rename failed.
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  process.stdout.write(
    `Backup of cluster ${header.clusterId} at Raft index ${header.index} (${new Date(header.createdAt).toISOString()}): ${written} bytes in ${args.out}.\n` +
      `It holds every secret, the CA key and the join tokens: keep it as private as a manager's data dir (it is mode 0600).\n` +
      `Restore it on a new manager with: baton init --restore ${args.out} --data-dir DIR\n`,
  );
}
