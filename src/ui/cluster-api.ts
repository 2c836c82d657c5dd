/**
 * GET /api/cluster for the live dashboard: every replica's /status and /metrics, fetched in
 * parallel with a short timeout. A replica that does not answer, answers an HTTP error, or
 * answers something that is not what a replica serves is reported as down with the reason;
 * nothing a replica sends can make the snapshot fail or grow without bound.
 *
 * The Prometheus text exposition format (0.0.4) is read by a small parser: samples
 * `name{label="value",...} value [timestamp]`, `# TYPE` lines, other comments ignored,
 * malformed lines skipped and counted.
 */
import { z } from "zod";
import type { ClusterConfig, ReplicaEntry } from "../runtime/config.ts";
import type {
  ClusterSnapshot,
  HistogramSnapshot,
  ReplicaMetricsInfo,
  ReplicaSnapshot,
  ReplicaStatusInfo,
} from "./api.ts";

/** How long one replica may take to answer one request (ms). */
export const scrapeTimeoutMs = 800;
/** Largest /status body read (bytes); a status is a few hundred. */
const statusBytesMax = 64 * 1024;
/** Largest /metrics body read (bytes). */
const metricsBytesMax = 4 * 1024 * 1024;
/** Longest error text passed on from a replica. */
const errorCharsMax = 300;

// ---------------------------------------------------------------- Prometheus text parser

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromParsed {
  samples: PromSample[];
  /** `# TYPE name type` declarations. */
  types: Map<string, string>;
  /** Lines that are neither blank, a comment, nor a well-formed sample. */
  malformed: number;
}

const metricNameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const labelNameRe = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A sample value: a float, or +Inf / -Inf / NaN as Prometheus writes them. */
export function parsePromValue(text: string): number | undefined {
  switch (text) {
    case "+Inf":
    case "Inf":
      return Number.POSITIVE_INFINITY;
    case "-Inf":
      return Number.NEGATIVE_INFINITY;
    case "NaN":
      return Number.NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** The label set at the start of `s` (which begins with "{"), and the rest after "}". */
function parseLabels(s: string): { labels: Record<string, string>; rest: string } | undefined {
  // Pairs, then Object.fromEntries: a label named __proto__ becomes an ordinary property.
  const pairs: Array<[string, string]> = [];
  let i = 1;
  for (;;) {
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] === "}") return { labels: Object.fromEntries(pairs), rest: s.slice(i + 1) };
    const name = labelNameRe.exec(s.slice(i))?.[0];
    if (name === undefined) return undefined;
    i += name.length;
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== "=") return undefined;
    i++;
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== '"') return undefined;
    i++;
    let value = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i + 1];
        if (e === "n") value += "\n";
        else if (e === "\\" || e === '"') value += e;
        else return undefined;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    pairs.push([name, value]);
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") return undefined;
  }
}

/** One sample line, or undefined when it is malformed. */
export function parsePromLine(line: string): PromSample | undefined {
  const name = metricNameRe.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    const l = parseLabels(rest);
    if (l === undefined) return undefined;
    labels = l.labels;
    rest = l.rest;
  }
  if (!/^[ \t]/.test(rest)) return undefined;
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2) return undefined;
  const value = parsePromValue(fields[0] as string);
  if (value === undefined) return undefined;
  if (fields.length === 2 && !/^-?\d+$/.test(fields[1] as string)) return undefined;
  return { name, labels, value };
}

/** Parses a whole exposition. Never throws. */
export function parsePrometheus(text: string): PromParsed {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  let malformed = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#[ \t]+TYPE[ \t]+(\S+)[ \t]+(\S+)[ \t]*$/.exec(line);
      if (m !== null) types.set(m[1] as string, m[2] as string);
      else if (/^#[ \t]+TYPE\b/.test(line)) malformed++;
      continue;
    }
    const s = parsePromLine(line);
    if (s === undefined) malformed++;
    else samples.push(s);
  }
  return { samples, types, malformed };
}

/** The value of the first sample named `name` with no labels, or undefined. */
export function promValue(parsed: PromParsed, name: string): number | undefined {
  for (const s of parsed.samples) if (s.name === name && Object.keys(s.labels).length === 0) return s.value;
  return undefined;
}

/**
 * The histogram `name` (its `_bucket{le=...}`, `_sum` and `_count` samples), or undefined when it
 * has no buckets. Buckets are sorted by bound; a bucket whose `le` does not parse is skipped;
 * `count` is `_count`, else the +Inf bucket, else the largest cumulative count.
 */
export function promHistogram(parsed: PromParsed, name: string): HistogramSnapshot | undefined {
  const buckets: Array<{ le: number; count: number }> = [];
  let inf: number | undefined;
  let sum: number | undefined;
  let count: number | undefined;
  for (const s of parsed.samples) {
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le === undefined ? undefined : parsePromValue(s.labels.le);
      if (le === undefined || Number.isNaN(le) || !Number.isFinite(s.value)) continue;
      if (le === Number.POSITIVE_INFINITY) inf = s.value;
      else buckets.push({ le, count: s.value });
    } else if (s.name === `${name}_sum` && sum === undefined) sum = s.value;
    else if (s.name === `${name}_count` && count === undefined) count = s.value;
  }
  if (buckets.length === 0 && inf === undefined) return undefined;
  buckets.sort((a, b) => a.le - b.le);
  const total = count ?? inf ?? Math.max(0, ...buckets.map((b) => b.count));
  return {
    buckets,
    count: Number.isFinite(total) ? total : 0,
    sum: sum !== undefined && Number.isFinite(sum) ? sum : 0,
  };
}

/** The dashboard's figures from a replica's /metrics text. */
export function replicaMetrics(text: string): ReplicaMetricsInfo {
  const parsed = parsePrometheus(text);
  const counter = (name: string) => {
    const v = promValue(parsed, name);
    return v !== undefined && Number.isFinite(v) ? v : 0;
  };
  return {
    requestsExecuted: counter("phalanx_pbft_requests_executed_total"),
    batchesExecuted: counter("phalanx_pbft_batches_executed_total"),
    viewChangesStarted: counter("phalanx_pbft_view_changes_started_total"),
    newViewsEntered: counter("phalanx_pbft_new_views_entered_total"),
    latency: promHistogram(parsed, "phalanx_pbft_request_latency_ms") ?? null,
    malformedLines: parsed.malformed,
  };
}

// ---------------------------------------------------------------- scraping

const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const statusSchema = z.object({
  id: nat,
  view: nat,
  primary: nat,
  isPrimary: z.boolean(),
  status: z.string().max(64),
  lastExecuted: nat,
  stableCheckpoint: nat,
  peers: z.array(nat).max(10_000),
  clients: nat,
  byzantine: z.string().max(200).nullable(),
  keys: z.number().int(),
});

function errorText(e: unknown): string {
  let text: string;
  if (e instanceof Error) {
    if (e.name === "TimeoutError" || e.name === "AbortError") text = `no answer within ${scrapeTimeoutMs} ms`;
    else {
      // fetch() wraps the socket error: "fetch failed" (cause: connect ECONNREFUSED ...).
      const cause = (e as Error & { cause?: unknown }).cause;
      const why =
        cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : undefined;
      text = why === undefined ? e.message : `${e.message}: ${why}`;
    }
  } else text = String(e);
  return text.length > errorCharsMax ? `${text.slice(0, errorCharsMax)}...` : text;
}

/** The body of `url` as text, at most `maxBytes`; throws (with a readable message) otherwise. */
async function fetchText(url: string, maxBytes: number, signal: AbortSignal): Promise<string> {
  const res = await fetch(url, { signal, redirect: "error" });
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${res.status}`);
  }
  const reader = res.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`answer larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function httpBase(r: ReplicaEntry): string {
  const host = r.host.includes(":") ? `[${r.host}]` : r.host;
  return `http://${host}:${r.httpPort}`;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

async function attempt<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

/** One replica's /status and /metrics; never throws. */
export async function scrapeReplica(
  id: number,
  address: string,
  timeoutMs = scrapeTimeoutMs,
): Promise<ReplicaSnapshot> {
  const began = performance.now();
  const [statusOut, metricsOut] = await Promise.all([
    attempt(async () => {
      const text = await fetchText(`${address}/status`, statusBytesMax, AbortSignal.timeout(timeoutMs));
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new Error("/status is not JSON");
      }
      if (typeof json === "object" && json !== null && (json as { starting?: unknown }).starting === true)
        return "starting" as const;
      const parsed = statusSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(
          `/status is not a replica status (${issue?.path.join(".") || "top"}: ${issue?.message})`,
        );
      }
      const { id: answeredAs, ...status } = parsed.data;
      if (answeredAs !== id) throw new Error(`answers as replica ${answeredAs}, not ${id}`);
      return status satisfies ReplicaStatusInfo;
    }),
    attempt(async () =>
      replicaMetrics(await fetchText(`${address}/metrics`, metricsBytesMax, AbortSignal.timeout(timeoutMs))),
    ),
  ]);
  const elapsedMs = Math.round(performance.now() - began);
  const metrics = metricsOut.ok ? metricsOut.value : null;
  if (!statusOut.ok)
    return {
      id,
      address,
      up: false,
      state: "down",
      error: statusOut.error,
      status: null,
      metrics,
      elapsedMs,
    };
  if (statusOut.value === "starting")
    return { id, address, up: false, state: "starting", error: "starting", status: null, metrics, elapsedMs };
  return {
    id,
    address,
    up: true,
    state: "up",
    error: metricsOut.ok ? null : `/metrics: ${metricsOut.error}`,
    status: statusOut.value,
    metrics,
    elapsedMs,
  };
}

/** Every replica of `cluster`, scraped in parallel; never throws for a replica's sake. */
export async function clusterSnapshot(cluster: ClusterConfig): Promise<ClusterSnapshot> {
  const timestamp = Date.now();
  const replicas = await Promise.all(cluster.replicas.map((r) => scrapeReplica(r.id, httpBase(r))));
  const n = cluster.replicas.length;
  return { timestamp, n, f: Math.floor((n - 1) / 3), replicas };
}
