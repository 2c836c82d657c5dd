/**
 * `phalanx ui`: serves the built viewer (web/dist) and a small JSON API for it:
 * - GET /api/config   what this server was started with (a trace file, a cluster);
 * - GET /api/trace    the trace file given with --trace, read afresh on every request, so a
 *                     re-run of `phalanx sim --trace` shows on reload;
 * - GET /api/cluster  one snapshot of every replica's /status and /metrics (the browser cannot
 *                     reach the replicas itself: they serve no CORS headers, and may listen on
 *                     addresses only this host can reach).
 * It listens on 127.0.0.1 unless told otherwise: the dashboard exposes cluster internals.
 */
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { PhalanxError } from "../core/errors.ts";
import { type ClusterConfig, loadCluster } from "../runtime/config.ts";
import type { UiConfig } from "./api.ts";
import { clusterSnapshot } from "./cluster-api.ts";

export interface UiServerOptions {
  /** Directory of the built viewer (index.html and assets/). */
  assetsDir: string;
  tracePath?: string;
  clusterPath?: string;
  port: number;
  host: string;
}

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const tracePath = options.tracePath === undefined ? undefined : resolve(options.tracePath);
  if (tracePath !== undefined && !existsSync(tracePath))
    throw new PhalanxError("BAD_ARGUMENT", `--trace: no such file: ${tracePath}`);
  let cluster: ClusterConfig | undefined;
  if (options.clusterPath !== undefined) cluster = loadCluster(resolve(options.clusterPath));

  const app = new Hono();
  app.get("/api/config", (c) => {
    const config: UiConfig = {
      trace: tracePath === undefined ? null : { name: basename(tracePath), bytes: statSync(tracePath).size },
      cluster:
        cluster === undefined
          ? null
          : {
              path: cluster.path,
              replicas: cluster.replicas.length,
              f: Math.floor((cluster.replicas.length - 1) / 3),
            },
    };
    return c.json(config);
  });
  app.get("/api/trace", async (c, next) => {
    if (tracePath === undefined) return c.json({ error: "no trace: start with --trace FILE" }, 404);
    c.header("Cache-Control", "no-store");
    return serveStatic({ path: tracePath })(c, next);
  });
  app.get("/api/cluster", async (c) => {
    if (cluster === undefined) return c.json({ error: "no cluster: start with --cluster CONFIG" }, 404);
    c.header("Cache-Control", "no-store");
    return c.json(await clusterSnapshot(cluster));
  });
  app.use("/*", serveStatic({ root: options.assetsDir }));

  const server = await new Promise<ServerType>((resolveServer, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolveServer(s));
    s.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new PhalanxError("BAD_ARGUMENT", `port ${options.port} is in use; choose another with --port`)
          : e,
      ),
    );
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
