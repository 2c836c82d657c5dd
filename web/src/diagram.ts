/**
 * The space-time diagram as a component: one line per node, scaled to the trace and the box it
 * sits in, zoomed and panned along the time axis with d3-zoom. Each render draws only what is
 * on screen, and above a threshold of events paints dots and arrows on a canvas (dense.ts)
 * instead of SVG, so runs of many thousands of events stay responsive. It knows nothing of the
 * page around it: it reads what to highlight from the page's state (state.ts) and reports
 * clicks, hovers and renders through hooks.
 */
import { type ScaleLinear, scaleLinear } from "d3-scale";
import { type Selection, select } from "d3-selection";
import { type D3ZoomEvent, type ZoomBehavior, type ZoomTransform, zoom, zoomIdentity } from "d3-zoom";
import { byzantineColour } from "./colors.ts";
import { clearCanvas, sizeCanvas } from "./dense.ts";
import {
  arrowheads,
  axisHeight,
  drawAxis,
  drawCut,
  drawDowntime,
  drawEvents,
  drawLabels,
  drawMarkers,
  drawMessages,
  type Frame,
  gutter,
  lowerBound,
  paintDense,
  visibleArrows,
} from "./layers.ts";
import { nodeRole, type Trace, type TraceEvent } from "./model.ts";
import type { Highlights, XMode } from "./state.ts";

const laneMin = 26;
const laneMax = 56;
/** Above this many events on screen, dots and arrows are painted on a canvas (dense.ts). */
const denseEvents = 1500;

/** A click on the diagram: on an event, else on a node line, else on neither (both absent). */
export interface DiagramClick {
  event?: TraceEvent;
  /** The node line under the pointer, and how many of its stamped events lie left of it. */
  lane?: { node: number; eventsBefore: number };
}

export interface DiagramHooks {
  click(hit: DiagramClick): void;
  /** The event under the pointer as it moves; undefined off events and when it leaves. */
  hover(e: TraceEvent | undefined, ev: MouseEvent): void;
  /** After each render: the events on screen, and whether the canvas drew them. */
  rendered(onScreen: number, dense: boolean): void;
}

export interface Diagram {
  /** Shows a new trace, zoomed out to all of it, and draws it at once. */
  setTrace(trace: Trace): void;
  /** Switches the x axis between event order and virtual time, zoomed out. */
  setXMode(mode: XMode): void;
  /** Zooms out to the whole run. */
  fit(): void;
  render(): void;
  /** Renders on the next animation frame, once however often it is asked for. */
  scheduleRender(): void;
}

export function createDiagram(box: HTMLElement, marks: Readonly<Highlights>, hooks: DiagramHooks): Diagram {
  let trace: Trace | undefined;
  let xMode: XMode = "order";
  let transform: ZoomTransform = zoomIdentity;
  let dense = false;
  let arrowIds = new Map<string, string>();

  const svg = select(box).append("svg").attr("class", "diagram");
  // On top of the SVG, ignoring the pointer: dots and arrows of dense views (dense.ts).
  const denseCanvas = document.createElement("canvas");
  denseCanvas.setAttribute("class", "dense");
  denseCanvas.setAttribute("data-testid", "dense-canvas");
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
  const xKey = (e: TraceEvent) => (xMode === "order" ? e.i : e.t);
  const laneIndex = new Map<number, number>();
  const laneY = (node: number) => axisHeight + ((laneIndex.get(node) ?? 0) + 0.5) * laneH;

  const zoomer: ZoomBehavior<SVGSVGElement, unknown> = zoom<SVGSVGElement, unknown>()
    .scaleExtent([1, 1])
    .on("zoom", (ev: D3ZoomEvent<SVGSVGElement, unknown>) => {
      transform = ev.transform;
      scheduleRender();
    });
  (svg as unknown as Selection<SVGSVGElement, unknown, null, undefined>)
    .call(zoomer)
    .on("dblclick.zoom", null);

  /** Fits the lanes to the window's height and the axis to the box's width. */
  function layout(): void {
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
    // Invisible bands over the lines: what a click in cut mode lands on.
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

  function render(): void {
    if (trace === undefined) return;
    xScale = transform.rescaleX(base);
    const f: Frame = { x: xScale, key: xKey, laneY, laneH, width, xMode, marks };
    drawAxis(axisG, f);
    const evs = visibleEvents(trace).filter((e) => e.t <= marks.timeT);
    const stamped = evs.filter((e) => e.vt !== undefined);
    dense = stamped.length > denseEvents;
    const arrows = visibleArrows(trace, f);
    drawEvents(evG, f, dense ? [] : stamped);
    drawMessages(msgG, markG, f, dense ? [] : arrows, arrowIds);
    if (dense) paintDense(denseCanvas, f, stamped, arrows);
    else clearCanvas(denseCanvas);
    drawMarkers(markG, f, evs);
    drawLabels(textG, f, dense ? [] : stamped);
    drawDowntime(downG, f, trace);
    drawCut(cutG, f, trace);
    hooks.rendered(stamped.length, dense);
  }

  // ------------------------------------------------------------------ pointer
  function pointer(ev: MouseEvent): [number, number] {
    const r = (svg.node() as SVGSVGElement).getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  /**
   * The event under the pointer: the dot's own element in SVG mode; in canvas mode the nearest
   * drawn event on the node line under the pointer, within a few pixels.
   */
  function eventAt(ev: MouseEvent): TraceEvent | undefined {
    if (trace === undefined) return undefined;
    const i = (ev.target as Element).getAttribute("data-i");
    if (i !== null) return trace.eventByI.get(Number(i));
    if (!dense) return undefined;
    const [px, py] = pointer(ev);
    const lane = Math.floor((py - axisHeight) / laneH);
    const node = trace.nodes[lane];
    if (node === undefined || Math.abs(py - laneY(node)) > 6) return undefined;
    const list = (trace.byNode.get(node) ?? []).filter((e) => e.t <= marks.timeT);
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
    if (trace === undefined) return;
    const event = eventAt(ev);
    if (event !== undefined) return hooks.click({ event });
    const laneAttr = (ev.target as Element).getAttribute("data-lane");
    if (laneAttr === null) return hooks.click({});
    const node = Number(laneAttr);
    const [px] = pointer(ev);
    const list = trace.byNode.get(node) ?? [];
    hooks.click({ lane: { node, eventsBefore: list.filter((x) => xScale(xKey(x)) <= px).length } });
  });
  svg.on("pointermove", (ev: PointerEvent) => hooks.hover(eventAt(ev), ev));
  svg.on("pointerleave", (ev: PointerEvent) => hooks.hover(undefined, ev));

  new ResizeObserver(() => {
    if (trace === undefined) return;
    layout();
    scheduleRender();
  }).observe(box);

  return {
    setTrace(t: Trace): void {
      trace = t;
      arrowIds = arrowheads(defs, t);
      transform = zoomIdentity;
      svg.call(zoomer.transform as never, zoomIdentity);
      layout();
      render();
    },
    setXMode(mode: XMode): void {
      xMode = mode;
      layout();
      svg.call(zoomer.transform as never, zoomIdentity);
      scheduleRender();
    },
    fit(): void {
      svg.call(zoomer.transform as never, zoomIdentity);
    },
    render,
    scheduleRender,
  };
}
