// How big a message may be on each transport, and how much of a user's input an error may
// repeat. Set explicitly on every server and client so a limit is a choice, not grpc-js'
// default, and so every oversize message fails fast with a status instead of hanging.

/**
 * The largest control API request or response (4 MiB, gRPC's usual default). Lists page to
 * stay under it (LIST_PAGE_BYTES), so no amount of cluster state makes a response too big.
 */
export const CONTROL_MESSAGE_BYTES = 4 << 20;

/**
 * The node's TCP port also carries Raft appends and snapshot chunks, which may be up to 64 MiB;
 * control requests on that port are still held to CONTROL_MESSAGE_BYTES (rpc/define.ts).
 */
export const NODE_PORT_MESSAGE_BYTES = 64 << 20;

/** A list page's byte budget: half the message limit leaves room for the envelope. */
export const LIST_PAGE_BYTES = 2 << 20;

/** At most this many objects in one list page, whatever their size. */
export const LIST_PAGE_MAX_ITEMS = 10_000;

/**
 * The longest id, name or prefix a call may name. Names are at most 64 characters and ids 25;
 * anything longer cannot match and is refused before any lookup.
 */
export const MAX_REFERENCE_LENGTH = 256;

/**
 * The longest status message sent (grpc-message). A status travels in the HTTP/2 trailers:
 * a header block over the peer's limit (64 KiB in Node) is refused with a frame error, the
 * stream is destroyed and the client never hears a status: it waits for its deadline.
 */
export const MAX_STATUS_DETAILS = 2048;

/** Server options of a transport: both directions limited to `bytes`. */
export function messageLimits(bytes: number): { 'grpc.max_receive_message_length': number; 'grpc.max_send_message_length': number } {
  return { 'grpc.max_receive_message_length': bytes, 'grpc.max_send_message_length': bytes };
}
