// Docker-style output: aligned tables, `--format json`, `-q` for IDs, and one line for errors.

export type Format = 'table' | 'json';

export function table(headers: string[], rows: string[][]): string {
  // A loop, not Math.max(...rows): a spread of 100,000 rows would overflow the call stack.
  const widths = headers.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s;
}

/** A duration as Go prints one (Docker's `--pretty`): 500ms, 5s, 1.5s, 1m30s, 2h0m0s. */
export function durationText(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${+seconds.toFixed(3)}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = +(seconds % 60).toFixed(3);
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`;
}

/** A size in binary units, as Docker's `--pretty` shows a memory limit: 64MiB, 1.5GiB. */
export function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${+n.toFixed(2)}${units[i]}`;
}
