// CRC-32C (Castagnoli): node 20's zlib has no crc32 export, and this polynomial detects more
// error patterns in short records than the IEEE one. Slicing-by-8 because every entry written
// and every entry read on open is checksummed, and the CPU, not the disk, is the limit.
const POLY = 0x82f63b78;

// Eight 256-entry tables laid end to end: table k advances the CRC over k extra zero bytes.
const TABLE = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 8; t++) {
    const prev = TABLE[(t - 1) * 256 + n]!;
    TABLE[t * 256 + n] = (prev >>> 8) ^ TABLE[prev & 0xff]!;
  }
}

/** CRC-32C of `data`; pass a previous result as `crc` to continue over more bytes. */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = TABLE;
  let c = ~crc;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < data.length; i++) c = (c >>> 8) ^ t[(c ^ data[i]!) & 0xff]!;
  return ~c >>> 0;
}
