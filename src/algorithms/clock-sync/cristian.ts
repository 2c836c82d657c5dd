/**
 * Cristian's probabilistic clock synchronization (Cristian, "Probabilistic clock
 * synchronization", Distributed Computing 3(3), 1989; seed 002, "Synchronizing clocks"). A
 * client asks a time server for its clock, measures the round trip on its own clock, and
 * estimates the server's clock as (reply + rtt / 2). Knowing only that every message takes at
 * least m, it can bound its error by rtt / 2 - m (cristianSampleBoundMs adds the drift term).
 * The shorter the round trip, the tighter the bound, so each round a client tries `samples`
 * times and keeps the reading with the smallest round trip: the paper's "probabilistic" part,
 * where retrying buys precision.
 */
import { assertNever } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import { cristianSampleBoundMs } from "./bounds.ts";
import {
  type ClockSyncMsg,
  type ClockSyncProcess,
  isClockSyncMsg,
  type ResyncTimer,
  type SampleOutput,
  SoftwareClock,
  type TimeReplyMsg,
  timeMaster,
} from "./messages.ts";

type Ctx = Context<ClockSyncMsg, ResyncTimer>;

export interface CristianOptions {
  periodMs: Millis;
  /** Requests per round; the one with the smallest round trip is kept. */
  samples: number;
  /** The least one-way delay every message takes. */
  minDelayMs: Millis;
  /** The largest drift of a correct clock, as a rate. */
  driftRate: number;
}

/** The time server: answers every request with its clock. */
export class CristianServer implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();

  start(): void {}

  receive(ctx: Ctx, from: NodeId, msg: ClockSyncMsg): void {
    if (!isClockSyncMsg(msg)) {
      ctx.count("clock-sync.invalid");
      return;
    }
    if (msg.type !== "time-request") {
      ctx.count("clock-sync.unexpected");
      return;
    }
    ctx.send(from, {
      type: "time-reply",
      round: msg.round,
      attempt: msg.attempt,
      serverMs: this.clock.read(ctx),
    });
  }

  timeout(): void {}
}

interface Reading {
  rttMs: Millis;
  /** Server clock minus this node's hardware clock, as estimated from this reading. */
  offsetMs: Millis;
}

export class CristianClient implements Process<ClockSyncMsg, ResyncTimer>, ClockSyncProcess {
  readonly clock = new SoftwareClock();
  private round = 0;
  private attempt = 0;
  /** Hardware clock when the outstanding request left; null while none is outstanding. */
  private sentAtMs: Millis | null = null;
  private best: Reading | null = null;

  constructor(private readonly options: CristianOptions) {}

  start(ctx: Ctx): void {
    this.beginRound(ctx);
  }

  receive(ctx: Ctx, from: NodeId, msg: ClockSyncMsg): void {
    if (!isClockSyncMsg(msg)) {
      ctx.count("clock-sync.invalid");
      return;
    }
    switch (msg.type) {
      case "time-reply":
        if (this.ignoreReply(from, msg)) {
          ctx.count("clock-sync.stale-reply");
          return;
        }
        this.onReply(ctx, msg);
        return;
      case "time-request":
      case "time-broadcast":
      case "poll":
      case "poll-reply":
      case "adjust":
        ctx.count("clock-sync.unexpected");
        return;
      default:
        assertNever(msg, "clock-sync message");
    }
  }

  /** The only timer is the resync period. */
  timeout(ctx: Ctx, _tag: ResyncTimer): void {
    this.beginRound(ctx);
  }

  private beginRound(ctx: Ctx): void {
    this.round++;
    this.attempt = 0;
    this.best = null;
    this.request(ctx);
    ctx.setTimer(this.options.periodMs, { kind: "resync" });
  }

  private request(ctx: Ctx): void {
    this.sentAtMs = ctx.now();
    ctx.send(timeMaster, { type: "time-request", round: this.round, attempt: this.attempt });
  }

  /** Only the answer to the outstanding request counts: a late one belongs to an abandoned try. */
  private ignoreReply(from: NodeId, msg: TimeReplyMsg): boolean {
    return (
      from !== timeMaster ||
      this.sentAtMs === null ||
      msg.round !== this.round ||
      msg.attempt !== this.attempt
    );
  }

  private onReply(ctx: Ctx, msg: TimeReplyMsg): void {
    const nowMs = ctx.now();
    const rttMs = nowMs - (this.sentAtMs as Millis);
    this.sentAtMs = null;
    const estimateMs = msg.serverMs + rttMs / 2;
    const boundMs = cristianSampleBoundMs(rttMs, this.options.driftRate, this.options.minDelayMs);
    ctx.output({ kind: "sample", rttMs, estimateMs, boundMs } satisfies SampleOutput);
    if (this.best === null || rttMs < this.best.rttMs) this.best = { rttMs, offsetMs: estimateMs - nowMs };
    this.attempt++;
    if (this.attempt < this.options.samples) {
      this.request(ctx);
      return;
    }
    // The kept reading's offset still holds now, up to the drift since it was taken.
    this.clock.set(ctx, ctx.now() + this.best.offsetMs);
  }
}
