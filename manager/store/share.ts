// Structural sharing between stored objects. Every task of a service carries the same spec (the
// service's task spec at a version), endpoint and service annotations, and every update of an
// object repeats most of its previous version; decoded from each entry on its own, each copy
// took its own objects, arrays and strings: ~3 KiB of the leader's heap per task at 100,000
// tasks (bench/leader-memory.ts). Since stored objects are frozen, equal parts can be one.

/**
 * Returns `fresh` (a decoded object about to be frozen and stored) with every part that equals
 * the same part of `kept` (a stored, frozen object) replaced by kept's, or `kept` itself when
 * the whole is equal. Equal means what encodes to the same bytes: the same prototype (message
 * type), the same own keys in the same order (a map's entries encode in key order), and
 * primitives that are Object.is-equal (0 and -0 encode apart). So a manager that shares
 * differently (its `kept` came from a snapshot, say) still holds contents that encode alike.
 * Bytes fields are never shared: a stored one reads as a fresh copy (freeze.ts).
 */
export function shareParts<T>(fresh: T, kept: unknown): T {
  return share(fresh, kept) as T;
}

function share(fresh: unknown, kept: unknown): unknown {
  if (typeof fresh !== 'object' || fresh === null) return Object.is(fresh, kept) ? kept : fresh;
  if (typeof kept !== 'object' || kept === null || fresh instanceof Uint8Array || Object.isFrozen(fresh)) return fresh;
  if (Array.isArray(fresh)) {
    if (!Array.isArray(kept)) return fresh;
    let same = fresh.length === kept.length;
    for (let i = 0; i < fresh.length; i++) {
      // A stored bytes element is a getter that copies (freeze.ts): not read, never shared.
      if (fresh[i] instanceof Uint8Array) {
        same = false;
        continue;
      }
      const part = share(fresh[i], kept[i]);
      fresh[i] = part;
      if (part !== kept[i]) same = false;
    }
    return same ? kept : fresh;
  }
  if (Object.getPrototypeOf(fresh) !== Object.getPrototypeOf(kept) || kept instanceof Uint8Array) return fresh;
  const target = fresh as Record<string, unknown>;
  const source = kept as Record<string, unknown>;
  const keys = Object.keys(target);
  const keptKeys = Object.keys(source);
  let same = keys.length === keptKeys.length;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (keptKeys[i] !== key) same = false;
    // A stored bytes field is a getter that copies them on each read (freeze.ts): reading it
    // here would copy the secret's or CA key's bytes on every write, only to find them unshared.
    if (target[key] instanceof Uint8Array) {
      same = false;
      continue;
    }
    // A key kept has not is compared with undefined (no read of an inherited default).
    const before = Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined;
    const part = share(target[key], before);
    target[key] = part;
    if (part !== before) same = false;
  }
  return same ? kept : fresh;
}
