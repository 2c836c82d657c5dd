/**
 * The trace viewer in Debian's chromium (playwright-core): load a fixture trace through the file
 * picker; click events and compare the highlighted causal past and future with what the vector
 * clocks say (computed here, componentwise, independently of the page); draw a consistent and
 * an inconsistent cut and compare the verdict and the red messages with the simulator's cut
 * checker; render a 5,000-event trace in under 2 seconds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { protocolSpec } from "../../src/protocols.ts";
import { runScenario } from "../../src/sim/run.ts";
import { checkCut, parseJsonl, type TraceEvent } from "../../src/sim/trace.ts";
import type { UiServer } from "../../src/ui/server.ts";
import { launchBrowser, startUi, wheelZoom, zoomToEvent } from "./browser.ts";

const fixturePath = join(import.meta.dirname, "fixtures/gossip-chaos-seed3.jsonl");
const fixture = parseJsonl(readFileSync(fixturePath, "utf8"));
const stamped = fixture.events.filter((e) => e.vt !== undefined);
const own = (e: TraceEvent) => e.vt?.[String(e.node)] ?? 0;

/** VT(a) <= VT(b) componentwise and a != b: a happens before b (seed 002). */
function happensBefore(a: TraceEvent, b: TraceEvent): boolean {
  if (a === b) return false;
  const keys = new Set([...Object.keys(a.vt ?? {}), ...Object.keys(b.vt ?? {})]);
  for (const k of keys) if ((a.vt?.[k] ?? 0) > (b.vt?.[k] ?? 0)) return false;
  return true;
}

/** Waits until the diagram has redrawn (the page draws on the next animation frame). */
async function drawn(page: Page): Promise<void> {
  await page.evaluate(
    "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))",
  );
}

async function dataRels(page: Page): Promise<Map<number, string>> {
  await drawn(page);
  const pairs = await page.$$eval("circle[data-i]", (els) =>
    els.map((e) => [Number(e.getAttribute("data-i")), e.getAttribute("data-rel") ?? ""] as const),
  );
  return new Map(pairs);
}

async function crossingMessages(page: Page): Promise<number[]> {
  await drawn(page);
  const ids = await page.$$eval("line.crossing", (els) => els.map((e) => Number(e.getAttribute("data-msg"))));
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Clicks an event as a user does (zooming in until it is on top), then "Fit" again. */
async function clickEvent(page: Page, i: number): Promise<void> {
  const { x, y } = await zoomToEvent(page, i);
  await page.mouse.click(x, y);
  await page.click("[data-testid=fit]");
}

async function openFile(page: Page, path: string): Promise<number> {
  const started = performance.now();
  await page.setInputFiles("[data-testid=file-input]", path);
  await page.waitForFunction(
    (name) =>
      document.querySelector(".viewer")?.getAttribute("data-state") === "ready" &&
      (document.querySelector("[data-testid=trace-name]")?.textContent ?? "").startsWith(name),
    basename(path),
    { timeout: 30_000 },
  );
  return performance.now() - started;
}

describe("trace viewer in chromium", () => {
  let browser: Browser;
  let ui: UiServer;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    ui = await startUi({});
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${ui.url}#trace`);
    await openFile(page, fixturePath);
  });

  after(async () => {
    await browser?.close();
    await ui?.close();
  });

  it("draws every event, message, drop, crash and restart of the fixture", async () => {
    assert.equal(await page.locator("circle[data-i]").count(), stamped.length);
    const deliveries = fixture.events.filter((e) => e.kind === "recv").length;
    const drops = fixture.events.filter((e) => e.kind === "drop").length;
    assert.equal(await page.locator("line[data-msg]:not(.dropped)").count(), deliveries);
    assert.equal(await page.locator("line.dropped").count(), drops);
    assert.equal(await page.locator("text.drop-x").count(), drops);
    const crashes = fixture.events.filter((e) => e.kind === "crash").length;
    const restarts = fixture.events.filter((e) => e.kind === "restart").length;
    assert.ok(crashes > 0 && restarts > 0);
    assert.equal(await page.locator("[data-marker=crash]").count(), crashes);
    assert.equal(await page.locator("[data-marker=restart]").count(), restarts);
    assert.equal(await page.locator("g.lane.byzantine").count(), fixture.header?.byzantine.length);
    assert.deepEqual(errors, []);
  });

  it("clicking an event highlights exactly its causal past and future", async () => {
    // A receive in the middle of the run, an early send and a late event on another node.
    const picks = [
      stamped.filter((e) => e.kind === "recv")[Math.floor(stamped.length / 8)] as TraceEvent,
      stamped.find((e) => e.kind === "send" && e.node === 2) as TraceEvent,
      stamped.filter((e) => e.node === 3).at(-3) as TraceEvent,
    ];
    for (const e of picks) {
      await clickEvent(page, e.i);
      await page.waitForSelector(`circle[data-i="${e.i}"][data-rel=self]`);
      await page.waitForFunction(
        (n) => document.querySelectorAll("circle[data-i]").length === n,
        stamped.length,
      );
      const rels = await dataRels(page);
      const expected = new Map<number, string>();
      for (const x of stamped) {
        expected.set(
          x.i,
          x === e ? "self" : happensBefore(x, e) ? "past" : happensBefore(e, x) ? "future" : "concurrent",
        );
      }
      assert.deepEqual(rels, expected, `selection of event ${e.i}`);
      const past = [...expected.values()].filter((r) => r === "past").length;
      const future = [...expected.values()].filter((r) => r === "future").length;
      assert.ok(past > 0 || future > 0);
      assert.match(
        (await page.textContent("[data-testid=selection-summary]")) ?? "",
        new RegExp(`causal past ${past} · causal future ${future}`),
      );
    }
  });

  it("a cut at one instant is consistent; moving one node's point before a send makes it inconsistent", async () => {
    await page.click("[data-testid=cut-mode]");
    // Consistent: every node's last event at or before time T (messages take time).
    const T = fixture.events[Math.floor(fixture.events.length / 2)]!.t;
    const cut = new Map<number, number>();
    for (const node of fixture.header!.nodes) {
      const upto = stamped.filter((e) => e.node === node && e.t <= T);
      const last = upto.at(-1);
      assert.ok(last !== undefined, `node ${node} has an event before ${T}`);
      await clickEvent(page, last.i);
      cut.set(node, own(last));
    }
    assert.equal(checkCut(fixture.events, cut).consistent, true);
    assert.equal(await page.getAttribute("[data-testid=cut-verdict]", "data-consistent"), "true");
    assert.match((await page.textContent("[data-testid=cut-verdict]")) ?? "", /^Consistent cut/);
    assert.deepEqual(await crossingMessages(page), []);

    // Inconsistent: take a message received inside the cut and move its sender's point to
    // just before the send.
    const recv = stamped.find(
      (e) => e.kind === "recv" && own(e) <= (cut.get(e.node) ?? 0) && e.t > T / 2 && e.peer !== e.node,
    ) as TraceEvent;
    const send = stamped.find((e) => e.kind === "send" && e.msg === recv.msg) as TraceEvent;
    const before = stamped.find((e) => e.node === send.node && own(e) === own(send) - 1) as TraceEvent;
    await clickEvent(page, before.i);
    await page.waitForFunction(
      (n) => document.querySelectorAll("circle[data-i]").length === n,
      stamped.length,
    );
    cut.set(send.node, own(before));
    const verdict = checkCut(fixture.events, cut);
    assert.equal(verdict.consistent, false);
    const expected = verdict.consistent
      ? []
      : [...new Set(verdict.offending.map((o) => o.id))].sort((a, b) => a - b);
    assert.ok(expected.includes(recv.msg as number));
    await page.waitForSelector("[data-testid=cut-verdict][data-consistent=false]");
    assert.match(
      (await page.textContent("[data-testid=cut-verdict]")) ?? "",
      new RegExp(`^Inconsistent cut: ${expected.length} messages? received inside it`),
    );
    assert.deepEqual(await crossingMessages(page), expected);
    const red = await page.$eval("line.crossing", (l) => getComputedStyle(l).stroke);
    assert.equal(red, "rgb(224, 0, 0)");

    await page.click("[data-testid=cut-reset]");
    assert.equal(await page.isHidden("[data-testid=cut-verdict]"), true);
    assert.deepEqual(await crossingMessages(page), []);
  });

  it("the time slider replays: only events up to the chosen time are drawn", async () => {
    const T = fixture.events[Math.floor(fixture.events.length / 3)]!.t;
    await page.$eval(
      "[data-testid=time-slider]",
      (el, t) => {
        const input = el as HTMLInputElement;
        input.value = String(t);
        input.dispatchEvent(new Event("input"));
      },
      T,
    );
    const want = stamped.filter((e) => e.t <= T).length;
    await page.waitForFunction((n) => document.querySelectorAll("circle[data-i]").length === n, want);
    assert.ok(want < stamped.length);
    assert.match(
      (await page.textContent("[data-testid=time-label]")) ?? "",
      new RegExp(`${want} events on screen`),
    );
  });

  it("bad input: a file without events shows an error and keeps the page usable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-viewer-"));
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, "this is not a trace\n{}\n");
    await page.setInputFiles("[data-testid=file-input]", bad);
    await page.waitForSelector(".viewer[data-state=error]");
    assert.match(
      (await page.textContent("[data-testid=trace-error]")) ?? "",
      /Cannot show bad\.jsonl: no events/,
    );
    const damaged = join(dir, "damaged.jsonl");
    writeFileSync(damaged, `${readFileSync(fixturePath, "utf8")}{"i": 1, truncated`);
    await openFile(page, damaged);
    assert.match((await page.textContent("[data-testid=trace-notice]")) ?? "", /1 unreadable line skipped/);
    assert.equal(await page.locator("circle[data-i]").count(), stamped.length);
    assert.deepEqual(errors, []);
  });

  it("renders a 5,000-event PBFT trace in under 2 seconds", async () => {
    const r = runScenario(protocolSpec("pbft"), {
      seed: 1,
      trace: true,
      signatures: "fast",
      byzantine: [{ node: 0 as never, strategy: "silent" }],
    });
    const lines = (r.jsonl as string).split("\n");
    const jsonl = `${lines.slice(0, 5001).join("\n")}\n`; // the header and 5,000 events
    const big = join(mkdtempSync(join(tmpdir(), "phalanx-viewer-")), "pbft-5000.jsonl");
    writeFileSync(big, jsonl);
    const events = parseJsonl(jsonl).events;
    assert.equal(events.length, 5000);
    const ms = await openFile(page, big);
    const stampedBig = events.filter((e) => e.vt !== undefined);
    const sent = new Set(events.filter((e) => e.kind === "send").map((e) => e.msg));
    const arrows = events.filter((e) => (e.kind === "recv" || e.kind === "drop") && sent.has(e.msg)).length;
    // Thousands of events on screen: painted on the canvas, every one of them.
    assert.equal(await page.getAttribute(".viewer", "data-mode"), "canvas");
    assert.equal(
      await page.getAttribute("[data-testid=dense-canvas]", "data-drawn-events"),
      String(stampedBig.length),
    );
    assert.equal(
      await page.getAttribute("[data-testid=dense-canvas]", "data-drawn-messages"),
      String(arrows),
    );
    const renderMs = Number(await page.getAttribute(".viewer", "data-render-ms"));
    console.log(
      `5,000-event trace: shown ${ms.toFixed(0)} ms after the file was chosen (parse and draw ${renderMs} ms)`,
    );
    assert.ok(ms < 2000, `rendered in ${ms.toFixed(0)} ms`);
    // Picking on the canvas: a click on replica 1's line selects one of replica 1's events.
    const lane = await page.locator('g.lane[data-node="1"] line').boundingBox();
    assert.ok(lane !== null);
    for (let x = lane.x + lane.width * 0.3; x < lane.x + lane.width * 0.7; x += 3) {
      await page.mouse.click(x, lane.y);
      if (await page.isVisible("[data-testid=event-detail]")) break;
    }
    assert.match((await page.textContent("[data-testid=event-detail]")) ?? "", /^n1 /);
    // Zoomed in far enough, the SVG elements come back.
    await page.mouse.move(lane.x + lane.width / 2, lane.y);
    for (let k = 0; k < 6 && (await page.getAttribute(".viewer", "data-mode")) === "canvas"; k++) {
      await wheelZoom(page, -600);
    }
    assert.equal(await page.getAttribute(".viewer", "data-mode"), "svg");
    assert.ok((await page.locator("circle[data-i]").count()) > 0);
    await page.click("[data-testid=fit]");
    // PBFT phases in the legend, the silent primary marked Byzantine.
    for (const label of ["request", "pre-prepare", "prepare", "commit", "reply", "view-change", "new-view"])
      assert.equal(await page.locator(`.legend-item[data-label="${label}"]`).count(), 1, label);
    assert.equal(await page.getAttribute("g.lane.byzantine", "data-node"), "0");
  });

  it("phalanx ui --trace: the page opens the trace by itself", async () => {
    const served = await startUi({ tracePath: fixturePath });
    try {
      const p = await browser.newPage();
      await p.goto(served.url);
      await p.waitForSelector(".viewer[data-state=ready]", { timeout: 20_000 });
      assert.match(
        (await p.textContent("[data-testid=trace-name]")) ?? "",
        /gossip-chaos-seed3\.jsonl: gossip, seed 3/,
      );
      assert.equal(await p.locator("circle[data-i]").count(), stamped.length);
      await p.close();
    } finally {
      await served.close();
    }
  });
});
