import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The stored log cannot be trusted. Never retried or repaired automatically: a node that
 * restarted from a log missing acknowledged entries could break Raft's safety, so an operator
 * must decide (restore the data dir, or remove the member and rejoin it empty).
 */
export class StorageCorruptError extends Error {
  readonly code = 'RAFT_STORAGE_CORRUPT';
  override readonly name = 'StorageCorruptError';

  constructor(
    readonly dir: string,
    /** Which record is bad, e.g. "entry 1234", "hard state", "snapshot file snap/…". */
    readonly record: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`raft storage ${dir} is corrupt: ${record} ${problem}`, options);
  }
}

/** What an operator can do about each cause; the key is the errno name. */
const CAUSES: Record<string, { text: string; fix: string }> = {
  ENOSPC: { text: 'no space left on device', fix: 'free space on that filesystem, then start the node again' },
  EDQUOT: { text: 'disk quota exceeded', fix: 'raise the quota or free space, then start the node again' },
  EACCES: { text: 'permission denied', fix: "run the node as the data dir's owner (or root)" },
  EPERM: { text: 'operation not permitted', fix: "run the node as the data dir's owner (or root)" },
  EROFS: { text: 'read-only file system', fix: 'remount it read-write, then start the node again' },
  EIO: { text: 'input/output error', fix: 'the disk is failing: check the kernel log (dmesg)' },
  EMFILE: { text: 'too many open files', fix: 'raise the limit (ulimit -n)' },
  ENFILE: { text: 'too many open files in the system', fix: 'raise fs.file-max or close files' },
};

/** LevelDB reports errno as strerror() text inside "IO error: <path>: <text>". */
const STRERROR: Record<string, string> = {
  'no space left on device': 'ENOSPC',
  'disk quota exceeded': 'EDQUOT',
  'permission denied': 'EACCES',
  'operation not permitted': 'EPERM',
  'read-only file system': 'EROFS',
  'input/output error': 'EIO',
  'too many open files': 'EMFILE',
  'too many open files in system': 'ENFILE',
};

/** A storage error's cause as one line, e.g. "no space left on device on /data/raft/db/000005.ldb". */
export interface StorageCause {
  /** The errno name when known (ENOSPC, EACCES, …). */
  code?: string;
  /** "<what> on <path>". */
  line: string;
  /** What to do about it, when there is something to say. */
  fix?: string;
}

/**
 * Reads the cause out of an error from node:fs or LevelDB (whose "Database failed to open"
 * carries the real reason in `cause`, e.g. "IO error: /d/000005.ldb: No space left on device"),
 * naming the file when the error does and `where` otherwise.
 */
export function storageCause(err: unknown, where: string, levelDir?: string): StorageCause {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const sys = e as NodeJS.ErrnoException;
    if (sys.code && CAUSES[sys.code]) {
      const c = CAUSES[sys.code]!;
      return { code: sys.code, line: `${c.text} on ${sys.path ?? where}`, fix: c.fix };
    }
    const io = /IO error: (?:lock )?(\/[^:]*): (.+)$/.exec(e.message);
    if (io) {
      const text = io[2]!.trim();
      const code = STRERROR[text.toLowerCase()];
      const c = code ? CAUSES[code] : undefined;
      return { ...(code ? { code } : {}), line: `${c?.text ?? text} on ${io[1]!}`, ...(c ? { fix: c.fix } : {}) };
    }
  }
  // LevelDB said nothing useful ("Database failed to open" alone): its own LOG may.
  const logged = levelDir === undefined ? undefined : lastLoggedError(levelDir);
  if (logged) return storageCause(new Error(logged), where);
  // Nothing but a generic message: the innermost one is the most specific.
  let inner: unknown = err;
  for (let depth = 0; inner instanceof Error && inner.cause instanceof Error && depth < 8; depth++) inner = inner.cause;
  return { line: `${inner instanceof Error ? inner.message : String(inner)} on ${where}` };
}

/**
 * The last line of LevelDB's LOG in `dir` that reports an error, without its timestamp. LOG.old
 * (the previous run's) is read only when LOG is missing or empty: LevelDB could not write its
 * new log (a full disk), so the previous run's last error is the nearest cause there is. A LOG
 * with lines but no error means LevelDB said nothing, and an old error would be a stale cause.
 */
function lastLoggedError(dir: string): string | undefined {
  for (const name of ['LOG', 'LOG.old']) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n').filter((l) => /error|corrupt/i.test(l));
    const last = lines[lines.length - 1];
    // "2026/12/06-17:05:01.123456 7f3a… IO error: …": drop the time and thread.
    if (last) return last.replace(/^\S+ \S+ /, '').trim();
    if (text.trim() !== '') return undefined;
  }
  return undefined;
}

/**
 * The log or its files could not be read or written (disk full, permissions, read-only mount):
 * unlike StorageCorruptError nothing is known to be wrong with the data, only with the disk.
 * The message is one line: what failed, the cause with its path, and what to do.
 */
export class StorageIOError extends Error {
  readonly code = 'RAFT_STORAGE_IO';
  override readonly name = 'StorageIOError';

  constructor(
    what: string,
    readonly storage: StorageCause,
    options?: { cause?: unknown },
  ) {
    super(`${what}: ${storage.line}${storage.fix ? `; ${storage.fix}` : ''}`, options);
  }
}
