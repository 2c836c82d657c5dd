/**
 * Vector clocks (Fidge 1988; Mattern 1989), with the rules of seed 002, "Vector clocks": an
 * event at p increments VT_p[p] (sends and receives included); a message carries VT(m) = VT_p;
 * a receive at q sets VT_q = max(VT_q, VT(m)) element-wise and then increments VT_q[q].
 * Comparison follows seed 002, "Rules for comparison of VTs": VT_A <= VT_B iff
 * VT_A[i] <= VT_B[i] for every i; VT_A < VT_B iff VT_A <= VT_B and VT_A != VT_B; otherwise the
 * two are incomparable, and the events concurrent. With these rules A -> B iff VT(A) < VT(B).
 *
 * The seed numbers processes 0..n-1, or notes that "the actual process ids [can] be included
 * with the vector". We do the latter: entries are keyed by NodeId and sparse (a missing entry is
 * 0), so membership need not be contiguous. Only non-zero entries are stored.
 *
 * A VectorClock is immutable: `tick`, `merge` and `receive` return a new clock, so a clock
 * stamped on a trace event can never change afterwards.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { limits } from "../core/limits.ts";

/** How two vector times relate: "before" means a < b, "after" means a > b. */
export type VectorOrder = "before" | "after" | "equal" | "concurrent";

/** The JSON form: node id in decimal -> counter, non-zero entries only, ascending node order. */
export type VectorClockJson = Record<string, number>;

/** Entries accepted by `fromJSON` (input from a peer or a file). */
export const vectorClockEntriesMax = limits.vectorClockEntriesMax;

function isCounter(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

export class VectorClock {
  private static readonly emptyClock = new VectorClock(new Map());

  /** Non-zero entries only. Never mutated after the constructor returns. */
  private readonly entries: ReadonlyMap<NodeId, number>;

  private constructor(entries: Map<NodeId, number>) {
    this.entries = entries;
  }

  /** The clock before any event: every entry 0. */
  static empty(): VectorClock {
    return VectorClock.emptyClock;
  }

  /** Seed 002 notation: index i is node i, so `fromArray([1, 0])` is VT = [1, 0]. */
  static fromArray(counters: readonly number[]): VectorClock {
    const entries = new Map<NodeId, number>();
    counters.forEach((counter, index) => {
      if (!isCounter(counter)) {
        throw new PhalanxError(
          "BAD_ARGUMENT",
          `vector entry ${index} must be an integer >= 0, got ${counter}`,
        );
      }
      if (counter > 0) entries.set(index as NodeId, counter);
    });
    return new VectorClock(entries);
  }

  /** From pairs of (node, counter); zero counters are dropped. Duplicate nodes are an error. */
  static fromEntries(pairs: Iterable<readonly [NodeId, number]>): VectorClock {
    const entries = new Map<NodeId, number>();
    const seen = new Set<NodeId>();
    for (const [node, counter] of pairs) {
      if (!Number.isSafeInteger(node) || node < 0) {
        throw new PhalanxError("BAD_ARGUMENT", `vector node id must be an integer >= 0, got ${node}`);
      }
      if (!isCounter(counter)) {
        throw new PhalanxError("BAD_ARGUMENT", `vector entry for node ${node} must be an integer >= 0`);
      }
      if (seen.has(node)) throw new PhalanxError("BAD_ARGUMENT", `vector lists node ${node} twice`);
      seen.add(node);
      if (counter > 0) entries.set(node, counter);
    }
    return new VectorClock(entries);
  }

  /**
   * Parse the `toJSON` form, for input from a peer or a file: anything malformed or larger than
   * `vectorClockEntriesMax` throws DECODE_FAILED. Zero entries are accepted and dropped.
   */
  static fromJSON(json: unknown): VectorClock {
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new PhalanxError("DECODE_FAILED", "a vector clock must be a JSON object of node id -> counter");
    }
    const keys = Object.keys(json);
    if (keys.length > vectorClockEntriesMax) {
      throw new PhalanxError(
        "DECODE_FAILED",
        `a vector clock has ${keys.length} entries, more than vectorClockEntriesMax (${vectorClockEntriesMax})`,
      );
    }
    const entries = new Map<NodeId, number>();
    for (const key of keys) {
      const node = Number(key);
      // Canonical decimal only: "07", "1e3", " 3" and "-0" would otherwise alias other ids.
      if (!Number.isSafeInteger(node) || node < 0 || String(node) !== key) {
        throw new PhalanxError("DECODE_FAILED", `vector clock key ${JSON.stringify(key)} is not a node id`);
      }
      const counter: unknown = (json as Record<string, unknown>)[key];
      if (!isCounter(counter)) {
        throw new PhalanxError("DECODE_FAILED", `vector clock entry for node ${key} must be an integer >= 0`);
      }
      if (counter > 0) entries.set(node as NodeId, counter);
    }
    return new VectorClock(entries);
  }

  /** a.compare(b) as a function: "before" iff a < b, "after" iff b < a. */
  static compare(a: VectorClock, b: VectorClock): VectorOrder {
    return a.compare(b);
  }

  static leq(a: VectorClock, b: VectorClock): boolean {
    return a.leq(b);
  }

  static lt(a: VectorClock, b: VectorClock): boolean {
    return a.lt(b);
  }

  /** Number of non-zero entries. */
  get size(): number {
    return this.entries.size;
  }

  get(node: NodeId): number {
    return this.entries.get(node) ?? 0;
  }

  /** An event at `node`: a copy with VT[node] incremented. */
  tick(node: NodeId): VectorClock {
    assert(Number.isSafeInteger(node) && node >= 0, "node id must be an integer >= 0");
    const counter = this.get(node);
    assert(counter < Number.MAX_SAFE_INTEGER, "vector clock entry overflow");
    const entries = new Map(this.entries);
    entries.set(node, counter + 1);
    return new VectorClock(entries);
  }

  /** Element-wise max. Returns `this` or `other` unchanged when one already dominates. */
  merge(other: VectorClock): VectorClock {
    const order = this.compare(other);
    if (order === "after" || order === "equal") return this;
    if (order === "before") return other;
    const [larger, smaller] = this.size >= other.size ? [this, other] : [other, this];
    const entries = new Map(larger.entries);
    for (const [node, counter] of smaller.entries) {
      if (counter > (entries.get(node) ?? 0)) entries.set(node, counter);
    }
    return new VectorClock(entries);
  }

  /** A receive event at `self` of a message stamped `msg`: max(VT_self, VT(m)), then tick. */
  receive(self: NodeId, msg: VectorClock): VectorClock {
    return this.merge(msg).tick(self);
  }

  /**
   * One pass over this clock's entries, plus a size check for entries only `other` has: stored
   * counters are all > 0, so any such entry makes `other` larger at that index.
   */
  compare(other: VectorClock): VectorOrder {
    let thisSmaller = false;
    let thisLarger = false;
    let shared = 0;
    for (const [node, counter] of this.entries) {
      const otherCounter = other.entries.get(node);
      if (otherCounter === undefined) {
        thisLarger = true;
        continue;
      }
      shared += 1;
      if (counter < otherCounter) thisSmaller = true;
      else if (counter > otherCounter) thisLarger = true;
    }
    if (other.entries.size > shared) thisSmaller = true;
    if (thisSmaller && thisLarger) return "concurrent";
    if (thisSmaller) return "before";
    if (thisLarger) return "after";
    return "equal";
  }

  /** VT_this <= VT_other: every entry at most the other's. */
  leq(other: VectorClock): boolean {
    const order = this.compare(other);
    return order === "before" || order === "equal";
  }

  /** VT_this < VT_other: <= and not equal. */
  lt(other: VectorClock): boolean {
    return this.compare(other) === "before";
  }

  equals(other: VectorClock): boolean {
    return this.compare(other) === "equal";
  }

  /** A copy. Clocks are immutable, so this is only for callers that want a distinct object. */
  clone(): VectorClock {
    return new VectorClock(new Map(this.entries));
  }

  /** Non-zero (node, counter) pairs in ascending node order. */
  toEntries(): Array<[NodeId, number]> {
    return [...this.entries].sort((a, b) => a[0] - b[0]);
  }

  /** `{ "3": 2, "17": 1 }`: non-zero entries only, in ascending node order. */
  toJSON(): VectorClockJson {
    const json: VectorClockJson = {};
    for (const [node, counter] of this.toEntries()) json[String(node)] = counter;
    return json;
  }

  /** `{3:2, 17:1}`, for logs and assertion messages. */
  toString(): string {
    return `{${this.toEntries()
      .map(([node, counter]) => `${node}:${counter}`)
      .join(", ")}}`;
  }
}
