// A daemon's pino log (one JSON object a line, with an epoch-ms `time` and a `msg`), as the
// benchmarks read it to time what a manager did: the one way they parse those files.
import { readFileSync } from 'node:fs';

/** One log line: pino's time (epoch ms) and msg, and the fields the call logged with them. */
export type LogEntry = Record<string, unknown> & { time: number; msg: string };

/**
 * The lines of a pino log file, in order, each parsed; with `msg`, only those whose msg is it.
 * A file not written yet has none, and a line still being written (no whole JSON yet) is passed
 * over. A field a line names twice (a child logger's binding and the call's own, as `node` in a
 * mark-down: the logging manager first, the node marked down last) is the last one, as JSON.parse
 * keeps it.
 */
export function readLog(file: string, msg?: string): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // The cheap test first: a manager's log holds a line a heartbeat check, most of them not asked for.
  const marker = msg === undefined ? undefined : `"msg":${JSON.stringify(msg)}`;
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (marker !== undefined && !line.includes(marker)) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isEntry(entry) || (msg !== undefined && entry.msg !== msg)) continue;
    entries.push(entry);
  }
  return entries;
}

function isEntry(v: unknown): v is LogEntry {
  return typeof v === 'object' && v !== null && typeof (v as { time?: unknown }).time === 'number' && typeof (v as { msg?: unknown }).msg === 'string';
}
