/**
 * Browser-test support: Debian's chromium driven by playwright-core (`.ci/run` installs the
 * package when it is missing), and the viewer built once per test file into a temp directory
 * (so parallel test files never build into the same place).
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { buildWeb } from "../../src/ui/build.ts";
import { startUiServer, type UiServer, type UiServerOptions } from "../../src/ui/server.ts";

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error("chromium not found: apt-get install chromium (or set CHROMIUM_PATH)");
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // Root in CI has no user namespaces for the sandbox; the pages are our own.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

let built: Promise<string> | undefined;

/** The viewer, built once per process. */
export function builtAssets(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-web-"));
    await buildWeb(dir);
    return dir;
  })();
  return built;
}

export async function startUi(
  options: Omit<UiServerOptions, "assetsDir" | "port" | "host">,
): Promise<UiServer> {
  return startUiServer({ assetsDir: await builtAssets(), port: 0, host: "127.0.0.1", ...options });
}

/**
 * Zooms the diagram with the mouse wheel over event `i` until the event is the topmost element
 * under the pointer (on a dense diagram its neighbours overlap it), and returns that point.
 */
export async function zoomToEvent(page: Page, i: number): Promise<{ x: number; y: number }> {
  const selector = `circle[data-i="${i}"]`;
  for (let attempt = 0; attempt < 16; attempt++) {
    const box = await page.locator(selector).boundingBox();
    if (box === null) throw new Error(`event ${i} is not drawn`);
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    const hit = await page.evaluate(
      ([px, py]) => document.elementFromPoint(px as number, py as number)?.getAttribute("data-i") ?? null,
      [x, y],
    );
    if (hit === String(i)) return { x, y };
    await page.mouse.move(x, y);
    await page.mouse.wheel(0, -400);
    await page.waitForFunction(
      ([sel, oldX]) => {
        const r = document.querySelector(sel as string)?.getBoundingClientRect();
        return r === undefined || Math.abs(r.x - (oldX as number)) > 0.01;
      },
      [selector, box.x],
    );
  }
  throw new Error(`could not reach event ${i} by zooming`);
}

/** One mouse-wheel step where the pointer is, then waits until the diagram has redrawn. */
export async function wheelZoom(page: Page, deltaY: number): Promise<void> {
  const label = "[data-testid=time-label]";
  const before = await page.textContent(label);
  await page.mouse.wheel(0, deltaY);
  await page
    .waitForFunction(
      ([sel, old]) => document.querySelector(sel as string)?.textContent !== old,
      [label, before],
      {
        timeout: 2000,
      },
    )
    .catch(() => undefined); // at the zoom limit nothing changes
}
