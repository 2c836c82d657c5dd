/**
 * `phalanx ui`: the trace viewer and the live cluster dashboard in a browser.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { PhalanxError } from "../core/errors.ts";
import { defaultWebDist, ensureWebBuilt } from "../ui/build.ts";
import { startUiServer } from "../ui/server.ts";
import { parseIntOption } from "./sim.ts";

interface UiFlags {
  trace?: string;
  cluster?: string;
  port: number;
  host: string;
  assets?: string;
}

/** A cluster.json, or a directory holding one (what `phalanx init --dir` wrote). */
function clusterFile(path: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, "cluster.json") : path;
}

export function registerUi(program: Command): void {
  program
    .command("ui")
    .summary("trace viewer and live cluster dashboard in the browser")
    .description(
      "Serve the web viewer: space-time diagrams of simulator traces (--trace, or open a file in\n" +
        "the page) and a live dashboard of a running cluster (--cluster). With neither, and a\n" +
        "./data/cluster.json present (what `npm start` creates), the dashboard shows that cluster.\n" +
        "Everything is served from this machine; the page needs no internet.",
    )
    .option("--trace <file.jsonl>", "a trace written by `phalanx sim --trace`")
    .option("--cluster <config>", "cluster.json of a running cluster (or the directory holding it)")
    .option("--port <port>", "port to listen on (0: any free port)", parseIntOption("--port", 0, 65535), 7070)
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--assets <dir>", "serve a viewer built into <dir> instead of building web/dist")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  phalanx sim pbft --byzantine 0=silent --trace vc.jsonl && phalanx ui --trace vc.jsonl\n" +
        "  phalanx up &   phalanx ui --cluster data/cluster.json",
    )
    .action(async (o: UiFlags) => {
      let cluster = o.cluster === undefined ? undefined : clusterFile(o.cluster);
      if (cluster === undefined && o.trace === undefined && existsSync("data/cluster.json")) {
        cluster = "data/cluster.json";
        console.log("dashboard of the cluster in data/cluster.json (choose another with --cluster)");
      }
      const assetsDir = o.assets ?? defaultWebDist;
      if (o.assets === undefined) await ensureWebBuilt(assetsDir);
      else if (!existsSync(join(assetsDir, "index.html")))
        throw new PhalanxError("BAD_ARGUMENT", `--assets ${assetsDir}: no index.html there`);
      const server = await startUiServer({
        assetsDir,
        port: o.port,
        host: o.host,
        ...(o.trace !== undefined ? { tracePath: o.trace } : {}),
        ...(cluster !== undefined ? { clusterPath: cluster } : {}),
      });
      const what = [o.trace && `trace ${o.trace}`, cluster && `cluster ${cluster}`]
        .filter(Boolean)
        .join(", ");
      console.log(
        `Phalanx UI on ${server.url}${what ? ` (${what})` : ""}; open it in a browser. Ctrl-C stops it.`,
      );
      await new Promise<void>((resolveStop) => {
        const stop = () => void server.close().then(resolveStop, resolveStop);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
