/**
 * The live dashboard in a real browser against a real 4-replica cluster: it shows view 0 and
 * its primary, throughput under load, a failed poll as a banner that clears, and, when the
 * primary is killed with SIGKILL under load, the new view, the dead replica and the view change
 * in the event log. Every wait polls the page and is bounded; nothing sleeps a fixed time.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { connect, type PhalanxClient } from "../../src/client/client.ts";
import type { ClusterSnapshot, ReplicaSnapshot } from "../../src/ui/api.ts";
import type { UiServer } from "../../src/ui/server.ts";
import { TestCluster } from "../runtime/harness.ts";
import { launchBrowser, startUi } from "./browser.ts";

interface Load {
  acked: number;
  errors: number;
  stop(): Promise<void>;
}

/** `workers` closed loops of puts to fresh keys, errors counted and carried on. */
function startLoad(client: PhalanxClient, workers: number, prefix: string): Load {
  let running = true;
  const load = { acked: 0, errors: 0, stop: async () => {} };
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      try {
        await client.put(`${prefix}-${w}-${i}`, `v${i}`, { timeoutMs: 15_000 });
        load.acked++;
      } catch {
        load.errors++;
      }
    }
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return load;
}

/** What the page shows, for assertions and for failure messages. */
interface PageState {
  view: string;
  primary: string;
  throughput: string;
  banner: string | null;
  rows: Array<Record<string, string>>;
  log: Array<{ kind: string; text: string }>;
}

/**
 * Reads the page. A string, not a function: tsx's transform would add helpers the page lacks,
 * and this project's Node tsconfig has no DOM types.
 */
const readPage = `(() => {
  const text = (sel) => document.querySelector(sel)?.textContent ?? "";
  const banner = document.querySelector("[data-testid=poll-error]");
  return {
    view: text("[data-testid=cluster-view]"),
    primary: text("[data-testid=cluster-primary]"),
    throughput: text("[data-testid=cluster-throughput]"),
    banner: banner === null || banner.hidden ? null : banner.textContent ?? "",
    rows: [...document.querySelectorAll("tr[data-replica]")].map((tr) => {
      const row = { replica: tr.dataset.replica ?? "", state: tr.dataset.state ?? "" };
      for (const td of tr.querySelectorAll("td[data-field]")) row[td.dataset.field ?? ""] = td.textContent ?? "";
      return row;
    }),
    log: [...document.querySelectorAll("[data-testid=event-log] li")].map((li) => ({
      kind: li.dataset.kind ?? "",
      text: li.textContent ?? "",
    })),
  };
})()`;

async function pageState(page: Page): Promise<PageState> {
  return (await page.evaluate(readPage)) as PageState;
}

/** Polls the page every 100 ms until `pred` holds, or fails after `ms` showing what it showed. */
async function untilPage(
  page: Page,
  what: string,
  ms: number,
  pred: (s: PageState) => boolean,
): Promise<PageState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await pageState(page);
    if (pred(s)) return s;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${ms} ms waiting for the page to show ${what}; it shows ${JSON.stringify(s)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rate = (text: string | undefined) => Number.parseFloat(text ?? "") || 0;

/** A made-up snapshot: replica 2 lies about its view and carries markup in its Byzantine mode. */
function fakeSnapshot(timestamp: number, executed: number, latency: Array<[number, number]>, count: number) {
  const up = (id: number, view: number, byzantine: string | null): ReplicaSnapshot => ({
    id,
    address: `http://127.0.0.1:${9000 + id}`,
    up: true,
    state: "up",
    error: null,
    status: {
      view,
      primary: view % 4,
      isPrimary: view % 4 === id,
      status: "normal",
      lastExecuted: executed,
      stableCheckpoint: 0,
      peers: [0, 1, 2].filter((p) => p !== id),
      clients: 1,
      byzantine,
      keys: 0,
    },
    metrics: {
      requestsExecuted: executed,
      batchesExecuted: executed,
      viewChangesStarted: 0,
      newViewsEntered: 0,
      latency: { buckets: latency.map(([le, c]) => ({ le, count: c })), count, sum: 0 },
      malformedLines: 0,
    },
    elapsedMs: 1,
  });
  const snap: ClusterSnapshot = {
    timestamp,
    n: 4,
    f: 1,
    replicas: [
      up(0, 5, null),
      up(1, 5, null),
      up(2, 1000, '<img src=x onerror="window.__owned=1">equivocate'),
      {
        id: 3,
        address: "http://127.0.0.1:9003",
        up: false,
        state: "starting",
        error: "starting",
        status: null,
        metrics: null,
        elapsedMs: 1,
      },
    ],
  };
  return snap;
}

describe("live cluster dashboard", { timeout: 240_000 }, () => {
  let cluster: TestCluster | undefined;
  let client: PhalanxClient | undefined;
  let ui: UiServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let load: Load | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    cluster = await TestCluster.create(4);
    cluster.startAll();
    const clusterPath = join(cluster.dir, "cluster.json");
    assert.ok(existsSync(clusterPath), clusterPath);
    // The UI and the browser start while the replicas do.
    const [u, b] = await Promise.all([startUi({ clusterPath }), launchBrowser(), cluster.ready()]);
    ui = u;
    browser = b;
    client = await connect({ dir: cluster.dir, sessions: 16, timeoutMs: 15_000 });
    page = await b.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${u.url}#cluster`);
  });

  after(async () => {
    const steps: Array<() => Promise<unknown> | undefined> = [
      () => load?.stop(),
      () => client?.close(),
      () => browser?.close(),
      () => ui?.close(),
      () => cluster?.stop(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        console.error("cleanup:", e);
      }
    }
  });

  it("shows every replica up, view 0 and its primary", async () => {
    const s = await untilPage(
      page,
      "view 0, primary 0, four replicas up",
      20_000,
      (s) =>
        s.view === "0" && s.primary === "0" && s.rows.length === 4 && s.rows.every((r) => r.state === "up"),
    );
    const byId = new Map(s.rows.map((r) => [r.replica, r]));
    assert.match(byId.get("0")?.primary ?? "", /primary/);
    for (const id of ["1", "2", "3"]) assert.match(byId.get(id)?.primary ?? "", /backup/);
    for (const r of s.rows) {
      assert.equal(r.up, "up");
      assert.equal(r.view, "0");
      assert.match(r.lastExecuted ?? "", /^\d+$/);
      assert.match(r.stableCheckpoint ?? "", /^\d+$/);
      assert.equal(r.error, "");
    }
    assert.equal(s.banner, null);
    assert.ok(
      s.log.some((l) => /watching the cluster: view 0, primary 0, 4 of 4 replicas up/.test(l.text)),
      JSON.stringify(s.log),
    );
  });

  it("shows throughput and latency under load", async () => {
    assert.ok(client !== undefined);
    load = startLoad(client, 16, "dash");
    const s = await untilPage(
      page,
      "cluster throughput > 0 and every replica executing",
      20_000,
      (s) => rate(s.throughput) > 0 && s.rows.every((r) => rate(r.throughput) > 0),
    );
    const leaderRow = s.rows.find((r) => r.replica === "0");
    console.log(
      `under load: cluster ${s.throughput}; replica 0 ${leaderRow?.throughput}, latency p50 ${leaderRow?.latencyP50}, p99 ${leaderRow?.latencyP99}; ${load.acked} writes acknowledged`,
    );
    assert.ok(rate(s.throughput) > 0);
    await untilPage(page, "a latency estimate", 10_000, (s) =>
      s.rows.some((r) => /ms$/.test(r.latencyP50 ?? "")),
    );
  });

  it("shows a failed poll as a banner, then recovers", async () => {
    await page.route("**/api/cluster", (route) => route.abort());
    const failed = await untilPage(page, "the poll-error banner", 10_000, (s) => s.banner !== null);
    assert.match(failed.banner ?? "", /Cannot get the cluster's state/);
    await page.unroute("**/api/cluster");
    const back = await untilPage(page, "the banner gone", 10_000, (s) => s.banner === null);
    assert.ok(back.log.some((l) => l.text.includes("UI server unreachable")));
    assert.ok(back.log.some((l) => l.text.includes("UI server reachable again")));
  });

  it("computes rates and quantiles from deltas, resists one lying replica, renders replica text as text", async () => {
    assert.ok(browser !== undefined && ui !== undefined);
    const fake = await browser.newPage();
    fake.on("pageerror", (e) => pageErrors.push(e.message));
    try {
      // First 1000 executed, latency 10 in le=10; two seconds later 1200 executed, and of 100 new
      // requests 50 in le=10, 49 in le=100, 1 above every bound.
      const snaps = [
        fakeSnapshot(
          1_000_000,
          1000,
          [
            [1, 0],
            [10, 10],
            [100, 10],
          ],
          10,
        ),
        fakeSnapshot(
          1_002_000,
          1200,
          [
            [1, 0],
            [10, 60],
            [100, 109],
          ],
          110,
        ),
      ];
      let served = 0;
      await fake.route("**/api/cluster", (route) =>
        route.fulfill({ json: snaps[Math.min(served++, snaps.length - 1)] }),
      );
      await fake.goto(`${ui.url}#cluster`);
      const s = await untilPage(fake, "the second fake snapshot's rates", 10_000, (s) =>
        s.rows.some((r) => r.throughput === "100/s"),
      );
      // The liar at view 1000 is one replica: the cluster view is the one f+1 = 2 replicas reach.
      assert.equal(s.view, "5");
      assert.equal(s.primary, "1");
      const byId = new Map(s.rows.map((r) => [r.replica, r]));
      const liar = byId.get("2");
      assert.equal(liar?.view, "1000");
      assert.equal(liar?.byzantine, '⚠ <img src=x onerror="window.__owned=1">equivocate');
      assert.equal(await fake.locator("tr[data-replica] img").count(), 0);
      assert.equal(await fake.evaluate("window.__owned ?? null"), null);
      assert.equal(byId.get("3")?.state, "starting");
      assert.equal(byId.get("3")?.up, "starting");
      assert.match(byId.get("1")?.primary ?? "", /primary/);
      assert.equal(byId.get("0")?.throughput, "100/s");
      assert.equal(byId.get("0")?.latencyP50, "≤ 10 ms");
      assert.equal(byId.get("0")?.latencyP99, "≤ 100 ms");
      assert.equal(s.throughput, "100/s");
    } finally {
      await fake.close();
    }
  });

  it("kill -9 of the primary under load: the page shows it down, the new view and the view change", async () => {
    assert.ok(cluster !== undefined && load !== undefined);
    const before = await untilPage(
      page,
      "view 0 and throughput",
      20_000,
      (s) => s.view === "0" && rate(s.throughput) > 0,
    );
    const primary = before.primary;
    assert.equal(primary, "0");
    const killedAt = performance.now();
    await cluster.kill9(Number(primary));
    const down = await untilPage(page, `replica ${primary} down`, 20_000, (s) =>
      s.rows.some((r) => r.replica === primary && r.state === "down"),
    );
    const downMs = performance.now() - killedAt;
    const deadRow = down.rows.find((r) => r.replica === primary);
    assert.equal(deadRow?.up, "down");
    assert.notEqual(deadRow?.error, "");
    const changed = await untilPage(
      page,
      "a higher view, its primary and a view-change line in the log",
      20_000,
      (s) =>
        Number(s.view) > 0 &&
        s.primary !== primary &&
        s.log.some(
          (l) => l.kind === "view" && new RegExp(`view 0 → \\d+: primary ${primary} → \\d+`).test(l.text),
        ),
    );
    const viewMs = performance.now() - killedAt;
    assert.ok(changed.log.some((l) => l.kind === "down" && l.text.includes(`replica ${primary} down`)));
    // The new primary's own row says so, and the replicas execute requests again: sequence
    // numbers past those shown when the view change appeared.
    const executedAt = new Map(changed.rows.map((r) => [r.replica, Number(r.lastExecuted) || 0]));
    const resumed = await untilPage(
      page,
      "the new primary marked and requests executed in the new view",
      20_000,
      (s) =>
        s.rows.some((r) => r.replica === s.primary && /primary/.test(r.primary ?? "")) &&
        s.rows
          .filter((r) => r.state === "up")
          .every((r) => Number(r.lastExecuted) > (executedAt.get(r.replica) ?? 0) && rate(r.throughput) > 0),
    );
    const resumedMs = performance.now() - killedAt;
    console.log(
      `kill -9 of primary ${primary}: row down after ${downMs.toFixed(0)} ms, view ${changed.view} (primary ${changed.primary}) on the page after ${viewMs.toFixed(0)} ms, throughput again after ${resumedMs.toFixed(0)} ms (${resumed.throughput})`,
    );
    console.log(`event log: ${resumed.log.map((l) => l.text).join(" | ")}`);
    if (process.env.DASHBOARD_SCREENSHOT)
      await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
