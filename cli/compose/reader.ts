// Reading a parsed Compose tree with its path in hand, so every problem is one line naming the
// file and the key (`compose.yml: services.web.deploy.replicas must be ...`), and every key we
// do not implement is reported by name: an error, or a warning for the few that are harmless
// to ignore (see README "Stacks").
import { BatonError } from '../../client/index.js';
import { MAX_COUNT, describeProblems } from '../../spec/index.js';

/** Several problems of a file, said together (one line); a list of them is flattened, not nested. */
export class ComposeProblems extends BatonError {
  constructor(readonly problems: readonly string[]) {
    super('INVALID_ARGUMENT', describeProblems(problems));
  }

  /** The problems an error of the loader stands for. */
  static of(err: BatonError): readonly string[] {
    return err instanceof ComposeProblems ? err.problems : [err.message];
  }
}

export interface Origin {
  /** The file (as the user named it) that gave the value at `path`, after merging several. */
  fileOf(path: string): string;
  warn(line: string): void;
}

export class Node {
  constructor(
    readonly value: unknown,
    readonly path: string,
    readonly origin: Origin,
  ) {}

  get file(): string {
    return this.origin.fileOf(this.path);
  }

  /** Throws `<file>: <path> <predicate>`, e.g. predicate "must be a string". */
  fail(predicate: string): never {
    throw new BatonError('INVALID_ARGUMENT', `${this.file}: ${this.path} ${predicate}`);
  }

  warn(predicate: string): void {
    this.origin.warn(`${this.file}: ${this.path} ${predicate}`);
  }

  get present(): boolean {
    return this.value !== undefined && this.value !== null;
  }

  /** The value under a key (absent when this node is absent; an error when it is not a mapping). */
  child(key: string | number): Node {
    let v: unknown;
    if (this.present) {
      if (typeof key === 'number' && !Array.isArray(this.value)) this.fail(`must be a list${this.got()}`);
      if (typeof key === 'string' && !this.isMap()) this.fail(`must be a mapping${this.got()}`);
      v = (this.value as Record<string | number, unknown>)[key];
    }
    return new Node(v, typeof key === 'number' ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key, this.origin);
  }

  isMap(): boolean {
    return this.value !== null && typeof this.value === 'object' && !Array.isArray(this.value);
  }

  /** The entries of a mapping (an absent value is an empty mapping). */
  entries(): [string, Node][] {
    if (!this.present) return [];
    if (!this.isMap()) this.fail(`must be a mapping${this.got()}`);
    return Object.keys(this.value as object).map((k) => [k, this.child(k)]);
  }

  /** The items of a list (an absent value is an empty list). */
  items(): Node[] {
    if (!this.present) return [];
    if (!Array.isArray(this.value)) this.fail(`must be a list${this.got()}`);
    return this.value.map((_, i) => this.child(i));
  }

  /**
   * Every key must be one we implement; `x-` extensions are skipped; the `harmless` ones are
   * warned about and ignored; anything else is an error naming it.
   */
  checkKeys(supported: readonly string[], harmless: readonly string[] = []): void {
    const refused: string[] = [];
    for (const [key, node] of this.entries()) {
      if (supported.includes(key) || key.startsWith('x-')) continue;
      if (harmless.includes(key)) node.warn('is not supported, ignored');
      else refused.push(`${node.file}: ${node.path} is not supported`);
    }
    // Every unknown key of the mapping at once, not the first one per run.
    if (refused.length > 0) throw new ComposeProblems(refused);
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail(`must be a string${this.got()}`);
    return this.value;
  }

  /** A scalar read as text: Compose accepts numbers and booleans where a string is meant. */
  text(): string {
    const v = this.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(`must be a string${this.got()}`);
  }

  bool(): boolean {
    if (typeof this.value !== 'boolean') this.fail(`must be true or false${this.got()}`);
    return this.value;
  }

  /** A whole number >= min (written as a number or a string of digits). */
  /** A whole number from min to max (spec/limits.ts; `limit` names it, e.g. "replicas per service"). */
  int(min = 0, max = MAX_COUNT, limit?: string): number {
    const v = this.value;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min) this.fail(`must be a whole number >= ${min}${this.got()}`);
    if (n > max) this.fail(`must be at most ${max}${limit ? ` ${limit}` : ''}${this.got()}`);
    return n;
  }

  number(min: number, max: number): number {
    const v = this.value;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) this.fail(`must be a number from ${min} to ${max}${this.got()}`);
    return n;
  }

  oneOf<T extends string>(choices: readonly T[]): T {
    const s = this.text();
    if (!(choices as readonly string[]).includes(s)) this.fail(`must be ${choices.join(', ').replace(/, ([^,]*)$/, ' or $1')} (got "${s}")`);
    return s as T;
  }

  /** A string, or a list of strings (for command lines), as a list. */
  stringList(): string[] {
    return this.items().map((n) => n.text());
  }

  /** `got ...` for messages: what the user wrote. */
  got(): string {
    const v = this.value;
    if (v === undefined || v === null) return ' (it is empty)';
    if (typeof v === 'string') return ` (got "${v}")`;
    if (typeof v === 'number' || typeof v === 'boolean') return ` (got ${String(v)})`;
    return Array.isArray(v) ? ' (got a list)' : ' (got a mapping)';
  }
}
