// A linearizability checker for histories of concurrent client operations.
//
// The search is Wing & Gong's, with Lowe's memoization, as Porcupine implements it: the history
// is a doubly linked list of call and return events in time order. An operation may be
// linearized next only if its call comes before the first return still in the list (otherwise
// some operation that returned earlier would be ordered after it). Linearizing an operation
// removes its call and return from the list; a dead end (the first return event of the list
// reached with no operation left to try) pops the last choice and tries the next candidate.
// A cache of (set of linearized operations, model state) pairs already reached prunes the
// search: two orders that linearize the same operations into the same state have the same
// future, so only the first needs exploring (and see LinearizedSet for how indeterminate
// operations let it prune more).
//
// Indeterminate operations (return = Infinity) get their return event at the very end of the
// list: they may be linearized at any point after their call, including "after everything",
// which is indistinguishable from never having taken effect. They are what makes real
// histories expensive (each one multiplies the choices), so they get three pruning rules, each
// argued where it is applied and each checked against a brute-force checker in the tests:
// dominance in the cache (LinearizedSet), symmetry between identical ones
// (indeterminateTwins), and never linearizing one that leaves the state unchanged.

/** One client operation of a history. */
export interface Operation<I, O> {
  clientId: number;
  input: I;
  /** `undefined` means unknown: the model must accept any output. */
  output: O | undefined;
  /** Time of the invocation. Only the order of call and return times matters. */
  call: number;
  /** Time of the response; `Infinity` for an indeterminate operation (never returned). */
  return: number;
}

/** A sequential specification of the object the history ran against. */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies `input` to `state`; `ok` says whether `output` is what a sequential object would
   * have answered. `output` is `undefined` when unknown (an indeterminate operation): then `ok`
   * must be true. Must not mutate `state`: the search keeps old states to backtrack to.
   */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** Equal keys for states that behave the same; used by the memoization cache. */
  key(state: S): string;
  /**
   * Splits a history into independent sub-histories (P-compositionality, e.g. one per key of a
   * map): the history is linearizable iff every part is. A part may hold rewritten copies of
   * operations (same clientId, call and return) when that preserves the verdict; failure
   * reports name the original operations.
   */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
}

export interface CheckOptions {
  /** Give up after this long (across all partitions) and answer 'unknown'. */
  timeoutMs?: number;
}

export interface CheckResult<I, O> {
  result: 'ok' | 'illegal' | 'unknown';
  /** Number of partitions checked (1 when the model does not partition). */
  partitions: number;
  /** Model steps taken by the search, all partitions together. */
  steps: number;
  elapsedMs: number;
  /**
   * For 'illegal': the partition that has no linearization, and the longest linearizable
   * prefix the search found in it, in linearization order (a hint at where it goes wrong).
   */
  failure?: {
    partition: number;
    ops: Operation<I, O>[];
    longestPrefix: Operation<I, O>[];
  };
}

/** Checks whether `ops` is linearizable with respect to `model`. */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const start = performance.now();
  const deadline = options.timeoutMs === undefined ? Infinity : start + options.timeoutMs;
  for (const op of ops) {
    if (!Number.isFinite(op.call) || !(op.return >= op.call)) {
      throw new RangeError(`operation of client ${op.clientId}: call ${op.call}, return ${op.return}`);
    }
  }
  const parts = model.partition ? model.partition([...ops]) : [[...ops]];
  let steps = 0;
  let timedOut = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? [];
    const r = search(model, part, deadline);
    steps += r.steps;
    if (r.result === 'illegal') {
      const original = originals(ops);
      return {
        result: 'illegal',
        partitions: parts.length,
        steps,
        elapsedMs: performance.now() - start,
        failure: { partition: i, ops: part.map(original), longestPrefix: r.longestPrefix.map(original) },
      };
    }
    // Keep going after a timeout in one partition: another may still prove the history
    // illegal, which is a definite answer. The deadline makes the rest give up quickly.
    if (r.result === 'unknown') timedOut = true;
  }
  return {
    result: timedOut ? 'unknown' : 'ok',
    partitions: parts.length,
    steps,
    elapsedMs: performance.now() - start,
  };
}

/** Maps an operation a model's partition may have rewritten back to the caller's. */
function originals<I, O>(ops: readonly Operation<I, O>[]): (op: Operation<I, O>) => Operation<I, O> {
  const given = new Set(ops);
  const byId = new Map<string, Operation<I, O> | null>();
  for (const op of ops) {
    const id = `${op.clientId}|${op.call}|${op.return}`;
    byId.set(id, byId.has(id) ? null : op);
  }
  return (op) => (given.has(op) ? op : byId.get(`${op.clientId}|${op.call}|${op.return}`) ?? op);
}

interface EventNode {
  /** Index of the operation in the partition. */
  readonly id: number;
  /** On a call event, its return event; null on a return event. */
  readonly match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

interface CacheEntry {
  readonly stateKey: string;
  /** Index of the first word of the determinate set that is not all ones (those before are implied). */
  readonly lo: number;
  /** Words of the determinate set from `lo` up to the last non-zero one (those after are implied zero). */
  readonly words: Uint32Array;
  /** The set of indeterminate ops linearized, in full. */
  readonly indeterminate: Uint32Array;
  /** Every continuation from here has been tried and failed. */
  finished: boolean;
}

interface SearchResult<I, O> {
  result: 'ok' | 'illegal' | 'unknown';
  steps: number;
  longestPrefix: Operation<I, O>[];
}

// How many loop iterations between two looks at the clock: reading it every step would cost
// more than the step.
const CLOCK_EVERY = 1024;

/**
 * The linearized set, split in two: determinate ops (those that returned; numbered 0..d-1 in
 * call order, so that the set is mostly a prefix of ones) and indeterminate ones (numbered
 * 0..k-1 in their own bitset). The split serves the cache's dominance rule: for the same
 * determinate set and state, having linearized fewer indeterminate ops is never worse (any
 * continuation from the larger set works from the smaller one, with the extra ops deferred to
 * the end, i.e. never taking effect). So once a configuration is known to fail, every one with
 * the same determinate set and state and a superset of its indeterminate ops fails too.
 * That prunes the 2^k ways of placing k timed-out writes, which is what makes Jepsen histories
 * with many `:info` ops slow.
 */
class LinearizedSet {
  readonly det: Uint32Array;
  readonly indet: Uint32Array;
  /** Zobrist hash of the determinate set. */
  hash = 0;
  /** Words of `det` before `lo` are all ones; `det[lo]` is not (or lo is its length). */
  lo = 0;
  /** Words of `det` from `hi` on are all zeros; `det[hi - 1]` is not (or hi is 0). */
  hi = 0;

  constructor(
    readonly detCount: number,
    indetCount: number,
    private readonly zobrist: Uint32Array,
  ) {
    this.det = new Uint32Array(Math.max(1, Math.ceil(detCount / 32)));
    this.indet = new Uint32Array(Math.max(1, Math.ceil(indetCount / 32)));
  }

  has(bit: number): boolean {
    if (bit < this.detCount) return (this.det[bit >>> 5]! & (1 << (bit & 31))) !== 0;
    const i = bit - this.detCount;
    return (this.indet[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** `bit` is the op's number in the combined numbering: determinate ops first. */
  toggle(bit: number): void {
    if (bit < this.detCount) {
      const det = this.det;
      const w = bit >>> 5;
      det[w]! ^= 1 << (bit & 31);
      this.hash ^= this.zobrist[bit]!;
      // Kept up to date here rather than found by a scan in every cache lookup, which on a
      // long history would cost O(n) per step.
      if (det[w] !== 0xffffffff) {
        if (w < this.lo) this.lo = w;
      } else if (w === this.lo) {
        while (this.lo < det.length && det[this.lo] === 0xffffffff) this.lo++;
      }
      if (det[w] !== 0) {
        if (w >= this.hi) this.hi = w + 1;
      } else if (w === this.hi - 1) {
        while (this.hi > 0 && det[this.hi - 1] === 0) this.hi--;
      }
    } else {
      const i = bit - this.detCount;
      this.indet[i >>> 5]! ^= 1 << (i & 31);
    }
  }
}

function search<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  deadline: number,
): SearchResult<I, O> {
  const head = buildEventList(ops);
  // bitOf[id]: the op's bit in LinearizedSet's numbering.
  const bitOf = new Int32Array(ops.length);
  const order = ops.map((_, id) => id).sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
  let detCount = 0;
  for (const id of order) if (ops[id]!.return !== Infinity) bitOf[id] = detCount++;
  let indetCount = 0;
  for (const id of order) if (ops[id]!.return === Infinity) bitOf[id] = detCount + indetCount++;
  const set = new LinearizedSet(detCount, indetCount, zobristTable(detCount));
  const prevTwin = indeterminateTwins(ops, order);
  // Determinate ops must all be linearized; indeterminate ones left over can always go last
  // (or be treated as never having taken effect), so reaching zero here is success.
  let remaining = detCount;

  const cache = new Map<number, CacheEntry[]>();
  const stack: { node: EventNode; state: S; stateKey: string; entry: CacheEntry }[] = [];
  let state = model.init();
  let stateKey = model.key(state);
  let steps = 0;
  let longest: number[] = [];
  let iterations = 0;
  let node: EventNode | null = head.next;
  // Candidates are tried in two passes over the window of calls before the first return:
  // first the ops that returned, then the indeterminate ones. Linearizing an indeterminate op
  // early is rarely what a linearization needs (most never took effect, or took effect late),
  // so trying it last finds a linearization of a legal history much sooner. Each candidate is
  // still tried exactly once, so an illegal history is explored just as fully.
  let indeterminatePass = false;

  while (remaining > 0 && node !== null) {
    if (++iterations % CLOCK_EVERY === 0 && performance.now() > deadline) {
      return { result: 'unknown', steps, longestPrefix: longest.map((id) => ops[id]!) };
    }
    if (node.match !== null) {
      const id = node.id;
      const op = ops[id]!;
      if ((op.return === Infinity) !== indeterminatePass) {
        node = node.next;
        continue;
      }
      const twin = prevTwin[id]!;
      if (twin >= 0 && !set.has(bitOf[twin]!)) {
        node = node.next;
        continue;
      }
      steps++;
      const next = model.step(state, op.input, op.output);
      // An indeterminate op that leaves the state as it was is never worth linearizing: any
      // linearization through it stays one without it (the op simply never took effect).
      const nextKey = next.ok ? model.key(next.state) : '';
      if (next.ok && !(indeterminatePass && nextKey === stateKey)) {
        set.toggle(bitOf[id]!);
        const entry = cacheVisit(cache, set, nextKey);
        if (entry !== null) {
          stack.push({ node, state, stateKey, entry });
          state = next.state;
          stateKey = nextKey;
          if (op.return !== Infinity) remaining--;
          lift(node);
          node = head.next;
          indeterminatePass = false;
          continue;
        }
        set.toggle(bitOf[id]!);
      }
      node = node.next;
    } else if (!indeterminatePass) {
      indeterminatePass = true;
      node = head.next;
    } else {
      // The first return event left in the list: its operation was not linearized before it
      // returned, so nothing linearized from here on can lead anywhere. Backtrack.
      if (stack.length > longest.length) longest = stack.map((e) => e.node.id);
      const top = stack.pop();
      if (top === undefined) {
        return { result: 'illegal', steps, longestPrefix: longest.map((id) => ops[id]!) };
      }
      top.entry.finished = true;
      const id = top.node.id;
      set.toggle(bitOf[id]!);
      state = top.state;
      stateKey = top.stateKey;
      // Resume the pass the popped op was tried in, right after it.
      indeterminatePass = ops[id]!.return === Infinity;
      if (!indeterminatePass) remaining++;
      unlift(top.node);
      node = top.node.next;
    }
  }
  return { result: 'ok', steps, longestPrefix: [] };
}

/**
 * Symmetry reduction: indeterminate ops with equal inputs (say, two timed-out `write 3`) are
 * interchangeable once both have been called, as neither has a return or an output to
 * satisfy. So they are only ever linearized in call order: an op is tried only once its
 * previous twin (returned here by index, -1 if none) is linearized. Any linearization can be
 * rewritten that way (give the j-th use of the input to the j-th earliest call: it was called
 * no later), so no history changes verdict, but k identical timed-out writes cost k+1 choices
 * instead of 2^k.
 */
function indeterminateTwins<I, O>(ops: readonly Operation<I, O>[], byCall: readonly number[]): Int32Array {
  const prev = new Int32Array(ops.length).fill(-1);
  const last = new Map<string, number>();
  for (const id of byCall) {
    const op = ops[id]!;
    if (op.return !== Infinity) continue;
    const key = plainKey(op.input);
    if (key === undefined) continue;
    const before = last.get(key);
    if (before !== undefined) prev[id] = before;
    last.set(key, id);
  }
  return prev;
}

/**
 * A key equal for structurally equal plain data (primitives, arrays, plain objects), or
 * undefined for anything else: JSON.stringify would give a Map, a class instance or a function
 * one key for different values, and a wrong "equal" here would be a wrong verdict.
 */
function plainKey(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'u';
    case 'bigint':
      return `${v}n`;
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        const parts: string[] = [];
        for (const x of v as unknown[]) {
          const k = plainKey(x);
          if (k === undefined) return undefined;
          parts.push(k);
        }
        return `[${parts.join(',')}]`;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const parts: string[] = [];
      for (const name of Object.keys(v).sort()) {
        const k = plainKey((v as Record<string, unknown>)[name]);
        if (k === undefined) return undefined;
        parts.push(`${JSON.stringify(name)}:${k}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      return undefined;
  }
}

/** A sentinel head followed by every call and return event in time order. */
function buildEventList<I, O>(ops: readonly Operation<I, O>[]): EventNode {
  const events: { time: number; isReturn: number; id: number }[] = [];
  ops.forEach((op, id) => {
    events.push({ time: op.call, isReturn: 0, id });
    events.push({ time: op.return, isReturn: 1, id });
  });
  // On equal times a call goes first: the two operations are then concurrent, the reading
  // that accepts the most histories, so coarse clocks cannot cause a false "illegal".
  events.sort((a, b) => (a.time === b.time ? a.isReturn - b.isReturn || a.id - b.id : a.time < b.time ? -1 : 1));
  const returns = new Map<number, EventNode>();
  for (const e of events) {
    if (e.isReturn) returns.set(e.id, { id: e.id, match: null, prev: null, next: null });
  }
  const head: EventNode = { id: -1, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    const node: EventNode = e.isReturn
      ? returns.get(e.id)!
      : { id: e.id, match: returns.get(e.id)!, prev: null, next: null };
    node.prev = last;
    last.next = node;
    last = node;
  }
  return head;
}

// Dancing links: a lifted call/return pair keeps its own prev/next pointers, so unlifting in
// reverse order of lifting puts it back exactly where it was.
function lift(call: EventNode): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: EventNode): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/**
 * Records that the search reached (set, stateKey) and returns the new entry, or returns null
 * if that configuration needs no exploring: a finished entry with the same determinate set and
 * state and a subset of its indeterminate ops is there (the dominance rule of LinearizedSet;
 * an identical entry is always finished, as the stack only holds strict subsets of the
 * current set).
 *
 * The determinate set is stored without its leading all-ones and trailing all-zeros words:
 * the search mostly linearizes ops in call order, so on long histories a full copy per entry
 * would be quadratic in memory while the trimmed one stays a few words.
 */
function cacheVisit(cache: Map<number, CacheEntry[]>, set: LinearizedSet, stateKey: string): CacheEntry | null {
  const { det, indet, lo, hi } = set;
  const h = (set.hash ^ Math.imul(hashString(stateKey), 0x9e3779b1)) >>> 0;
  const bucket = cache.get(h);
  if (bucket !== undefined) {
    next: for (const e of bucket) {
      if (!e.finished || e.lo !== lo || e.words.length !== hi - lo || e.stateKey !== stateKey) continue;
      for (let i = 0; i < e.words.length; i++) if (e.words[i] !== det[lo + i]) continue next;
      for (let i = 0; i < indet.length; i++) if ((e.indeterminate[i]! & ~indet[i]!) !== 0) continue next;
      return null;
    }
  }
  const entry: CacheEntry = { stateKey, lo, words: det.slice(lo, hi), indeterminate: indet.slice(), finished: false };
  if (bucket === undefined) cache.set(h, [entry]);
  else bucket.push(entry);
  return entry;
}

/**
 * Zobrist hashing: the hash of a set is the XOR of one random word per member, so adding or
 * removing an op updates it in O(1) instead of rehashing the whole bitset at every step.
 * Seeded, so a run is reproducible.
 */
function zobristTable(n: number): Uint32Array {
  const table = new Uint32Array(n);
  let s = 0x2545f491;
  for (let i = 0; i < n; i++) {
    // splitmix32
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    table[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return table;
}

/** FNV-1a. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Models

export type RegisterValue = string | number | null;

export type RegisterInput =
  | { op: 'read' }
  | { op: 'write'; value: RegisterValue }
  | { op: 'cas'; from: RegisterValue; to: RegisterValue };

/**
 * read: the value read (`null` for a register never written; `undefined` is "unknown", not
 * "empty"). cas: `true` if it swapped, `false` if the value was not `from`. write: ignored.
 */
export type RegisterOutput = RegisterValue | boolean;

/**
 * A single register that starts empty (`null`), with read, write and compare-and-set.
 *
 * Its partition does not split (there is one register) but merges values no operation can
 * observe: a written value that no read returned and no cas compares against behaves exactly
 * like any other such value, since every comparison the register makes is against a read's
 * output or a cas's `from`. So all of them become one placeholder, distinct from every
 * observed value, and the verdict is unchanged. That turns the many timed-out writes of
 * unique values in a real history (most of which never took effect and were never seen) into
 * identical ops the search treats as interchangeable, instead of 2^k distinct choices.
 */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'read':
        if (output === undefined) return { ok: true, state };
        if (typeof output === 'boolean') throw new TypeError('a register read answers a value, not a boolean');
        return { ok: output === state, state };
      case 'write':
        return { ok: true, state: input.value ?? null };
      case 'cas': {
        const swaps = state === (input.from ?? null);
        if (output !== undefined && typeof output !== 'boolean') {
          throw new TypeError('a register cas answers a boolean (swapped or not)');
        }
        // An unknown outcome is not "either": at whatever point it took effect, the state
        // decided whether it swapped.
        if (output === undefined || output === swaps) return { ok: true, state: swaps ? (input.to ?? null) : state };
        return { ok: false, state };
      }
    }
  },
  // Type-tagged so that the number 1 and the string "1" stay different states.
  key: (state) => (state === null ? 'null' : typeof state === 'number' ? `n${state}` : `s${state}`),
  partition(ops) {
    const observed = new Set<RegisterValue>([null]);
    for (const op of ops) {
      if (op.input.op === 'read' && op.output !== undefined && typeof op.output !== 'boolean') observed.add(op.output);
      if (op.input.op === 'cas') observed.add(op.input.from ?? null);
    }
    const unseen = placeholder(observed);
    const merge = (v: RegisterValue): RegisterValue => (observed.has(v ?? null) ? v : unseen);
    return [
      ops.map((op) => {
        const { input } = op;
        if (input.op === 'write' && !observed.has(input.value ?? null)) return { ...op, input: { ...input, value: unseen } };
        if (input.op === 'cas' && !observed.has(input.to ?? null)) return { ...op, input: { ...input, to: merge(input.to) } };
        return op;
      }),
    ];
  },
};

/** A string value none of `taken` is equal to. */
function placeholder(taken: ReadonlySet<unknown>): string {
  let name = '<unobserved>';
  while (taken.has(name)) name += "'";
  return name;
}

export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string };

/** get: the value, `null` for a missing key (`undefined` is "unknown"). put, append: ignored. */
export type KvOutput = string | null;

export type KvState = ReadonlyMap<string, string>;

/**
 * A map from string keys to string values (missing keys read as `null`; append to a missing key
 * creates it). Partitioned per key: operations on different keys commute, so each key is a
 * separate, much smaller search. On a key without appends, values no get returned are merged
 * into one placeholder, as registerModel does (with appends, values are not opaque: a get
 * observes a concatenation).
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => new Map<string, string>(),
  step(state, input, output) {
    const current = state.get(input.key) ?? null;
    switch (input.op) {
      case 'get':
        return { ok: output === undefined || output === current, state };
      case 'put':
        return { ok: true, state: new Map(state).set(input.key, input.value) };
      case 'append':
        return { ok: true, state: new Map(state).set(input.key, (current ?? '') + input.value) };
    }
  },
  key: (state) => JSON.stringify([...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, [op]);
      else list.push(op);
    }
    return [...byKey.values()].map((part) => {
      if (part.some((op) => op.input.op === 'append')) return part;
      const observed = new Set<string | null>([null]);
      for (const op of part) if (op.input.op === 'get' && op.output !== undefined) observed.add(op.output);
      const unseen = placeholder(observed);
      return part.map((op) =>
        op.input.op === 'put' && !observed.has(op.input.value) ? { ...op, input: { ...op.input, value: unseen } } : op,
      );
    });
  },
};
