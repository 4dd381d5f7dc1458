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
