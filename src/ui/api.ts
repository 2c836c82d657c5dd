/**
 * The JSON the `phalanx ui` server answers, shared by the server (src/ui) and the page (web/).
 * Types only: the page imports this file, so it must not import Node modules.
 */
import type { ReplicaStatus } from "../runtime/status.ts";

/** GET /api/config: what the server was started with. */
export interface UiConfig {
  trace: { name: string; bytes: number } | null;
  cluster: { path: string; replicas: number; f: number } | null;
}

/** What a replica's GET /status reported (its id is checked against the configuration). */
export type ReplicaStatusInfo = Omit<ReplicaStatus, "id">;

/**
 * A latency histogram as scraped: `buckets` are the finite upper bounds (ms, ascending) with
 * their cumulative counts, as in Prometheus; the +Inf bucket is `count`.
 */
export interface HistogramSnapshot {
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

/** What a replica's GET /metrics reported, reduced to what the dashboard shows. */
export interface ReplicaMetricsInfo {
  /** phalanx_pbft_requests_executed_total (0 when the replica has not exported it yet). */
  requestsExecuted: number;
  batchesExecuted: number;
  viewChangesStarted: number;
  newViewsEntered: number;
  /** phalanx_pbft_request_latency_ms, or null when absent. */
  latency: HistogramSnapshot | null;
  /** Lines of the exposition that did not parse (ignored). */
  malformedLines: number;
}

/**
 * One replica at one instant. `state` is "up" when /status answered with a valid status,
 * "starting" when the replica answered that it is still starting, "down" otherwise (no answer
 * in time, an HTTP error, or an answer that is not a status); `error` says why when not up, or
 * what went wrong with /metrics when only that failed.
 */
export interface ReplicaSnapshot {
  id: number;
  /** Base URL of the replica's HTTP endpoint, http://host:httpPort. */
  address: string;
  up: boolean;
  state: "up" | "starting" | "down";
  error: string | null;
  status: ReplicaStatusInfo | null;
  metrics: ReplicaMetricsInfo | null;
  /** How long the scrape of this replica took (ms). */
  elapsedMs: number;
}

/** GET /api/cluster: every replica of the configuration, scraped in parallel. */
export interface ClusterSnapshot {
  /** Date.now() on the UI server when the scrape began. */
  timestamp: number;
  /** Replicas in the configuration, and the faults tolerated, f = floor((n - 1) / 3). */
  n: number;
  f: number;
  replicas: ReplicaSnapshot[];
}
