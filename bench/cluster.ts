/**
 * Phalanx against etcd, both run for real on this machine in the same run: put throughput and
 * latency of a 4-replica Phalanx cluster (PBFT, tolerates f = 1 Byzantine replica) and of a
 * 3-member etcd cluster (Raft, tolerates 1 crashed member), every process on loopback.
 *
 * Workload, identical for both: C closed-loop clients (C operations in flight, no think time),
 * each doing `put(key, value)` back to back; keys drawn uniformly from 10,000 keys (`key00000`..
 * `key09999`), values of 16 bytes and of 1 KiB (ASCII, different for every put). For every
 * (value size, C) cell: a warm-up (1 s, `--warmup=S`), then a measured stretch of fixed wall
 * time (5 s, `--seconds=S`). Puts completing inside the stretch are counted: ops/s is their
 * number over the stretch, p50/p99 their latency (issue to completion, as seen by the caller).
 * When the stretch ends no new put starts; puts in flight finish unseen (a bounded wait).
 * A failed put is counted as an error, not as an op, and its loop pauses 10 ms.
 *
 * Both systems write durably. Phalanx: `phalanx init` + `phalanx up` (4 replica processes,
 * lmdb, a commit returns after fdatasync; group commit), driven through the client library
 * (`connect({ sessions: C })`: one client, C PBFT sessions, results accepted on f+1 matching
 * replies). etcd: 3 members with default settings (fsync on; no --unsafe-no-fsync), driven
 * through the `etcd3` npm client (gRPC), which sends each call to a random member (followers
 * forward proposals to the leader) and retries a failed call up to 3 times by default. For
 * C > 1 etcd is measured twice: one Etcd3 object shared by the C loops (one HTTP/2 connection
 * per member, calls multiplexed) and one Etcd3 object per loop (each with its own connections:
 * `grpc.use_local_subchannel_pool`); the cell reports the variant with more ops/s, labelled,
 * and the other one beside it. Phalanx runs first, then etcd; never both at once.
 *
 * Where time goes: per cell, CPU used over the measured stretch by the server processes
 * (/proc/<pid>/stat of the replicas or members) and by this process (the client library), in
 * cores (CPU seconds per wall second) and in CPU ms per op; and disk syncs per op over the
 * whole cell (warm-up included) from the servers' /metrics, summed over replicas/members:
 * Phalanx `phalanx_storage_commits` (lmdb commits, each an fdatasync), etcd
 * `etcd_disk_wal_fsync_duration_seconds_count` (WAL fsyncs). The temp dirs' filesystem is in
 * the line: on tmpfs, syncs cost nothing.
 *
 * Every figure is wall-time based and shares this machine (load average and CPU count are in
 * the line) with the client, which runs in this process: on few cores, client and servers
 * compete for CPU.
 *
 * Prints one JSON line on stdout; progress goes to stderr. Options: --seconds=S, --warmup=S,
 * --only=phalanx|etcd, --concurrency=1,16,64, --values=16,1024, --etcd-clients=both|shared|per-loop,
 * --tmp=DIR (where the data dirs go; default the OS temp dir). Installs etcd-server with apt-get
 * if `etcd` is not on PATH. Both clusters are stopped and their dirs removed at the end, on an
 * error and on Ctrl-C.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { connect } from "../src/client/client.ts";

// ------------------------------------------------------------------ arguments

function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

function usage(msg: string): never {
  process.stderr.write(`bench/cluster: ${msg}\n`);
  process.exit(2);
}

function positive(name: string, fallback: number): number {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} must be a positive number, not ${JSON.stringify(v)}`);
  return n;
}

function intList(name: string, fallback: string, max: number): number[] {
  const list = (arg(name) ?? fallback).split(",").map((s) => Number(s.trim()));
  for (const n of list)
    if (!Number.isSafeInteger(n) || n < 1 || n > max) usage(`--${name} takes integers in [1, ${max}]`);
  return list;
}

const seconds = positive("seconds", 5);
const warmupSeconds = positive("warmup", 1);
const only = arg("only");
if (only !== undefined && only !== "phalanx" && only !== "etcd") usage("--only is phalanx or etcd");
const concurrencies = intList("concurrency", "1,16,64", 1024);
const valueSizes = intList("values", "16,1024", 1 << 20);
const etcdClients = arg("etcd-clients") ?? "both";
if (etcdClients !== "both" && etcdClients !== "shared" && etcdClients !== "per-loop")
  usage("--etcd-clients is both, shared or per-loop");
const tmpBase = arg("tmp") ?? tmpdir();

const keySpace = 10_000;
/** Bounded wait for puts still in flight when a measured stretch ends (clients time out at 10 s). */
const drainMs = 15_000;
const opTimeoutMs = 10_000;
const startupMs = 60_000;
const stopGraceMs = 10_000;

const binPath = fileURLToPath(new URL("../bin/phalanx.js", import.meta.url));
const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ cleanup (also on Ctrl-C)

const cleanups = new Set<() => Promise<void>>();

/** Registers `fn` to run once, from the caller's finally or from a signal, whichever is first. */
function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    done ??= fn().finally(() => cleanups.delete(once));
    return done;
  };
  cleanups.add(once);
  return once;
}

// Servers run in their own process groups (detached), so a Ctrl-C reaches this process only and
// each server gets exactly one stop signal, from the cleanup. A repeated signal does not cut it short.
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return say(`${signal}: still stopping`);
    stopping = true;
    say(`${signal}: stopping clusters and removing their dirs`);
    Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ processes and ports

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A base port such that base..base+count-1 are all free on 127.0.0.1 right now. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found between 20000 and 50000`);
}

const clockTicks = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds of a process so far (0 if it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / clockTicks;
  } catch {
    return 0;
  }
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/**
 * Sends `signal`, waits up to `graceMs` for the exit, else SIGKILLs it; then gives the pids in
 * `also` (its children) up to `graceMs` to be gone, and SIGKILLs those left.
 */
async function stopChild(c: ChildProcess, signal: NodeJS.Signals, graceMs: number, also: number[] = []) {
  if (alive(c)) {
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill(signal);
    const inTime = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!inTime) {
      say(`pid ${c.pid} did not exit ${graceMs / 1000} s after ${signal}; SIGKILL`);
      c.kill("SIGKILL");
      await Promise.race([exited, sleep(2000)]);
    }
  }
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = performance.now() + graceMs;
  while (also.some(running) && performance.now() < deadline) await sleep(100);
  for (const pid of also.filter(running)) {
    say(`pid ${pid} still running ${graceMs / 1000} s after ${signal}; SIGKILL`);
    process.kill(pid, "SIGKILL");
  }
}

/** Sum of every sample of each named metric (any labels) in a Prometheus text page. */
async function scrape(url: string, names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    for (const n of names) {
      if (line.startsWith(`${n} `) || line.startsWith(`${n}{`)) {
        out[n] = (out[n] as number) + Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
  }
  return out;
}

function fsType(dir: string): string {
  const r = spawnSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "unknown";
}

// ------------------------------------------------------------------ closed loop

type Put = (key: string, value: string) => Promise<unknown>;

/** What a system under test gives the loop: server pids (for CPU) and a disk-sync counter. */
interface Server {
  pids: number[];
  diskSyncs(): Promise<number>;
}

interface Cell {
  opsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
  ops: number;
  errors: number;
  firstError?: string;
  measuredMs: number;
  serverCpuCores: number;
  clientCpuCores: number;
  serverCpuMsPerOp: number | null;
  clientCpuMsPerOp: number | null;
  diskSyncsPerOp: number | null;
  undrained: number;
}

function quantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * `puts.length` loops, loop i calling puts[i] back to back; a warm-up, then a measured stretch.
 * Counts puts that complete inside the stretch; samples CPU at its two ends.
 */
async function closedLoop(puts: readonly Put[], valueBytes: number, server: Server): Promise<Cell> {
  const warmMs = warmupSeconds * 1000;
  const measureMs = seconds * 1000;
  const syncs0 = await server.diskSyncs();
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let allOps = 0;
  let over = false;
  const t0 = performance.now();
  const mStart = t0 + warmMs;
  const mEnd = mStart + measureMs;
  const serverCpu = () => server.pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const clientCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let sample0 = { at: 0, server: 0, client: 0 };
  let sample1 = { at: 0, server: 0, client: 0 };
  const take = () => ({ at: performance.now(), server: serverCpu(), client: clientCpu() });
  const timers = [
    setTimeout(() => (sample0 = take()), warmMs),
    setTimeout(() => (sample1 = take()), warmMs + measureMs),
  ];
  const pad = "v".repeat(valueBytes);
  const loop = async (i: number, put: Put) => {
    for (let seq = 0; ; seq++) {
      const s = performance.now();
      if (s >= mEnd) return;
      const key = `key${Math.floor(Math.random() * keySpace)
        .toString()
        .padStart(5, "0")}`;
      const value = `${i.toString(36)}.${seq.toString(36)}.${pad}`.slice(0, valueBytes);
      let failed = false;
      try {
        await put(key, value);
      } catch (e) {
        failed = true;
        if (over) return;
        const e1 = performance.now();
        if (e1 >= mStart && e1 <= mEnd) {
          errors++;
          firstError ??= String((e as Error)?.message ?? e).slice(0, 200);
        }
        await sleep(10);
      }
      if (over) return;
      const e = performance.now();
      if (failed) continue;
      allOps++;
      if (e >= mStart && e <= mEnd) latencies.push(e - s);
    }
  };
  const loops = Promise.all(puts.map((p, i) => loop(i, p)));
  const drained = await Promise.race([loops.then(() => true), sleep(warmMs + measureMs + drainMs)]);
  over = true;
  for (const t of timers) clearTimeout(t);
  if (sample1.at === 0) sample1 = take();
  const undrained = drained === true ? 0 : puts.length;
  const syncs1 = await server.diskSyncs();
  const sorted = Float64Array.from(latencies).sort();
  const ops = sorted.length;
  const wall = (sample1.at - sample0.at) / 1000;
  const sCpu = sample1.server - sample0.server;
  const cCpu = sample1.client - sample0.client;
  return {
    opsPerSec: Math.round(ops / (measureMs / 1000)),
    p50Ms: nullable(quantile(sorted, 0.5), round2),
    p99Ms: nullable(quantile(sorted, 0.99), round2),
    meanMs: ops === 0 ? null : round2(sorted.reduce((a, b) => a + b, 0) / ops),
    ops,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    measuredMs: Math.round(measureMs),
    serverCpuCores: round2(sCpu / wall),
    clientCpuCores: round2(cCpu / wall),
    serverCpuMsPerOp: ops === 0 ? null : round3((sCpu * 1000) / ops),
    clientCpuMsPerOp: ops === 0 ? null : round3((cCpu * 1000) / ops),
    diskSyncsPerOp: allOps === 0 ? null : round3((syncs1 - syncs0) / allOps),
    undrained,
  };
}

function nullable(x: number | null, f: (x: number) => number): number | null {
  return x === null ? null : f(x);
}

const cellName = (c: number, v: number) => `c${c}_${v}B`;
const describe = (c: Cell) =>
  `${c.opsPerSec} ops/s, p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms, server ${c.serverCpuCores} cores, ` +
  `client ${c.clientCpuCores} cores, ${c.diskSyncsPerOp} syncs/op${c.errors > 0 ? `, ${c.errors} errors` : ""}`;

// ------------------------------------------------------------------ Phalanx

interface PhalanxReplica {
  id: number;
  httpUrl: string;
  pid: number;
}

async function phalanx() {
  const dir = mkdtempSync(join(tmpBase, "phalanx-bench-"));
  let up: ChildProcess | undefined;
  const replicas: PhalanxReplica[] = [];
  const stop = onCleanup(async () => {
    if (up !== undefined) {
      say("phalanx: stopping the cluster (SIGINT to phalanx up)");
      await stopChild(
        up,
        "SIGINT",
        stopGraceMs,
        replicas.map((r) => r.pid),
      );
    }
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const base = await freePortRange(8);
    const init = spawnSync(process.execPath, [binPath, "init", "--dir", dir, "--port", String(base)], {
      encoding: "utf8",
    });
    if (init.status !== 0) throw new Error(`phalanx init failed (${init.status}): ${init.stderr}`);
    say(`phalanx: init in ${dir}, ports ${base}..${base + 7}; starting phalanx up`);
    const child = spawn(process.execPath, [binPath, "up", "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    up = child;
    let replicaCount = 0;
    let buffered = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      for (; nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = /^replica (\d+): peers \S+\s+(http:\/\/\S+)\/status\s+pid (\d+)/.exec(line);
        if (m !== null) replicas.push({ id: Number(m[1]), httpUrl: m[2] as string, pid: Number(m[3]) });
        const n = /^cluster of (\d+) replicas/.exec(line);
        if (n !== null) replicaCount = Number(n[1]);
      }
    });
    child.stderr
      ?.setEncoding("utf8")
      .on("data", (chunk: string) => process.stderr.write(chunk.replace(/^(?=.)/gm, "[phalanx up] ")));

    // Wait until every replica reports n-1 connected peers.
    const started = performance.now();
    const startMs = await (async () => {
      for (;;) {
        if (!alive(child)) throw new Error(`phalanx up exited (${child.exitCode ?? child.signalCode})`);
        if (performance.now() - started > startupMs) {
          const logs = replicas.map((r) => join(dir, `replica-${r.id}.log`)).join(", ");
          throw new Error(
            `phalanx cluster not connected after ${startupMs / 1000} s (every /status must list ${Math.max(0, replicaCount - 1)} peers); replica logs: ${logs || "none"}`,
          );
        }
        if (replicaCount > 0 && replicas.length === replicaCount) {
          const peers = await Promise.all(
            replicas.map(async (r) => {
              try {
                const res = await fetch(`${r.httpUrl}/status`, { signal: AbortSignal.timeout(1000) });
                const s = (await res.json()) as { peers?: unknown };
                return Array.isArray(s.peers) ? s.peers.length : -1;
              } catch {
                return -1;
              }
            }),
          );
          if (peers.every((p) => p === replicaCount - 1)) return performance.now() - started;
        }
        await sleep(200);
      }
    })();
    say(`phalanx: ${replicaCount} replicas connected after ${Math.round(startMs)} ms`);

    const commitMetric = "phalanx_storage_commits";
    const server: Server = {
      pids: replicas.map((r) => r.pid),
      diskSyncs: async () => {
        const pages = await Promise.all(replicas.map((r) => scrape(`${r.httpUrl}/metrics`, [commitMetric])));
        return pages.reduce((s, p) => s + (p[commitMetric] as number), 0);
      },
    };
    const clientCpu0 = process.cpuUsage();
    const cells: Record<string, Cell> = {};
    for (const v of valueSizes) {
      for (const c of concurrencies) {
        const kv = await connect({ dir, sessions: c, timeoutMs: opTimeoutMs });
        try {
          const put: Put = (key, value) => kv.put(key, value);
          const cell = await closedLoop(
            Array.from({ length: c }, () => put),
            v,
            server,
          );
          cells[cellName(c, v)] = cell;
          say(`phalanx ${cellName(c, v)}: ${describe(cell)}`);
        } finally {
          await kv.close();
        }
      }
    }
    const clientCpu = process.cpuUsage(clientCpu0);

    // Where time went, over the whole Phalanx part.
    const metrics = await Promise.all(
      replicas.map((r) =>
        scrape(`${r.httpUrl}/metrics`, [
          commitMetric,
          "phalanx_storage_barrier_wait_ms_sum",
          "phalanx_storage_barrier_wait_ms_count",
          "phalanx_pbft_view_changes_started_total",
          "phalanx_pbft_batches_executed_total",
          "phalanx_pbft_requests_executed_total",
        ]),
      ),
    );
    const commits = metrics.reduce((s, m) => s + (m[commitMetric] as number), 0);
    const barrierMsSum = metrics.reduce((s, m) => s + (m.phalanx_storage_barrier_wait_ms_sum as number), 0);
    const barrierCount = metrics.reduce((s, m) => s + (m.phalanx_storage_barrier_wait_ms_count as number), 0);
    const viewChanges = metrics.reduce(
      (s, m) => s + (m.phalanx_pbft_view_changes_started_total as number),
      0,
    );
    const m0 = metrics[0] ?? {};
    const totals = {
      storageCommitCountSum: commits,
      barrierWaitMeanMs: barrierCount === 0 ? null : round2(barrierMsSum / barrierCount),
      viewChangesStarted: viewChanges,
      replica0BatchesExecuted: m0.phalanx_pbft_batches_executed_total ?? null,
      replica0RequestsExecuted: m0.phalanx_pbft_requests_executed_total ?? null,
      cpuSeconds: {
        ...Object.fromEntries(replicas.map((r) => [`replica${r.id}`, round1(cpuSeconds(r.pid))])),
        ...(child.pid === undefined ? {} : { up: round1(cpuSeconds(child.pid)) }),
        benchClient: round1((clientCpu.user + clientCpu.system) / 1e6),
      },
    };
    return {
      cluster: `${replicaCount} replicas (f = 1 Byzantine), lmdb`,
      startMs: Math.round(startMs),
      cells,
      totals,
    };
  } finally {
    await stop();
  }
}

// ------------------------------------------------------------------ etcd

function etcdVersion(): string | null {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return null;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? r.stdout.split("\n")[0] ?? "unknown";
}

function ensureEtcd(): string {
  const v = etcdVersion();
  if (v !== null) return v;
  say("etcd is not on PATH: apt-get install -y etcd-server (output follows on stderr)");
  const r = spawnSync("apt-get", ["install", "-y", "etcd-server"], { stdio: ["ignore", 2, 2] });
  const after = etcdVersion();
  if (after === null)
    throw new Error(
      `etcd is not installed and apt-get install etcd-server failed (status ${r.status ?? r.error}); install etcd and retry`,
    );
  return after;
}

/** A client with a 10 s deadline per call; `ownConnections` keeps its channels out of grpc-js's shared pool. */
function etcdClient(hosts: string[], ownConnections = false): Etcd3 {
  return new Etcd3({
    hosts,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opTimeoutMs }),
    ...(ownConnections ? { grpcOptions: { "grpc.use_local_subchannel_pool": 1 } } : {}),
  });
}

async function etcd(version: string) {
  const dir = mkdtempSync(join(tmpBase, "etcd-bench-"));
  const members: { name: string; clientUrl: string; peerUrl: string; child?: ChildProcess }[] = [];
  const stop = onCleanup(async () => {
    if (members.some((m) => m.child !== undefined)) say("etcd: stopping the members (SIGTERM)");
    await Promise.all(
      members.map((m) => (m.child === undefined ? undefined : stopChild(m.child, "SIGTERM", stopGraceMs))),
    );
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const base = await freePortRange(6);
    for (let i = 0; i < 3; i++)
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${base + 2 * i}`,
        peerUrl: `http://127.0.0.1:${base + 2 * i + 1}`,
      });
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const token = `bench-${process.pid}-${Date.now()}`;
    say(`etcd ${version}: starting 3 members in ${dir}, ports ${base}..${base + 5}`);
    for (const m of members) {
      mkdirSync(join(dir, m.name));
      const log = openSync(join(dir, `${m.name}.log`), "a");
      m.child = spawn(
        "etcd",
        [
          `--name=${m.name}`,
          `--data-dir=${join(dir, m.name)}`,
          `--listen-client-urls=${m.clientUrl}`,
          `--advertise-client-urls=${m.clientUrl}`,
          `--listen-peer-urls=${m.peerUrl}`,
          `--initial-advertise-peer-urls=${m.peerUrl}`,
          `--initial-cluster=${initialCluster}`,
          "--initial-cluster-state=new",
          `--initial-cluster-token=${token}`,
          "--logger=zap",
          "--log-level=warn",
        ],
        { stdio: ["ignore", log, log], detached: true },
      );
      closeSync(log);
    }

    // Healthy: a put then a get through each member, in a bounded loop.
    const started = performance.now();
    for (const m of members) {
      for (;;) {
        for (const x of members)
          if (x.child !== undefined && !alive(x.child))
            throw new Error(`etcd ${x.name} exited; see ${join(dir, `${x.name}.log`)}`);
        if (performance.now() - started > startupMs)
          throw new Error(
            `etcd ${m.name} not healthy after ${startupMs / 1000} s; see ${join(dir, `${m.name}.log`)}`,
          );
        const probe = new Etcd3({
          hosts: [m.clientUrl],
          defaultCallOptions: () => ({ deadline: Date.now() + 2000 }),
        });
        try {
          await probe.put(`health/${m.name}`).value("ok");
          if ((await probe.get(`health/${m.name}`).string()) === "ok") break;
        } catch {
          await sleep(200);
        } finally {
          probe.close();
        }
      }
    }
    const startMs = performance.now() - started;
    say(`etcd: 3 members healthy after ${Math.round(startMs)} ms`);

    const hosts = members.map((m) => m.clientUrl);
    const walFsyncs = "etcd_disk_wal_fsync_duration_seconds_count";
    const backendCommits = "etcd_disk_backend_commit_duration_seconds_count";
    const server: Server = {
      pids: members.map((m) => m.child?.pid ?? 0),
      diskSyncs: async () => {
        const pages = await Promise.all(members.map((m) => scrape(`${m.clientUrl}/metrics`, [walFsyncs])));
        return pages.reduce((s, p) => s + (p[walFsyncs] as number), 0);
      },
    };
    const measure = async (c: number, v: number, variant: "shared" | "per-loop") => {
      const clients =
        variant === "shared" ? [etcdClient(hosts)] : Array.from({ length: c }, () => etcdClient(hosts, true));
      try {
        const puts: Put[] = Array.from({ length: c }, (_, i) => {
          const client = clients[variant === "shared" ? 0 : i] as Etcd3;
          return (key, value) => client.put(key).value(value).exec();
        });
        const cell = await closedLoop(puts, v, server);
        say(`etcd ${cellName(c, v)} (${variant} client): ${describe(cell)}`);
        return cell;
      } finally {
        for (const cl of clients) cl.close();
      }
    };
    const clientCpu0 = process.cpuUsage();
    const cells: Record<string, Cell & { client: string; other?: Record<string, unknown> }> = {};
    for (const v of valueSizes) {
      for (const c of concurrencies) {
        const variants: ("shared" | "per-loop")[] =
          c === 1 || etcdClients === "shared"
            ? ["shared"]
            : etcdClients === "per-loop"
              ? ["per-loop"]
              : ["shared", "per-loop"];
        const results: { variant: string; cell: Cell }[] = [];
        for (const variant of variants) results.push({ variant, cell: await measure(c, v, variant) });
        results.sort((a, b) => b.cell.opsPerSec - a.cell.opsPerSec);
        const best = results[0] as { variant: string; cell: Cell };
        const other = results[1];
        cells[cellName(c, v)] = {
          client: c === 1 ? "one Etcd3 object" : `${best.variant} (${variants.length} measured)`,
          ...best.cell,
          ...(other === undefined
            ? {}
            : {
                other: {
                  client: other.variant,
                  opsPerSec: other.cell.opsPerSec,
                  p50Ms: other.cell.p50Ms,
                  p99Ms: other.cell.p99Ms,
                  errors: other.cell.errors,
                },
              }),
        };
      }
    }
    const clientCpu = process.cpuUsage(clientCpu0);
    const metrics = await Promise.all(
      members.map((m) =>
        scrape(`${m.clientUrl}/metrics`, [
          walFsyncs,
          "etcd_disk_wal_fsync_duration_seconds_sum",
          backendCommits,
        ]),
      ),
    );
    const fsyncs = metrics.reduce((s, m) => s + (m[walFsyncs] as number), 0);
    const fsyncSecs = metrics.reduce((s, m) => s + (m.etcd_disk_wal_fsync_duration_seconds_sum as number), 0);
    const totals = {
      walFsyncCountSum: fsyncs,
      walFsyncMeanMs: fsyncs === 0 ? null : round2((fsyncSecs * 1000) / fsyncs),
      backendCommitCountSum: metrics.reduce((s, m) => s + (m[backendCommits] as number), 0),
      cpuSeconds: {
        ...Object.fromEntries(members.map((m) => [m.name, round1(cpuSeconds(m.child?.pid ?? 0))])),
        benchClient: round1((clientCpu.user + clientCpu.system) / 1e6),
      },
    };
    return {
      cluster: `3 members (tolerates 1 crash), etcd ${version}, default durability (fsync on)`,
      startMs: Math.round(startMs),
      cells,
      totals,
    };
  } finally {
    await stop();
  }
}

// ------------------------------------------------------------------ main

async function main() {
  const started = performance.now();
  const loadAtStart = loadavg()[0] as number;
  const version = only === "phalanx" ? (etcdVersion() ?? "not installed") : ensureEtcd();
  const p = only === "etcd" ? null : await phalanx();
  const e = only === "phalanx" ? null : await etcd(version);

  const ratio: Record<string, number | null> = {};
  if (p !== null && e !== null)
    for (const name of Object.keys(p.cells)) {
      const pe = p.cells[name]?.opsPerSec;
      const ee = e.cells[name]?.opsPerSec;
      ratio[name] = pe === undefined || ee === undefined || ee === 0 ? null : round2(pe / ee);
    }
  const c64 = cellName(64, 16);
  const c1 = cellName(1, 16);
  const pair = (a: number | null | undefined, b: number | null | undefined) => ({
    phalanx: a ?? null,
    etcd: b ?? null,
    ratio: a == null || b == null || b === 0 ? null : round2(a / b),
  });
  console.log(
    JSON.stringify({
      bench: "cluster",
      workload:
        `closed-loop clients, concurrency ${concurrencies.join("/")} (= puts in flight), put(key, value) back to ` +
        `back with no think time, keys uniform over ${keySpace}, values of ${valueSizes.join(" and ")} bytes`,
      method:
        `per cell: ${warmupSeconds} s warm-up, then ${seconds} s measured (wall time); ops/s = puts completed in ` +
        "the stretch / its length, p50/p99 over their latencies; failed puts are errors, not ops. Phalanx " +
        "(phalanx up, 4 replica processes, durable lmdb) through connect({sessions: C}); etcd (3 members, " +
        "default fsync) through the etcd3 npm client, for C > 1 both one shared Etcd3 object and one per loop, " +
        "the better one reported and labelled. Systems measured one after the other on this machine, client " +
        "in this process. serverCpuCores/clientCpuCores: CPU seconds per wall second over the stretch (/proc " +
        "stat of the server processes, process.cpuUsage of this one); diskSyncsPerOp over the whole cell, " +
        "summed over replicas/members: Phalanx lmdb commits (phalanx_storage_commits, one fdatasync " +
        "each), etcd WAL fsyncs (etcd_disk_wal_fsync_duration_seconds_count)",
      phalanx: p,
      etcd: e,
      ratio: p !== null && e !== null ? { of: "phalanx/etcd ops/s", ...ratio } : null,
      headline: {
        [c64]: pair(p?.cells[c64]?.opsPerSec, e?.cells[c64]?.opsPerSec),
        [`${c1}_p50_ms`]: pair(p?.cells[c1]?.p50Ms, e?.cells[c1]?.p50Ms),
      },
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? "unknown",
        memGiB: round1(totalmem() / 2 ** 30),
        loadAvg1mAtStart: round2(loadAtStart),
        loadAvg1mAtEnd: round2(loadavg()[0] as number),
        node: process.version,
        kernel: release(),
        dataDirFs: fsType(tmpBase),
      },
      totalWallMs: Math.round(performance.now() - started),
    }),
  );
}

main().then(
  () => process.exit(0),
  async (e: unknown) => {
    say(`failed: ${(e as Error)?.stack ?? e}`);
    await Promise.allSettled([...cleanups].map((c) => c()));
    process.exit(1);
  },
);
