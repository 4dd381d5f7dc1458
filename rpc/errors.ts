// One error type for every baton API, with a code that maps one-to-one onto a gRPC status, so
// a failure keeps its meaning from a manager's store through gRPC to the CLI's exit line.
import { status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { MAX_STATUS_DETAILS } from './limits.js';

export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'VERSION_CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'INTERNAL';

const TO_STATUS: Record<ErrorCode, Status> = {
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  // ABORTED is gRPC's "concurrency conflict, retry at a higher level".
  VERSION_CONFLICT: Status.ABORTED,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
  UNAVAILABLE: Status.UNAVAILABLE,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: Status.RESOURCE_EXHAUSTED,
  INTERNAL: Status.INTERNAL,
};

export class BatonError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BatonError';
  }

  /**
   * The status sent to the client. The message is cut to MAX_STATUS_DETAILS whatever built it:
   * a longer one could exceed the HTTP/2 header limit and never reach the client (limits.ts).
   */
  toStatus(): StatusObject {
    return { code: TO_STATUS[this.code], details: capDetails(this.message), metadata: new Metadata() };
  }

  /** The error a client sees for a failed call. */
  static fromServiceError(err: ServiceError): BatonError {
    const code = (Object.keys(TO_STATUS) as ErrorCode[]).find((c) => TO_STATUS[c] === err.code) ?? 'INTERNAL';
    return new BatonError(code, err.details || err.message);
  }
}

export function isBatonError(err: unknown): err is BatonError {
  return err instanceof BatonError;
}

function capDetails(message: string): string {
  if (message.length <= MAX_STATUS_DETAILS) return message;
  return `${message.slice(0, MAX_STATUS_DETAILS)}…(${message.length - MAX_STATUS_DETAILS} more characters)`;
}
