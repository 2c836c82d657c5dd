/**
 * Branded identifiers so that a node id, a view and a sequence number cannot be swapped by
 * accident. The brands exist only at compile time; at run time these are plain numbers.
 */

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A participant of a simulated or real run: replica, client or algorithm node. Any integer >= 0. */
export type NodeId = Brand<number, "NodeId">;
/** Milliseconds of virtual (simulator) or monotonic (runtime) time. */
export type Millis = number;

export function nodeId(n: number): NodeId {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`node id must be an integer >= 0, got ${n}`);
  return n as NodeId;
}

export function nodeIds(count: number, first = 0): NodeId[] {
  return Array.from({ length: count }, (_, i) => nodeId(first + i));
}
