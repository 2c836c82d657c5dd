/**
 * What the three clock synchronization methods (seed 002, "Synchronizing clocks") share: their
 * messages, timers and outputs, and the software clock every node keeps. A node never touches
 * its hardware clock (ctx.now(), which the simulator drives with an offset and a drift); it
 * keeps a correction and reads `ctx.now() + correction`, as NTP daemons and TEMPO adjust a
 * kernel's software clock, never the oscillator.
 */
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context } from "../../core/process.ts";

/** The time server (Cristian), the broadcasting master, the polling master (Berkeley). */
export const timeMaster = 0 as NodeId;

/** Cristian: a client asks the server for its time (`attempt` counts tries within a round). */
export interface TimeRequestMsg {
  type: "time-request";
  round: number;
  attempt: number;
}

/** Cristian: the server's clock when it handled the request. */
export interface TimeReplyMsg {
  type: "time-reply";
  round: number;
  attempt: number;
  serverMs: Millis;
}

/** Master broadcast: the master's clock when it sent this, numbered so an old one is ignored. */
export interface TimeBroadcastMsg {
  type: "time-broadcast";
  seq: number;
  masterMs: Millis;
}

/** Berkeley: the master asks everyone for its clock. */
export interface PollMsg {
  type: "poll";
  round: number;
}

/** Berkeley: a node's clock when it handled the poll. */
export interface PollReplyMsg {
  type: "poll-reply";
  round: number;
  clockMs: Millis;
}

/** Berkeley: how much the receiver must add to its clock (relative, so its delay does not matter). */
export interface AdjustMsg {
  type: "adjust";
  round: number;
  deltaMs: Millis;
}

export type ClockSyncMsg =
  | TimeRequestMsg
  | TimeReplyMsg
  | TimeBroadcastMsg
  | PollMsg
  | PollReplyMsg
  | AdjustMsg;

/** The one periodic timer of every method: start the next resynchronization round. */
export interface ResyncTimer {
  kind: "resync";
}

/** A node changed its correction by `deltaMs`: a discontinuity of its software clock. */
export interface AdjustOutput {
  kind: "adjust";
  deltaMs: Millis;
}

/**
 * Cristian: one reply. Its `estimateMs` is the client's estimate of the server's clock at the
 * instant of this output, and `boundMs` the error the client claims for it.
 */
export interface SampleOutput {
  kind: "sample";
  rttMs: Millis;
  estimateMs: Millis;
  boundMs: Millis;
}

/** Berkeley: the master's average of one round and whose clocks went into it. */
export interface AverageOutput {
  kind: "average";
  round: number;
  averaged: NodeId[];
  ignored: NodeId[];
}

export type ClockSyncOutput = AdjustOutput | SampleOutput | AverageOutput;

type Ctx = Context<ClockSyncMsg, ResyncTimer>;

/** A hardware clock plus the correction a synchronization method maintains. */
export class SoftwareClock {
  private correction: Millis = 0;

  get correctionMs(): Millis {
    return this.correction;
  }

  read(ctx: Ctx): Millis {
    return ctx.now() + this.correction;
  }

  /** Add `deltaMs` to the clock, and make the step observable to the experiment. */
  step(ctx: Ctx, deltaMs: Millis): void {
    this.correction += deltaMs;
    ctx.output({ kind: "adjust", deltaMs } satisfies AdjustOutput);
  }

  /** Step the clock so that it reads `targetMs` now. */
  set(ctx: Ctx, targetMs: Millis): void {
    this.step(ctx, targetMs - this.read(ctx));
  }
}

/** Every clock synchronization node: the experiment reads its correction. */
export interface ClockSyncProcess {
  readonly clock: SoftwareClock;
}

const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
const isTime = (x: unknown): boolean => typeof x === "number" && Number.isFinite(x);

/** Validates a message from a peer: known type, counters that are integers, finite times. */
export function isClockSyncMsg(m: unknown): m is ClockSyncMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case "time-request":
      return isCount(o.round) && isCount(o.attempt);
    case "time-reply":
      return isCount(o.round) && isCount(o.attempt) && isTime(o.serverMs);
    case "time-broadcast":
      return isCount(o.seq) && isTime(o.masterMs);
    case "poll":
      return isCount(o.round);
    case "poll-reply":
      return isCount(o.round) && isTime(o.clockMs);
    case "adjust":
      return isCount(o.round) && isTime(o.deltaMs);
    default:
      return false;
  }
}
