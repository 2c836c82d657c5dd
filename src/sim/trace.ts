/**
 * Causal traces (DESIGN.md, "Tracing and time"; seed 002 on Lamport and vector clocks and on
 * consistent cuts). The simulator stamps every node event (start, send, receive, timer, local
 * event, output, crash, restart, pause, resume, fail-stop notice, round start) with a Lamport
 * time and a vector time: increment on each event; a send carries the clock; a receive takes
 * the maximum and increments. Drops are network events: recorded, but not stamped.
 *
 * A node's own vector component counts its events, so it doubles as the event's index on that
 * node (1, 2, 3, ...). Cuts are given in those indices.
 */
import { createHash } from "node:crypto";
import { toJson } from "../core/codec.ts";
import type { TraceEvent, TraceHeader } from "./trace-format.ts";

export type { TraceEvent, TraceHeader, TraceKind } from "./trace-format.ts";

export function traceToJsonl(header: TraceHeader | undefined, events: readonly TraceEvent[]): string {
  const lines: string[] = [];
  if (header) lines.push(toJson(header));
  for (const e of events) lines.push(toJson(e));
  return `${lines.join("\n")}\n`;
}

export function parseJsonl(text: string): { header?: TraceHeader; events: TraceEvent[] } {
  const events: TraceEvent[] = [];
  let header: TraceHeader | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const obj = JSON.parse(line) as TraceEvent | TraceHeader;
    if ((obj as TraceHeader).kind === "header") header = obj as TraceHeader;
    else events.push(obj as TraceEvent);
  }
  return header ? { header, events } : { events };
}

/** SHA-256 over the JSONL text: equal hashes mean byte-identical traces. */
export function traceHash(jsonl: string): string {
  return createHash("sha256").update(jsonl).digest("hex");
}

export function hostName(node: number): string {
  return `n${node}`;
}

function describe(e: TraceEvent): string {
  const parts: string[] = [e.kind];
  if (e.label !== undefined) parts.push(e.label);
  if (e.kind === "send" && e.peer !== undefined) parts.push(`to ${hostName(e.peer)}`);
  if ((e.kind === "recv" || e.kind === "notify") && e.peer !== undefined)
    parts.push(`from ${hostName(e.peer)}`);
  if (e.msg !== undefined) parts.push(`#${e.msg}`);
  parts.push(`@${e.t.toFixed(3)}ms`);
  return parts.join(" ").replace(/[\r\n]+/g, " ");
}

/** ShiViz's default parser regex: an event line followed by a "host {clock}" line. */
export const SHIVIZ_REGEX = "(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})";

/**
 * A log for ShiViz in its upload layout: line 1 the parser regex, line 2 the (empty) execution
 * delimiter, then two lines per stamped event. Clocks name hosts `n<id>`; each host's own entry
 * starts at 1 and rises by 1 per event, as ShiViz requires.
 */
export function traceToShiViz(events: readonly TraceEvent[]): string {
  const lines: string[] = [SHIVIZ_REGEX, ""];
  for (const e of events) {
    if (e.vt === undefined) continue;
    const clock: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.vt)) if (v > 0) clock[hostName(Number(k))] = v;
    lines.push(describe(e));
    lines.push(`${hostName(e.node)} ${JSON.stringify(clock)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A cut: for each node, how many of its stamped events it includes (0 = none). */
export type Cut = ReadonlyMap<number, number>;

export type CutVerdict =
  | { consistent: true }
  | {
      consistent: false;
      /** A message received inside the cut but sent outside it (it "crosses the cut backwards"). */
      message: { id: number; from: number; to: number; sendIndex: number; recvIndex: number };
      /** Every such message. */
      offending: Array<{ id: number; from: number; to: number; sendIndex: number; recvIndex: number }>;
    };

/**
 * Seed 002, "Consistent cuts": a cut is consistent when every message received inside it was
 * also sent inside it. Fail-stop notices count as messages from the stopped node.
 */
export function checkCut(events: readonly TraceEvent[], cut: Cut): CutVerdict {
  const sendIndex = new Map<number, { node: number; index: number }>();
  for (const e of events) {
    if ((e.kind === "send" || e.kind === "failstop") && e.vt !== undefined && e.msg !== undefined) {
      sendIndex.set(e.msg, { node: e.node, index: e.vt[String(e.node)] ?? 0 });
    }
  }
  const offending: Array<{ id: number; from: number; to: number; sendIndex: number; recvIndex: number }> = [];
  for (const e of events) {
    if ((e.kind !== "recv" && e.kind !== "notify") || e.vt === undefined || e.msg === undefined) continue;
    const recvIndex = e.vt[String(e.node)] ?? 0;
    if (recvIndex > (cut.get(e.node) ?? 0)) continue;
    const s = sendIndex.get(e.msg);
    if (s === undefined) continue;
    if (s.index > (cut.get(s.node) ?? 0)) {
      offending.push({ id: e.msg, from: s.node, to: e.node, sendIndex: s.index, recvIndex });
    }
  }
  const first = offending[0];
  return first === undefined ? { consistent: true } : { consistent: false, message: first, offending };
}

/**
 * The same question answered with vector clocks alone: a cut is consistent iff no frontier
 * event knows of an event of another node beyond that node's frontier.
 */
export function isCutConsistentByClocks(events: readonly TraceEvent[], cut: Cut): boolean {
  // A node's frontier is its last event inside the cut (a cut entry beyond the node's last
  // event includes all of them), so keep the latest event whose own index is within it.
  const frontier = new Map<number, Record<string, number>>();
  for (const e of events) {
    if (e.vt === undefined) continue;
    const own = e.vt[String(e.node)] ?? 0;
    if (own <= (cut.get(e.node) ?? 0)) frontier.set(e.node, e.vt);
  }
  for (const vt of frontier.values()) {
    for (const [k, v] of Object.entries(vt)) if (v > (cut.get(Number(k)) ?? 0)) return false;
  }
  return true;
}
