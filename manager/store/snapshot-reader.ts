// A store snapshot read one object at a time. StoreSnapshot.decode builds the whole array
// first: at 100,000 tasks every object, with every part the restore then drops for its
// neighbour's equal one (share.ts), lives until the last is decoded, so the collector moves
// ~100,000 specs to the old generation only to free them there. Read one by one, each dropped
// part dies young. The fields are StoreSnapshot's (proto/internal.proto): 1 objects, 2
// applied_requests; any other field is skipped as the generated decoder skips it.
import $protobuf from 'protobufjs/minimal.js';
import { baton } from '../../proto/gen/baton.js';

const OBJECTS = 1;
const APPLIED_REQUESTS = 2;
const LENGTH_DELIMITED = 2;

/** Calls `onObject` with each object in snapshot order; returns the applied requests. */
export function readSnapshot(data: Uint8Array, onObject: (so: baton.internal.StoreObject) => void): baton.internal.AppliedRequest[] {
  const r = $protobuf.Reader.create(data);
  const applied: baton.internal.AppliedRequest[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === OBJECTS && wire === LENGTH_DELIMITED) onObject(baton.internal.StoreObject.decode(r, r.uint32()));
    else if (field === APPLIED_REQUESTS && wire === LENGTH_DELIMITED) applied.push(baton.internal.AppliedRequest.decode(r, r.uint32()));
    else r.skipType(wire);
  }
  return applied;
}
