/**
 * The adversary's schedule as a causal trace (src/sim/trace.ts format), for `--trace` and the
 * space-time viewer: a start, receive or null step per event, then one send per message it
 * produced, stamped with Lamport and vector time by the seed 002 rules. Time `t` is the step
 * number: the FLP model has no clock.
 */
import { assert } from "../../core/assert.ts";
import type { TraceEvent, TraceKind } from "../../sim/trace.ts";
import { applyEvent, type FlpEvent, initialConfiguration } from "./model.ts";
import type { Bit, FlpParams } from "./protocol.ts";

export function scheduleTrace(
  params: FlpParams,
  inputs: readonly Bit[],
  schedule: readonly FlpEvent[],
): TraceEvent[] {
  const n = params.n;
  const lt = new Array<number>(n).fill(0);
  const vt = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const sentWith = new Map<number, { lt: number; vt: number[] }>();
  const out: TraceEvent[] = [];
  const stamp = (node: number, kind: TraceKind, t: number, extra: Partial<TraceEvent>) => {
    const own = vt[node] as number[];
    lt[node] = (lt[node] as number) + 1;
    own[node] = (own[node] as number) + 1;
    const clock: Record<string, number> = {};
    own.forEach((v, i) => {
      if (v !== 0) clock[String(i)] = v;
    });
    out.push({ i: out.length, t, node, kind, lt: lt[node] as number, vt: clock, ...extra });
  };

  let c = initialConfiguration(inputs);
  for (const ev of schedule) {
    const t = c.steps + 1;
    const p = ev.to;
    if (!c.procs[p]?.started) stamp(p, "start", t, {});
    if (ev.id !== null) {
      const m = c.buffer.find((x) => x.id === ev.id);
      const sent = sentWith.get(ev.id);
      assert(m !== undefined && sent !== undefined, `message ${ev.id} must have been sent`);
      lt[p] = Math.max(lt[p] as number, sent.lt);
      const own = vt[p] as number[];
      sent.vt.forEach((v, i) => {
        if (v > (own[i] as number)) own[i] = v;
      });
      stamp(p, "recv", t, { msg: m.id, peer: m.from, label: m.msg.type, data: m.msg });
    } else if (c.procs[p]?.started) {
      stamp(p, "local", t, { label: "null step" });
    }
    const firstNew = c.nextId;
    c = applyEvent(params, c, ev);
    for (const m of c.buffer) {
      if (m.id < firstNew) continue;
      stamp(p, "send", t, { msg: m.id, peer: m.to, label: m.msg.type, data: m.msg });
      sentWith.set(m.id, { lt: lt[p] as number, vt: [...(vt[p] as number[])] });
    }
  }
  return out;
}
