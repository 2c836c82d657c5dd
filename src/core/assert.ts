/**
 * Assertions are for our own bugs only (DESIGN.md, "three kinds of failure"). They throw an
 * AssertionError that protocol code never catches. Never assert on input from a peer, a client
 * or a file: validate it, count it and drop it instead.
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(why);
}

/** Exhaustiveness check for tagged-union switches. */
export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

export function unreachable(why: string): never {
  throw new AssertionError(`unreachable: ${why}`);
}
