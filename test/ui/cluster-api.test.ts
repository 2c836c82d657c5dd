/**
 * The dashboard's scrape of a cluster: the Prometheus text parser (against the replica's own
 * renderer and hand-written damage) and clusterSnapshot against replicas that are not there,
 * are slow, or answer nonsense.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ClusterConfig, ReplicaEntry } from "../../src/runtime/config.ts";
import { Metrics } from "../../src/runtime/metrics.ts";
import {
  clusterSnapshot,
  parsePrometheus,
  parsePromLine,
  promHistogram,
  promValue,
  replicaMetrics,
  scrapeReplica,
} from "../../src/ui/cluster-api.ts";

describe("Prometheus text parser", () => {
  it("reads counters, gauges and a histogram as the replica renders them", () => {
    const m = new Metrics();
    m.count("pbft.requests-executed", 120);
    m.count("pbft.batches-executed", 7);
    m.count("pbft.view-changes-started", 2);
    m.count("pbft.new-views-entered");
    m.gauge("pbft_view", () => 3);
    const h = m.histogram("pbft.request-latency");
    for (const ms of [0.3, 4, 4, 15, 700, 20_000]) h.observe(ms);
    const text = m.render();
    const parsed = parsePrometheus(text);
    assert.equal(parsed.malformed, 0);
    assert.equal(promValue(parsed, "phalanx_pbft_view"), 3);
    assert.equal(parsed.types.get("phalanx_pbft_view"), "gauge");
    assert.equal(parsed.types.get("phalanx_pbft_request_latency_ms"), "histogram");
    const info = replicaMetrics(text);
    assert.equal(info.requestsExecuted, 120);
    assert.equal(info.batchesExecuted, 7);
    assert.equal(info.viewChangesStarted, 2);
    assert.equal(info.newViewsEntered, 1);
    assert.equal(info.malformedLines, 0);
    const lat = info.latency;
    assert.ok(lat !== null);
    assert.equal(lat.count, 6);
    assert.equal(lat.sum, 0.3 + 4 + 4 + 15 + 700 + 20_000);
    assert.deepEqual(
      lat.buckets.map((b) => b.le),
      [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
    );
    const at = (le: number) => lat.buckets.find((b) => b.le === le)?.count;
    assert.equal(at(0.5), 1);
    assert.equal(at(5), 3);
    assert.equal(at(20), 4);
    assert.equal(at(1000), 5);
    assert.equal(at(10000), 5);
  });

  it("reads labels with escapes, special values and timestamps", () => {
    assert.deepEqual(parsePromLine('x_total{a="1",b="q\\"uote\\\\ and\\nline"} 5 1700000000000'), {
      name: "x_total",
      labels: { a: "1", b: 'q"uote\\ and\nline' },
      value: 5,
    });
    assert.equal(parsePromLine("g +Inf")?.value, Number.POSITIVE_INFINITY);
    assert.equal(parsePromLine("g -Inf")?.value, Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN(parsePromLine("g NaN")?.value));
    assert.equal(parsePromLine("g 1.5e3")?.value, 1500);
    assert.equal(parsePromLine("g -0.25")?.value, -0.25);
    assert.deepEqual(parsePromLine('g{a="1",} 2')?.labels, { a: "1" });
    assert.deepEqual(parsePromLine("g{} 2")?.labels, {});
    // A label named __proto__ is an ordinary property, not a prototype.
    const proto = parsePromLine('g{__proto__="x"} 1')?.labels;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.equal(Object.hasOwn(proto ?? {}, "__proto__"), true);
  });

  it("ignores and counts malformed lines, keeps the good ones", () => {
    const text = [
      "# HELP c a counter",
      "# TYPE c counter",
      "c 10",
      "c",
      "c ten",
      "9bad 1",
      'l{a="unterminated} 1',
      "l{a=1} 1",
      'l{a="1"}1',
      "d 1 2 3",
      "e 1 notatimestamp",
      "# TYPE broken",
      "",
      "   ",
      "# just a comment",
      "g 4",
    ].join("\n");
    const p = parsePrometheus(text);
    assert.equal(p.malformed, 9);
    assert.deepEqual(
      p.samples.map((s) => [s.name, s.value]),
      [
        ["c", 10],
        ["g", 4],
      ],
    );
    assert.equal(p.types.get("c"), "counter");
  });

  it("never throws, whatever the input", () => {
    const junk = ["", "\u0000\u0001", "{{{{", 'a{b="', "a{b", "}".repeat(1000), "#", "a{=}", "\n\n\r\n"];
    for (const t of junk) {
      const p = parsePrometheus(t);
      assert.equal(p.samples.length, 0, JSON.stringify(t));
    }
    // Random bytes.
    let seed = 1;
    for (let k = 0; k < 200; k++) {
      let s = "";
      for (let i = 0; i < 200; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        s += 'a{}=" \n\\,_1.e+#Inf'[seed % 19];
      }
      parsePrometheus(s);
    }
  });

  it("reads histograms out of order, without _count, and skips bad bounds", () => {
    const p = parsePrometheus(
      [
        'h_bucket{le="+Inf"} 9',
        'h_bucket{le="10"} 8',
        'h_bucket{le="1"} 3',
        'h_bucket{le="x"} 3',
        "h_bucket 3",
        "h_sum 40.5",
      ].join("\n"),
    );
    assert.deepEqual(promHistogram(p, "h"), {
      buckets: [
        { le: 1, count: 3 },
        { le: 10, count: 8 },
      ],
      count: 9,
      sum: 40.5,
    });
    assert.equal(promHistogram(p, "nothing"), undefined);
    const empty = replicaMetrics("");
    assert.deepEqual(empty, {
      requestsExecuted: 0,
      batchesExecuted: 0,
      viewChangesStarted: 0,
      newViewsEntered: 0,
      latency: null,
      malformedLines: 0,
    });
  });
});

function cluster(entries: Array<Pick<ReplicaEntry, "host" | "httpPort">>): ClusterConfig {
  return {
    path: "test/cluster.json",
    replicas: entries.map((e, id) => ({
      id,
      port: 1,
      publicKey: new Uint8Array(32),
      dhPublicKey: new Uint8Array(32),
      ...e,
    })),
    clients: [],
    pbft: {} as ClusterConfig["pbft"],
    byPublicKey: new Map(),
  };
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const goodStatus = {
  id: 0,
  view: 2,
  primary: 2,
  isPrimary: false,
  status: "normal",
  lastExecuted: 40,
  stableCheckpoint: 32,
  peers: [1, 2, 3],
  clients: 1,
  byzantine: null,
  keys: 12,
};

describe("clusterSnapshot", () => {
  let server: Server;
  let base: string;
  /** What the fake replica answers, by path. */
  let routes: Record<string, { status?: number; body: string; delayMs?: number }> = {};

  before(async () => {
    server = createServer((req, res) => {
      const r = routes[req.url ?? ""];
      if (r === undefined) {
        res.writeHead(404).end("not found");
        return;
      }
      setTimeout(() => res.writeHead(r.status ?? 200).end(r.body), r.delayMs ?? 0);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("reports an unreachable replica as down with the reason, and never throws", async () => {
    const port = await deadPort();
    const snap = await clusterSnapshot(cluster([{ host: "127.0.0.1", httpPort: port }]));
    assert.equal(typeof snap.timestamp, "number");
    assert.ok(Math.abs(snap.timestamp - Date.now()) < 5000);
    assert.equal(snap.n, 1);
    assert.equal(snap.f, 0);
    const [r] = snap.replicas;
    assert.ok(r !== undefined);
    assert.equal(r.id, 0);
    assert.equal(r.address, `http://127.0.0.1:${port}`);
    assert.equal(r.up, false);
    assert.equal(r.state, "down");
    assert.equal(r.status, null);
    assert.match(r.error ?? "", /ECONNREFUSED/);
  });

  it("reports a replica that answers too slowly as down within the timeout", async () => {
    routes = {
      "/status": { body: JSON.stringify(goodStatus), delayMs: 2000 },
      "/metrics": { body: "", delayMs: 2000 },
    };
    const began = performance.now();
    const r = await scrapeReplica(0, base, 300);
    assert.ok(performance.now() - began < 1500);
    assert.equal(r.state, "down");
    assert.match(r.error ?? "", /no answer within/);
  });

  it("reports nonsense as down, a starting replica as starting, and a good one as up", async () => {
    const cases: Array<[Record<string, { status?: number; body: string }>, string, RegExp | null]> = [
      [{ "/status": { body: "<html>" } }, "down", /not JSON/],
      [{ "/status": { body: JSON.stringify({ ...goodStatus, view: -1 }) } }, "down", /view/],
      [{ "/status": { body: JSON.stringify({ ...goodStatus, id: 3 }) } }, "down", /answers as replica 3/],
      [{ "/status": { status: 500, body: "boom" } }, "down", /HTTP 500/],
      [{ "/status": { body: "x".repeat(100_000) } }, "down", /larger than/],
      [{ "/status": { body: JSON.stringify({ starting: true }) } }, "starting", /starting/],
      [{ "/status": { body: JSON.stringify(goodStatus) } }, "up", /\/metrics: HTTP 404/],
      [
        {
          "/status": { body: JSON.stringify(goodStatus) },
          "/metrics": { body: "phalanx_pbft_requests_executed_total 77\nbad line\n" },
        },
        "up",
        null,
      ],
    ];
    for (const [r, state, error] of cases) {
      routes = r;
      const s = await scrapeReplica(0, base);
      assert.equal(s.state, state, JSON.stringify(r).slice(0, 80));
      assert.equal(s.up, state === "up");
      if (error === null) assert.equal(s.error, null);
      else assert.match(s.error ?? "", error);
    }
    const s = await scrapeReplica(0, base);
    const { id: _, ...status } = goodStatus;
    assert.deepEqual(s.status, status);
    assert.equal(s.metrics?.requestsExecuted, 77);
    assert.equal(s.metrics?.malformedLines, 1);
  });
});
