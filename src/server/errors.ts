/**
 * Errors that carry a protocol outcome, and their HTTP and gRPC status codes. Every failure the
 * server reports goes through {@linkcode InferenceError}, so both transports agree on what a
 * failure means; any other error thrown by a backend is reported as an internal error.
 * @module
 */

/** The kinds of failure the server distinguishes. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "unavailable"
  | "resource_exhausted"
  | "payload_too_large"
  | "request_timeout"
  | "deadline_exceeded"
  | "internal";

/** gRPC status codes used by the server (the numeric values of the gRPC specification). */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  unavailable: 503,
  resource_exhausted: 429,
  payload_too_large: 413,
  request_timeout: 408,
  deadline_exceeded: 504,
  internal: 500,
};

const GRPC_STATUS: Record<ErrorKind, number> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  unavailable: GrpcStatus.UNAVAILABLE,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  payload_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  request_timeout: GrpcStatus.DEADLINE_EXCEEDED,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  internal: GrpcStatus.INTERNAL,
};

/** A failure with a protocol meaning; its message is what the client sees. */
export class InferenceError extends Error {
  /** What kind of failure this is. */
  readonly kind: ErrorKind;

  /** Creates an error of the given kind. */
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InferenceError";
    this.kind = kind;
  }

  /** The HTTP status code for this error. */
  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }

  /** The gRPC status code for this error. */
  get grpcStatus(): number {
    return GRPC_STATUS[this.kind];
  }
}

/**
 * Turns anything thrown into an {@linkcode InferenceError}: those pass through, anything else
 * becomes an internal error whose message says what was being done.
 */
export function toInferenceError(error: unknown, doing: string): InferenceError {
  if (error instanceof InferenceError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new InferenceError("internal", `${doing} failed: ${detail}`, { cause: error });
}
