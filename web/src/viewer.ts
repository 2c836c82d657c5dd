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
 *
 * This file is the page around the diagram: toolbar, file loading, legend, replay, selection
 * details, cut verdict and tooltip. The drawing itself is diagram.ts (zoom, layout, hit testing)
 * and layers.ts (what each layer looks like); they share the state of state.ts.
 */
import type { UiConfig } from "../../src/ui/api.ts";
import { byzantineColour, labelColour, markerKinds } from "./colors.ts";
import { createDiagram, type DiagramClick } from "./diagram.ts";
import { el } from "./dom.ts";
import { markerGlyph, messageLabels } from "./layers.ts";
import {
  backwardMessages,
  type Cut,
  formatVt,
  fullCut,
  ownIndex,
  parseTrace,
  type Relation,
  relation,
  type Trace,
  type TraceEvent,
  TraceFormatError,
} from "./model.ts";
import type { ViewerState, XMode } from "./state.ts";

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

export function mountViewer(root: HTMLElement, config: UiConfig): void {
  root.classList.add("viewer");
  const state: ViewerState = {
    name: "",
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

  const diagram = createDiagram(box, state, {
    click: onDiagramClick,
    hover(e, ev) {
      if (e === undefined) {
        tooltip.hidden = true;
        return;
      }
      tooltip.hidden = false;
      tooltip.textContent = eventDetail(e);
      tooltip.style.left = `${ev.pageX + 14}px`;
      tooltip.style.top = `${ev.pageY + 10}px`;
    },
    rendered(onScreen, dense) {
      root.dataset.mode = dense ? "canvas" : "svg";
      const tMax = (state.trace as Trace).tMax;
      timeLabel.textContent =
        `t = ${state.timeT.toFixed(1)} ms of ${tMax.toFixed(1)} · ${onScreen} events on screen` +
        (dense ? " (zoom in to label and pick single events)" : "");
    },
  });

  // ------------------------------------------------------------------ legend
  function buildLegend(trace: Trace): void {
    legend.replaceChildren();
    for (const [label, count] of messageLabels(trace)) {
      const item = el("button", {
        class: "legend-item",
        "data-label": label,
        title: "show or hide these messages",
      });
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = labelColour(label);
      item.append(swatch, document.createTextNode(`${label} (${count})`));
      item.classList.toggle("off", state.hiddenLabels.has(label));
      item.addEventListener("click", () => {
        if (state.hiddenLabels.has(label)) state.hiddenLabels.delete(label);
        else state.hiddenLabels.add(label);
        item.classList.toggle("off", state.hiddenLabels.has(label));
        diagram.scheduleRender();
      });
      legend.append(item);
    }
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
      diagram.scheduleRender();
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
    diagram.scheduleRender();
  }

  function setCut(cut: Cut | undefined): void {
    const trace = state.trace;
    state.cut = cut;
    state.backward = new Set();
    if (cut === undefined || trace === undefined) {
      verdict.hidden = true;
      verdict.textContent = "";
      diagram.scheduleRender();
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
    diagram.scheduleRender();
  }

  function setCutMode(on: boolean): void {
    state.cutMode = on;
    cutButton.setAttribute("aria-pressed", String(on));
    cutButton.classList.toggle("active", on);
    cutReset.hidden = !on && state.cut === undefined;
    root.classList.toggle("cutting", on);
    if (on && state.cut === undefined && state.trace !== undefined) setCut(fullCut(state.trace));
  }

  /** In cut mode a click moves that node's point of the cut; otherwise it selects (or clears). */
  function onDiagramClick({ event, lane }: DiagramClick): void {
    const trace = state.trace;
    if (trace === undefined) return;
    if (state.cutMode) {
      const cut = new Map(state.cut ?? fullCut(trace));
      if (event !== undefined) cut.set(event.node, ownIndex(event));
      else if (lane !== undefined) cut.set(lane.node, lane.eventsBefore);
      else return;
      setCut(cut);
      return;
    }
    select_(event);
  }

  // ------------------------------------------------------------------ controls
  fitButton.addEventListener("click", () => diagram.fit());
  axisSelect.addEventListener("change", () => diagram.setXMode(axisSelect.value as XMode));
  cutButton.addEventListener("click", () => setCutMode(!state.cutMode));
  cutReset.addEventListener("click", () => {
    setCut(undefined);
    setCutMode(false);
    cutReset.hidden = true;
  });
  slider.addEventListener("input", () => {
    state.timeT = Number(slider.value);
    diagram.scheduleRender();
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
      diagram.render();
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
    diagram.setTrace(trace);
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
