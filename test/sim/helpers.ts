/** Small processes and trace helpers shared by the simulator tests. */
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process } from "../../src/core/process.ts";
import type { TraceEvent } from "../../src/sim/trace.ts";

export interface Ping {
  type: "ping";
  seq: number;
}

/** What every node saw, shared across incarnations so tests can inspect it. */
export interface MeshLog {
  received: Array<{ t: number; node: NodeId; from: NodeId; seq: number }>;
}

/** Every `periodMs` of local time, `ticks` times, sends a ping to every other node. */
export class Mesh implements Process<Ping, "tick"> {
  private seq = 0;
  constructor(
    private readonly log: MeshLog,
    private readonly periodMs: number,
    private readonly ticks: number,
  ) {}
  start(ctx: Context<Ping, "tick">): void {
    ctx.setTimer(this.periodMs, "tick");
  }
  receive(ctx: Context<Ping, "tick">, from: NodeId, msg: Ping): void {
    this.log.received.push({ t: ctx.now(), node: ctx.self, from, seq: msg.seq });
  }
  timeout(ctx: Context<Ping, "tick">): void {
    this.seq++;
    for (const to of ctx.nodes) if (to !== ctx.self) ctx.send(to, { type: "ping", seq: this.seq });
    if (this.seq < this.ticks) ctx.setTimer(this.periodMs, "tick");
  }
}

export function byKind(trace: readonly TraceEvent[], kind: TraceEvent["kind"]): TraceEvent[] {
  return trace.filter((e) => e.kind === kind);
}

/** Message id → the event of that kind (first one if duplicated). */
export function indexByMsg(trace: readonly TraceEvent[], kind: TraceEvent["kind"]): Map<number, TraceEvent> {
  const out = new Map<number, TraceEvent>();
  for (const e of trace) if (e.kind === kind && e.msg !== undefined && !out.has(e.msg)) out.set(e.msg, e);
  return out;
}
