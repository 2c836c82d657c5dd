/**
 * Re-creates docs/img/viewer-pbft-view-change.png: a PBFT run whose primary (replica 0) is
 * silent, so the backups time out and change view, shown in the trace viewer with the causal
 * past of the new primary's NEW-VIEW highlighted.
 *
 *   npm run docs:screenshot            (needs chromium: apt-get install chromium)
 *
 * The run is the one docs/viewer.md shows:
 *   npx phalanx sim pbft --byzantine 0=silent --until 900 --trace vc.jsonl
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { nodeId } from "../src/core/ids.ts";
import { protocolSpec } from "../src/protocols.ts";
import { runScenario } from "../src/sim/run.ts";
import { parseJsonl } from "../src/sim/trace.ts";
import { launchBrowser, startUi, wheelZoom, zoomToEvent } from "../test/web/browser.ts";

const out = resolve(import.meta.dirname, "../docs/img/viewer-pbft-view-change.png");

const run = runScenario(protocolSpec("pbft"), {
  seed: 1,
  trace: true,
  untilMs: 900,
  byzantine: [{ node: nodeId(0), strategy: "silent" }],
});
const jsonl = run.jsonl as string;
const tracePath = join(mkdtempSync(join(tmpdir(), "phalanx-shot-")), "vc.jsonl");
writeFileSync(tracePath, jsonl);
const events = parseJsonl(jsonl).events;
// The NEW-VIEW as replica 2 receives it from the new primary (replica 1).
const newView = events.find((e) => e.kind === "recv" && e.label === "new-view" && e.node === 2);
if (newView === undefined) throw new Error("the run has no NEW-VIEW: the scenario changed");
console.log(`trace: ${events.length} events; NEW-VIEW received by replica 2 at event ${newView.i}`);

const ui = await startUi({ tracePath });
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 760 }, deviceScaleFactor: 1 });
  await page.goto(`${ui.url}#trace`);
  await page.waitForSelector(".viewer[data-state=ready]");
  // Zoom in around the view change, as a reader would with the mouse wheel, and click it.
  const { x, y } = await zoomToEvent(page, newView.i);
  await page.mouse.click(x, y);
  await page.waitForSelector(`circle[data-i="${newView.i}"][data-rel=self]`);
  // Then back out to where the VIEW-CHANGE messages and the first requests of view 1 show.
  await page.click("[data-testid=fit]");
  const firstViewChange = events.find((e) => e.kind === "send" && e.label === "view-change");
  const vc = await page.locator(`circle[data-i="${firstViewChange?.i}"]`).boundingBox();
  if (vc === null) throw new Error("VIEW-CHANGE not drawn");
  await page.mouse.move(vc.x + 40, vc.y);
  for (let k = 0; k < 2; k++) {
    await wheelZoom(page, -400);
  }
  // Pan right so the view change sits in the left third rather than at the edge.
  await page.mouse.down();
  await page.mouse.move(vc.x + 340, vc.y, { steps: 8 });
  await page.mouse.up();
  await page.waitForSelector(`circle[data-i="${newView.i}"][data-rel=self]`);
  await page.mouse.move(5, 5);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await ui.close();
}
