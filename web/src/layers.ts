/**
 * The diagram's layers, one function each: axis, messages, dots, markers, labels, down time,
 * cut, and the canvas painting of dense views. Each draws from a `Frame` (the scales of this
 * render and what the page highlights) into its own SVG group, keyed by event or message so
 * that zooming moves elements instead of recreating them. Kept apart from diagram.ts so that
 * what a picture looks like can be read and changed without the zoom and layout machinery.
 */
import type { ScaleLinear } from "d3-scale";
import type { Selection } from "d3-selection";
import { backwardColour, labelColour, pbftPhases } from "./colors.ts";
import { type Dot, paint, type Segment } from "./dense.ts";
import { type Arrow, formatVt, ownIndex, type Relation, type Trace, type TraceEvent } from "./model.ts";
import type { Highlights, XMode } from "./state.ts";

/** Width of the node labels' column left of the plot. */
export const gutter = 110;
export const axisHeight = 26;
/** Labels beside dots are considered only when at most 4 x this many events are on screen. */
const labelLimit = 160;

export const markerGlyph: Record<string, string> = {
  crash: "✖",
  restart: "▲",
  failstop: "■",
  pause: "⏸",
  resume: "▶",
};

export type Layer = Selection<SVGGElement, unknown, null, undefined>;

/** Where things go in one render, and what is highlighted. */
export interface Frame {
  /** Screen x of a position on the axis (event index or virtual time), zoomed. */
  x: ScaleLinear<number, number>;
  /** An event's position on the axis. */
  key: (e: TraceEvent) => number;
  laneY: (node: number) => number;
  laneH: number;
  width: number;
  xMode: XMode;
  marks: Readonly<Highlights>;
}

export interface VisibleArrow {
  a: Arrow;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  crossing: boolean;
  dim: boolean;
}

/** Index of the first element whose key is >= x, in an array sorted by key. */
export function lowerBound<T>(items: readonly T[], key: (t: T) => number, x: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid] as T) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The message labels of a trace with their counts: PBFT phases in protocol order, then by name. */
export function messageLabels(trace: Trace): Array<[label: string, count: number]> {
  const counts = new Map<string, number>();
  for (const m of trace.messages) counts.set(m.label, (counts.get(m.label) ?? 0) + 1);
  const phaseOrder = new Map(pbftPhases.map(([l], k) => [l, k]));
  const labels = [...counts.keys()].sort(
    (a, b) => (phaseOrder.get(a) ?? 99) - (phaseOrder.get(b) ?? 99) || a.localeCompare(b),
  );
  return labels.map((label) => [label, counts.get(label) as number]);
}

/**
 * Arrowheads in each message label's colour (SVG markers cannot take the line's colour), and
 * the marker id of each label.
 */
export function arrowheads(
  defs: Selection<SVGDefsElement, unknown, null, undefined>,
  trace: Trace,
): Map<string, string> {
  const add = (id: string, colour: string) => {
    defs
      .append("marker")
      .attr("id", `arrow-${id}`)
      .attr("viewBox", "0 0 10 10")
      .attr("refX", 9)
      .attr("refY", 5)
      .attr("markerWidth", 6)
      .attr("markerHeight", 6)
      .attr("orient", "auto-start-reverse")
      .append("path")
      .attr("d", "M 0 0 L 10 5 L 0 10 z")
      .attr("fill", colour);
  };
  defs.selectAll("marker").remove();
  const ids = new Map<string, string>();
  add("plain", "#888");
  add("backward", backwardColour);
  messageLabels(trace).forEach(([label], k) => {
    ids.set(label, String(k));
    add(String(k), labelColour(label));
  });
  return ids;
}

export function drawAxis(axisG: Layer, f: Frame): void {
  const ticks = f.x.ticks(Math.max(2, Math.floor((f.width - gutter) / 110)));
  axisG
    .selectAll<SVGGElement, number>("g.tick")
    .data(ticks, (d) => String(d))
    .join((enter) => {
      const g = enter.append("g").attr("class", "tick");
      g.append("line")
        .attr("y1", axisHeight - 6)
        .attr("y2", axisHeight);
      g.append("text").attr("y", axisHeight - 9);
      return g;
    })
    .attr("transform", (d) => `translate(${f.x(d)},0)`)
    .select("text")
    .text((d) => (f.xMode === "time" ? `${d} ms` : `#${d}`));
  axisG
    .selectAll("text.axis-title")
    .data([f.xMode])
    .join("text")
    .attr("class", "axis-title")
    .attr("x", 8)
    .attr("y", axisHeight - 9)
    .text((d) => (d === "time" ? "virtual time" : "event order"));
}

function arrowEnd(f: Frame, a: Arrow): { x: number; y: number } {
  if (!a.dropped) return { x: f.x(f.key(a.end)), y: f.laneY(a.end.node) };
  // A drop is drawn part-way to the destination, ending in a cross.
  const y0 = f.laneY(a.message.from);
  const y1 = f.laneY(a.message.to);
  return { x: f.x(f.key(a.end)), y: y0 + (y1 - y0) * 0.45 };
}

/** The arrows on screen, with their geometry and how they are highlighted. */
export function visibleArrows(trace: Trace, f: Frame): VisibleArrow[] {
  const [x0, x1] = f.x.domain() as [number, number];
  const tNow = f.marks.timeT;
  const rel = f.marks.relations;
  const causal = (e: TraceEvent | undefined) => {
    const r = e && rel?.get(e);
    return r === "self" || r === "past" || r === "future";
  };
  const cut = f.marks.cut;
  const crossing = (a: Arrow) =>
    cut !== undefined &&
    f.marks.backward.has(a.message.id) &&
    !a.dropped &&
    ownIndex(a.end) <= (cut.get(a.end.node) ?? 0);
  const dim = (a: Arrow) => rel !== undefined && !(causal(a.message.send) && (a.dropped || causal(a.end)));
  const visible: VisibleArrow[] = [];
  for (const a of trace.arrows) {
    const send = a.message.send as TraceEvent;
    if (f.marks.hiddenLabels.has(a.message.label) || send.t > tNow) continue;
    const sx = f.key(send);
    if (sx > x1) break; // arrows are in send order
    if (f.key(a.end) < x0) continue;
    const sxPix = f.x(sx);
    const syPix = f.laneY(send.node);
    let { x: x2, y: y2 } = arrowEnd(f, a);
    if (a.end.t > tNow) {
      // In flight at the replay time: drawn up to where it would be.
      const frac = (tNow - send.t) / (a.end.t - send.t);
      x2 = sxPix + (x2 - sxPix) * frac;
      y2 = syPix + (y2 - syPix) * frac;
    }
    visible.push({ a, x1: sxPix, y1: syPix, x2, y2, crossing: crossing(a), dim: dim(a) });
  }
  return visible;
}

const relationFill: Partial<Record<Relation, string>> = {
  past: "#1f5fbf",
  future: "#f08c00",
  self: "#000",
};

function eventFill(e: TraceEvent): string {
  return e.label !== undefined && e.msg !== undefined ? labelColour(e.label) : "#555";
}

export function drawEvents(evG: Layer, f: Frame, stamped: TraceEvent[]): void {
  const rel = f.marks.relations;
  const circles = evG
    .selectAll<SVGCircleElement, TraceEvent>("circle")
    .data(stamped, (d) => String(d.i))
    .join((enter) =>
      enter
        .append("circle")
        .attr("r", 3.5)
        .attr("data-i", (d) => String(d.i))
        .attr("data-node", (d) => String(d.node))
        .attr("data-kind", (d) => d.kind)
        .attr("fill", eventFill),
    )
    .attr("cx", (d) => f.x(f.key(d)))
    .attr("cy", (d) => f.laneY(d.node));
  circles.attr("data-rel", rel ? (d) => rel.get(d) ?? "concurrent" : null);
}

/** The same picture as the SVG elements, painted on the canvas. */
export function paintDense(
  canvas: HTMLCanvasElement,
  f: Frame,
  stamped: TraceEvent[],
  arrows: VisibleArrow[],
): void {
  const rel = f.marks.relations;
  const dots: Dot[] = stamped.map((e) => {
    const r = rel?.get(e);
    return {
      x: f.x(f.key(e)),
      y: f.laneY(e.node),
      r: r === "self" ? 6 : 3,
      fill: (r !== undefined && relationFill[r]) || eventFill(e),
      alpha: r === "concurrent" ? 0.15 : 1,
    };
  });
  const segments: Segment[] = arrows.map((d) => ({
    x1: d.x1,
    y1: d.y1,
    x2: d.x2,
    y2: d.y2,
    stroke: d.crossing ? backwardColour : labelColour(d.a.message.label),
    alpha: d.crossing ? 1 : d.dim ? 0.08 : 0.6,
    width: d.crossing ? 3 : 1,
    dashed: d.a.dropped,
  }));
  paint(canvas, gutter, segments, dots);
}

export function drawMessages(
  msgG: Layer,
  markG: Layer,
  f: Frame,
  visible: VisibleArrow[],
  arrowIds: ReadonlyMap<string, string>,
): void {
  const tNow = f.marks.timeT;
  msgG
    .selectAll<SVGLineElement, VisibleArrow>("line")
    .data(visible, (d) => d.a.key)
    .join((enter) =>
      enter
        .append("line")
        .attr("data-msg", (d) => String(d.a.message.id))
        .attr("data-label", (d) => d.a.message.label)
        .classed("dropped", (d) => d.a.dropped),
    )
    .attr("x1", (d) => d.x1)
    .attr("y1", (d) => d.y1)
    .attr("x2", (d) => d.x2)
    .attr("y2", (d) => d.y2)
    .attr("stroke", (d) => (d.crossing ? backwardColour : labelColour(d.a.message.label)))
    .attr("marker-end", (d) =>
      d.a.dropped
        ? null
        : `url(#arrow-${d.crossing ? "backward" : (arrowIds.get(d.a.message.label) ?? "plain")})`,
    )
    .classed("crossing", (d) => d.crossing)
    .classed("dim", (d) => d.dim);
  markG
    .selectAll<SVGTextElement, VisibleArrow>("text.drop-x")
    .data(
      visible.filter((d) => d.a.dropped && d.a.end.t <= tNow),
      (d) => d.a.key,
    )
    .join((enter) => {
      const t = enter.append("text").attr("class", "drop-x").text("✕");
      t.append("title");
      return t;
    })
    .attr("x", (d) => d.x2)
    .attr("y", (d) => d.y2 + 4)
    .attr("data-dropped-msg", (d) => String(d.a.message.id))
    .select("title")
    .text((d) => `message #${d.a.message.id} (${d.a.message.label}) dropped: ${d.a.end.reason ?? "?"}`);
}

export function drawMarkers(markG: Layer, f: Frame, evs: TraceEvent[]): void {
  const marks = evs.filter((e) => markerGlyph[e.kind] !== undefined);
  markG
    .selectAll<SVGTextElement, TraceEvent>("text.marker")
    .data(marks, (d) => String(d.i))
    .join("text")
    .attr("class", (d) => `marker marker-${d.kind}`)
    .attr("data-marker", (d) => d.kind)
    .attr("x", (d) => f.x(f.key(d)))
    .attr("y", (d) => f.laneY(d.node) - 7)
    .text((d) => markerGlyph[d.kind] as string);
}

/**
 * Lamport and vector time beside the dots, where they fit: per node line, a label is drawn
 * only if it does not run into the previous one, so zooming in reveals more of them.
 */
export function drawLabels(textG: Layer, f: Frame, stamped: TraceEvent[]): void {
  const show: Array<{ e: TraceEvent; text: string }> = [];
  if (stamped.length <= labelLimit * 4) {
    const nextFree = new Map<number, number>();
    for (const e of stamped) {
      const x = f.x(f.key(e));
      if (x < (nextFree.get(e.node) ?? -Infinity)) continue;
      const text = `${e.lt} · ${formatVt(e.vt)}`;
      show.push({ e, text });
      nextFree.set(e.node, x + text.length * 5.2 + 8);
    }
  }
  textG
    .selectAll<SVGTextElement, (typeof show)[number]>("text")
    .data(show, (d) => String(d.e.i))
    .join("text")
    .attr("x", (d) => f.x(f.key(d.e)) - 3)
    .attr("y", (d) => f.laneY(d.e.node) + 14)
    .attr("data-label-of", (d) => String(d.e.i))
    .text((d) => d.text);
  textG.attr("data-shown", String(show.length));
}

/** A node's down time (crash to restart) as a dashed grey segment over its line. */
export function drawDowntime(downG: Layer, f: Frame, trace: Trace): void {
  const spans: Array<{ node: number; from: number; to: number; key: string }> = [];
  const last = trace.events[trace.events.length - 1] as TraceEvent;
  for (const [node, list] of trace.byNode) {
    let down: TraceEvent | undefined;
    for (const e of list) {
      if (e.kind === "crash" || e.kind === "failstop") down = e;
      else if (e.kind === "restart" && down !== undefined) {
        spans.push({ node, from: f.key(down), to: f.key(e), key: `${node}-${down.i}` });
        down = undefined;
      }
    }
    if (down !== undefined)
      spans.push({ node, from: f.key(down), to: f.key(last), key: `${node}-${down.i}` });
  }
  downG
    .selectAll<SVGLineElement, (typeof spans)[number]>("line")
    .data(spans, (d) => d.key)
    .join("line")
    .attr("x1", (d) => f.x(d.from))
    .attr("x2", (d) => f.x(d.to))
    .attr("y1", (d) => f.laneY(d.node))
    .attr("y2", (d) => f.laneY(d.node));
}

/** Where the cut crosses a node's line: between its last included and first excluded event. */
function cutX(f: Frame, trace: Trace, node: number, count: number): number {
  const list = trace.byNode.get(node) ?? [];
  if (list.length === 0) return f.x.range()[0] as number;
  if (count <= 0) return f.x(f.key(list[0] as TraceEvent)) - 6;
  if (count >= list.length) return f.x(f.key(list[list.length - 1] as TraceEvent)) + 6;
  const a = f.x(f.key(list[count - 1] as TraceEvent));
  const b = f.x(f.key(list[count] as TraceEvent));
  return (a + b) / 2;
}

export function drawCut(cutG: Layer, f: Frame, trace: Trace): void {
  const cut = f.marks.cut;
  const points =
    cut === undefined
      ? []
      : trace.nodes.map((n) => ({ node: n, x: cutX(f, trace, n, cut.get(n) ?? 0), y: f.laneY(n) }));
  const line = points.length > 0 ? [points] : [];
  cutG
    .selectAll<SVGPolylineElement, typeof points>("polyline")
    .data(line)
    .join("polyline")
    .attr("data-testid", "cut-line")
    .attr("points", (d) => {
      const pts: string[] = [];
      for (const p of d) pts.push(`${p.x},${p.y - f.laneH / 2}`, `${p.x},${p.y + f.laneH / 2}`);
      return pts.join(" ");
    });
  cutG
    .selectAll<SVGCircleElement, (typeof points)[number]>("circle")
    .data(points, (d) => String(d.node))
    .join("circle")
    .attr("r", 4)
    .attr("cx", (d) => d.x)
    .attr("cy", (d) => d.y)
    .attr("data-cut-node", (d) => String(d.node));
}
