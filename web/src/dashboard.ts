/**
 * The live cluster dashboard (#cluster): polls ./api/cluster once a second (the next poll starts
 * a second after the previous one began, never before it ended) and shows, per replica, its
 * view, whether it is the primary, last executed sequence, stable checkpoint, throughput and
 * latency; above them the cluster's view and primary, a throughput sparkline of the last minute
 * and an event log of view changes and replicas going down and up.
 *
 * Definitions (shown on the page too):
 * - throughput of a replica: requests it executed per second, the delta of its
 *   phalanx_pbft_requests_executed_total counter between two snapshots over the delta of their
 *   timestamps;
 * - latency p50 / p99: from the delta of the replica's request-latency histogram over the last
 *   interval, reported as the upper bound of the bucket the quantile falls in ("≤ 5 ms");
 * - cluster view: the highest view that at least f+1 up replicas have reached, so at least one
 *   correct replica vouches for it and a single lying replica cannot inflate it; with fewer
 *   than f+1 replicas up, the highest view any up replica reports (marked unconfirmed);
 * - cluster primary: replica (view mod n), PBFT's rule;
 * - cluster throughput: likewise the (f+1)-th highest replica rate.
 *
 * Everything a replica sent is put on the page with textContent, never as markup.
 */
import type { ClusterSnapshot, HistogramSnapshot, ReplicaSnapshot, UiConfig } from "../../src/ui/api.ts";
import "./dashboard.css";
import { el } from "./dom.ts";

const pollIntervalMs = 1000;
const pollTimeoutMs = 5000;
const historyMs = 60_000;
const logLinesMax = 500;
const svgNs = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- computations (pure)

/** Requests executed per second between two scrapes of one replica, or null when unknown. */
export function replicaRate(
  prev: ReplicaSnapshot | undefined,
  prevAt: number,
  cur: ReplicaSnapshot,
  curAt: number,
): number | null {
  const a = prev?.metrics?.requestsExecuted;
  const b = cur.metrics?.requestsExecuted;
  const dt = (curAt - prevAt) / 1000;
  // A counter that went backwards is a restarted replica: no rate for this interval.
  if (a === undefined || b === undefined || dt <= 0 || b < a) return null;
  return (b - a) / dt;
}

/** The quantile's bucket over the interval between two scrapes of a histogram. */
export type QuantileEstimate = { kind: "le"; bound: number } | { kind: "above"; bound: number } | null;

export function histogramQuantile(
  prev: HistogramSnapshot | null | undefined,
  cur: HistogramSnapshot | null | undefined,
  q: number,
): QuantileEstimate {
  if (cur === null || cur === undefined) return null;
  const before = new Map((prev?.buckets ?? []).map((b) => [b.le, b.count]));
  const total = cur.count - (prev?.count ?? 0);
  if (!(total > 0)) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  for (const b of cur.buckets) {
    const inBucket = b.count - (before.get(b.le) ?? 0);
    if (inBucket >= rank) return { kind: "le", bound: b.le };
  }
  const last = cur.buckets[cur.buckets.length - 1];
  return last === undefined ? null : { kind: "above", bound: last.le };
}

function formatQuantile(e: QuantileEstimate): string {
  if (e === null) return "—";
  return e.kind === "le" ? `≤ ${e.bound} ms` : `> ${e.bound} ms`;
}

/** The (k+1)-th highest of `values` (k = f), or the highest when there are too few. */
function fPlusOneth(values: number[], f: number): { value: number; confirmed: boolean } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => b - a);
  const at = sorted[f];
  return at === undefined ? { value: sorted[0] as number, confirmed: false } : { value: at, confirmed: true };
}

export interface ClusterSummary {
  view: number | null;
  confirmed: boolean;
  primary: number | null;
  /** At least f+1 up replicas in the cluster view report status "normal". */
  normal: boolean;
  up: number;
}

export function summarize(snap: ClusterSnapshot): ClusterSummary {
  const up = snap.replicas.filter((r) => r.up && r.status !== null);
  const v = fPlusOneth(
    up.map((r) => r.status?.view ?? 0),
    snap.f,
  );
  if (v === null) return { view: null, confirmed: false, primary: null, normal: false, up: 0 };
  const normalAtView = up.filter((r) => r.status?.view === v.value && r.status.status === "normal").length;
  return {
    view: v.value,
    confirmed: v.confirmed,
    primary: snap.n > 0 ? v.value % snap.n : null,
    normal: normalAtView >= Math.min(snap.f + 1, up.length),
    up: up.length,
  };
}

// ---------------------------------------------------------------- DOM helpers

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function formatRate(r: number | null): string {
  if (r === null) return "—";
  return r >= 100 ? `${Math.round(r)}/s` : `${r.toFixed(1)}/s`;
}

const columns: Array<[field: string, title: string, tip?: string]> = [
  ["id", "Replica"],
  ["up", "State", "up: /status answered; starting; down: no valid answer (hover for the reason)"],
  ["primary", "Role"],
  ["view", "View"],
  ["mode", "Mode", "normal, or view-change while the replica is changing views"],
  ["lastExecuted", "Last executed", "sequence number of the last batch executed"],
  ["stableCheckpoint", "Stable checkpoint"],
  ["throughput", "Throughput", "requests executed per second over the last interval"],
  ["latencyP50", "Latency p50", "upper bound of the histogram bucket holding the median, last interval"],
  ["latencyP99", "Latency p99", "upper bound of the histogram bucket holding the 99th percentile"],
  ["viewChanges", "View changes", "view changes this replica started (counter)"],
  ["peers", "Links", "replicas this one has a live link to"],
  ["byzantine", "Byzantine"],
  ["error", "Error"],
];

// ---------------------------------------------------------------- the dashboard

export function mountDashboard(root: HTMLElement, config: UiConfig): () => void {
  root.replaceChildren();
  root.classList.add("dashboard");
  if (config.cluster === null) {
    const empty = el("div", { class: "empty", "data-testid": "no-cluster" });
    empty.append(
      el("p", {}, "No cluster to show: this UI server was started without one."),
      el("p", {}, "Start it with the configuration of a running cluster:"),
      el("pre", {}, "npx phalanx ui --cluster data/cluster.json"),
    );
    root.append(empty);
    return () => {};
  }
  const { path, replicas: n, f } = config.cluster;

  // Header.
  const head = el("div", { class: "dash-head" });
  head.append(
    el("h2", {}, "Cluster"),
    el("span", { class: "muted", "data-testid": "cluster-path" }, path),
    el("span", { class: "muted" }, `${n} replicas, f = ${f}`),
  );
  const updated = el("span", { class: "muted dash-updated", "data-testid": "updated" }, "connecting…");
  head.append(updated);
  const banner = el("div", { class: "error dash-banner", "data-testid": "poll-error", role: "alert" });
  banner.hidden = true;

  // Summary cards.
  const cards = el("div", { class: "dash-cards" });
  const card = (label: string, testid: string, tip: string) => {
    const c = el("div", { class: "dash-card", title: tip });
    const value = el("div", { class: "dash-card-value", "data-testid": testid }, "—");
    const note = el("div", { class: "dash-card-note muted" });
    c.append(el("div", { class: "dash-card-label" }, label), value, note);
    cards.append(c);
    return { card: c, value, note };
  };
  const viewCard = card(
    "View",
    "cluster-view",
    `the highest view at least f+1 = ${f + 1} up replicas have reached`,
  );
  const primaryCard = card("Primary", "cluster-primary", "replica (view mod n)");
  const upCard = card("Replicas up", "cluster-up", "replicas whose /status answered");
  const rateCard = card(
    "Throughput",
    "cluster-throughput",
    `requests executed per second: the rate at least f+1 = ${f + 1} replicas reach`,
  );
  const sparkCard = el("div", { class: "dash-card dash-spark-card" });
  const spark = document.createElementNS(svgNs, "svg");
  spark.setAttribute("class", "dash-spark");
  spark.setAttribute("data-testid", "sparkline");
  spark.setAttribute("viewBox", "0 0 240 48");
  spark.setAttribute("preserveAspectRatio", "none");
  const sparkPath = document.createElementNS(svgNs, "polyline");
  spark.append(sparkPath);
  const sparkMax = el("div", { class: "dash-card-note muted" }, "throughput, last 60 s");
  sparkCard.append(el("div", { class: "dash-card-label" }, "Last minute"), spark, sparkMax);
  cards.append(sparkCard);

  const defs = el(
    "p",
    { class: "muted dash-defs" },
    `Cluster view: the highest view that at least f+1 = ${f + 1} up replicas have reached (one lying replica ` +
      "cannot inflate it); primary = view mod n. Throughput: requests executed per second from the " +
      "counter delta between two snapshots. Latency: bucket upper bound of the quantile, from the " +
      "histogram delta over the last interval.",
  );

  // Table.
  const table = el("table", { class: "dash-table", "data-testid": "replicas" });
  const headRow = el("tr");
  for (const [field, title, tip] of columns)
    headRow.append(el("th", { "data-field": field, ...(tip ? { title: tip } : {}) }, title));
  table.append(el("thead"), el("tbody"));
  table.tHead?.append(headRow);
  const tbody = table.tBodies[0] as HTMLTableSectionElement;
  const rows = new Map<number, { tr: HTMLTableRowElement; cells: Map<string, HTMLTableCellElement> }>();
  const rowFor = (id: number) => {
    let row = rows.get(id);
    if (row === undefined) {
      const tr = el("tr", { "data-replica": String(id) });
      const cells = new Map<string, HTMLTableCellElement>();
      for (const [field] of columns) {
        const td = el("td", { "data-field": field });
        cells.set(field, td);
        tr.append(td);
      }
      row = { tr, cells };
      rows.set(id, row);
      // Keep rows in id order whatever order replicas first appear in.
      const after = [...tbody.rows].find((r) => Number(r.dataset.replica) > id);
      tbody.insertBefore(tr, after ?? null);
    }
    return row;
  };
  for (let id = 0; id < n; id++) rowFor(id);

  // Event log.
  const logBox = el("div", { class: "dash-log-box" });
  const log = el("ol", { class: "dash-log", "data-testid": "event-log" });
  logBox.append(el("h3", {}, "Events"), log);
  const addEvent = (at: number, kind: string, text: string) => {
    const li = el("li", { "data-kind": kind });
    li.append(
      el("time", { datetime: new Date(at).toISOString() }, clock(at)),
      document.createTextNode(` ${text}`),
    );
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(li);
    while (log.childElementCount > logLinesMax) log.firstElementChild?.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  };

  const body = el("div", { class: "dash-body" });
  const main = el("div", { class: "dash-main" });
  main.append(table, defs);
  body.append(main, logBox);
  root.append(head, banner, cards, body);

  // State between snapshots.
  let prev: ClusterSnapshot | undefined;
  let prevSummary: ClusterSummary | undefined;
  const history: Array<{ at: number; rate: number }> = [];
  let failing = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drawSparkline = (now: number) => {
    while (history.length > 0 && (history[0] as { at: number }).at < now - historyMs) history.shift();
    const max = Math.max(1, ...history.map((h) => h.rate));
    const points = history.map(
      (h) =>
        `${(((h.at - (now - historyMs)) / historyMs) * 240).toFixed(1)},${(46 - (h.rate / max) * 44).toFixed(1)}`,
    );
    sparkPath.setAttribute("points", points.join(" "));
    sparkMax.textContent = `throughput, last 60 s (peak ${formatRate(history.length ? max : null)})`;
  };

  const render = (snap: ClusterSnapshot) => {
    const prevById = new Map((prev?.replicas ?? []).map((r) => [r.id, r]));
    const rates: number[] = [];
    for (const r of snap.replicas) {
      const { tr, cells } = rowFor(r.id);
      const set = (field: string, text: string, title?: string) => {
        const td = cells.get(field);
        if (td === undefined) return;
        if (td.textContent !== text) td.textContent = text;
        if (title !== undefined) td.title = title;
        else td.removeAttribute("title");
      };
      const s = r.status;
      const p = prevById.get(r.id);
      const rate = prev === undefined ? null : replicaRate(p, prev.timestamp, r, snap.timestamp);
      if (rate !== null && r.up) rates.push(rate);
      tr.dataset.state = r.state;
      tr.dataset.up = String(r.up);
      tr.dataset.primary = String(s?.isPrimary === true);
      tr.classList.toggle("down", r.state === "down");
      tr.classList.toggle("starting", r.state === "starting");
      tr.classList.toggle("is-primary", s?.isPrimary === true);
      tr.classList.toggle("byzantine", (s?.byzantine ?? null) !== null);
      tr.classList.toggle("view-change", s?.status === "view-change");
      set("id", String(r.id), r.address);
      set("up", r.state, r.error ?? undefined);
      set("primary", s === null ? "—" : s.isPrimary ? "★ primary" : `backup (→ ${s.primary})`);
      set("view", s === null ? "—" : String(s.view));
      set("mode", s === null ? "—" : s.status);
      set("lastExecuted", s === null ? "—" : String(s.lastExecuted));
      set("stableCheckpoint", s === null ? "—" : String(s.stableCheckpoint));
      set("throughput", r.up ? formatRate(rate) : "—");
      // Quantiles of the last interval only (none on the first snapshot: that would be lifetime).
      for (const [field, q] of [
        ["latencyP50", 0.5],
        ["latencyP99", 0.99],
      ] as const) {
        const e =
          r.up && prev !== undefined ? histogramQuantile(p?.metrics?.latency, r.metrics?.latency, q) : null;
        set(
          field,
          formatQuantile(e),
          e === null ? "no request answered by this replica in the interval" : undefined,
        );
      }
      set("viewChanges", r.metrics === null ? "—" : String(r.metrics.viewChangesStarted));
      set("peers", s === null ? "—" : s.peers.length === 0 ? "none" : s.peers.join(", "));
      set("byzantine", s?.byzantine ? `⚠ ${s.byzantine}` : "");
      set("error", r.error ?? "", r.error ?? undefined);
    }

    const sum = summarize(snap);
    viewCard.value.textContent = sum.view === null ? "—" : String(sum.view);
    viewCard.note.textContent =
      sum.view === null
        ? "no replica up"
        : !sum.confirmed
          ? `unconfirmed: fewer than ${snap.f + 1} replicas up`
          : sum.normal
            ? "normal operation"
            : "view change in progress";
    viewCard.card.classList.toggle("warn", sum.view !== null && (!sum.normal || !sum.confirmed));
    primaryCard.value.textContent = sum.primary === null ? "—" : String(sum.primary);
    const primaryRow = snap.replicas.find((r) => r.id === sum.primary);
    const primaryDown = primaryRow !== undefined && !primaryRow.up;
    primaryCard.note.textContent = sum.primary === null ? "" : primaryDown ? "primary is down" : "";
    primaryCard.card.classList.toggle("bad", primaryDown);
    upCard.value.textContent = `${sum.up} / ${snap.n}`;
    upCard.note.textContent =
      sum.up >= 2 * snap.f + 1 ? "quorum available" : `no quorum: needs ${2 * snap.f + 1} up`;
    upCard.card.classList.toggle("bad", sum.up < 2 * snap.f + 1);
    const clusterRate = fPlusOneth(rates, snap.f);
    rateCard.value.textContent = formatRate(clusterRate === null ? null : clusterRate.value);
    if (clusterRate !== null) history.push({ at: snap.timestamp, rate: clusterRate.value });
    drawSparkline(snap.timestamp);

    // Events.
    const at = snap.timestamp;
    if (prev === undefined) {
      addEvent(
        at,
        "start",
        sum.view === null
          ? "watching the cluster: no replica up"
          : `watching the cluster: view ${sum.view}, primary ${sum.primary}, ${sum.up} of ${snap.n} replicas up`,
      );
      for (const r of snap.replicas)
        if (!r.up)
          addEvent(
            at,
            r.state === "starting" ? "starting" : "down",
            `replica ${r.id} is ${r.state}${r.error && r.state === "down" ? ` (${r.error})` : ""}`,
          );
    } else {
      for (const r of snap.replicas) {
        const p = prevById.get(r.id);
        if (p === undefined || p.state === r.state) continue;
        if (r.state === "down") addEvent(at, "down", `replica ${r.id} down${r.error ? ` (${r.error})` : ""}`);
        else if (r.state === "up") addEvent(at, "up", `replica ${r.id} up (view ${r.status?.view})`);
        else addEvent(at, "starting", `replica ${r.id} starting`);
      }
      const was = prevSummary;
      if (was !== undefined && sum.view !== null) {
        if (was.view !== null && sum.view !== was.view)
          addEvent(at, "view", `view ${was.view} → ${sum.view}: primary ${was.primary} → ${sum.primary}`);
        else if (was.view === null) addEvent(at, "view", `view ${sum.view}: primary ${sum.primary}`);
        if (was.normal && !sum.normal)
          addEvent(at, "view-change", `view change in progress (view ${sum.view})`);
        if (was.view !== null && !was.normal && sum.normal)
          addEvent(at, "new-view", `view ${sum.view} active: primary ${sum.primary}`);
      }
    }
    updated.textContent = `updated ${clock(at)}`;
    prev = snap;
    prevSummary = sum;
  };

  const poll = async () => {
    const began = performance.now();
    try {
      const res = await fetch("./api/cluster", {
        cache: "no-store",
        signal: AbortSignal.timeout(pollTimeoutMs),
      });
      if (!res.ok) {
        let why = `HTTP ${res.status}`;
        try {
          const j = (await res.json()) as { error?: unknown };
          if (typeof j.error === "string") why += `: ${j.error}`;
        } catch {
          // Not JSON: the status says enough.
        }
        throw new Error(why);
      }
      const snap = (await res.json()) as ClusterSnapshot;
      if (
        typeof snap !== "object" ||
        snap === null ||
        !Array.isArray(snap.replicas) ||
        typeof snap.timestamp !== "number"
      )
        throw new Error("the server answered something that is not a cluster snapshot");
      if (stopped) return;
      render(snap);
      if (failing) {
        failing = false;
        banner.hidden = true;
        root.classList.remove("stale");
        addEvent(Date.now(), "ui", "UI server reachable again");
      }
    } catch (e) {
      if (stopped) return;
      const why =
        e instanceof Error
          ? e.name === "TimeoutError"
            ? `no answer within ${pollTimeoutMs} ms`
            : e.message
          : String(e);
      banner.textContent = `Cannot get the cluster's state from the UI server (${why}). The figures below are stale; retrying every second.`;
      banner.hidden = false;
      root.classList.add("stale");
      if (!failing) addEvent(Date.now(), "ui", `UI server unreachable: ${why}`);
      failing = true;
    } finally {
      if (!stopped) timer = setTimeout(poll, Math.max(0, pollIntervalMs - (performance.now() - began)));
    }
  };
  void poll();

  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
