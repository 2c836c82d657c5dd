/**
 * Master broadcast (seed 002, "Real systems?": "some master clock owner periodically broadcasts
 * the time. Processes then update their clocks. But they can drift between updates."). The
 * master sends its clock to everyone every period; a receiver cannot measure the delay, so it
 * assumes one: the minimum m (the seed's "factor in only certain delay") or the middle of
 * [m, M], which halves the worst error. One message per node and period, no round trip.
 */
import { assertNever } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import {
  type ClockSyncMsg,
  type ClockSyncProcess,
  isClockSyncMsg,
  type ResyncTimer,
  SoftwareClock,
  type TimeBroadcastMsg,
  timeMaster,
} from "./messages.ts";

type Ctx = Context<ClockSyncMsg, ResyncTimer>;

export class BroadcastMaster implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();
  private seq = 0;

  constructor(private readonly periodMs: Millis) {}

  start(ctx: Ctx): void {
    this.broadcast(ctx);
  }

  receive(ctx: Ctx): void {
    ctx.count("clock-sync.unexpected");
  }

  /** The only timer is the resync period. */
  timeout(ctx: Ctx, _tag: ResyncTimer): void {
    this.broadcast(ctx);
  }

  private broadcast(ctx: Ctx): void {
    this.seq++;
    const msg: TimeBroadcastMsg = { type: "time-broadcast", seq: this.seq, masterMs: this.clock.read(ctx) };
    for (const to of ctx.nodes) if (to !== ctx.self) ctx.send(to, msg);
    ctx.setTimer(this.periodMs, { kind: "resync" });
  }
}

export class BroadcastReceiver implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();
  private seq = 0;

  /** `assumedDelayMs`: the delay a receiver adds to the master's time, in [m, M]. */
  constructor(private readonly assumedDelayMs: Millis) {}

  start(): void {}

  receive(ctx: Ctx, from: NodeId, msg: ClockSyncMsg): void {
    if (!isClockSyncMsg(msg)) {
      ctx.count("clock-sync.invalid");
      return;
    }
    switch (msg.type) {
      case "time-broadcast":
        if (this.ignoreBroadcast(from, msg)) {
          ctx.count("clock-sync.stale-broadcast");
          return;
        }
        this.seq = msg.seq;
        this.clock.set(ctx, msg.masterMs + this.assumedDelayMs);
        return;
      case "time-request":
      case "time-reply":
      case "poll":
      case "poll-reply":
      case "adjust":
        ctx.count("clock-sync.unexpected");
        return;
      default:
        assertNever(msg, "clock-sync message");
    }
  }

  timeout(): void {}

  /** A broadcast overtaken by a newer one would set the clock back to an older reading. */
  private ignoreBroadcast(from: NodeId, msg: TimeBroadcastMsg): boolean {
    return from !== timeMaster || msg.seq <= this.seq;
  }
}
