/**
 * PBFT end to end in the simulator: client-completed (committed) requests per second of wall
 * time for n = 4, 16 and 64 replicas, with the protocol's real authentication (Ed25519 on
 * pre-prepare, prepare and checkpoint; HMAC authenticators on requests, commits and replies).
 *
 * Workload: closed-loop clients (one outstanding request each, no think time) putting 16-byte
 * values over many keys; links uniform 0.1-0.5 ms, no faults; PBFT options are the defaults
 * unless `--batch`, `--inflight` or `--delay` override them. Each n gets a warm-up, then a
 * measured stretch bounded in wall time; the figures are completions counted in that stretch.
 *
 * Messages per request come from the simulator's send counter in the throughput run. Bytes per
 * request (MessagePack size of every sent message) come from a separate, shorter run in which
 * every process sees a Context that counts and encodes what it sends: encoding costs time, so
 * that run is not used for throughput.
 *
 * Wall-time figures depend on what else the machine runs: the line also gives the CPU time of
 * the measured stretch (committedPerCpuSec) and the load average at the start.
 *
 * Prints one JSON line. Options: --n=4,16 (replica counts), --clients=N, --seconds=S (measured
 * wall time for n <= 16; n = 64 gets a fixed budget), --batch=B --inflight=I --delay=D (PBFT
 * options), --no-bytes (skip the bytes run, for profiling), --signatures=fast (comparison only:
 * the simulator's stand-in signatures instead of Ed25519; the line says so).
 */
import { cpus, loadavg } from "node:os";
import { encode } from "../src/core/codec.ts";
import type { Millis, NodeId } from "../src/core/ids.ts";
import type { Context, Process, ProcessFactory, Storage, TimerId } from "../src/core/process.ts";
import { kvServiceFactory } from "../src/kv/service.ts";
import type { PbftSimTimer } from "../src/scenarios/pbft.ts";
import { Simulation } from "../src/sim/simulation.ts";
import { type ClientOp, type ClientTimer, PbftClient } from "../src/smr/pbft/client.ts";
import { defaultPbftOptions, type PbftConfig, type PbftOptions, pbftConfig } from "../src/smr/pbft/config.ts";
import type { PbftMsg } from "../src/smr/pbft/messages.ts";
import { Replica } from "../src/smr/pbft/replica.ts";

type Msg = PbftMsg;
type Tag = PbftSimTimer;

// ------------------------------------------------------------------ arguments

function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}
const numArg = (name: string): number | undefined => {
  const v = arg(name);
  return v === undefined ? undefined : Number(v);
};

const replicaCounts = (arg("n") ?? "4,16,64").split(",").map(Number);
const clientCount = numArg("clients") ?? 128;
const keys = 10_000;
const valueBytes = 16;
const latency = { kind: "uniform" as const, minMs: 0.1, maxMs: 0.5 };
const seconds = numArg("seconds") ?? 5;
/** Comparison only: the simulator's "fast" stand-in signatures instead of Ed25519. */
const signaturesArg = arg("signatures") === "fast" ? ("fast" as const) : ("ed25519" as const);
/** Profiling aid: skip the bytes run. */
const skipBytes = process.argv.includes("--no-bytes");
const overrides: Partial<PbftOptions> = {};
if (numArg("batch") !== undefined) overrides.batchMax = numArg("batch") as number;
if (numArg("inflight") !== undefined) overrides.inflightMax = numArg("inflight") as number;
if (numArg("delay") !== undefined) overrides.batchDelayMs = numArg("delay") as number;

/**
 * Wall-time budgets per n (ms): warm-up and measured stretch of the throughput run, then of the
 * bytes run. n = 64 completes a batch every few seconds, so its windows hold only a few batches
 * and its per-request ratios carry pipeline edge effects (messages of batches still in flight).
 */
function budget(n: number): { warmMs: number; measureMs: number; bytesWarmMs: number; bytesMs: number } {
  if (n <= 16) return { warmMs: 1000, measureMs: seconds * 1000, bytesWarmMs: 1000, bytesMs: 1500 };
  return { warmMs: 6000, measureMs: 30_000, bytesWarmMs: 4000, bytesMs: 12_000 };
}

// ------------------------------------------------------------------ workload

/** Closed-loop put clients: 16-byte values over `keys` keys, no think time, never stop. */
function putClient(config: PbftConfig, id: NodeId): PbftClient {
  let k = 0;
  const next = (ctx: Context<Msg, ClientTimer>): ClientOp => {
    k++;
    const key = `k${Math.floor(ctx.random() * keys)}`;
    const value = (id * 1_000_000_000 + k).toString(16).padStart(valueBytes, "0");
    return { op: encode({ kind: "put", key, value }), readOnly: false };
  };
  return new PbftClient(config, next, { thinkMs: 0 });
}

function factory(n: number, options: Partial<PbftOptions>): ProcessFactory<Msg, Tag> {
  const config = pbftConfig(
    Array.from({ length: n }, (_, i) => i as NodeId),
    options,
  );
  return (id) => (id < n ? new Replica(config, kvServiceFactory) : putClient(config, id));
}

// ------------------------------------------------------------------ send counting (bytes run)

interface Traffic {
  messages: number;
  bytes: number;
  byType: Map<string, { messages: number; bytes: number }>;
}

/** Encoded size per message object: a broadcast sends one object to many peers. */
const sizeOf = new WeakMap<object, number>();

class CountingContext implements Context<Msg, Tag> {
  constructor(
    private readonly inner: Context<Msg, Tag>,
    private readonly traffic: Traffic,
  ) {}
  get self(): NodeId {
    return this.inner.self;
  }
  get nodes(): readonly NodeId[] {
    return this.inner.nodes;
  }
  get storage(): Storage {
    return this.inner.storage;
  }
  now(): Millis {
    return this.inner.now();
  }
  send(to: NodeId, msg: Msg): void {
    let size = sizeOf.get(msg);
    if (size === undefined) {
      size = encode(msg).byteLength;
      sizeOf.set(msg, size);
    }
    const t = this.traffic;
    t.messages++;
    t.bytes += size;
    let row = t.byType.get(msg.type);
    if (row === undefined) {
      row = { messages: 0, bytes: 0 };
      t.byType.set(msg.type, row);
    }
    row.messages++;
    row.bytes += size;
    this.inner.send(to, msg);
  }
  setTimer(afterMs: Millis, tag: Tag): TimerId {
    return this.inner.setTimer(afterMs, tag);
  }
  cancelTimer(id: TimerId): void {
    this.inner.cancelTimer(id);
  }
  random(): number {
    return this.inner.random();
  }
  sign(data: Uint8Array): Uint8Array {
    return this.inner.sign(data);
  }
  verify(signer: NodeId, data: Uint8Array, signature: Uint8Array): boolean {
    return this.inner.verify(signer, data, signature);
  }
  mac(peer: NodeId, data: Uint8Array): Uint8Array {
    return this.inner.mac(peer, data);
  }
  checkMac(peer: NodeId, data: Uint8Array, tag: Uint8Array): boolean {
    return this.inner.checkMac(peer, data, tag);
  }
  trace(label: string, detail?: unknown): void {
    this.inner.trace(label, detail);
  }
  output(record: unknown): void {
    this.inner.output(record);
  }
  count(metric: string, by?: number): void {
    this.inner.count(metric, by);
  }
  round(): number {
    return this.inner.round();
  }
}

/** A process that hands its inner process a counting Context (one per node context). */
function counted(inner: Process<Msg, Tag>, traffic: Traffic): Process<Msg, Tag> {
  const wrappers = new WeakMap<Context<Msg, Tag>, CountingContext>();
  const wrap = (ctx: Context<Msg, Tag>): CountingContext => {
    let w = wrappers.get(ctx);
    if (w === undefined) {
      w = new CountingContext(ctx, traffic);
      wrappers.set(ctx, w);
    }
    return w;
  };
  return {
    start: (ctx) => inner.start(wrap(ctx)),
    receive: (ctx, from, msg) => inner.receive(wrap(ctx), from, msg),
    timeout: (ctx, tag) => inner.timeout(wrap(ctx), tag),
  };
}

// ------------------------------------------------------------------ runs

interface RunResult {
  completed: number;
  wallMs: number;
  /** CPU time of this process over the measured stretch (less sensitive to a busy machine). */
  cpuMs: number;
  virtualMs: number;
  sent: number;
  batches: number;
  newViews: number;
  requestTimeouts: number;
  retransmits: number;
  traffic?: Traffic;
}

/**
 * Warm up for `warmMs` of wall time, then count completions over `measureMs` of wall time,
 * advancing virtual time in small steps.
 */
function run(
  n: number,
  options: Partial<PbftOptions>,
  warmMs: number,
  measureMs: number,
  countBytes: boolean,
) {
  const traffic: Traffic = { messages: 0, bytes: 0, byType: new Map() };
  const base = factory(n, options);
  const sim = new Simulation<Msg, Tag>({
    seed: 1,
    nodes: n + clientCount,
    factory: countBytes ? (id) => counted(base(id), traffic) : base,
    network: { link: { latency } },
    trace: false,
    signatures: signaturesArg,
  });
  let completed = 0;
  let batches = 0;
  let newViews = 0;
  sim.onOutput((o) => {
    const kind = (o.record as { kind: string }).kind;
    if (kind === "complete") completed++;
    else if (kind === "executed" && o.node === 0) batches++;
    else if (kind === "new-view") newViews++;
  });
  const stepMs = n > 16 ? 0.25 : 2; // virtual ms per step: small enough to stop near the wall budget
  const advance = (wallBudgetMs: number): void => {
    const t0 = performance.now();
    while (performance.now() - t0 < wallBudgetMs) {
      sim.runUntil(sim.now + stepMs);
      sim.outputs.length = 0; // keep memory flat; the listener has counted them
    }
  };
  advance(warmMs);
  const c0 = completed;
  const s0 = sim.stats.sent;
  const b0 = batches;
  const v0 = sim.now;
  const m0 = traffic.messages;
  const y0 = traffic.bytes;
  const byType0 = new Map([...traffic.byType].map(([k, v]) => [k, { ...v }]));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  advance(measureMs);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const r: RunResult = {
    completed: completed - c0,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    virtualMs: sim.now - v0,
    sent: sim.stats.sent - s0,
    batches: batches - b0,
    newViews,
    requestTimeouts: sim.counter("pbft.request-timeout"),
    retransmits: sim.counter("client.retransmit"),
  };
  if (countBytes) {
    const byType = new Map<string, { messages: number; bytes: number }>();
    for (const [k, v] of traffic.byType) {
      const b = byType0.get(k) ?? { messages: 0, bytes: 0 };
      byType.set(k, { messages: v.messages - b.messages, bytes: v.bytes - b.bytes });
    }
    r.traffic = { messages: traffic.messages - m0, bytes: traffic.bytes - y0, byType };
  }
  return r;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function measure(n: number) {
  const b = budget(n);
  const t = run(n, overrides, b.warmMs, b.measureMs, false);
  const y = skipBytes ? t : run(n, overrides, b.bytesWarmMs, b.bytesMs, true);
  const traffic = y.traffic ?? { messages: 0, bytes: 0, byType: new Map() };
  const perType: Record<string, { msgsPerReq: number; bytesPerReq: number }> = {};
  for (const [k, v] of [...traffic.byType].sort((p, q) => q[1].bytes - p[1].bytes)) {
    perType[k] = {
      msgsPerReq: round1(v.messages / Math.max(1, y.completed)),
      bytesPerReq: Math.round(v.bytes / Math.max(1, y.completed)),
    };
  }
  return {
    n,
    committedPerSec: Math.round(t.completed / (t.wallMs / 1000)),
    completed: t.completed,
    wallMs: Math.round(t.wallMs),
    committedPerCpuSec: Math.round(t.completed / (t.cpuMs / 1000)),
    virtualMs: Math.round(t.virtualMs),
    committedPerVirtualSec: Math.round(t.completed / (t.virtualMs / 1000)),
    batches: t.batches,
    requestsPerBatch: round1(t.completed / Math.max(1, t.batches)),
    messagesPerRequest: round1(t.sent / Math.max(1, t.completed)),
    bytesPerRequest: skipBytes ? null : Math.round(traffic.bytes / Math.max(1, y.completed)),
    bytesRun: skipBytes
      ? null
      : {
          completed: y.completed,
          batches: y.batches,
          wallMs: Math.round(y.wallMs),
          messagesPerRequest: round1(traffic.messages / Math.max(1, y.completed)),
          byType: perType,
        },
    newViews: t.newViews,
    requestTimeouts: t.requestTimeouts,
    clientRetransmits: t.retransmits,
  };
}

const started = performance.now();
const loadAtStart = loadavg()[0] as number;
const results = replicaCounts.map(measure);
console.log(
  JSON.stringify({
    bench: "pbft-sim",
    workload: `${clientCount} closed-loop clients, 1 outstanding put each, ${valueBytes}-byte values over ${keys} keys, no think time`,
    network: "uniform 0.1-0.5 ms, no faults",
    auth:
      signaturesArg === "ed25519"
        ? "Ed25519 on pre-prepare/prepare/checkpoint, HMAC on request/commit/reply"
        : "NOT REAL: simulator fast signatures (HMAC-SHA512) instead of Ed25519; HMAC on request/commit/reply",
    options: { ...defaultPbftOptions, ...overrides },
    method:
      "per n: warm-up, then client completions counted over a wall-time-bounded stretch (n<=16: 1 s warm-up, " +
      `${seconds} s measured; n=64: 6 s + 30 s); messages/request from that run; bytes/request (msgpack size ` +
      "of every sent message, encoded once per message object) from a separate shorter run (n<=16: 1 s + 1.5 s; " +
      "n=64: 4 s + 12 s) whose processes send through a counting Context",
    results,
    targetCommittedPerSecN4: 20_000,
    machine: { cpus: cpus().length, loadAvg1mAtStart: round1(loadAtStart), node: process.version },
    totalWallMs: Math.round(performance.now() - started),
  }),
);
