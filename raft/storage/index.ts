export { RaftStorage, type SaveRequest } from './raft-storage.js';
export { StorageCorruptError } from './errors.js';
