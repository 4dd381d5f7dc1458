// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by its length in two
// bytes. Used by the server's connections and by the forwarder's.

export function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/** Collects the bytes of a stream and hands out whole messages. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Bytes received and not yet handed out. */
  get buffered(): number {
    return this.size;
  }

  /** The next whole message, or undefined until its last byte has arrived. */
  next(): Buffer | undefined {
    if (this.size < 2) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    const length = all.readUInt16BE(0);
    if (this.size < 2 + length) {
      this.chunks = [all];
      return undefined;
    }
    const message = all.subarray(2, 2 + length);
    const rest = all.subarray(2 + length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return message;
  }
}
