// Failures a batch can end in. They are results, not crashes: every manager applies the same
// entry and must reach the same state, so a failed batch is reported, never thrown, by apply().

export type StoreErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'VERSION_CONFLICT' | 'INVALID';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Ends a watch whose consumer fell too far behind: it must re-list and watch again. */
export class WatchOverflowError extends Error {
  override readonly name = 'WatchOverflowError';
  readonly code = 'WATCH_OVERFLOW';
  constructor(readonly limit: number) {
    super(`store watch fell behind by more than ${limit} events and was closed: re-list and watch again`);
  }
}
