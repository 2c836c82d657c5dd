/**
 * `phalanx sim deadlock`: distributed deadlock detection and phantom deadlocks (seed 002,
 * "Who cares?", "Deadlock detection algorithm", "Phantom deadlocks!" and "Consistent cuts and
 * snapshots"). Nodes run a lock service (deadlock/locks.ts): each manages resources and runs
 * transactions that lock resources of other nodes (two by default) in a random order, so
 * wait-for edges come and go at a high rate and real deadlocks form. Two detectors watch the
 * same run:
 *
 * - naive (deadlock/node.ts): asks the managers for their wait-for edges one at a time and
 *   joins the answers; the answers come from different moments, so it can report a cycle that
 *   never existed, a phantom deadlock;
 * - snapshot (deadlock/detector.ts): builds the graph from a Chandy–Lamport snapshot over FIFO
 *   channels, with the lock messages in flight folded in; it breaks each deadlock it finds by
 *   aborting one transaction.
 *
 * The oracle is the simulator's ground truth (deadlock/truth.ts): the real wait-for graph after
 * every event. The run is ok when the snapshot detector reported no phantom, every cycle it
 * reported still existed when its snapshot completed (deadlock is stable), and every deadlock
 * that existed when one of its snapshots began was in that snapshot (unless an earlier
 * detection had already found it and its abort was on the way). The naive detector's phantoms
 * are reported, not judged: they are the point of the experiment.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import type { Millis, NodeId } from "../core/ids.ts";
import { type OutputRecord, Simulation } from "../sim/simulation.ts";
import { hostName, type TraceEvent, traceToJsonl } from "../sim/trace.ts";
import { DeadlockNode } from "./deadlock/detector.ts";
import { type Cycle, deadlockKey, nodesKey, type TxnView, trueEdges } from "./deadlock/graph.ts";
import type { LockTimer } from "./deadlock/locks.ts";
import { type DeadlockMsg, deadlockLimits, ownerOf, type ResourceView } from "./deadlock/messages.ts";
import { type DeadlockOutput, type Detected, type DetectorName, LockNode } from "./deadlock/node.ts";
import { GroundTruth, type Interval, type TrueDeadlock } from "./deadlock/truth.ts";
import { intSetting } from "./settings.ts";
import { type SnapshotMsg, type SnapshotTimer, snapshotLimits } from "./snapshot/chandy-lamport.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

const NAME = "deadlock";

const nodesMin = 2;
/** Longest stretch of time nodes start transactions in (it bounds a node's transaction count). */
const workMsMax = 100_000;
/**
 * Detections while nodes start transactions: half of what the snapshot layer allows, the other
 * half for the detections that go on until the service is quiet.
 */
const workDetectionsMax = snapshotLimits.initiationsMax / 2;
/** Phantoms explained edge by edge in the report. */
const phantomsExplainedMax = 3;

/** One run of the experiment. */
export interface DeadlockParams {
  nodes: number;
  seed: number;
  /** Resources each node manages. */
  locks: number;
  /** Locks one transaction takes. */
  txnLocks: number;
  holdMs: Millis;
  thinkMs: Millis;
  /** Time between two detections (of each detector). */
  periodMs: Millis;
  /** Time during which nodes start transactions. */
  workMs: Millis;
  /** Mean one-way message latency (exponential, at least 1 ms; every channel FIFO). */
  latencyMs: Millis;
  /** Strategy "ignore-channels": the snapshot detector drops its channel states (wrong on purpose). */
  ignoreChannels: boolean;
}

export const defaultDeadlockParams: Omit<DeadlockParams, "seed"> = {
  nodes: 5,
  locks: 1,
  txnLocks: 2,
  holdMs: 20,
  thinkMs: 10,
  periodMs: 100,
  workMs: 2000,
  latencyMs: 5,
  ignoreChannels: false,
};

/** A reported cycle, judged against the ground truth. */
export interface JudgedCycle extends Detected {
  /** It existed at some instant while its detection ran. */
  real: boolean;
  /** It (with the same transactions) still existed when its detection completed. */
  presentAtEnd: boolean;
}

export interface DetectionRecord {
  detector: DetectorName;
  id: number;
  startMs: number;
  /** Null if the detection never completed. */
  endMs: number | null;
  cycles: JudgedCycle[];
  /** Snapshot detector: deadlocks (by `deadlockKey`) that existed at its start, not yet found, and missing from its report. */
  missed: string[];
}

export interface DeadlockRun {
  params: DeadlockParams;
  sim: Simulation<Msg, Tag>;
  truth: GroundTruth;
  detections: DetectionRecord[];
  /** Deadlocks (by `deadlockKey`) the snapshot detector reported. */
  found: Set<string>;
  /** Deadlocks that existed when some snapshot began. */
  examined: Set<string>;
}

type Msg = SnapshotMsg<DeadlockMsg, ResourceView[]>;
type Tag = SnapshotTimer<LockTimer>;

/** A detection that has started and not completed, with the deadlocks that existed when it started. */
type Running = Map<string, { record: DetectionRecord; atStart: ReadonlyMap<string, Cycle> }>;

/** The real wait-for graph now, from every node's state. */
function realEdges(sim: Simulation<Msg, Tag>) {
  const txns: TxnView[] = [];
  const views = new Map<number, ResourceView>();
  for (const id of sim.nodes) {
    const seen = (sim.process(id) as DeadlockNode).observe();
    txns.push(seen.txn);
    for (const v of seen.views) views.set(v.r, v);
  }
  return trueEdges(txns, views);
}

/** Runs the experiment to quiescence, judging every detection against the ground truth as it completes. */
export function simulateDeadlocks(p: DeadlockParams, trace = false): DeadlockRun {
  const detector = 0 as NodeId;
  const shape = { nodes: Array.from({ length: p.nodes }, (_, i) => i as NodeId), locksPerNode: p.locks };
  const nodeOptions = {
    locksPerNode: p.locks,
    txnLocks: p.txnLocks,
    holdMs: p.holdMs,
    thinkMs: p.thinkMs,
    workMs: p.workMs,
    detector,
  };
  const sim = new Simulation<Msg, Tag>({
    seed: p.seed,
    nodes: shape.nodes,
    factory: (id: NodeId) =>
      new DeadlockNode(new LockNode(id, shape.nodes, nodeOptions), {
        shape,
        detector: id === detector,
        periodMs: p.periodMs,
        workMs: p.workMs,
        foldChannels: !p.ignoreChannels,
      }),
    network: {
      link: { fifo: true, latency: { kind: "exponential", minMs: 1, meanMs: p.latencyMs } },
    },
    trace,
  });
  const run: DeadlockRun = {
    params: p,
    sim,
    truth: new GroundTruth(),
    detections: [],
    found: new Set(),
    examined: new Set(),
  };
  const running: Running = new Map();
  let handled = 0;
  while (sim.step()) {
    run.truth.observe(sim.now, realEdges(sim));
    for (; handled < sim.outputs.length; handled++) {
      const o = sim.outputs[handled] as OutputRecord;
      onOutput(run, running, o.t, o.record as DeadlockOutput);
    }
  }
  return run;
}

function onOutput(run: DeadlockRun, running: Running, tMs: number, out: DeadlockOutput): void {
  const name = `${out.detector}:${out.id}`;
  if (out.kind === "detection-start") {
    const record: DetectionRecord = {
      detector: out.detector,
      id: out.id,
      startMs: tMs,
      endMs: null,
      cycles: [],
      missed: [],
    };
    run.detections.push(record);
    run.truth.openWindow(name);
    running.set(name, { record, atStart: new Map(run.truth.present) });
    if (out.detector === "snapshot") for (const key of run.truth.present.keys()) run.examined.add(key);
    return;
  }
  const started = running.get(name);
  assert(started !== undefined, `${name} completed without having started`);
  running.delete(name);
  const { record, atStart } = started;
  const window = run.truth.closeWindow(name);
  record.endMs = tMs;
  record.cycles = out.cycles.map((d) => ({
    ...d,
    real: window.has(nodesKey(d.cycle)),
    presentAtEnd: run.truth.present.has(deadlockKey(d.cycle)),
  }));
  if (out.detector !== "snapshot") return;
  const reported = new Set(out.cycles.map((d) => deadlockKey(d.cycle)));
  // A deadlock found by a detection that completed earlier may be gone from this cut: its abort was on the way.
  record.missed = [...atStart.keys()].filter((k) => !reported.has(k) && !run.found.has(k));
  for (const k of reported) run.found.add(k);
}

// ---------------------------------------------------------------- options

const strategies: readonly string[] = ["ignore-channels"];

const settings = {
  locks: `resources each node manages (default ${defaultDeadlockParams.locks}, 1..${deadlockLimits.locksPerNodeMax})`,
  txnLocks: `locks one transaction takes, in a random order (default ${defaultDeadlockParams.txnLocks}, 1..${deadlockLimits.txnLocksMax}, at most those of the other nodes)`,
  holdMs: `mean time a transaction holds its locks, ms (default ${defaultDeadlockParams.holdMs})`,
  thinkMs: `mean pause between two transactions of a node, ms (default ${defaultDeadlockParams.thinkMs})`,
  periodMs: `time between detections of each detector, ms (default ${defaultDeadlockParams.periodMs})`,
  workMs: `time during which nodes start transactions, ms (default ${defaultDeadlockParams.workMs}, up to ${workMsMax})`,
  latencyMs: `mean one-way message latency, ms (default ${defaultDeadlockParams.latencyMs})`,
} as const;

function setting(
  options: AlgorithmOptions,
  key: keyof typeof settings,
  min: number,
  max: number,
  dflt: number = defaultDeadlockParams[key],
): number {
  return intSetting(options.settings, key, dflt, min, max);
}

/** Checks the options and settings; throws PhalanxError("BAD_ARGUMENT") for what cannot run. */
export function parseDeadlockOptions(options: AlgorithmOptions): DeadlockParams {
  const nodes = options.nodes ?? defaultDeadlockParams.nodes;
  if (!Number.isInteger(nodes) || nodes < nodesMin || nodes > deadlockLimits.nodesMax)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} needs ${nodesMin}..${deadlockLimits.nodesMax} nodes, got ${nodes}`,
    );
  if ((options.traitors ?? 0) !== 0)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} has no faulty processes (snapshots need reliable processes and channels): use --traitors 0`,
    );
  if (options.strategy !== undefined && !strategies.includes(options.strategy))
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} has no strategy "${options.strategy}"; choose one of: ${strategies.join(", ")}`,
    );
  for (const key of Object.keys(options.settings))
    if (!Object.hasOwn(settings, key))
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${NAME} has no setting "${key}" (settings: ${Object.keys(settings).join(", ")})`,
      );
  const locks = setting(options, "locks", 1, deadlockLimits.locksPerNodeMax);
  const txnLocksMax = Math.min(deadlockLimits.txnLocksMax, (nodes - 1) * locks);
  const txnLocks = setting(
    options,
    "txnLocks",
    1,
    txnLocksMax,
    Math.min(defaultDeadlockParams.txnLocks, txnLocksMax),
  );
  const p: DeadlockParams = {
    nodes,
    seed: options.seed,
    locks,
    txnLocks,
    holdMs: setting(options, "holdMs", 1, workMsMax),
    thinkMs: setting(options, "thinkMs", 1, workMsMax),
    periodMs: setting(options, "periodMs", 1, workMsMax),
    workMs: setting(options, "workMs", 0, workMsMax),
    latencyMs: setting(options, "latencyMs", 1, workMsMax),
    ignoreChannels: options.strategy === "ignore-channels",
  };
  if (p.workMs / p.periodMs > workDetectionsMax)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} runs at most ${workDetectionsMax} detections while nodes start transactions: raise periodMs or lower workMs`,
    );
  return p;
}

// ---------------------------------------------------------------- report

const ms = (t: number) => t.toFixed(1);
const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;

function cycleText(c: Cycle): string {
  return [...c.map((e) => hostName(e.waiter)), hostName(c[0]?.waiter ?? 0)].join(" -> ");
}

/** When an edge really existed, around a detection that ran from `from` to `to`. */
function intervalsText(list: readonly Interval[], from: number, to: number): string {
  const span = (i: Interval) => `${ms(i.fromMs)}-${i.toMs === null ? "end" : ms(i.toMs)}`;
  const during = list.filter((i) => i.fromMs <= to && (i.toMs === null || i.toMs >= from));
  if (during.length > 0) return `real ${during.map(span).join(", ")} ms`;
  const before = list.filter((i) => i.toMs !== null && i.toMs < from).at(-1);
  return before === undefined ? "never real" : `not real during the detection (last real ${span(before)} ms)`;
}

/** Why a phantom is one: each of its edges, where it was read, and when it really existed. */
function explainPhantom(run: DeadlockRun, d: DetectionRecord, c: JudgedCycle): string[] {
  const to = d.endMs ?? d.startMs;
  const lines = [
    `  PHANTOM in ${d.detector} detection ${d.id} (${ms(d.startMs)}-${ms(to)} ms): ${cycleText(c.cycle)}`,
  ];
  c.cycle.forEach((e, i) => {
    const history = run.truth.edgeHistory.get(`${e.waiter}>${e.holder}`) ?? [];
    const manager = hostName(ownerOf(e.r, run.params.locks));
    const readAt = c.readAtMs?.[i];
    const where = readAt === undefined ? `manager ${manager}` : `read from ${manager} at ${ms(readAt)} ms`;
    lines.push(
      `    ${hostName(e.waiter)} waits for ${hostName(e.holder)} on r${e.r} (${where}); ${intervalsText(history, d.startMs, to)}`,
    );
  });
  lines.push("    these edges never all existed at one instant: the cycle never existed");
  return lines;
}

/** The first few phantoms of a detector, explained, and how many more there were. */
function phantomLines(run: DeadlockRun, detector: DetectorName): string[] {
  const lines: string[] = [];
  let phantoms = 0;
  for (const d of run.detections) {
    if (d.detector !== detector) continue;
    for (const c of d.cycles) {
      if (c.real) continue;
      if (++phantoms <= phantomsExplainedMax) lines.push(...explainPhantom(run, d, c));
    }
  }
  if (phantoms > phantomsExplainedMax) lines.push(`  ... and ${phantoms - phantomsExplainedMax} more`);
  return lines;
}

/** Deadlocks a snapshot missed although they existed when it began. */
function missedLines(run: DeadlockRun): string[] {
  const missed = run.detections.flatMap((d) => d.missed.map((key) => ({ d, key })));
  const lines = missed.slice(0, phantomsExplainedMax).map(({ d, key }) => {
    const cycle = (run.truth.deadlocks.get(key) as TrueDeadlock).cycle;
    return `  MISSED by snapshot detection ${d.id} (${ms(d.startMs)}-${ms(d.endMs ?? d.startMs)} ms): ${cycleText(cycle)}, a deadlock when it began`;
  });
  if (missed.length > phantomsExplainedMax)
    lines.push(`  ... and ${missed.length - phantomsExplainedMax} more`);
  return lines;
}

interface Tally {
  detections: number;
  completed: number;
  cycles: number;
  real: number;
  phantoms: number;
  known: number;
  notAtEnd: number;
  missed: number;
}

function tally(run: DeadlockRun, detector: DetectorName): Tally {
  const ds = run.detections.filter((d) => d.detector === detector);
  const cycles = ds.flatMap((d) => d.cycles);
  return {
    detections: ds.length,
    completed: ds.filter((d) => d.endMs !== null).length,
    cycles: cycles.length,
    real: cycles.filter((c) => c.real).length,
    phantoms: cycles.filter((c) => !c.real).length,
    known: cycles.filter((c) => c.known).length,
    // A known cycle's abort was already on its way: it may be gone by the end.
    notAtEnd: cycles.filter((c) => !c.known && !c.presentAtEnd).length,
    missed: ds.reduce((a, d) => a + d.missed.length, 0),
  };
}

/** Verdict and figures of a run. */
export function judgeDeadlockRun(run: DeadlockRun): AlgorithmResult {
  const { params: p, sim, truth } = run;
  const naive = tally(run, "naive");
  const snap = tally(run, "snapshot");
  const formed = truth.deadlocks.size;
  const found = [...run.found].filter((k) => truth.deadlocks.has(k)).length;
  const unexamined = [...truth.deadlocks.keys()].filter(
    (k) => !run.examined.has(k) && !run.found.has(k),
  ).length;
  const ok =
    snap.phantoms === 0 && snap.notAtEnd === 0 && snap.missed === 0 && snap.completed === snap.detections;
  const committed = sim.counter("deadlock.txn.committed");
  const aborted = sim.counter("deadlock.txn.aborted");
  const lockMessages = sim.counter("deadlock.sent.lock");
  const naiveMessages = sim.counter("deadlock.sent.naive");
  const markers = sim.counter("cl.marker.sent");
  const reports = sim.counter("cl.report.sent");
  const aborts = sim.counter("deadlock.sent.abort");
  const verdict = ok
    ? `the snapshot detector found ${found} of ${formed} and reported no phantom`
    : `ORACLE FAILED: the snapshot detector reported ${plural(snap.phantoms, "phantom")}, ${snap.notAtEnd} gone when reported, missed ${snap.missed}`;
  const lastStartMs = Math.max(0, ...run.detections.map((d) => d.startMs));
  const how = p.ignoreChannels ? "channel states IGNORED" : "channel states folded in";
  const lines = [
    `${NAME}: ${p.nodes} nodes, seed ${p.seed}: ${plural(formed, "deadlock")} formed; ${verdict}; the naive detector reported ${plural(naive.phantoms, "phantom deadlock")}`,
    `workload: ${committed} transactions committed, ${aborted} aborted to break deadlocks; transactions start until ${p.workMs} ms; each detector runs every ${p.periodMs} ms, the last time at ${ms(lastStartMs)} ms`,
    `naive detector (asks one manager at a time): ${plural(naive.completed, "detection")}, ${plural(naive.cycles, "cycle")} reported: ${naive.real} real, ${naive.phantoms} PHANTOM`,
    ...phantomLines(run, "naive"),
    `snapshot detector (Chandy-Lamport over FIFO channels, ${how}): ${plural(snap.completed, "detection")}, ${plural(snap.cycles, "cycle")} reported: ${snap.real} real, ${snap.phantoms} phantom, ${snap.notAtEnd} gone before its snapshot completed, ${snap.known} already being broken (abort on its way)`,
    ...phantomLines(run, "snapshot"),
    ...missedLines(run),
    `ground truth: ${plural(formed, "deadlock")} formed, ${found} found by the snapshot detector, ${snap.missed} missed, ${unexamined} formed after the last snapshot began`,
    `messages: ${lockMessages} lock (request/grant/release/cancel), ${naiveMessages} naive (query/edges), ${markers + reports} snapshot (${markers} markers, ${reports} reports), ${plural(aborts, "abort")}; ${sim.stats.sent} in all`,
  ];
  return {
    ok,
    lines,
    figures: {
      nodes: p.nodes,
      seed: p.seed,
      committed,
      aborted,
      deadlocksFormed: formed,
      deadlocksFound: found,
      deadlocksMissed: snap.missed,
      deadlocksUnexamined: unexamined,
      naiveDetections: naive.completed,
      naiveCycles: naive.cycles,
      naivePhantoms: naive.phantoms,
      snapshotDetections: snap.completed,
      snapshotCycles: snap.cycles,
      snapshotPhantoms: snap.phantoms,
      snapshotGoneAtEnd: snap.notAtEnd,
      lockMessages,
      naiveMessages,
      markers,
      reports,
      aborts,
      messages: sim.stats.sent,
    },
  };
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const p = parseDeadlockOptions(options);
  const result = simulateDeadlocks(p, options.trace !== undefined);
  const judged = judgeDeadlockRun(result);
  if (options.trace !== undefined) {
    const events = result.sim.trace as TraceEvent[];
    judged.traceJsonl = traceToJsonl(result.sim.traceHeader(NAME, { ...p }), events);
    judged.lines.push(`trace: ${events.length} events written to ${options.trace}`);
  }
  return judged;
}

export const algorithm: Algorithm = {
  name: NAME,
  summary:
    "deadlock detection on a lock service: a naive detector's phantom deadlocks vs. a consistent snapshot",
  source:
    "seed 002, Who cares?; Deadlock detection algorithm; Phantom deadlocks!; Consistent cuts and snapshots",
  defaults: { nodes: defaultDeadlockParams.nodes, traitors: 0 },
  strategies,
  settings,
  run,
};
