/**
 * Lamport's logical clock (Lamport, "Time, Clocks, and the Ordering of Events in a Distributed
 * System", CACM 1978), with the rules of seed 002, "Rules for managing logical clocks":
 * every event that matters to p, sends and receives included, increments LT_p; a message
 * carries LT_m = LT_p (the value returned by the send's `tick()`); a receive sets
 * LT_q = max(LT_q, LT_m) + 1. Then A -> B implies LT(A) < LT(B), but not the converse.
 *
 * Counters are JavaScript numbers, exact up to 2^53 - 1: the seed asks for "big (64-bit or
 * more)" counters, and 2^53 events is beyond any run.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";

/** A Lamport time: a safe integer >= 0; 0 means "before any event". */
export type LamportTime = number;

export function isLamportTime(value: unknown): value is LamportTime {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

export class LamportClock {
  private time: LamportTime;

  constructor(initial: LamportTime = 0) {
    if (!isLamportTime(initial)) {
      throw new PhalanxError("BAD_ARGUMENT", `Lamport time must be an integer >= 0, got ${initial}`);
    }
    this.time = initial;
  }

  /** The time of the latest event at this process (0 before the first one). */
  get value(): LamportTime {
    return this.time;
  }

  /** A local or send event: increments the clock and returns the event's time (a send carries it). */
  tick(): LamportTime {
    assert(this.time < Number.MAX_SAFE_INTEGER, "Lamport clock overflow");
    this.time += 1;
    return this.time;
  }

  /**
   * A receive event of a message stamped `msgTime`: sets max(local, msgTime) + 1 and returns it.
   * `msgTime` comes from a peer, so it is validated, not asserted: a value that is not an
   * integer, or so large that the clock would leave the exact range, throws BAD_ARGUMENT and
   * leaves the clock unchanged.
   */
  receive(msgTime: LamportTime): LamportTime {
    if (!isLamportTime(msgTime) || msgTime >= Number.MAX_SAFE_INTEGER) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `message Lamport time must be an integer in [0, 2^53 - 2], got ${msgTime}; drop the message`,
      );
    }
    assert(this.time < Number.MAX_SAFE_INTEGER, "Lamport clock overflow");
    this.time = Math.max(this.time, msgTime) + 1;
    return this.time;
  }
}
