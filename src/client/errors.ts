/**
 * Typed errors of the client library. Match on the class (or `code`); messages say what to do.
 */

export class PhalanxClientError extends Error {
  override readonly name: string = "PhalanxClientError";
  constructor(
    readonly code: "TIMEOUT" | "ABORTED" | "CLOSED" | "BAD_OP" | "TOO_LARGE",
    message: string,
  ) {
    super(message);
  }
}

/** No f+1 matching replies within the timeout: too few replicas reachable, or overloaded. */
export class TimeoutError extends PhalanxClientError {
  override readonly name = "TimeoutError";
  constructor(readonly timeoutMs: number) {
    super(
      "TIMEOUT",
      `no agreed answer from the cluster within ${timeoutMs} ms: check that at least 2f+1 replicas run (phalanx status)`,
    );
  }
}

/** The caller's AbortSignal fired. An operation already sent may still take effect. */
export class AbortedError extends PhalanxClientError {
  override readonly name = "AbortedError";
  constructor() {
    super("ABORTED", "the operation was aborted (if it was already sent, it may still take effect)");
  }
}

export class ClosedError extends PhalanxClientError {
  override readonly name = "ClosedError";
  constructor() {
    super("CLOSED", "the client is closed");
  }
}

/** The store refused the operation (invalid, or over a bound); nothing changed. */
export class BadRequestError extends PhalanxClientError {
  override readonly name = "BadRequestError";
  constructor(code: "BAD_OP" | "TOO_LARGE", message: string) {
    super(code, message);
  }
}
