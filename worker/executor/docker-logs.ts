// Docker's log stream for a container without a TTY multiplexes stdout and stderr into frames:
// an 8-byte header (stream type, 3 zero bytes, big-endian payload length) then the payload.
// With `timestamps: true` each payload starts with an RFC 3339 timestamp and a space. A
// followed stream arrives in arbitrary pieces, so frames are reassembled across chunks.
import type { LogChunk } from './types.js';

const HEADER = 8;
// RFC 3339 with up to nanoseconds; Date.parse only takes milliseconds, so the rest is dropped.
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) /;

export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds a piece of the stream; returns every frame it completed. */
  push(piece: Buffer): LogChunk[] {
    this.pending = this.pending.length === 0 ? piece : Buffer.concat([this.pending, piece]);
    const out: LogChunk[] = [];
    let offset = 0;
    while (offset + HEADER <= this.pending.length) {
      const length = this.pending.readUInt32BE(offset + 4);
      if (offset + HEADER + length > this.pending.length) break;
      const type = this.pending.readUInt8(offset);
      const payload = this.pending.subarray(offset + HEADER, offset + HEADER + length);
      out.push(toChunk(type === 2 ? 'stderr' : 'stdout', payload));
      offset += HEADER + length;
    }
    // Copy the remainder so the consumed chunks' memory is not kept alive by a small tail.
    this.pending = Buffer.from(this.pending.subarray(offset));
    return out;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The stream ended: an incomplete frame is dropped (the engine never sends one). */
  end(): LogChunk[] {
    return [];
  }
}

/**
 * A TTY container's log stream: no frames, just the terminal's output, every line stamped
 * (timestamps: true) and ending in CRLF. Lines are cut here, across pieces, into stdout chunks.
 */
export class RawLogSplitter {
  private pending = '';

  push(piece: Buffer): LogChunk[] {
    const text = this.pending + piece.toString('utf8');
    const cut = text.lastIndexOf('\n');
    this.pending = text.slice(cut + 1);
    if (cut < 0) return [];
    return text
      .slice(0, cut)
      .split('\n')
      .map((line) => toChunk('stdout', Buffer.from(`${line.replace(/\r$/, '')}\n`)));
  }

  end(): LogChunk[] {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? [] : [toChunk('stdout', Buffer.from(rest))];
  }
}

function toChunk(stream: 'stdout' | 'stderr', payload: Buffer): LogChunk {
  const head = payload.subarray(0, 40).toString('latin1');
  const m = STAMP.exec(head);
  if (!m) return { stream, data: new Uint8Array(payload), timestamp: Date.now() };
  const millis = (m[2] ?? '').slice(0, 4);
  const timestamp = Date.parse(`${m[1]}${millis}${m[3]}`);
  return {
    stream,
    data: new Uint8Array(payload.subarray(m[0].length)),
    timestamp: Number.isNaN(timestamp) ? Date.now() : timestamp,
  };
}
