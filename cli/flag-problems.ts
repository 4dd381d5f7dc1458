// The problems of one command line, collected so that every bad flag is reported at once: one
// INVALID_ARGUMENT, its problems joined with '; '. Values are parsed by spec/ (which returns a
// problem rather than throwing: it sits below rpc/ and its BatonError).
import { BatonError } from '../client/index.js';
import { describeProblems, type Parsed } from '../spec/index.js';

export class FlagProblems {
  readonly list: string[] = [];

  add(problem: string): void {
    this.list.push(problem);
  }

  /** The parsed value, or `fallback` with the problem noted. */
  take<T>(parsed: Parsed<T>, fallback: T): T {
    if (parsed.ok) return parsed.value;
    this.add(parsed.problem);
    return fallback;
  }

  /** Throws one INVALID_ARGUMENT listing every problem noted, if any. */
  check(): void {
    if (this.list.length > 0) throw new BatonError('INVALID_ARGUMENT', describeProblems(this.list));
  }
}
