/**
 * Operating errors: bad input from a user, a file or the environment. Each carries a stable
 * `code` (documented, safe to match on) and a message that says what to do next.
 * Bugs are assertions (assert.ts); expected protocol outcomes are returned values.
 */

export type ErrorCode =
  | "BAD_ARGUMENT"
  | "BAD_CONFIG"
  | "UNKNOWN_PROTOCOL"
  | "UNKNOWN_FAULT_PROFILE"
  | "DECODE_FAILED"
  | "LIMIT_EXCEEDED"
  | "CHECK_FAILED"
  | "IO_FAILED";

export class PhalanxError extends Error {
  override readonly name = "PhalanxError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isPhalanxError(e: unknown, code?: ErrorCode): e is PhalanxError {
  return e instanceof PhalanxError && (code === undefined || e.code === code);
}
