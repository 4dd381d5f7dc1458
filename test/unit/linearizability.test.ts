// Small histories whose verdict is known by hand, and a differential test against a brute-force
// checker, so that a broken search, cache or pruning rule fails here and not silently on the
// cluster's histories.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  checkOperations,
  kvModel,
  registerModel,
  type KvInput,
  type KvOutput,
  type KvState,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
} from '../lib/linearizability.js';

type RegOp = Operation<RegisterInput, RegisterOutput>;
type KvOp = Operation<KvInput, KvOutput>;
const NEVER = Infinity;

const read = (c: number, call: number, ret: number, value: RegisterValue | undefined): RegOp => ({
  clientId: c,
  input: { op: 'read' },
  output: value,
  call,
  return: ret,
});
const write = (c: number, call: number, ret: number, value: RegisterValue): RegOp => ({
  clientId: c,
  input: { op: 'write', value },
  output: ret === NEVER ? undefined : null,
  call,
  return: ret,
});
const cas = (c: number, call: number, ret: number, from: RegisterValue, to: RegisterValue, swapped?: boolean): RegOp => ({
  clientId: c,
  input: { op: 'cas', from, to },
  output: swapped,
  call,
  return: ret,
});

function verdict<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[]): string {
  return checkOperations(model, ops, { timeoutMs: 10_000 }).result;
}

test('register: sequential histories', () => {
  assert.equal(verdict(registerModel, []), 'ok');
  assert.equal(verdict(registerModel, [read(0, 0, 1, null)]), 'ok', 'the register starts empty');
  assert.equal(verdict(registerModel, [read(0, 0, 1, 0)]), 'illegal');
  assert.equal(verdict(registerModel, [write(0, 0, 1, 1), read(0, 2, 3, 1)]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, 1, 1), read(0, 2, 3, 2)]), 'illegal');
  assert.equal(verdict(registerModel, [write(0, 0, 1, 1), read(1, 2, 3, null)]), 'illegal', 'a read after a write returned is not stale');
  assert.equal(verdict(registerModel, [write(0, 0, 1, '1'), read(0, 2, 3, 1)]), 'illegal', 'the string "1" is not the number 1');
});

test('register: compare-and-set', () => {
  assert.equal(verdict(registerModel, [cas(0, 0, 1, null, 1, true), read(0, 2, 3, 1)]), 'ok');
  assert.equal(verdict(registerModel, [cas(0, 0, 1, 0, 1, false), read(0, 2, 3, null)]), 'ok', 'a failed cas changes nothing');
  assert.equal(verdict(registerModel, [cas(0, 0, 1, 0, 1, true)]), 'illegal', 'the value was null, not 0');
  assert.equal(verdict(registerModel, [cas(0, 0, 1, null, 1, false)]), 'illegal', 'the value was null, so it must swap');
  assert.equal(verdict(registerModel, [write(0, 0, 1, 3), cas(0, 2, 3, 3, 4, false)]), 'illegal');
  // A failed cas concurrent with the write that made its compare false: fine.
  assert.equal(verdict(registerModel, [write(0, 0, 1, 3), write(1, 2, 5, 7), cas(0, 3, 4, 3, 4, false), read(0, 6, 7, 7)]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, 1, 3), cas(1, 2, 5, 3, 4, true), read(0, 3, 4, 4), read(0, 6, 7, 3)]), 'illegal');
});

test('register: concurrent operations', () => {
  // A read overlapping a write may see either value...
  assert.equal(verdict(registerModel, [write(0, 0, 10, 1), read(1, 1, 2, 1)]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, 10, 1), read(1, 1, 2, null)]), 'ok');
  // ...but once one read saw the new value, a later read must not see the old one.
  assert.equal(verdict(registerModel, [write(0, 0, 10, 1), read(1, 1, 2, 1), read(2, 3, 4, null)]), 'illegal');
  assert.equal(verdict(registerModel, [write(0, 0, 10, 1), read(1, 1, 2, null), read(2, 3, 4, 1)]), 'ok');
  // Two concurrent writes and readers that disagree on their order.
  const w = [write(0, 0, 10, 1), write(1, 0, 10, 2)];
  assert.equal(verdict(registerModel, [...w, read(2, 1, 2, 1), read(2, 3, 4, 2)]), 'ok');
  assert.equal(verdict(registerModel, [...w, read(2, 1, 2, 1), read(2, 3, 4, 2), read(3, 5, 6, 1)]), 'illegal');
  assert.equal(verdict(registerModel, [...w, read(2, 1, 2, 1), read(3, 1, 2, 2), read(2, 11, 12, 1)]), 'ok');
  assert.equal(verdict(registerModel, [...w, read(2, 1, 2, 1), read(3, 3, 4, 2), read(2, 11, 12, 1)]), 'illegal');
  // Equal timestamps mean "concurrent", so a coarse clock cannot cause a false violation.
  assert.equal(verdict(registerModel, [write(0, 0, 5, 1), read(1, 5, 6, null)]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, 5, 1), read(1, 6, 7, null)]), 'illegal');
});

test('register: indeterminate operations', () => {
  // A timed-out write may have taken effect, at any time after its call...
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), read(1, 5, 6, 1)]), 'ok');
  // ...or never.
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), read(1, 5, 6, null)]), 'ok');
  // Once seen, it has happened.
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), read(1, 5, 6, 1), read(1, 7, 8, null)]), 'illegal');
  // Not before its call.
  assert.equal(verdict(registerModel, [read(1, 0, 1, 1), write(0, 2, NEVER, 1)]), 'illegal');
  // Late: after later operations.
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), write(1, 2, 3, 2), read(1, 4, 5, 2), read(1, 6, 7, 1)]), 'ok');
  // A timed-out cas swaps only if the value matched where it took effect.
  assert.equal(verdict(registerModel, [cas(0, 0, NEVER, null, 1), read(1, 5, 6, 1)]), 'ok');
  assert.equal(verdict(registerModel, [write(1, 0, 1, 5), cas(0, 2, NEVER, null, 1), read(1, 5, 6, 1)]), 'illegal');
  // Two identical timed-out writes can each take effect once, but one cannot take effect twice.
  const twice = [write(2, 2, 3, 2), read(2, 4, 5, 1), write(2, 6, 7, 3), read(2, 8, 9, 1)];
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), write(1, 1, NEVER, 1), ...twice]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), ...twice]), 'illegal');
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), write(1, 5, NEVER, 1), ...twice]), 'ok');
  assert.equal(verdict(registerModel, [write(0, 0, NEVER, 1), write(1, 10, NEVER, 1), ...twice]), 'illegal', 'the second one was called too late');
  // Found by fuzzing a checker whose cache pruned the wrong way round: after a dead end that
  // used the timed-out write early, using it late (the only way) must still be tried.
  assert.equal(
    verdict(registerModel, [
      write(1, 0, NEVER, 1),
      write(2, 1, 6, 2),
      read(0, 2, 5, 1),
      cas(3, 2, 3, 2, 0, false),
      write(3, 4, 4, 2),
      read(0, 6, 8, 2),
      cas(2, 8, 8, 1, 2, true),
      read(0, 10, NEVER, undefined),
    ]),
    'ok',
  );
  // A read whose result is unknown constrains nothing.
  assert.equal(verdict(registerModel, [read(0, 0, NEVER, undefined), write(1, 1, 2, 4), read(1, 3, 4, 4)]), 'ok');
});

test('register: timeout answers unknown, never a guess', () => {
  // 20 concurrent writes and a read of a value none wrote: proving that takes every subset of
  // the writes, about 20 * 2^20 configurations.
  const ops: RegOp[] = [];
  for (let i = 0; i < 20; i++) ops.push(write(i, 0, 100, i));
  ops.push(read(99, 101, 102, 'never written'));
  const r = checkOperations(registerModel, ops, { timeoutMs: 50 });
  assert.equal(r.result, 'unknown');
});

test('register: long histories are checked iteratively', () => {
  const ops: RegOp[] = [];
  for (let i = 0; i < 20_000; i++) {
    ops.push(write(0, 4 * i, 4 * i + 1, i));
    ops.push(read(1, 4 * i + 2, 4 * i + 3, i));
  }
  assert.equal(verdict(registerModel, ops), 'ok');
  ops.push(read(1, 1e9, 1e9 + 1, 0));
  const r = checkOperations(registerModel, ops);
  assert.equal(r.result, 'illegal');
  assert.equal(r.failure?.longestPrefix.length, 40_000, 'everything but the last read linearizes');
});

test('register: long concurrent histories from a simulated linearizable register', () => {
  const rand = rng(7);
  const ok = checkOperations(registerModel, simulateRegister(rand, 3000, 6), { timeoutMs: 10_000 });
  assert.equal(ok.result, 'ok');
  // Change a completed read in the middle to a value nobody wrote: the search must exhaust
  // every linearization of the first half (which is why this history is shorter).
  const ops = simulateRegister(rand, 1000, 6);
  const reads = ops.filter((o) => o.input.op === 'read' && o.return !== NEVER);
  const victim = reads[Math.floor(reads.length / 2)]!;
  victim.output = -1;
  const bad = checkOperations(registerModel, ops, { timeoutMs: 10_000 });
  assert.equal(bad.result, 'illegal');
  assert.ok(bad.failure?.ops.includes(victim), 'the failure names the caller\'s operations');
});

const kvOp = (clientId: number, call: number, ret: number, input: KvInput, output: KvOp['output']): KvOp => ({ clientId, input, output, call, return: ret });
const get = (c: number, call: number, ret: number, key: string, value: string | null | undefined): KvOp => kvOp(c, call, ret, { op: 'get', key }, value);
const put = (c: number, call: number, ret: number, key: string, value: string): KvOp => kvOp(c, call, ret, { op: 'put', key, value }, null);
const append = (c: number, call: number, ret: number, key: string, value: string): KvOp => kvOp(c, call, ret, { op: 'append', key, value }, null);

test('kv: get, put and append', () => {
  assert.equal(verdict(kvModel, [get(0, 0, 1, 'x', null)]), 'ok', 'a missing key reads as null');
  assert.equal(verdict(kvModel, [get(0, 0, 1, 'x', '')]), 'illegal', 'not as the empty string');
  assert.equal(verdict(kvModel, [put(0, 0, 1, 'x', 'a'), append(0, 2, 3, 'x', 'b'), get(0, 4, 5, 'x', 'ab')]), 'ok');
  assert.equal(verdict(kvModel, [put(0, 0, 1, 'x', 'a'), append(0, 2, 3, 'x', 'b'), get(0, 4, 5, 'x', 'ba')]), 'illegal');
  assert.equal(verdict(kvModel, [append(0, 0, 1, 'x', 'b'), get(0, 2, 3, 'x', 'b')]), 'ok', 'append creates the key');
  // Concurrent appends: any order, but one order for every reader.
  const apps = [append(0, 0, 10, 'x', 'a'), append(1, 0, 10, 'x', 'b')];
  assert.equal(verdict(kvModel, [...apps, get(2, 11, 12, 'x', 'ba'), get(3, 11, 12, 'x', 'ba')]), 'ok');
  assert.equal(verdict(kvModel, [...apps, get(2, 11, 12, 'x', 'ab'), get(3, 11, 12, 'x', 'ba')]), 'illegal');
  assert.equal(verdict(kvModel, [...apps, get(2, 1, 2, 'x', 'b'), get(3, 11, 12, 'x', 'ab')]), 'illegal');
  // An indeterminate append may land late, or never.
  assert.equal(verdict(kvModel, [append(0, 0, NEVER, 'x', 'a'), put(1, 1, 2, 'x', 'z'), get(1, 3, 4, 'x', 'za')]), 'ok');
  assert.equal(verdict(kvModel, [append(0, 0, NEVER, 'x', 'a'), put(1, 1, 2, 'x', 'z'), get(1, 3, 4, 'x', 'z')]), 'ok');
  assert.equal(verdict(kvModel, [append(0, 0, NEVER, 'x', 'a'), put(1, 1, 2, 'x', 'z'), get(1, 3, 4, 'x', 'aza')]), 'illegal');
});

test('kv: a history across several keys is checked per key', () => {
  const ops: KvOp[] = [
    put(0, 0, 3, 'x', '1'),
    put(1, 1, 2, 'y', '1'),
    get(2, 1, 4, 'x', '1'),
    get(3, 3, 5, 'y', '1'),
    put(0, 4, 8, 'x', '2'),
    put(1, 4, 6, 'z', '9'),
    get(2, 5, 7, 'x', '1'),
    get(3, 6, 9, 'x', '2'),
    get(1, 7, 8, 'z', '9'),
    get(2, 9, 10, 'y', '1'),
  ];
  const ok = checkOperations(kvModel, ops);
  assert.equal(ok.result, 'ok');
  assert.equal(ok.partitions, 3);
  // On a single register, "x" reading 2 then 1 is a violation; other keys are fine.
  const bad = [...ops, get(2, 11, 12, 'y', '1'), get(3, 13, 14, 'x', '1')];
  const r = checkOperations(kvModel, bad);
  assert.equal(r.result, 'illegal');
  assert.ok(r.failure);
  assert.ok(r.failure.ops.every((o) => o.input.key === 'x'), 'the failing partition is the one of key x');
  // Across keys, real-time order does not matter: per-key histories are what count.
  assert.equal(verdict(kvModel, [put(0, 0, 1, 'x', 'a'), get(1, 2, 3, 'y', null), get(1, 4, 5, 'x', 'a')]), 'ok');
});

test('kv: a long concurrent history across keys from a simulated linearizable map', () => {
  const rand = rng(11);
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const ops = simulate(rand, 5000, 6, kvModel.init(), (i): KvInput => {
    const key = keys[Math.floor(rand() * keys.length)]!;
    const r = rand();
    // Appends only on two keys, so that both kinds of partition are exercised.
    if (r < 0.5) return { op: 'get', key };
    if (r < 0.7 && (key === 'a' || key === 'b')) return { op: 'append', key, value: `${i},` };
    return { op: 'put', key, value: String(i) };
  }, applyKv);
  const ok = checkOperations(kvModel, ops, { timeoutMs: 10_000 });
  assert.equal(ok.result, 'ok');
  assert.equal(ok.partitions, keys.length);
  const victim = ops.find((o, i) => i > 2500 && o.input.op === 'get' && o.input.key === 'a' && o.return !== NEVER)!;
  victim.output = 'never';
  const bad = checkOperations(kvModel, ops, { timeoutMs: 10_000 });
  assert.equal(bad.result, 'illegal');
  assert.ok(bad.failure?.ops.every((o) => o.input.key === 'a'));
});

test('rejects an operation that returns before its call', () => {
  assert.throws(() => checkOperations(registerModel, [read(0, 5, 4, null)]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Differential test: the optimized search (memoization, dominance of indeterminate ops,
// symmetry between identical ones) against the definition, on thousands of small random
// histories with overlaps, equal timestamps and indeterminate operations.

/** Tries every order that respects real time, with every subset of the indeterminate ops. */
function bruteForce<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const used = ops.map(() => false);
  const visit = (state: S): boolean => {
    if (ops.every((o, i) => used[i] || o.return === Infinity)) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      const o = ops[i]!;
      // o may go next only if no unused op returned strictly before o was called.
      if (ops.some((p, j) => !used[j] && j !== i && p.return < o.call)) continue;
      const r = model.step(state, o.input, o.output);
      if (!r.ok) continue;
      used[i] = true;
      const found = visit(r.state);
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return visit(model.init());
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random client intervals: a few clients, short overlapping ops, some never returning. */
function randomIntervals(rand: () => number, n: number): { clientId: number; call: number; return: number }[] {
  const out: { clientId: number; call: number; return: number }[] = [];
  const clients = 4;
  const free = Array.from({ length: clients }, () => Math.floor(rand() * 3));
  while (out.length < n) {
    const c = Math.floor(rand() * clients);
    const t = free[c]!;
    if (t === Infinity) {
      if (free.every((x) => x === Infinity)) break;
      continue;
    }
    const ret = rand() < 0.25 ? Infinity : t + Math.floor(rand() * 6);
    out.push({ clientId: c, call: t, return: ret });
    free[c] = ret + Math.floor(rand() * 3);
  }
  return out;
}

function randomRegisterHistory(rand: () => number): RegOp[] {
  const pick = (): number | null => (rand() < 0.2 ? null : Math.floor(rand() * 3));
  return randomIntervals(rand, 1 + Math.floor(rand() * 10)).map(({ clientId, call, return: ret }) => {
    const done = ret !== Infinity;
    const r = rand();
    if (r < 0.4) return read(clientId, call, ret, done ? pick() : undefined);
    if (r < 0.75) return write(clientId, call, ret, Math.floor(rand() * 3));
    return cas(clientId, call, ret, pick(), Math.floor(rand() * 3), done ? rand() < 0.5 : undefined);
  });
}

function randomKvHistory(rand: () => number): KvOp[] {
  const key = (): string => (rand() < 0.5 ? 'x' : 'y');
  const value = (): string => 'ab'[Math.floor(rand() * 2)]!;
  return randomIntervals(rand, 1 + Math.floor(rand() * 8)).map(({ clientId, call, return: ret }) => {
    const done = ret !== Infinity;
    const r = rand();
    if (r < 0.4) {
      const v = ['a', 'b', 'ab', 'ba', 'aa', null][Math.floor(rand() * 6)] ?? null;
      return get(clientId, call, ret, key(), done ? v : undefined);
    }
    if (r < 0.7) return put(clientId, call, ret, key(), value());
    return append(clientId, call, ret, key(), value());
  });
}

function differential<S, I, O>(model: Model<S, I, O>, generate: (rand: () => number) => Operation<I, O>[], seed: number): void {
  const rand = rng(seed);
  const counts = { ok: 0, illegal: 0 };
  for (let i = 0; i < 6000; i++) {
    const ops = generate(rand);
    const expected = bruteForce(model, ops) ? 'ok' : 'illegal';
    const got = checkOperations(model, ops).result;
    if (got !== expected) {
      assert.fail(`history #${i} of seed ${seed}: checker says ${got}, brute force says ${expected}\n${JSON.stringify(ops)}`);
    }
    counts[expected]++;
  }
  // A generator that only produced one kind of history would prove little.
  assert.ok(counts.ok > 600 && counts.illegal > 600, `too one-sided: ${JSON.stringify(counts)}`);
}

test('register: agrees with brute force on random small histories', () => {
  differential(registerModel, randomRegisterHistory, 1);
  differential(registerModel, randomRegisterHistory, 2);
});

test('kv: agrees with brute force on random small histories', () => {
  differential(kvModel, randomKvHistory, 3);
});

/**
 * A history of an object that really is linearizable: each op takes effect at a random instant
 * inside its interval, in that order; a few never return (and may or may not take effect).
 */
function simulate<S, I, O>(
  rand: () => number,
  n: number,
  clients: number,
  init: S,
  input: (i: number) => I,
  apply: (state: S, input: I) => [S, O],
): Operation<I, O>[] {
  type Pending = { op: Operation<I, O>; at: number; effect: boolean };
  const pending: Pending[] = [];
  const free = Array.from({ length: clients }, () => rand() * 10);
  for (let i = 0; i < n; i++) {
    const c = free.indexOf(Math.min(...free));
    const call = free[c]!;
    const end = call + 1 + rand() * 20;
    const timedOut = rand() < 0.03;
    const op: Operation<I, O> = { clientId: c, input: input(i), output: undefined, call, return: timedOut ? NEVER : end };
    pending.push({ op, at: call + rand() * (end - call), effect: !timedOut || rand() < 0.5 });
    free[c] = end + rand() * 5;
  }
  let state = init;
  for (const p of [...pending].sort((a, b) => a.at - b.at)) {
    if (!p.effect) continue;
    const [next, output] = apply(state, p.op.input);
    state = next;
    if (p.op.return !== NEVER) p.op.output = output;
  }
  return pending.map((p) => p.op);
}

function simulateRegister(rand: () => number, n: number, clients: number): RegOp[] {
  return simulate<RegisterValue, RegisterInput, RegisterOutput>(
    rand,
    n,
    clients,
    null,
    (i) => {
      const r = rand();
      return r < 0.5 ? { op: 'read' } : r < 0.8 ? { op: 'write', value: i } : { op: 'cas', from: Math.floor(rand() * i), to: i };
    },
    (state, input) => {
      switch (input.op) {
        case 'read':
          return [state, state];
        case 'write':
          return [input.value, null];
        case 'cas':
          return state === input.from ? [input.to, true] : [state, false];
      }
    },
  );
}

function applyKv(state: KvState, input: KvInput): [KvState, KvOutput] {
  const current = state.get(input.key) ?? null;
  switch (input.op) {
    case 'get':
      return [state, current];
    case 'put':
      return [new Map(state).set(input.key, input.value), null];
    case 'append':
      return [new Map(state).set(input.key, (current ?? '') + input.value), null];
  }
}
