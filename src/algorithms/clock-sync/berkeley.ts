/**
 * The Berkeley algorithm (Gusella and Zatti, "The Accuracy of the Clock Synchronization
 * Achieved by TEMPO in Berkeley UNIX 4.3BSD", IEEE TSE 15(7), 1989): internal synchronization
 * with no reference clock. Every period the master polls every node for its clock, estimates
 * each node's offset from its own as (reply + rtt / 2 - own clock), takes the fault-tolerant
 * average of the offsets (the largest set of clocks within `outlierMs` of each other, so one
 * broken clock cannot drag the rest), and sends each node the adjustment that moves it to that
 * average, excluded nodes included. Adjustments are relative, so their own delay costs nothing.
 *
 * TEMPO slews clocks (adjtime) so they never run backward; here a node steps its software
 * clock, which keeps the bounds simple (bounds.ts) at the price of small backward steps.
 */
import { assert, assertNever } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import {
  type AdjustMsg,
  type AverageOutput,
  type ClockSyncMsg,
  type ClockSyncProcess,
  isClockSyncMsg,
  type PollReplyMsg,
  type ResyncTimer,
  SoftwareClock,
  timeMaster,
} from "./messages.ts";

type Ctx = Context<ClockSyncMsg, ResyncTimer>;

export interface BerkeleyOptions {
  periodMs: Millis;
  /** Gusella and Zatti's γ: clocks averaged together differ by at most this; null averages all. */
  outlierMs: Millis | null;
}

export interface OffsetEstimate {
  node: NodeId;
  offsetMs: Millis;
}

/**
 * The largest set of estimates that differ pairwise by at most `thresholdMs` (all of them when
 * null). Sorted, such a set is a window; among the largest windows the narrowest wins, then
 * the lowest, so the choice depends only on the estimates.
 */
export function faultTolerantSet(
  estimates: readonly OffsetEstimate[],
  thresholdMs: Millis | null,
): OffsetEstimate[] {
  assert(estimates.length > 0, "the master's own clock is always estimated");
  const sorted = [...estimates].sort((a, b) => a.offsetMs - b.offsetMs || a.node - b.node);
  if (thresholdMs === null) return sorted;
  let bestFrom = 0;
  let bestTo = 0;
  let to = 0;
  for (let from = 0; from < sorted.length; from++) {
    const low = (sorted[from] as OffsetEstimate).offsetMs;
    if (to < from) to = from;
    while (to + 1 < sorted.length && (sorted[to + 1] as OffsetEstimate).offsetMs - low <= thresholdMs) to++;
    const size = to - from;
    const bestSize = bestTo - bestFrom;
    const spread = (sorted[to] as OffsetEstimate).offsetMs - low;
    const bestSpread =
      (sorted[bestTo] as OffsetEstimate).offsetMs - (sorted[bestFrom] as OffsetEstimate).offsetMs;
    if (size > bestSize || (size === bestSize && spread < bestSpread)) {
      bestFrom = from;
      bestTo = to;
    }
  }
  return sorted.slice(bestFrom, bestTo + 1);
}

export class BerkeleyMaster implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();
  private round = 0;
  /** Hardware clock when this round's polls left. */
  private polledAtMs: Millis = 0;
  /** This round's estimated offsets of the other nodes from the master. */
  private readonly estimates = new Map<NodeId, Millis>();

  constructor(private readonly options: BerkeleyOptions) {}

  start(ctx: Ctx): void {
    this.poll(ctx);
  }

  receive(ctx: Ctx, from: NodeId, msg: ClockSyncMsg): void {
    if (!isClockSyncMsg(msg)) {
      ctx.count("clock-sync.invalid");
      return;
    }
    switch (msg.type) {
      case "poll-reply":
        if (this.ignoreReply(ctx, from, msg)) {
          ctx.count("clock-sync.stale-reply");
          return;
        }
        this.onReply(ctx, from, msg);
        return;
      case "time-request":
      case "time-reply":
      case "time-broadcast":
      case "poll":
      case "adjust":
        ctx.count("clock-sync.unexpected");
        return;
      default:
        assertNever(msg, "clock-sync message");
    }
  }

  /** The only timer is the resync period. */
  timeout(ctx: Ctx, _tag: ResyncTimer): void {
    this.poll(ctx);
  }

  /** A round whose replies did not all come is abandoned: the next poll starts afresh. */
  private poll(ctx: Ctx): void {
    this.round++;
    this.estimates.clear();
    this.polledAtMs = ctx.now();
    for (const to of ctx.nodes) if (to !== ctx.self) ctx.send(to, { type: "poll", round: this.round });
    ctx.setTimer(this.options.periodMs, { kind: "resync" });
  }

  private ignoreReply(ctx: Ctx, from: NodeId, msg: PollReplyMsg): boolean {
    return (
      msg.round !== this.round || from === ctx.self || !ctx.nodes.includes(from) || this.estimates.has(from)
    );
  }

  private onReply(ctx: Ctx, from: NodeId, msg: PollReplyMsg): void {
    const rttMs = ctx.now() - this.polledAtMs;
    this.estimates.set(from, msg.clockMs + rttMs / 2 - this.clock.read(ctx));
    if (this.estimates.size === ctx.nodes.length - 1) this.average(ctx);
  }

  private average(ctx: Ctx): void {
    const all: OffsetEstimate[] = [{ node: ctx.self, offsetMs: 0 }];
    for (const [node, offsetMs] of this.estimates) all.push({ node, offsetMs });
    const chosen = faultTolerantSet(all, this.options.outlierMs);
    const averageMs = chosen.reduce((sum, e) => sum + e.offsetMs, 0) / chosen.length;
    const averaged = new Set(chosen.map((e) => e.node));
    ctx.output({
      kind: "average",
      round: this.round,
      averaged: [...averaged].sort((a, b) => a - b),
      ignored: all.filter((e) => !averaged.has(e.node)).map((e) => e.node),
    } satisfies AverageOutput);
    for (const [node, offsetMs] of this.estimates) {
      ctx.send(node, { type: "adjust", round: this.round, deltaMs: averageMs - offsetMs });
    }
    this.clock.step(ctx, averageMs);
  }
}

export class BerkeleyNode implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();
  /** The last round whose adjustment was applied: an adjustment applies once. */
  private adjusted = 0;

  start(): void {}

  receive(ctx: Ctx, from: NodeId, msg: ClockSyncMsg): void {
    if (!isClockSyncMsg(msg)) {
      ctx.count("clock-sync.invalid");
      return;
    }
    switch (msg.type) {
      case "poll":
        if (from !== timeMaster) {
          ctx.count("clock-sync.unexpected");
          return;
        }
        ctx.send(from, { type: "poll-reply", round: msg.round, clockMs: this.clock.read(ctx) });
        return;
      case "adjust":
        if (this.ignoreAdjust(from, msg)) {
          ctx.count("clock-sync.stale-adjust");
          return;
        }
        this.adjusted = msg.round;
        this.clock.step(ctx, msg.deltaMs);
        return;
      case "time-request":
      case "time-reply":
      case "time-broadcast":
      case "poll-reply":
        ctx.count("clock-sync.unexpected");
        return;
      default:
        assertNever(msg, "clock-sync message");
    }
  }

  timeout(): void {}

  private ignoreAdjust(from: NodeId, msg: AdjustMsg): boolean {
    return from !== timeMaster || msg.round <= this.adjusted;
  }
}
