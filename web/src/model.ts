/**
 * The trace as the viewer sees it: parsed from `phalanx sim --trace` JSONL (format
 * phalanx-trace/1, src/sim/trace.ts), indexed per node and per message, with the two questions
 * the viewer answers: which events happen before / after a chosen one (seed 002: from the
 * vector clocks alone), and which messages cross a cut backward.
 *
 * Pure data: no DOM, so the tests can run it under Node too.
 */
import type { TraceEvent, TraceHeader } from "../../src/sim/trace-format.ts";

export type { TraceEvent, TraceHeader };

/**
 * One message: its send, and its receives and drops (a duplicating network delivers one message
 * twice, under the same id).
 */
export interface Message {
  id: number;
  from: number;
  to: number;
  label: string;
  send?: TraceEvent;
  recvs: TraceEvent[];
  drops: TraceEvent[];
}

/** What the diagram draws: one arrow per delivery or drop of a message. */
export interface Arrow {
  key: string;
  message: Message;
  end: TraceEvent;
  dropped: boolean;
}

export interface Trace {
  header?: TraceHeader;
  events: TraceEvent[];
  /** Events by their index `i`. */
  eventByI: Map<number, TraceEvent>;
  /** Node ids in lane order. */
  nodes: number[];
  byzantine: Set<number>;
  /** Stamped events of each node in order: position k holds the node's event k+1. */
  byNode: Map<number, TraceEvent[]>;
  messages: Message[];
  messageById: Map<number, Message>;
  /** Arrows in the order of their sends. */
  arrows: Arrow[];
  tMax: number;
  /** Lines that could not be read: how many, and the first few reasons. */
  skipped: { count: number; first: string[] };
}

export class TraceFormatError extends Error {}

/** The event's own component of its vector time: its 1-based index on its node. */
export function ownIndex(e: TraceEvent): number {
  return e.vt?.[String(e.node)] ?? 0;
}

export const isSend = (e: TraceEvent) => e.kind === "send" || e.kind === "failstop";
export const isReceive = (e: TraceEvent) => e.kind === "recv" || e.kind === "notify";

function isNumber(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/** Why a parsed line is not an event, or undefined when it is one. */
function eventProblem(o: Record<string, unknown>): string | undefined {
  if (!isNumber(o.i) || !isNumber(o.t) || !isNumber(o.node)) return "needs numeric i, t and node";
  if (typeof o.kind !== "string") return "needs a kind";
  if (o.vt !== undefined) {
    if (typeof o.vt !== "object" || o.vt === null) return "vt must be an object";
    for (const v of Object.values(o.vt)) if (!isNumber(v)) return "vt entries must be numbers";
  }
  if (o.msg !== undefined && !isNumber(o.msg)) return "msg must be a number";
  if (o.peer !== undefined && !isNumber(o.peer)) return "peer must be a number";
  return undefined;
}

/**
 * Reads JSONL. Lines that are not JSON or not events are skipped and counted (a truncated file
 * still shows what it has); a file without a single event is an error.
 */
export function parseTrace(text: string): Trace {
  let header: TraceHeader | undefined;
  const events: TraceEvent[] = [];
  const skipped = { count: 0, first: [] as string[] };
  const skip = (line: number, why: string) => {
    skipped.count++;
    if (skipped.first.length < 3) skipped.first.push(`line ${line}: ${why}`);
  };
  const lines = text.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k] as string;
    if (line.trim() === "") continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      skip(k + 1, "not JSON");
      continue;
    }
    if (typeof o !== "object" || o === null || Array.isArray(o)) {
      skip(k + 1, "not an object");
      continue;
    }
    const rec = o as Record<string, unknown>;
    if (rec.kind === "header") {
      if (!Array.isArray(rec.nodes) || !rec.nodes.every(isNumber)) skip(k + 1, "header without nodes");
      else header = rec as unknown as TraceHeader;
      continue;
    }
    const problem = eventProblem(rec);
    if (problem !== undefined) skip(k + 1, problem);
    else events.push(rec as unknown as TraceEvent);
  }
  if (events.length === 0) {
    throw new TraceFormatError(
      skipped.count > 0
        ? `no events in this file (${skipped.count} unreadable lines; ${skipped.first.join("; ")})`
        : "no events in this file",
    );
  }
  return indexTrace(events, header, skipped);
}

export function indexTrace(
  events: TraceEvent[],
  header?: TraceHeader,
  skipped = { count: 0, first: [] as string[] },
): Trace {
  const nodeSet = new Set<number>(header?.nodes ?? []);
  const byNode = new Map<number, TraceEvent[]>();
  const messageById = new Map<number, Message>();
  let tMax = 0;
  const message = (id: number, e: TraceEvent, from: number, to: number): Message => {
    let m = messageById.get(id);
    if (m === undefined) {
      m = { id, from, to, label: e.label ?? e.kind, recvs: [], drops: [] };
      messageById.set(id, m);
    }
    return m;
  };
  for (const e of events) {
    nodeSet.add(e.node);
    if (e.t > tMax) tMax = e.t;
    if (e.vt !== undefined) {
      let list = byNode.get(e.node);
      if (list === undefined) byNode.set(e.node, (list = []));
      list.push(e);
    }
    if (e.msg === undefined) continue;
    if (isSend(e) && e.vt !== undefined) message(e.msg, e, e.node, e.peer ?? -1).send = e;
    else if (isReceive(e) && e.vt !== undefined) message(e.msg, e, e.peer ?? -1, e.node).recvs.push(e);
    else if (e.kind === "drop") message(e.msg, e, e.node, e.peer ?? -1).drops.push(e);
  }
  for (const list of byNode.values()) list.sort((a, b) => ownIndex(a) - ownIndex(b));
  const nodes = [...nodeSet].sort((a, b) => a - b);
  const messages = [...messageById.values()].sort((a, b) => a.id - b.id);
  const arrows: Arrow[] = [];
  for (const m of messages) {
    if (m.send === undefined) continue;
    for (const end of m.recvs) arrows.push({ key: `${m.id}-${end.i}`, message: m, end, dropped: false });
    for (const end of m.drops) arrows.push({ key: `${m.id}-${end.i}`, message: m, end, dropped: true });
  }
  arrows.sort((a, b) => (a.message.send as TraceEvent).i - (b.message.send as TraceEvent).i);
  return {
    ...(header ? { header } : {}),
    events,
    eventByI: new Map(events.map((e) => [e.i, e])),
    nodes,
    byzantine: new Set(header?.byzantine ?? []),
    byNode,
    messages,
    messageById,
    arrows,
    tMax,
    skipped,
  };
}

export type Relation = "self" | "past" | "future" | "concurrent";

/**
 * Happens-before from vector times (seed 002): x → e iff e knows x, i.e. e's entry for x's node
 * is at least x's own index; e → x iff x knows e. Neither: concurrent.
 */
export function relation(e: TraceEvent, x: TraceEvent): Relation {
  if (x === e) return "self";
  if (e.vt === undefined || x.vt === undefined) return "concurrent";
  if ((e.vt[String(x.node)] ?? 0) >= ownIndex(x)) return "past";
  if ((x.vt[String(e.node)] ?? 0) >= ownIndex(e)) return "future";
  return "concurrent";
}

/** For each node, how many of its stamped events the cut includes (absent: none). */
export type Cut = Map<number, number>;

/** The cut that includes every event. */
export function fullCut(trace: Trace): Cut {
  const cut: Cut = new Map();
  for (const n of trace.nodes) cut.set(n, trace.byNode.get(n)?.length ?? 0);
  return cut;
}

/**
 * Seed 002, "Consistent cuts": the messages received inside the cut but sent outside it. The cut
 * is consistent when there are none. Fail-stop notices count as messages of the stopped node.
 */
export function backwardMessages(trace: Trace, cut: Cut): Message[] {
  const out: Message[] = [];
  for (const m of trace.messages) {
    if (m.send === undefined) continue;
    if (ownIndex(m.send) <= (cut.get(m.send.node) ?? 0)) continue;
    if (m.recvs.some((r) => ownIndex(r) <= (cut.get(r.node) ?? 0))) out.push(m);
  }
  return out;
}

/** The role of a node in a PBFT trace (replica ids 0..n-1, then clients), else undefined. */
export function nodeRole(trace: Trace, node: number): "replica" | "client" | undefined {
  const options = trace.header?.options as { nodes?: unknown } | undefined;
  if (trace.header?.protocol !== "pbft" || typeof options?.nodes !== "number") return undefined;
  return node < options.nodes ? "replica" : "client";
}

/** Vector time in a short form: non-zero entries as n<id>:<count>. */
export function formatVt(vt: Record<string, number> | undefined): string {
  if (vt === undefined) return "";
  return Object.entries(vt)
    .filter(([, v]) => v > 0)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `n${k}:${v}`)
    .join(" ");
}
