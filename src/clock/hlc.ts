/**
 * Hybrid logical clock (Kulkarni, Demirbas, Madappa, Avva, Leone, "Logical Physical Clocks and
 * Consistent Snapshots in Globally Distributed Databases", OPODIS 2014). A timestamp is
 * (wall, logical): `wall` is the largest physical time this node has heard of, `logical`
 * orders events that share it. Like a Lamport clock, A -> B implies ts(A) < ts(B); unlike one,
 * `wall` stays within the clock offset of physical time. It is seed 002's "extend a logical
 * clock with the clock time", done so that clock skew cannot break causality.
 *
 * Pure: physical time is an argument (virtual time in the simulator, a monotonic clock in the
 * runtime), never read here. As in CockroachDB (pkg/util/hlc, UpdateAndCheckMaxOffset), a
 * remote timestamp more than `maxOffsetMs` ahead of local physical time is refused and leaves
 * the clock unchanged; otherwise one bad or Byzantine peer could drag every clock it talks to
 * arbitrarily far into the future.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import type { Millis } from "../core/ids.ts";
import { limits } from "../core/limits.ts";

export interface HlcTimestamp {
  /** Physical component: the largest physical time seen, in ms. */
  readonly wall: Millis;
  /** Logical component: events at the same `wall`, counted from 0. */
  readonly logical: number;
}

export interface HlcOptions {
  /**
   * Largest amount a remote timestamp's wall time may be ahead of local physical time before
   * `receive` refuses it. Must cover the real clock offset between nodes plus message delay.
   * Infinity turns the check off.
   */
  maxOffsetMs?: Millis;
}

/** Default for `HlcOptions.maxOffsetMs` (CockroachDB's default max offset is 500 ms too). */
export const hlcMaxOffsetMsDefault: Millis = 500;

/** Largest logical part accepted from a peer (see core/limits.ts). */
export const hlcLogicalMax = limits.hlcLogicalMax;

export type HlcReceiveResult =
  | { readonly ok: true; readonly timestamp: HlcTimestamp }
  | {
      readonly ok: false;
      /** CLOCK_OFFSET_EXCEEDED: remote wall > physical + maxOffsetMs. MALFORMED: not a timestamp. */
      readonly code: "CLOCK_OFFSET_EXCEEDED" | "MALFORMED";
      readonly reason: string;
    };

/** Negative if a < b, positive if a > b, 0 if equal: wall first, then logical. */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** Whether a value from a peer is a usable timestamp: wall finite >= 0, logical an integer in [0, hlcLogicalMax]. */
export function isHlcTimestamp(value: unknown): value is HlcTimestamp {
  if (typeof value !== "object" || value === null) return false;
  const { wall, logical } = value as { wall?: unknown; logical?: unknown };
  return (
    typeof wall === "number" &&
    Number.isFinite(wall) &&
    wall >= 0 &&
    typeof logical === "number" &&
    Number.isSafeInteger(logical) &&
    logical >= 0 &&
    logical <= hlcLogicalMax
  );
}

export class HybridLogicalClock {
  readonly maxOffsetMs: Millis;
  private wall: Millis = 0;
  private logical = 0;

  constructor(options: HlcOptions = {}) {
    const maxOffsetMs = options.maxOffsetMs ?? hlcMaxOffsetMsDefault;
    if (Number.isNaN(maxOffsetMs) || maxOffsetMs < 0) {
      throw new PhalanxError("BAD_ARGUMENT", `maxOffsetMs must be >= 0 (or Infinity), got ${maxOffsetMs}`);
    }
    this.maxOffsetMs = maxOffsetMs;
  }

  static compare(a: HlcTimestamp, b: HlcTimestamp): number {
    return compareHlc(a, b);
  }

  /** The timestamp of the latest event ({0, 0} before the first one). */
  get last(): HlcTimestamp {
    return { wall: this.wall, logical: this.logical };
  }

  /** A local or send event at physical time `physicalMs`; a send carries the returned timestamp. */
  now(physicalMs: Millis): HlcTimestamp {
    assertPhysical(physicalMs);
    if (physicalMs > this.wall) {
      this.wall = physicalMs;
      this.logical = 0;
    } else {
      this.bumpLogical(this.logical);
    }
    return this.last;
  }

  /**
   * A receive event of a message stamped `remote`, at physical time `physicalMs`. A remote
   * timestamp that is malformed or too far ahead is refused with a code; the clock is then
   * unchanged and the caller should drop the message (and count it).
   */
  receive(remote: HlcTimestamp, physicalMs: Millis): HlcReceiveResult {
    assertPhysical(physicalMs);
    if (!isHlcTimestamp(remote)) {
      return {
        ok: false,
        code: "MALFORMED",
        reason: `remote HLC timestamp is not {wall: finite >= 0, logical: integer in [0, ${hlcLogicalMax}]}`,
      };
    }
    if (remote.wall - physicalMs > this.maxOffsetMs) {
      return {
        ok: false,
        code: "CLOCK_OFFSET_EXCEEDED",
        reason: `remote wall time ${remote.wall} is ${remote.wall - physicalMs} ms ahead of local physical time ${physicalMs}, more than maxOffsetMs ${this.maxOffsetMs}`,
      };
    }
    const wallBefore = this.wall;
    const wallAfter = Math.max(wallBefore, remote.wall, physicalMs);
    if (wallAfter === wallBefore && wallAfter === remote.wall) {
      this.bumpLogical(Math.max(this.logical, remote.logical));
    } else if (wallAfter === wallBefore) {
      this.bumpLogical(this.logical);
    } else if (wallAfter === remote.wall) {
      this.wall = wallAfter;
      this.bumpLogical(remote.logical);
    } else {
      this.wall = wallAfter;
      this.logical = 0;
    }
    return { ok: true, timestamp: this.last };
  }

  private bumpLogical(from: number): void {
    // Remote parts are <= hlcLogicalMax, so only ~2^53 local events could get here.
    assert(from < Number.MAX_SAFE_INTEGER, "HLC logical counter overflow");
    this.logical = from + 1;
  }
}

function assertPhysical(physicalMs: Millis): void {
  assert(Number.isFinite(physicalMs) && physicalMs >= 0, "physical time must be a finite number >= 0");
}
