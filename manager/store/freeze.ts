// Stored objects are frozen once, when applied, so reads and watch events can hand out the
// same object to every caller without copying thousands of tasks per list.

/** What a caller sees of a stored object: nothing in it can be assigned. */
export type DeepReadonly<T> = T extends Uint8Array
  ? Uint8Array
  : T extends (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends (...args: never[]) => unknown
      ? T
      : T extends object
        ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
        : T;

/**
 * Freezes `value` and everything it owns. A Uint8Array cannot be frozen, so a bytes field
 * becomes a getter that hands out a fresh copy each read: protobufjs still encodes it (the
 * property stays own and enumerable) and no caller can write into the stored bytes.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const field = obj[key];
    if (field instanceof Uint8Array) {
      // new Uint8Array(x) copies; a decoded Buffer's slice() would share the entry's memory.
      const kept = new Uint8Array(field);
      Object.defineProperty(obj, key, { get: () => new Uint8Array(kept), enumerable: true, configurable: false });
    } else {
      deepFreeze(field);
    }
  }
  return Object.freeze(value);
}
