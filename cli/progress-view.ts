// The progress report of `service create|update|scale` (./progress.ts, ./job-progress.ts).
/** A report redrawn in place in a terminal; elsewhere its first line, printed when it changes. */
export class ProgressView {
  private readonly tty: boolean;
  /** The first line last printed (outside a terminal). */
  private last = '';
  private lines = 0;

  constructor(private readonly quiet: boolean) {
    this.tty = process.stdout.isTTY && !quiet;
  }

  show(report: string): void {
    if (this.quiet) return;
    if (this.tty) {
      if (this.lines > 0) process.stdout.write(`\x1b[${this.lines}A\x1b[J`);
      process.stdout.write(`${report}\n`);
      this.lines = report.split('\n').length;
    } else if (report.split('\n')[0] !== this.last) {
      this.last = report.split('\n')[0]!;
      process.stdout.write(`${this.last}\n`);
    }
  }

  /** A line that stays (the report is drawn again below it). */
  say(line: string): void {
    if (this.quiet) return;
    process.stdout.write(`${line}\n`);
    this.lines = 0;
  }

  get isTty(): boolean {
    return this.tty;
  }
}
