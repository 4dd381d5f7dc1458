// LevelDB key layout. Entry keys are a prefix byte and the index as 8 big-endian bytes, so
// LevelDB's byte order is log order and the log is one contiguous key range.
const ENTRY_PREFIX = 0x65; // 'e'
const TWO_32 = 0x1_0000_0000;

export const HARD_STATE_KEY: Buffer = Buffer.from('h');
export const SNAPSHOT_META_KEY: Buffer = Buffer.from('s');
/** Bounds of the entry range: gte ENTRY_MIN, lt ENTRY_END. */
export const ENTRY_MIN: Buffer = Buffer.from([ENTRY_PREFIX]);
export const ENTRY_END: Buffer = Buffer.from([ENTRY_PREFIX + 1]);

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  key.writeUInt32BE(Math.floor(index / TWO_32), 1);
  key.writeUInt32BE(index >>> 0, 5);
  return key;
}

/** The index an entry key names, or undefined when the key is not a well-formed entry key. */
export function entryKeyIndex(key: Uint8Array): number | undefined {
  if (key.length !== 9 || key[0] !== ENTRY_PREFIX) return undefined;
  const b = Buffer.from(key.buffer, key.byteOffset, key.length);
  const index = b.readUInt32BE(1) * TWO_32 + b.readUInt32BE(5);
  return Number.isSafeInteger(index) ? index : undefined;
}
