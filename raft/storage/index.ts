export { RaftStorage, type SaveRequest } from './raft-storage.js';
export { StorageCorruptError, StorageIOError, storageCause, type StorageCause } from './errors.js';
