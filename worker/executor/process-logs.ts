// Logs of process tasks. The process writes straight into stdout.log and stderr.log (no pipe
// through the worker, so it survives the worker's restart and nothing is lost meanwhile);
// reading them is therefore file reading: tail by scanning back from the end, follow by
// polling the sizes until the task has exited. Plain files carry no time per line: history
// gets the file's modification time (an upper bound), followed lines the time they are read;
// and the two streams cannot be interleaved after the fact, so history comes stdout first.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { STDERR_FILE, STDOUT_FILE } from './process-state.js';
import type { LogChunk, LogOptions } from './types.js';

const BLOCK = 64 * 1024;
const NL = 0x0a;

async function sizeAndTime(path: string): Promise<{ size: number; mtime: number }> {
  try {
    const s = await stat(path);
    return { size: s.size, mtime: s.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size: 0, mtime: Date.now() };
    throw err;
  }
}

/** Yields the bytes of [start, end) in blocks; a file shorter than end (truncated) just ends early. */
async function* readRange(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const fh = await open(path, 'r');
  try {
    for (let pos = start; pos < end; ) {
      const buf = Buffer.alloc(Math.min(BLOCK, end - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Offset where the last n lines of [0, size) begin (a final newline does not start a line). */
async function tailStart(path: string, size: number, n: number): Promise<number> {
  if (size === 0) return 0;
  const fh = await open(path, 'r');
  try {
    let seen = 0;
    // The byte at size-1 ends the last line whether or not it is a newline.
    let end = size - 1;
    while (end > 0) {
      const start = Math.max(0, end - BLOCK);
      const buf = Buffer.alloc(end - start);
      await fh.read(buf, 0, buf.length, start);
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] === NL && ++seen === n) return start + i + 1;
      }
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/** Cuts a byte stream into lines (newline kept, as Docker's log lines keep it). */
class Lines {
  private partial: Buffer = Buffer.alloc(0);
  constructor(private readonly stream: LogChunk['stream']) {}

  push(piece: Buffer, timestamp: number): LogChunk[] {
    const buf = this.partial.length > 0 ? Buffer.concat([this.partial, piece]) : piece;
    const out: LogChunk[] = [];
    let from = 0;
    for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, from)) {
      out.push({ stream: this.stream, data: new Uint8Array(buf.subarray(from, nl + 1)), timestamp });
      from = nl + 1;
    }
    this.partial = Buffer.from(buf.subarray(from));
    return out;
  }

  /** A last line without its newline, once no more can come. */
  flush(timestamp: number): LogChunk[] {
    if (this.partial.length === 0) return [];
    const data = new Uint8Array(this.partial);
    this.partial = Buffer.alloc(0);
    return [{ stream: this.stream, data, timestamp }];
  }
}

/**
 * The logs of the task whose files are in dir. With follow, keeps polling until running()
 * says the task has exited, then reads what it wrote last and ends.
 */
export async function* fileLogs(dir: string, opts: LogOptions, running: () => Promise<boolean>, pollMs = 200): AsyncGenerator<LogChunk> {
  const files = [
    { path: join(dir, STDOUT_FILE), lines: new Lines('stdout'), offset: 0 },
    { path: join(dir, STDERR_FILE), lines: new Lines('stderr'), offset: 0 },
  ];
  for (const f of files) {
    const { size, mtime } = await sizeAndTime(f.path);
    const start = opts.tail > 0 ? await tailStart(f.path, size, opts.tail) : 0;
    for await (const piece of readRange(f.path, start, size)) yield* f.lines.push(piece, mtime);
    f.offset = size;
    if (!opts.follow) yield* f.lines.flush(mtime);
  }
  if (!opts.follow) return;
  for (;;) {
    // Asked before reading, so the read after the task's exit catches its last words.
    const alive = await running();
    const now = Date.now();
    for (const f of files) {
      const { size } = await sizeAndTime(f.path);
      for await (const piece of readRange(f.path, f.offset, size)) yield* f.lines.push(piece, now);
      f.offset = Math.max(f.offset, size);
      if (!alive) yield* f.lines.flush(now);
    }
    if (!alive) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
