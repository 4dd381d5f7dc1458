// List pages: objects in id order, a page ending at the request's page size, LIST_PAGE_ITEMS or
// LIST_PAGE_BYTES encoded, whichever comes first, so a response always fits the transport
// whatever the cluster holds. The token is the last id sent: the next page starts after it,
// so objects created or removed between pages neither repeat nor shift the rest.
import $protobuf from 'protobufjs/minimal.js';
import { LIST_PAGE_BYTES, LIST_PAGE_MAX_ITEMS } from '../../rpc/limits.js';

export interface PageRequest {
  pageSize?: number | null;
  pageToken?: string | null;
}

export interface Page<T> {
  items: T[];
  /** '' on the last page. */
  nextPageToken: string;
}

/**
 * One page of `sorted` (ascending ids). `bytes` is an object's encoded size; one object is
 * always sent even if it alone is over the budget (it is under the message limit: it was
 * written through a request that was).
 */
export function page<T extends { meta: { id: string } }>(sorted: readonly T[], req: PageRequest, bytes: (item: T) => number): Page<T> {
  const token = req.pageToken ?? '';
  const limit = Math.min(req.pageSize || LIST_PAGE_MAX_ITEMS, LIST_PAGE_MAX_ITEMS);
  let i = token ? firstAfter(sorted, token) : 0;
  const items: T[] = [];
  let total = 0;
  for (; i < sorted.length && items.length < limit; i++) {
    const item = sorted[i]!;
    const size = bytes(item);
    if (items.length > 0 && total + size > LIST_PAGE_BYTES) break;
    items.push(item);
    total += size;
  }
  return { items, nextPageToken: i < sorted.length && items.length > 0 ? items[items.length - 1]!.meta.id : '' };
}

/** The index of the first object whose id sorts after `id` (binary search). */
function firstAfter(sorted: readonly { meta: { id: string } }[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.meta.id <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A generated message codec (proto/gen), as encodedSize uses it. */
interface Codec<T> {
  encode(message: T, writer?: $protobuf.Writer): $protobuf.Writer;
}

/** Sizes of stored objects already measured: frozen (manager/store/freeze.ts), so they cannot change. */
const knownSizes = new WeakMap<object, number>();
/** One writer for every measurement, emptied each time: no buffer per object. */
const sizer = $protobuf.Writer.create();

/**
 * An object's encoded size, for page(). Measuring is an encode (as costly as sending it), so a
 * stored object's size is kept while the object lives: a listing of 10,000 tasks measures only
 * those that changed since the last one.
 */
export function encodedSize<T extends object>(codec: Codec<T>, item: T): number {
  const known = knownSizes.get(item);
  if (known !== undefined) return known;
  const size = codec.encode(item, sizer.reset()).len;
  if (Object.isFrozen(item)) knownSizes.set(item, size);
  return size;
}
