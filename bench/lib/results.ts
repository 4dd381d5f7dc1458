// Result files and the printed table every benchmark shares.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { execFileSync } from 'node:child_process';
import { roundDeep } from './stats.js';

/** `2026-01-31T12-34-56Z`: an ISO time usable in a file name. */
export function fileTimestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Write `<dir>/<name>-<timestamp>.json` and `<dir>/<name>-latest.json`; returns the first path. */
export function writeResults(dir: string, name: string, data: unknown, when = new Date()): string {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const path = join(dir, `${name}-${fileTimestamp(when)}.json`);
  writeFileSync(path, text);
  writeFileSync(join(dir, `${name}-latest.json`), text);
  return path;
}

/**
 * Writes a benchmark's results file: its name, when it ran and on what machine (load average at
 * the end too), then `fields`, every number rounded; returns the file's path.
 */
export function writeRun(dir: string, name: string, started: Date, machine: Record<string, unknown>, loadAverageAtEnd: unknown, fields: Record<string, unknown>): string {
  const data = { benchmark: name, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine, loadAverageAtEnd, ...fields };
  return writeResults(dir, name, roundDeep(data), started);
}

/**
 * The tail every benchmark ends with, one way: the load average at its start and now, the
 * busy-machine warning if the machine was busy, the results file (writeRun, with the load at
 * the start among the fields) and its path. Returns the path.
 */
export function finishRun(
  dir: string,
  name: string,
  started: Date,
  loadAtStart: readonly number[],
  fields: Record<string, unknown>,
  log: (line: string) => void = (line) => console.log(line),
): string {
  const loadAtEnd = loadavg();
  const show = (l: readonly number[]): string => l.map((v) => v.toFixed(2)).join(' ');
  log(`load average (1, 5, 15 min): start ${show(loadAtStart)}, end ${show(loadAtEnd)}`);
  const warning = busyMachineWarning();
  if (warning) log(warning);
  const path = writeRun(dir, name, started, machineInfo(), loadAtEnd, { loadAverageAtStart: loadAtStart, ...fields });
  log(`results: ${path}`);
  return path;
}

/** What the numbers were measured on. */
export function machineInfo(): Record<string, unknown> {
  const cpu = cpus();
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
    node: process.version,
    commit,
  };
}

/** A plain-text table: first row is the header; columns after the first are right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ');
  const out = rows.map(line);
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('-+-'));
  return out.join('\n');
}

/** A number for a table cell: fixed decimals, thousands kept plain, '-' when missing. */
export function cell(v: number | undefined, decimals = 1): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(decimals);
}

/** `a / b` as `1.23x`, '-' when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

/** A warning when other work kept the machine busy (1-minute load average above half its CPUs). */
export function busyMachineWarning(): string | undefined {
  const [one] = loadavg();
  const n = cpus().length;
  if (one === undefined || one <= n / 2) return undefined;
  return `note: the machine was busy with other work (1-min load average ${one.toFixed(2)} on ${n} CPUs): figures are noisy; compare ratios, and rerun when quiet`;
}
