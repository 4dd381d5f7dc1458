// A store batch read one action at a time, its tasks' large parts taken from the bytes. A task
// status update carries the whole task; decoded, its spec, endpoint and service annotations
// (most of its ~500 bytes) were built anew, then walked field by field against the stored
// task's to be shared (share.ts): over half of a follower's apply per task (bench/store-apply.ts).
// The bytes a stored part was decoded from are kept beside it (PartBytes); when a new task's
// bytes for that part are the same, the stored part is the one a decode and a share would have
// produced, and nothing is decoded. Anything unusual (a part given twice, before the task's id,
// a field of the envelope this reader does not know) is decoded the generated way, whole.
// The fields are proto/internal.proto's StoreBatch (1 actions, 2 request_id), StoreAction
// (1 kind, 2 object), StoreObject (4 task) and proto/objects.proto's Task.
import $protobuf from 'protobufjs/minimal.js';
import { baton } from '../../proto/gen/baton.js';
import type { Stored } from './kinds.js';

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const BATCH_ACTIONS = 1;
const BATCH_REQUEST_ID = 2;
const ACTION_KIND = 1;
const ACTION_OBJECT = 2;
const OBJECT_TASK = 4;
/** A task's parts that tasks of one service (and versions of one task) hold alike. */
const TASK_PARTS = new Map<number, 'spec' | 'endpoint' | 'serviceAnnotations'>([
  [5, 'spec'],
  [9, 'endpoint'],
  [12, 'serviceAnnotations'],
]);
/** How deep a task sits in a batch (batch, action, object), for the decoder's recursion limit. */
const TASK_DEPTH = 3;

type TaskPart = 'spec' | 'endpoint' | 'serviceAnnotations';

/**
 * The generated decoder with the arguments its .d.ts leaves out: the end-group tag, the depth
 * (for the recursion limit) and the message to decode into (fields merge into it).
 */
type DecodeInto = (r: $protobuf.Reader, length: number, endTag: undefined, depth: number, into?: baton.Task) => baton.Task;
const decodeTaskInto = baton.Task.decode.bind(baton.Task) as unknown as DecodeInto;

/** The bytes each stored task part was decoded from; parts only, so it holds one copy per distinct part. */
export class PartBytes {
  private readonly bytes = new WeakMap<object, Uint8Array>();

  get(part: object): Uint8Array | undefined {
    return this.bytes.get(part);
  }

  /** Notes the bytes of the parts of `task` (as stored) that `read` found in the entry. */
  remember(task: Stored<'task'>, read: ReadParts): void {
    for (const [name, bytes] of read) {
      const part = task[name];
      // A copy: the entry's data may be a view of a much larger buffer (a batch of Raft entries).
      if (part != null && !this.bytes.has(part)) this.bytes.set(part, Uint8Array.from(bytes));
    }
  }
}

/** The bytes of each part of a task, as the entry carried them. */
export type ReadParts = Map<TaskPart, Uint8Array>;

export interface ScannedBatch {
  requestId: string;
  /** Each action's bytes: [start, end) in the entry's data. */
  actions: [number, number][];
}

/** Finds the actions and the request id of a batch without decoding the actions. */
export function scanBatch(data: Uint8Array): ScannedBatch {
  const r = $protobuf.Reader.create(data);
  const out: ScannedBatch = { requestId: '', actions: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === BATCH_ACTIONS && wire === LENGTH_DELIMITED) {
      const len = r.uint32();
      out.actions.push([r.pos, r.pos + len]);
      r.skip(len);
    } else if (field === BATCH_REQUEST_ID && wire === LENGTH_DELIMITED) out.requestId = r.string();
    else r.skipType(wire);
  }
  return out;
}

/** Who a task's parts may come from: the stored task of that id, else the last of its service. */
export type KeptTask = (id: string, serviceId: string) => Stored<'task'> | undefined;

/** Decodes one action of a batch; a task's parts equal in bytes to `kept`'s are kept's own. */
export function readAction(
  data: Uint8Array,
  [start, end]: [number, number],
  parts: PartBytes,
  kept: KeptTask,
): { action: baton.internal.StoreAction; read: ReadParts | undefined } {
  const r = $protobuf.Reader.create(data);
  r.pos = start;
  r.len = end;
  let kind = 0;
  let object: [number, number] | undefined;
  let plain = false;
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === ACTION_KIND && wire === VARINT) kind = r.int32();
    else if (field === ACTION_OBJECT && wire === LENGTH_DELIMITED && object === undefined) {
      const len = r.uint32();
      object = [r.pos, r.pos + len];
      r.skip(len);
    } else {
      plain = true;
      break;
    }
  }
  const task = plain || object === undefined ? undefined : taskRange(r, object);
  if (task === undefined) {
    r.pos = start;
    r.len = data.length;
    return { action: baton.internal.StoreAction.decode(r, end - start), read: undefined };
  }
  const read: ReadParts = new Map();
  const action = new baton.internal.StoreAction();
  if (kind !== 0) action.kind = kind;
  const so = new baton.internal.StoreObject();
  let t = readTask(r, data, task, parts, kept, read);
  if (t === undefined) {
    read.clear();
    r.pos = task[0];
    t = decodeTaskInto(r, task[1] - task[0], undefined, TASK_DEPTH);
  }
  so.task = t;
  action.object = so;
  return { action, read };
}

/** The task's bytes when the object is a task and nothing else; else undefined. */
function taskRange(r: $protobuf.Reader, [start, end]: [number, number]): [number, number] | undefined {
  if (start === end) return undefined;
  r.pos = start;
  r.len = end;
  const tag = r.uint32();
  if (tag >>> 3 !== OBJECT_TASK || (tag & 7) !== LENGTH_DELIMITED) return undefined;
  const len = r.uint32();
  const task: [number, number] = [r.pos, r.pos + len];
  return task[1] === end ? task : undefined;
}

/**
 * The task, its parts found in bytes where they match, the rest decoded by the generated decoder
 * in runs of fields, in the bytes' order (so its keys are in a whole decode's order). Undefined
 * where that order cannot be kept (a part given twice or before the id and service).
 */
function readTask(
  r: $protobuf.Reader,
  data: Uint8Array,
  [start, end]: [number, number],
  parts: PartBytes,
  kept: KeptTask,
  read: ReadParts,
): baton.Task | undefined {
  r.pos = start;
  r.len = end;
  const m = new baton.Task();
  let run = start;
  let keptTask: Stored<'task'> | undefined;
  let idKnown = false;
  // Decodes [from, to) into m with the same reader (the decoder puts its end back as it was).
  const decode = (from: number, to: number): void => {
    if (to === from) return;
    const at = r.pos;
    r.pos = from;
    decodeTaskInto(r, to - from, undefined, TASK_DEPTH, m);
    r.pos = at;
  };
  while (r.pos < r.len) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const name = (tag & 7) === LENGTH_DELIMITED ? TASK_PARTS.get(tag >>> 3) : undefined;
    if (name === undefined) {
      r.skipType(tag & 7);
      continue;
    }
    const len = r.uint32();
    const bytes = data.subarray(r.pos, r.pos + len);
    r.skip(len);
    if (read.has(name)) return undefined;
    read.set(name, bytes);
    decode(run, fieldStart);
    run = r.pos;
    if (!idKnown) {
      const id = m.meta?.id ?? '';
      if (id === '') return undefined;
      keptTask = kept(id, m.serviceId);
      idKnown = true;
    }
    const keptPart = keptTask?.[name];
    const keptBytes = keptPart == null ? undefined : parts.get(keptPart);
    if (keptBytes !== undefined && Buffer.compare(keptBytes, bytes) === 0) {
      (m as unknown as Record<TaskPart, unknown>)[name] = keptPart;
    } else {
      decode(fieldStart, run);
    }
  }
  decode(run, end);
  return m;
}
