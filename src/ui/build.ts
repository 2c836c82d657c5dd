/**
 * The web viewer's built assets. `phalanx ui` serves web/dist; when it is missing or older than
 * the sources (a fresh install, or an edited checkout) it is built first with Vite, locally:
 * nothing is fetched from the internet, at build time or at run time.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const webRoot = resolve(import.meta.dirname, "../../web");
export const defaultWebDist = join(webRoot, "dist");

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when `outDir` holds a build at least as new as every source file. */
export function isWebBuildFresh(outDir = defaultWebDist): boolean {
  const index = join(outDir, "index.html");
  if (!existsSync(index)) return false;
  const sources = Math.max(
    newestMtime(join(webRoot, "src")),
    newestMtime(join(webRoot, "index.html")),
    newestMtime(join(webRoot, "vite.config.ts")),
  );
  return statSync(index).mtimeMs >= sources;
}

/** Builds the viewer into `outDir` (default web/dist). */
export async function buildWeb(outDir = defaultWebDist): Promise<void> {
  const { build } = await import("vite");
  await build({
    configFile: join(webRoot, "vite.config.ts"),
    build: { outDir, emptyOutDir: true },
  });
}

/** Builds web/dist unless it is fresh; says so on stderr, since the first build takes seconds. */
export async function ensureWebBuilt(outDir = defaultWebDist, say = (m: string) => console.error(m)) {
  if (isWebBuildFresh(outDir)) return;
  const started = performance.now();
  say(`building the web viewer into ${outDir} ...`);
  await buildWeb(outDir);
  say(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The command that opens a trace file in the viewer (printed by `phalanx sim --trace`). */
export function viewerCommand(tracePath: string): string {
  const quoted = /^[\w./-]+$/.test(tracePath) ? tracePath : `'${tracePath.replace(/'/g, "'\\''")}'`;
  return `npx phalanx ui --trace ${quoted}`;
}
