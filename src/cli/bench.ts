/**
 * `phalanx bench`: closed-loop load against a running cluster through the client library:
 * `--concurrency` loops each doing put (or get, with --reads) back to back over `--keys`
 * keys, progress once a second on stderr, then one JSON line (ops/s, p50, p99, errors).
 * For the comparison with etcd on one machine, see `npm run bench` (bench/cluster.ts).
 */
import type { Command } from "commander";
import { connect } from "../client/client.ts";
import { parseIntOption } from "./sim.ts";

interface BenchOptions {
  dir: string;
  config?: string;
  client: number;
  concurrency: number;
  seconds: number;
  valueBytes: number;
  keys: number;
  reads: boolean;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description(
      "Closed-loop load on a running cluster: N operations in flight, back to back, for S seconds;\n" +
        "prints progress each second and one JSON line (ops/s, p50/p99 latency in ms, errors).",
    )
    .option("--dir <dir>", "directory written by phalanx init", "data")
    .option("--config <file>", "cluster configuration (default <dir>/cluster.json)")
    .option(
      "--client <k>",
      "client key to use (one per concurrently running client process)",
      parseIntOption("--client", 0),
      2,
    )
    .option("--concurrency <n>", "operations in flight", parseIntOption("--concurrency", 1), 16)
    .option("--seconds <s>", "how long to measure (after a 1 s warm-up)", parseIntOption("--seconds", 1), 10)
    .option("--value-bytes <n>", "size of each value written", parseIntOption("--value-bytes", 0), 16)
    .option("--keys <n>", "keys drawn uniformly from this many", parseIntOption("--keys", 1), 10_000)
    .option("--reads", "get instead of put (the read-only path)", false)
    .action(async (o: BenchOptions) => {
      const kv = await connect({ dir: o.dir, config: o.config, client: o.client, sessions: o.concurrency });
      const value = "x".repeat(o.valueBytes);
      const latencies: number[] = [];
      let errors = 0;
      let measuring = false;
      let stop = false;
      const loops = Array.from({ length: o.concurrency }, async () => {
        while (!stop) {
          const key = `bench-${Math.floor(Math.random() * o.keys)}`;
          const t = performance.now();
          try {
            if (o.reads) await kv.get(key);
            else await kv.put(key, value);
            if (measuring) latencies.push(performance.now() - t);
          } catch {
            if (measuring) errors++;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1000));
      measuring = true;
      const start = performance.now();
      for (let s = 1; s <= o.seconds; s++) {
        await new Promise((r) => setTimeout(r, 1000));
        process.stderr.write(`${s}/${o.seconds} s: ${latencies.length} ops, ${errors} errors\n`);
      }
      measuring = false;
      const elapsed = (performance.now() - start) / 1000;
      stop = true;
      await Promise.all(loops);
      await kv.close();
      latencies.sort((a, b) => a - b);
      const q = (p: number) =>
        latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? null;
      const round = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
      console.log(
        JSON.stringify({
          bench: "phalanx-cluster",
          op: o.reads ? "get" : "put",
          concurrency: o.concurrency,
          valueBytes: o.valueBytes,
          seconds: Math.round(elapsed * 100) / 100,
          ops: latencies.length,
          opsPerSec: Math.round(latencies.length / elapsed),
          p50Ms: round(q(0.5)),
          p99Ms: round(q(0.99)),
          errors,
        }),
      );
      if (latencies.length === 0) process.exitCode = 1;
    });
}
