/**
 * The trace viewer: a space-time diagram (seed 002's "time-line pictures") of a simulator trace.
 * One horizontal line per node, events as dots (labelled with Lamport and vector time when
 * zoomed in), messages as arrows coloured by type, drops, crashes and restarts marked.
 *
 * - Click an event: its causal past and future are highlighted, concurrent events dimmed
 *   (computed from the vector clocks, model.ts `relation`).
 * - "Draw cut": click one point per node line; the viewer says whether the cut is consistent
 *   and paints each message that crosses it backward in red.
 * - Zoom (wheel) and pan (drag) along the time axis; only what is on screen is drawn, so runs of
 *   many thousands of events stay responsive.
 * - The time slider replays the run: events after the chosen virtual time are hidden.
 */
import { type ScaleLinear, scaleLinear } from "d3-scale";
import { type Selection, select } from "d3-selection";
import { type D3ZoomEvent, type ZoomBehavior, type ZoomTransform, zoom, zoomIdentity } from "d3-zoom";
import type { UiConfig } from "../../src/ui/api.ts";
import { backwardColour, byzantineColour, labelColour, markerKinds, pbftPhases } from "./colors.ts";
import { clearCanvas, type Dot, paint, type Segment, sizeCanvas } from "./dense.ts";
import {
  type Arrow,
  backwardMessages,
  type Cut,
  formatVt,
  fullCut,
  nodeRole,
  ownIndex,
  parseTrace,
  type Relation,
  relation,
  type Trace,
  type TraceEvent,
  TraceFormatError,
} from "./model.ts";

const gutter = 110;
const axisHeight = 26;
const laneMin = 26;
const laneMax = 56;
/** Labels beside dots are considered only when at most 4 x this many events are on screen. */
const labelLimit = 160;

type XMode = "order" | "time";

/** Above this many events on screen, dots and arrows are painted on a canvas (dense.ts). */
const denseEvents = 1500;

interface VisibleArrow {
  a: Arrow;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  crossing: boolean;
  dim: boolean;
}

interface State {
  trace?: Trace;
  name: string;
  xMode: XMode;
  transform: ZoomTransform;
  selected?: TraceEvent;
  relations?: Map<TraceEvent, Relation>;
  cutMode: boolean;
  cut?: Cut;
  backward: Set<number>;
  timeT: number;
  hiddenLabels: Set<string>;
  playing: boolean;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function describeEvent(e: TraceEvent): string {
  const parts = [`n${e.node} ${e.kind}`];
  if (e.label !== undefined && e.label !== e.kind) parts.push(e.label);
  if (e.kind === "send" || e.kind === "drop") parts.push(`to n${e.peer}`);
  if (e.kind === "recv" || e.kind === "notify") parts.push(`from n${e.peer}`);
  if (e.msg !== undefined) parts.push(`msg #${e.msg}`);
  if (e.reason !== undefined) parts.push(`(${e.reason})`);
  return parts.join(" ");
}

function eventDetail(e: TraceEvent): string {
  const lines = [describeEvent(e), `event ${e.i}, t = ${e.t} ms`];
  if (e.lt !== undefined) lines.push(`Lamport ${e.lt}`, `vector ${formatVt(e.vt)}`);
  if (e.data !== undefined) {
    const json = JSON.stringify(e.data);
    lines.push(json.length > 400 ? `${json.slice(0, 400)}…` : json);
  }
  return lines.join("\n");
}

/** Index of the first element whose key is >= x, in an array sorted by key. */
function lowerBound<T>(items: readonly T[], key: (t: T) => number, x: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid] as T) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function mountViewer(root: HTMLElement, config: UiConfig): void {
  root.classList.add("viewer");
  const state: State = {
    name: "",
    xMode: "order",
    transform: zoomIdentity,
    cutMode: false,
    backward: new Set(),
    timeT: 0,
    hiddenLabels: new Set(),
    playing: false,
  };

  // ------------------------------------------------------------------ page structure
  const toolbar = el("div", { class: "toolbar" });
  const fileLabel = el("label", { class: "button file" }, "Open trace…");
  const fileInput = el("input", {
    type: "file",
    accept: ".jsonl,.json,.txt,.log",
    "data-testid": "file-input",
  });
  fileLabel.append(fileInput);
  const nameSpan = el("span", { class: "trace-name", "data-testid": "trace-name" });
  const countSpan = el("span", { class: "muted", "data-testid": "event-count" });
  const fitButton = el("button", { "data-testid": "fit", title: "show the whole run" }, "Fit");
  const axisSelect = el("select", { "data-testid": "x-axis", title: "what the horizontal axis shows" });
  axisSelect.append(
    el("option", { value: "order" }, "x: event order"),
    el("option", { value: "time" }, "x: virtual time"),
  );
  const cutButton = el(
    "button",
    { "data-testid": "cut-mode", "aria-pressed": "false", title: "click one point on each node line" },
    "Draw cut",
  );
  const cutReset = el("button", { "data-testid": "cut-reset", hidden: "" }, "Clear cut");
  toolbar.append(fileLabel, nameSpan, countSpan, fitButton, axisSelect, cutButton, cutReset);

  const errorBox = el("div", { class: "error", "data-testid": "trace-error", hidden: "" });
  const notice = el("div", { class: "notice", "data-testid": "trace-notice", hidden: "" });
  const verdict = el("div", { class: "verdict", "data-testid": "cut-verdict", hidden: "" });
  const legend = el("div", { class: "legend", "data-testid": "legend" });

  const timebar = el("div", { class: "timebar" });
  const playButton = el("button", { "data-testid": "play", title: "replay the run" }, "▶ Replay");
  const slider = el("input", {
    type: "range",
    min: "0",
    max: "0",
    step: "any",
    value: "0",
    "data-testid": "time-slider",
    "aria-label": "virtual time",
  });
  const timeLabel = el("span", { class: "muted", "data-testid": "time-label" });
  timebar.append(playButton, slider, timeLabel);

  const body = el("div", { class: "viewer-body" });
  const box = el("div", { class: "canvas", "data-testid": "diagram" });
  const details = el("aside", { class: "details", "data-testid": "details" });
  details.textContent = "Click an event to see its causal past and future.";
  body.append(box, details);
  const empty = el("div", { class: "empty", "data-testid": "empty" });
  empty.innerHTML =
    "<p>Open a trace written by <code>phalanx sim … --trace run.jsonl</code>, or drop the file here.</p>" +
    "<p>Try: <code>npx phalanx sim pbft --byzantine 0=silent --trace vc.jsonl</code> then " +
    "<code>npx phalanx ui --trace vc.jsonl</code></p>";
  const tooltip = el("div", { class: "tooltip", hidden: "" });
  root.append(toolbar, errorBox, notice, verdict, legend, timebar, empty, body, tooltip);

  const svg = select(box).append("svg").attr("class", "diagram");
  // On top of the SVG, ignoring the pointer: dots and arrows of dense views (dense.ts).
  const denseCanvas = el("canvas", { class: "dense", "data-testid": "dense-canvas" });
  box.append(denseCanvas);
  const defs = svg.append("defs");
  defs.append("clipPath").attr("id", "plot-clip").append("rect").attr("class", "clip-rect");
  const axisG = svg.append("g").attr("class", "axis");
  const lanesG = svg.append("g").attr("class", "lanes");
  const plot = svg.append("g").attr("class", "plot").attr("clip-path", "url(#plot-clip)");
  const hitG = plot.append("g").attr("class", "lane-hits");
  const downG = plot.append("g").attr("class", "downtime");
  const msgG = plot.append("g").attr("class", "messages");
  const evG = plot.append("g").attr("class", "events");
  const markG = plot.append("g").attr("class", "markers");
  const textG = plot.append("g").attr("class", "labels");
  const cutG = plot.append("g").attr("class", "cut");

  // ------------------------------------------------------------------ geometry
  let width = 800;
  let laneH = laneMax;
  const base: ScaleLinear<number, number> = scaleLinear();
  let xScale: ScaleLinear<number, number> = base;
  const xKey = (e: TraceEvent) => (state.xMode === "order" ? e.i : e.t);
  const laneIndex = new Map<number, number>();
  const laneY = (node: number) => axisHeight + ((laneIndex.get(node) ?? 0) + 0.5) * laneH;

  const zoomer: ZoomBehavior<SVGSVGElement, unknown> = zoom<SVGSVGElement, unknown>()
    .scaleExtent([1, 1])
    .on("zoom", (ev: D3ZoomEvent<SVGSVGElement, unknown>) => {
      state.transform = ev.transform;
      scheduleRender();
    });
  (svg as unknown as Selection<SVGSVGElement, unknown, null, undefined>)
    .call(zoomer)
    .on("dblclick.zoom", null);

  function layout(): void {
    const trace = state.trace;
    if (trace === undefined) return;
    width = Math.max(300, box.clientWidth || 800);
    const available = Math.max(200, window.innerHeight - box.getBoundingClientRect().top - 24);
    laneH = Math.max(laneMin, Math.min(laneMax, (available - axisHeight) / Math.max(1, trace.nodes.length)));
    const height = axisHeight + laneH * trace.nodes.length + 10;
    svg.attr("width", width).attr("height", height);
    sizeCanvas(denseCanvas, width, height);
    svg
      .select(".clip-rect")
      .attr("x", gutter)
      .attr("y", 0)
      .attr("width", width - gutter)
      .attr("height", height);
    const first = trace.events[0] as TraceEvent;
    const last = trace.events[trace.events.length - 1] as TraceEvent;
    const lo = xKey(first);
    const hi = Math.max(xKey(last), lo + 1);
    const pad = (hi - lo) * 0.01;
    base.domain([lo - pad, hi + pad]).range([gutter + 8, width - 12]);
    const maxScale = Math.max(20, trace.events.length / 8);
    zoomer
      .scaleExtent([1, maxScale])
      .extent([
        [gutter, 0],
        [width, height],
      ])
      .translateExtent([
        [gutter, 0],
        [width, height],
      ]);
    drawLanes(trace, height);
  }

  function drawLanes(trace: Trace, height: number): void {
    laneIndex.clear();
    trace.nodes.forEach((n, k) => {
      laneIndex.set(n, k);
    });
    const lanes = lanesG
      .selectAll<SVGGElement, number>("g.lane")
      .data(trace.nodes, (d) => String(d))
      .join((enter) => {
        const g = enter.append("g").attr("class", "lane");
        g.append("line");
        g.append("text").attr("class", "lane-label");
        return g;
      })
      .attr("data-node", (d) => String(d))
      .classed("byzantine", (d) => trace.byzantine.has(d));
    lanes
      .select("line")
      .attr("x1", gutter)
      .attr("x2", width)
      .attr("y1", (d) => laneY(d))
      .attr("y2", (d) => laneY(d));
    lanes
      .select("text")
      .attr("x", 8)
      .attr("y", (d) => laneY(d) + 4)
      .attr("fill", (d) => (trace.byzantine.has(d) ? byzantineColour : null))
      .text((d) => {
        const role = nodeRole(trace, d);
        return `n${d}${role ? ` ${role}` : ""}${trace.byzantine.has(d) ? " ☠" : ""}`;
      });
    hitG
      .selectAll<SVGRectElement, number>("rect")
      .data(trace.nodes, (d) => String(d))
      .join("rect")
      .attr("data-lane", (d) => String(d))
      .attr("x", gutter)
      .attr("width", width - gutter)
      .attr("y", (d) => laneY(d) - laneH / 2)
      .attr("height", laneH);
    svg.attr("data-height", height);
  }

  // ------------------------------------------------------------------ rendering
  let pending = false;
  function scheduleRender(): void {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  }

  function visibleEvents(trace: Trace): TraceEvent[] {
    const [x0, x1] = xScale.domain() as [number, number];
    const from = lowerBound(trace.events, xKey, x0);
    const to = lowerBound(trace.events, xKey, x1 + 1e-9);
    return trace.events.slice(from, Math.min(trace.events.length, to + 1));
  }

  function arrowEnd(a: Arrow): { x: number; y: number } {
    if (!a.dropped) return { x: xScale(xKey(a.end)), y: laneY(a.end.node) };
    // A drop is drawn part-way to the destination, ending in a cross.
    const y0 = laneY(a.message.from);
    const y1 = laneY(a.message.to);
    return { x: xScale(xKey(a.end)), y: y0 + (y1 - y0) * 0.45 };
  }

  function render(): void {
    const trace = state.trace;
    if (trace === undefined) return;
    xScale = state.transform.rescaleX(base);
    drawAxis();
    const evs = visibleEvents(trace).filter((e) => e.t <= state.timeT);
    const stamped = evs.filter((e) => e.vt !== undefined);
    const dense = stamped.length > denseEvents;
    root.dataset.mode = dense ? "canvas" : "svg";
    const arrows = visibleArrows(trace);
    drawEvents(dense ? [] : stamped);
    drawMessages(dense ? [] : arrows);
    if (dense) paintDense(stamped, arrows);
    else clearCanvas(denseCanvas);
    drawMarkers(evs);
    drawLabels(dense ? [] : stamped);
    drawDowntime(trace);
    drawCut(trace);
    timeLabel.textContent =
      `t = ${state.timeT.toFixed(1)} ms of ${trace.tMax.toFixed(1)} · ${stamped.length} events on screen` +
      (dense ? " (zoom in to label and pick single events)" : "");
  }

  const relationFill: Partial<Record<Relation, string>> = {
    past: "#1f5fbf",
    future: "#f08c00",
    self: "#000",
  };

  function eventFill(e: TraceEvent): string {
    return e.label !== undefined && e.msg !== undefined ? labelColour(e.label) : "#555";
  }

  function drawEvents(stamped: TraceEvent[]): void {
    const rel = state.relations;
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
      .attr("cx", (d) => xScale(xKey(d)))
      .attr("cy", (d) => laneY(d.node));
    circles.attr("data-rel", rel ? (d) => rel.get(d) ?? "concurrent" : null);
  }

  /** The same picture as the SVG elements, painted on the canvas. */
  function paintDense(stamped: TraceEvent[], arrows: VisibleArrow[]): void {
    const rel = state.relations;
    const dots: Dot[] = stamped.map((e) => {
      const r = rel?.get(e);
      return {
        x: xScale(xKey(e)),
        y: laneY(e.node),
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
    paint(denseCanvas, gutter, segments, dots);
  }

  function drawAxis(): void {
    const ticks = xScale.ticks(Math.max(2, Math.floor((width - gutter) / 110)));
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
      .attr("transform", (d) => `translate(${xScale(d)},0)`)
      .select("text")
      .text((d) => (state.xMode === "time" ? `${d} ms` : `#${d}`));
    axisG
      .selectAll("text.axis-title")
      .data([state.xMode])
      .join("text")
      .attr("class", "axis-title")
      .attr("x", 8)
      .attr("y", axisHeight - 9)
      .text((d) => (d === "time" ? "virtual time" : "event order"));
  }

  /** The arrows on screen, with their geometry and how they are highlighted. */
  function visibleArrows(trace: Trace): VisibleArrow[] {
    const [x0, x1] = xScale.domain() as [number, number];
    const tNow = state.timeT;
    const rel = state.relations;
    const causal = (e: TraceEvent | undefined) => {
      const r = e && rel?.get(e);
      return r === "self" || r === "past" || r === "future";
    };
    const cut = state.cut;
    const crossing = (a: Arrow) =>
      cut !== undefined &&
      state.backward.has(a.message.id) &&
      !a.dropped &&
      ownIndex(a.end) <= (cut.get(a.end.node) ?? 0);
    const dim = (a: Arrow) => rel !== undefined && !(causal(a.message.send) && (a.dropped || causal(a.end)));
    const visible: VisibleArrow[] = [];
    for (const a of trace.arrows) {
      const send = a.message.send as TraceEvent;
      if (state.hiddenLabels.has(a.message.label) || send.t > tNow) continue;
      const sx = xKey(send);
      if (sx > x1) break; // arrows are in send order
      if (xKey(a.end) < x0) continue;
      const sxPix = xScale(sx);
      const syPix = laneY(send.node);
      let { x: x2, y: y2 } = arrowEnd(a);
      if (a.end.t > tNow) {
        // In flight at the replay time: drawn up to where it would be.
        const f = (tNow - send.t) / (a.end.t - send.t);
        x2 = sxPix + (x2 - sxPix) * f;
        y2 = syPix + (y2 - syPix) * f;
      }
      visible.push({ a, x1: sxPix, y1: syPix, x2, y2, crossing: crossing(a), dim: dim(a) });
    }
    return visible;
  }

  function drawMessages(visible: VisibleArrow[]): void {
    const tNow = state.timeT;
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
        d.a.dropped ? null : `url(#arrow-${d.crossing ? "backward" : arrowId(d.a.message.label)})`,
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

  const markerGlyph: Record<string, string> = {
    crash: "✖",
    restart: "▲",
    failstop: "■",
    pause: "⏸",
    resume: "▶",
  };

  function drawMarkers(evs: TraceEvent[]): void {
    const marks = evs.filter((e) => markerGlyph[e.kind] !== undefined);
    markG
      .selectAll<SVGTextElement, TraceEvent>("text.marker")
      .data(marks, (d) => String(d.i))
      .join("text")
      .attr("class", (d) => `marker marker-${d.kind}`)
      .attr("data-marker", (d) => d.kind)
      .attr("x", (d) => xScale(xKey(d)))
      .attr("y", (d) => laneY(d.node) - 7)
      .text((d) => markerGlyph[d.kind] as string);
  }

  /**
   * Lamport and vector time beside the dots, where they fit: per node line, a label is drawn
   * only if it does not run into the previous one, so zooming in reveals more of them.
   */
  function drawLabels(stamped: TraceEvent[]): void {
    const show: Array<{ e: TraceEvent; text: string }> = [];
    if (stamped.length <= labelLimit * 4) {
      const nextFree = new Map<number, number>();
      for (const e of stamped) {
        const x = xScale(xKey(e));
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
      .attr("x", (d) => xScale(xKey(d.e)) - 3)
      .attr("y", (d) => laneY(d.e.node) + 14)
      .attr("data-label-of", (d) => String(d.e.i))
      .text((d) => d.text);
    textG.attr("data-shown", String(show.length));
  }

  /** A node's down time (crash to restart) as a dashed grey segment over its line. */
  function drawDowntime(trace: Trace): void {
    const spans: Array<{ node: number; from: number; to: number; key: string }> = [];
    const last = trace.events[trace.events.length - 1] as TraceEvent;
    for (const [node, list] of trace.byNode) {
      let down: TraceEvent | undefined;
      for (const e of list) {
        if (e.kind === "crash" || e.kind === "failstop") down = e;
        else if (e.kind === "restart" && down !== undefined) {
          spans.push({ node, from: xKey(down), to: xKey(e), key: `${node}-${down.i}` });
          down = undefined;
        }
      }
      if (down !== undefined)
        spans.push({ node, from: xKey(down), to: xKey(last), key: `${node}-${down.i}` });
    }
    downG
      .selectAll<SVGLineElement, (typeof spans)[number]>("line")
      .data(spans, (d) => d.key)
      .join("line")
      .attr("x1", (d) => xScale(d.from))
      .attr("x2", (d) => xScale(d.to))
      .attr("y1", (d) => laneY(d.node))
      .attr("y2", (d) => laneY(d.node));
  }

  /** Where the cut crosses a node's line: between its last included and first excluded event. */
  function cutX(trace: Trace, node: number, count: number): number {
    const list = trace.byNode.get(node) ?? [];
    if (list.length === 0) return xScale.range()[0] as number;
    if (count <= 0) return xScale(xKey(list[0] as TraceEvent)) - 6;
    if (count >= list.length) return xScale(xKey(list[list.length - 1] as TraceEvent)) + 6;
    const a = xScale(xKey(list[count - 1] as TraceEvent));
    const b = xScale(xKey(list[count] as TraceEvent));
    return (a + b) / 2;
  }

  function drawCut(trace: Trace): void {
    const cut = state.cut;
    const points =
      cut === undefined
        ? []
        : trace.nodes.map((n) => ({ node: n, x: cutX(trace, n, cut.get(n) ?? 0), y: laneY(n) }));
    const line = points.length > 0 ? [points] : [];
    cutG
      .selectAll<SVGPolylineElement, typeof points>("polyline")
      .data(line)
      .join("polyline")
      .attr("data-testid", "cut-line")
      .attr("points", (d) => {
        const pts: string[] = [];
        for (const p of d) pts.push(`${p.x},${p.y - laneH / 2}`, `${p.x},${p.y + laneH / 2}`);
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

  // ------------------------------------------------------------------ legend and arrowheads
  const arrowIds = new Map<string, string>();
  function arrowId(label: string): string {
    return arrowIds.get(label) ?? "plain";
  }

  function addArrow(id: string, colour: string): void {
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
  }

  function buildLegend(trace: Trace): void {
    defs.selectAll("marker").remove();
    arrowIds.clear();
    addArrow("plain", "#888");
    addArrow("backward", backwardColour);
    const counts = new Map<string, number>();
    for (const m of trace.messages) counts.set(m.label, (counts.get(m.label) ?? 0) + 1);
    const phaseOrder = new Map(pbftPhases.map(([l], k) => [l, k]));
    const labels = [...counts.keys()].sort(
      (a, b) => (phaseOrder.get(a) ?? 99) - (phaseOrder.get(b) ?? 99) || a.localeCompare(b),
    );
    legend.replaceChildren();
    labels.forEach((label, k) => {
      arrowIds.set(label, String(k));
      addArrow(String(k), labelColour(label));
      const item = el("button", {
        class: "legend-item",
        "data-label": label,
        title: "show or hide these messages",
      });
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = labelColour(label);
      item.append(swatch, document.createTextNode(`${label} (${counts.get(label)})`));
      item.classList.toggle("off", state.hiddenLabels.has(label));
      item.addEventListener("click", () => {
        if (state.hiddenLabels.has(label)) state.hiddenLabels.delete(label);
        else state.hiddenLabels.add(label);
        item.classList.toggle("off", state.hiddenLabels.has(label));
        scheduleRender();
      });
      legend.append(item);
    });
    const marks = new Set(trace.events.map((e) => e.kind));
    for (const [kind, colour, meaning] of markerKinds) {
      if (!marks.has(kind)) continue;
      const item = el("span", { class: "legend-mark" }, `${markerGlyph[kind]} ${meaning}`);
      item.style.color = colour;
      legend.append(item);
    }
    if (trace.arrows.some((a) => a.dropped)) legend.append(el("span", { class: "legend-mark" }, "✕ dropped"));
    if (trace.byzantine.size > 0) {
      const item = el(
        "span",
        { class: "legend-mark" },
        `☠ Byzantine: ${[...trace.byzantine].map((n) => `n${n}`).join(", ")}`,
      );
      item.style.color = byzantineColour;
      legend.append(item);
    }
  }

  // ------------------------------------------------------------------ selection and cuts
  function select_(e: TraceEvent | undefined): void {
    const trace = state.trace;
    state.selected = e;
    if (e === undefined || trace === undefined) {
      state.relations = undefined;
      details.textContent = "Click an event to see its causal past and future.";
      scheduleRender();
      return;
    }
    const relations = new Map<TraceEvent, Relation>();
    const counts = { past: 0, future: 0, concurrent: 0 };
    for (const x of trace.events) {
      if (x.vt === undefined) continue;
      const r = relation(e, x);
      relations.set(x, r);
      if (r !== "self") counts[r]++;
    }
    state.relations = relations;
    details.replaceChildren(
      el("pre", { "data-testid": "event-detail" }, eventDetail(e)),
      el(
        "p",
        { "data-testid": "selection-summary" },
        `causal past ${counts.past} · causal future ${counts.future} · concurrent ${counts.concurrent}`,
      ),
      el(
        "p",
        { class: "muted" },
        "Blue: its causal past (events that happen before it); orange: its causal future; faded: " +
          "concurrent. Computed from the vector clocks. Click empty space to clear.",
      ),
    );
    scheduleRender();
  }

  function setCut(cut: Cut | undefined): void {
    const trace = state.trace;
    state.cut = cut;
    state.backward = new Set();
    if (cut === undefined || trace === undefined) {
      verdict.hidden = true;
      verdict.textContent = "";
      scheduleRender();
      return;
    }
    const crossing = backwardMessages(trace, cut);
    state.backward = new Set(crossing.map((m) => m.id));
    verdict.hidden = false;
    verdict.classList.toggle("bad", crossing.length > 0);
    verdict.dataset.consistent = String(crossing.length === 0);
    if (crossing.length === 0)
      verdict.textContent = "Consistent cut: every message received inside it was sent inside it.";
    else {
      const shown = crossing
        .slice(0, 5)
        .map((m) => `#${m.id} ${m.label} n${m.from}→n${m.to}`)
        .join(", ");
      verdict.textContent =
        `Inconsistent cut: ${crossing.length} message${crossing.length === 1 ? "" : "s"} received inside it ` +
        `but sent after it (in red): ${shown}${crossing.length > 5 ? ", …" : ""}`;
    }
    scheduleRender();
  }

  function setCutMode(on: boolean): void {
    state.cutMode = on;
    cutButton.setAttribute("aria-pressed", String(on));
    cutButton.classList.toggle("active", on);
    cutReset.hidden = !on && state.cut === undefined;
    root.classList.toggle("cutting", on);
    if (on && state.cut === undefined && state.trace !== undefined) setCut(fullCut(state.trace));
  }

  /**
   * The event under the pointer: the dot's own element in SVG mode; in canvas mode the nearest
   * drawn event on the node line under the pointer, within a few pixels.
   */
  function eventAt(ev: MouseEvent): TraceEvent | undefined {
    const trace = state.trace;
    if (trace === undefined) return undefined;
    const i = (ev.target as Element).getAttribute("data-i");
    if (i !== null) return trace.eventByI.get(Number(i));
    if (root.dataset.mode !== "canvas") return undefined;
    const [px, py] = pointer(ev);
    const lane = Math.floor((py - axisHeight) / laneH);
    const node = trace.nodes[lane];
    if (node === undefined || Math.abs(py - laneY(node)) > 6) return undefined;
    const list = (trace.byNode.get(node) ?? []).filter((e) => e.t <= state.timeT);
    const k = lowerBound(list, xKey, xScale.invert(px));
    let best: TraceEvent | undefined;
    for (const e of [list[k - 1], list[k]]) {
      if (e === undefined) continue;
      const dx = Math.abs(xScale(xKey(e)) - px);
      if (dx <= 5 && (best === undefined || dx < Math.abs(xScale(xKey(best)) - px))) best = e;
    }
    return best;
  }

  svg.on("click", (ev: MouseEvent) => {
    const trace = state.trace;
    if (trace === undefined) return;
    const e = eventAt(ev);
    const laneAttr = (ev.target as Element).getAttribute("data-lane");
    if (state.cutMode) {
      const cut = new Map(state.cut ?? fullCut(trace));
      if (e !== undefined) cut.set(e.node, ownIndex(e));
      else if (laneAttr !== null) {
        const node = Number(laneAttr);
        const [px] = pointer(ev);
        const list = trace.byNode.get(node) ?? [];
        cut.set(node, list.filter((x) => xScale(xKey(x)) <= px).length);
      } else return;
      setCut(cut);
      return;
    }
    select_(e);
  });

  function pointer(ev: MouseEvent): [number, number] {
    const r = (svg.node() as SVGSVGElement).getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  svg.on("pointermove", (ev: PointerEvent) => {
    const e = eventAt(ev);
    if (e === undefined) {
      tooltip.hidden = true;
      return;
    }
    tooltip.hidden = false;
    tooltip.textContent = eventDetail(e);
    tooltip.style.left = `${ev.pageX + 14}px`;
    tooltip.style.top = `${ev.pageY + 10}px`;
  });
  svg.on("pointerleave", () => {
    tooltip.hidden = true;
  });

  // ------------------------------------------------------------------ controls
  fitButton.addEventListener("click", () => {
    svg.call(zoomer.transform as never, zoomIdentity);
  });
  axisSelect.addEventListener("change", () => {
    state.xMode = axisSelect.value as XMode;
    layout();
    svg.call(zoomer.transform as never, zoomIdentity);
    scheduleRender();
  });
  cutButton.addEventListener("click", () => setCutMode(!state.cutMode));
  cutReset.addEventListener("click", () => {
    setCut(undefined);
    setCutMode(false);
    cutReset.hidden = true;
  });
  slider.addEventListener("input", () => {
    state.timeT = Number(slider.value);
    scheduleRender();
  });
  playButton.addEventListener("click", () => {
    const trace = state.trace;
    if (trace === undefined) return;
    if (state.playing) {
      state.playing = false;
      playButton.textContent = "▶ Replay";
      return;
    }
    state.playing = true;
    playButton.textContent = "⏸ Pause";
    if (state.timeT >= trace.tMax) state.timeT = 0;
    // The whole run replays in about 15 seconds, whatever its virtual length.
    const step = trace.tMax / (15 * 60);
    const tick = () => {
      if (!state.playing || state.trace !== trace) return;
      state.timeT = Math.min(trace.tMax, state.timeT + step);
      slider.value = String(state.timeT);
      render();
      if (state.timeT >= trace.tMax) {
        state.playing = false;
        playButton.textContent = "▶ Replay";
      } else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    if (file !== undefined) void file.text().then((text) => load(text, file.name));
  });
  root.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    root.classList.add("dragging");
  });
  root.addEventListener("dragleave", () => root.classList.remove("dragging"));
  root.addEventListener("drop", (ev) => {
    ev.preventDefault();
    root.classList.remove("dragging");
    const file = ev.dataTransfer?.files[0];
    if (file !== undefined) void file.text().then((text) => load(text, file.name));
  });
  new ResizeObserver(() => {
    if (state.trace === undefined) return;
    layout();
    scheduleRender();
  }).observe(box);

  // ------------------------------------------------------------------ loading
  function load(text: string, name: string): void {
    const started = performance.now();
    root.dataset.state = "loading";
    errorBox.hidden = true;
    let trace: Trace;
    try {
      trace = parseTrace(text);
    } catch (e) {
      root.dataset.state = "error";
      errorBox.hidden = false;
      errorBox.textContent = `Cannot show ${name}: ${e instanceof TraceFormatError ? e.message : String(e)}`;
      return;
    }
    state.trace = trace;
    state.name = name;
    state.selected = undefined;
    state.relations = undefined;
    state.cut = undefined;
    state.backward = new Set();
    state.playing = false;
    state.timeT = trace.tMax;
    setCutMode(false);
    setCut(undefined);
    slider.max = String(trace.tMax);
    slider.value = String(trace.tMax);
    notice.hidden = trace.skipped.count === 0;
    notice.textContent =
      trace.skipped.count === 0
        ? ""
        : `${trace.skipped.count} unreadable line${trace.skipped.count === 1 ? "" : "s"} skipped (${trace.skipped.first.join("; ")})`;
    const h = trace.header;
    nameSpan.textContent = h ? `${name}: ${h.protocol}, seed ${h.seed}` : name;
    countSpan.textContent = `${trace.events.length} events, ${trace.messages.length} messages, ${trace.nodes.length} nodes`;
    empty.hidden = true;
    body.hidden = false;
    buildLegend(trace);
    state.transform = zoomIdentity;
    svg.call(zoomer.transform as never, zoomIdentity);
    layout();
    render();
    root.dataset.renderMs = (performance.now() - started).toFixed(1);
    root.dataset.state = "ready";
  }

  body.hidden = true;
  if (config.trace !== null) {
    const name = config.trace.name;
    root.dataset.state = "loading";
    fetch("./api/trace")
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(`server answered ${res.status}`))))
      .then(
        (text) => load(text, name),
        (e: unknown) => {
          root.dataset.state = "error";
          errorBox.hidden = false;
          errorBox.textContent = `Cannot load ${name}: ${String(e)}`;
        },
      );
  }
}
