/**
 * Commands that run Phalanx for real: `init`, `start`, `up`, `kv`, `status`.
 *
 * Exit codes (all commands): 0 success; 1 the operation was refused or failed (a cas that did
 * not match, a key not found with --require, a timeout); 2 bad usage or configuration (the
 * message says what to fix); 130 stopped by Ctrl-C.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import pino from "pino";
import { connect, type PhalanxClient } from "../client/client.ts";
import { PhalanxClientError } from "../client/errors.ts";
import { startGateway } from "../gateway/http.ts";
import { runMaelstrom } from "../maelstrom/node.ts";
import { byzantineStrategies } from "../runtime/byzantine.ts";
import { clusterPath, initCluster, loadCluster } from "../runtime/config.ts";
import { ReplicaHost } from "../runtime/replica-host.ts";
import { parseIntOption } from "./sim.ts";

const binPath = fileURLToPath(new URL("../../bin/phalanx.js", import.meta.url));

function makeLogger(level = process.env.PHALANX_LOG ?? "info") {
  const logger = pino({ level, base: { pid: process.pid } }, pino.destination(2));
  return (lvl: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) =>
    logger[lvl](fields ?? {}, msg);
}

export function registerCluster(program: Command): void {
  program
    .command("init")
    .description(
      "Create keys and a cluster configuration for n replicas and some client keys.\n" +
        "Writes <dir>/cluster.json (public, the same on every host) and <dir>/keys/*.json (private, mode 0600).",
    )
    .option("--dir <dir>", "where to write", "data")
    .option(
      "--replicas <n>",
      "replicas (n = 3f+1 tolerates f Byzantine ones)",
      parseIntOption("--replicas", 0),
      4,
    )
    .option("--clients <n>", "client keys to create", parseIntOption("--clients", 0), 4)
    .option(
      "--host <host>",
      "address every replica listens on (edit cluster.json for several hosts)",
      "127.0.0.1",
    )
    .option(
      "--port <port>",
      "first port: replica i uses port+2i (peers) and port+2i+1 (HTTP)",
      parseIntOption("--port", 1, 65535),
      7100,
    )
    .option("--force", "replace an existing configuration (its keys and data become useless)", false)
    .action(
      (o: { dir: string; replicas: number; clients: number; host: string; port: number; force: boolean }) => {
        const path = initCluster({
          dir: o.dir,
          replicas: o.replicas,
          clients: o.clients,
          host: o.host,
          basePort: o.port,
          force: o.force,
        });
        const f = Math.floor((o.replicas - 1) / 3);
        console.log(
          `wrote ${path}: ${o.replicas} replicas (tolerates f = ${f} Byzantine), ${o.clients} client keys`,
        );
        console.log(
          `private keys in ${join(o.dir, "keys")}; start the cluster with: phalanx up --dir ${o.dir}`,
        );
      },
    );

  program
    .command("start")
    .description("Run one replica in this process (logs JSON lines to stderr; Ctrl-C stops it cleanly).")
    .requiredOption("--id <n>", "which replica of cluster.json", parseIntOption("--id", 0))
    .option("--dir <dir>", "directory written by phalanx init", "data")
    .option("--config <file>", "cluster configuration (default <dir>/cluster.json)")
    .option(
      "--byzantine <strategy>",
      `DEMO ONLY: make this replica lie (${byzantineStrategies.join(", ")}; combine with commas)`,
    )
    .action(async (o: { id: number; dir: string; config?: string; byzantine?: string }) => {
      const log = makeLogger();
      const host = await ReplicaHost.start({
        dir: o.dir,
        configPath: o.config,
        id: o.id,
        byzantine: o.byzantine,
        log,
      });
      await new Promise<void>((resolveStop) => {
        const stop = (signal: string) => {
          log("info", `replica ${o.id} stopping (${signal})`);
          host.close().then(
            () => resolveStop(),
            () => resolveStop(),
          );
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
      });
    });

  program
    .command("up")
    .description(
      "Run a local cluster: one child process per replica (runs `init` first if <dir> has no cluster.json).\n" +
        "Replica logs go to <dir>/replica-<id>.log. Ctrl-C stops every replica cleanly.",
    )
    .option("--dir <dir>", "data directory", "data")
    .option("--replicas <n>", "replicas, when it has to init", parseIntOption("--replicas", 0), 4)
    .option("--port <port>", "first port, when it has to init", parseIntOption("--port", 1, 65535), 7100)
    .action(async (o: { dir: string; replicas: number; port: number }) => {
      if (!existsSync(clusterPath(o.dir))) {
        initCluster({
          dir: o.dir,
          replicas: o.replicas,
          clients: 4,
          host: "127.0.0.1",
          basePort: o.port,
          force: false,
        });
        console.log(`initialised ${resolve(o.dir)} (${o.replicas} replicas, 4 client keys)`);
      }
      const cluster = loadCluster(clusterPath(o.dir));
      mkdirSync(o.dir, { recursive: true });
      const children: ChildProcess[] = [];
      let stopping = false;
      for (const r of cluster.replicas) {
        const logFile = openSync(join(o.dir, `replica-${r.id}.log`), "a");
        const child = spawn(process.execPath, [binPath, "start", "--id", String(r.id), "--dir", o.dir], {
          stdio: ["ignore", logFile, logFile],
        });
        child.on("exit", (code, signal) => {
          if (!stopping)
            console.error(
              `replica ${r.id} exited (${signal ?? `code ${code}`}); see ${join(o.dir, `replica-${r.id}.log`)}`,
            );
        });
        children.push(child);
        console.log(
          `replica ${r.id}: peers ${r.host}:${r.port}  http://${r.host}:${r.httpPort}/status  pid ${child.pid}`,
        );
      }
      const f = Math.floor((cluster.replicas.length - 1) / 3);
      console.log(
        `cluster of ${cluster.replicas.length} replicas (f = ${f}) running; try: npx phalanx kv put a 1 && npx phalanx kv get a`,
      );
      console.log("Ctrl-C stops it.");
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          if (stopping) return;
          stopping = true;
          console.log("stopping replicas...");
          let left = children.length;
          for (const c of children) {
            c.once("exit", () => {
              if (--left === 0) resolveStop();
            });
            if (c.exitCode !== null || c.signalCode !== null) {
              if (--left === 0) resolveStop();
            } else c.kill("SIGTERM");
          }
          setTimeout(() => {
            for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
          }, 5000).unref();
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      console.log("stopped");
    });

  const kv = program
    .command("kv")
    .description("Read and write the replicated store (waits for f+1 matching replies)");
  const kvCommand = (spec: string) =>
    kv
      .command(spec)
      .option("--dir <dir>", "directory written by phalanx init", "data")
      .option("--config <file>", "cluster configuration (default <dir>/cluster.json)")
      .option("--client <k>", "client key to use (keys/client-<k>.json)", parseIntOption("--client", 0), 0)
      .option("--timeout <ms>", "give up after this long", parseIntOption("--timeout", 0), 10_000)
      .option("--json", "print the full result as JSON", false);

  type KvOpts = { dir: string; config?: string; client: number; timeout: number; json: boolean };
  const withClient = async (cmd: Command, fn: (c: PhalanxClient, o: KvOpts) => Promise<number>) => {
    const o = cmd.opts() as KvOpts;
    const c = await connect({
      dir: o.dir,
      config: o.config,
      client: o.client,
      timeoutMs: o.timeout,
      sessions: 1,
    });
    try {
      process.exitCode = await fn(c, o);
    } catch (e) {
      if (e instanceof PhalanxClientError) {
        console.error(`phalanx: ${e.message} [${e.code}]`);
        process.exitCode = 1;
      } else throw e;
    } finally {
      await c.close();
    }
  };

  kvCommand("get <key>")
    .description("Print the value of KEY (nothing, and exit 1, if it has none)")
    .action(async (key: string, _o, cmd: Command) =>
      withClient(cmd, async (c, o) => {
        const r = await c.get(key);
        if (o.json) console.log(JSON.stringify(r));
        else if (r.value !== null) console.log(r.value);
        return r.value === null ? 1 : 0;
      }),
    );
  kvCommand("put <key> <value>")
    .description("Set KEY to VALUE; prints the new version")
    .action(async (key: string, value: string, _o, cmd: Command) =>
      withClient(cmd, async (c, o) => {
        const r = await c.put(key, value);
        console.log(o.json ? JSON.stringify(r) : `version ${r.version}`);
        return 0;
      }),
    );
  kvCommand("del <key>")
    .description("Delete KEY; exit 1 if it did not exist")
    .action(async (key: string, _o, cmd: Command) =>
      withClient(cmd, async (c, o) => {
        const r = await c.delete(key);
        console.log(o.json ? JSON.stringify(r) : r.existed ? "deleted" : "not found");
        return r.existed ? 0 : 1;
      }),
    );
  kvCommand("cas <key> <from> <to>")
    .description("Set KEY to TO if its value is FROM; exit 1 (printing the current version) if not")
    .action(async (key: string, from: string, to: string, _o, cmd: Command) =>
      withClient(cmd, async (c, o) => {
        const r = await c.cas(key, from, to);
        console.log(
          o.json ? JSON.stringify(r) : r.ok ? `version ${r.version}` : `not changed (version ${r.version})`,
        );
        return r.ok ? 0 : 1;
      }),
    );
  kvCommand("scan [prefix]")
    .description("List keys starting with PREFIX, in order: key<TAB>value")
    .option("--limit <n>", "at most this many", parseIntOption("--limit", 0), 100)
    .action(async (prefix: string | undefined, so: { limit: number }, cmd: Command) =>
      withClient(cmd, async (c, o) => {
        const entries = await c.scan(prefix ?? "", so.limit);
        if (o.json) console.log(JSON.stringify(entries));
        else for (const e of entries) console.log(`${e.key}\t${e.value}`);
        return 0;
      }),
    );

  program
    .command("gateway")
    .description(
      "Serve the store over HTTP (a trusted local process holding a client key):\n" +
        "  GET/PUT/DELETE /kv/{key}, POST /kv/{key}/cas {from,to}, GET /kv?prefix=&limit=",
    )
    .option("--port <port>", "port to listen on", parseIntOption("--port", 1, 65535), 8080)
    .option("--host <host>", "address to bind (anyone who reaches it acts as the client key)", "127.0.0.1")
    .option("--dir <dir>", "directory written by phalanx init", "data")
    .option("--config <file>", "cluster configuration (default <dir>/cluster.json)")
    .option("--client <k>", "client key to use (keys/client-<k>.json)", parseIntOption("--client", 0), 1)
    .action(async (o: { port: number; host: string; dir: string; config?: string; client: number }) => {
      const gw = await startGateway({
        port: o.port,
        host: o.host,
        dir: o.dir,
        config: o.config,
        client: o.client,
      });
      console.log(`gateway on ${gw.url} (client key ${o.client}); try: curl -X PUT --data 1 ${gw.url}/kv/a`);
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          gw.close().then(
            () => resolveStop(),
            () => resolveStop(),
          );
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });

  program
    .command("maelstrom")
    .description(
      "Run as a Maelstrom node (Jepsen's workbench): JSON messages on stdin/stdout, lin-kv workload.\n" +
        "  e.g. maelstrom test -w lin-kv --bin ./bin/phalanx-maelstrom --node-count 4 --time-limit 20",
    )
    .action(async () => {
      await runMaelstrom();
    });

  program
    .command("status")
    .description(
      "Per replica: view, primary, last executed sequence number, stable checkpoint, connected peers",
    )
    .option("--dir <dir>", "directory written by phalanx init", "data")
    .option("--config <file>", "cluster configuration (default <dir>/cluster.json)")
    .option("--json", "one JSON object per replica per line", false)
    .action(async (o: { dir: string; config?: string; json: boolean }) => {
      const cluster = loadCluster(o.config ?? clusterPath(o.dir));
      let down = 0;
      if (!o.json) console.log("replica  state    view  primary  executed  stable  peers");
      for (const r of cluster.replicas) {
        try {
          const res = await fetch(`http://${r.host}:${r.httpPort}/status`, {
            signal: AbortSignal.timeout(2000),
          });
          const s = (await res.json()) as Record<string, unknown>;
          if (o.json) console.log(JSON.stringify(s));
          else
            console.log(
              `${String(r.id).padEnd(8)} ${String(s.status).padEnd(8)} ${String(s.view).padEnd(5)} ${String(s.primary).padEnd(8)} ${String(s.lastExecuted).padEnd(9)} ${String(s.stableCheckpoint).padEnd(7)} ${(s.peers as number[]).join(",")}${s.byzantine ? `  BYZANTINE(${s.byzantine})` : ""}`,
            );
        } catch {
          down++;
          if (o.json) console.log(JSON.stringify({ id: r.id, down: true }));
          else console.log(`${String(r.id).padEnd(8)} down (no answer from http://${r.host}:${r.httpPort})`);
        }
      }
      const f = Math.floor((cluster.replicas.length - 1) / 3);
      if (down > f) {
        console.error(`phalanx: ${down} replicas down, more than f = ${f}: the cluster cannot make progress`);
        process.exitCode = 1;
      }
    });
}
