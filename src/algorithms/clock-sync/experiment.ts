/**
 * One clock synchronization experiment on the simulator: nodes with offset and drifting
 * hardware clocks (the simulator's per-node clock; virtual time is true time) run one method,
 * and the experiment measures how far the corrected clocks are from true time (accuracy) and
 * from each other (precision), over the correct clocks, from the end of the first period to the
 * end of the run, against the same clocks left alone.
 *
 * Between two clock steps every clock is linear in true time, so the largest error over an
 * interval is at its ends. The experiment measures at the start and end of the window and on
 * both sides of every step, which makes its maxima exact rather than sampled.
 *
 * The oracle: the measured precision (and accuracy, where the method claims one) is within the
 * method's bound (bounds.ts), and for Cristian every single reading's true error is within the
 * bound its client computed for it.
 */
import { PhalanxError } from "../../core/errors.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import { Prng } from "../../core/prng.ts";
import type { ProcessFactory } from "../../core/process.ts";
import type { LinkConfig } from "../../sim/network.ts";
import { type LocalClock, type OutputRecord, Simulation } from "../../sim/simulation.ts";
import { traceToJsonl } from "../../sim/trace.ts";
import { BerkeleyMaster, BerkeleyNode } from "./berkeley.ts";
import {
  berkeleyPrecisionBoundMs,
  broadcastAccuracyBoundMs,
  broadcastPrecisionBoundMs,
  cristianAccuracyBoundMs,
  cristianPrecisionBoundMs,
  type DelayDrift,
} from "./bounds.ts";
import { BroadcastMaster, BroadcastReceiver } from "./broadcast.ts";
import { CristianClient, CristianServer } from "./cristian.ts";
import {
  type ClockSyncMsg,
  type ClockSyncOutput,
  type ClockSyncProcess,
  type ResyncTimer,
  type SampleOutput,
  timeMaster,
} from "./messages.ts";

export const clockSyncStrategies = ["cristian", "master", "berkeley"] as const;
export type ClockSyncStrategy = (typeof clockSyncStrategies)[number];

export const clockSyncLimits = {
  /** Nodes in one experiment. */
  nodesMax: 1000,
  /** Periods one experiment runs. */
  roundsMax: 1000,
  /** Requests a Cristian client makes per round. */
  samplesMax: 16,
  /** Drift of a correct clock, in ppm (10%: the bounds divide by 1 - ρ). */
  driftPpmMax: 100_000,
  /** Drift of a faulty clock, in ppm: 50%, so even a faulty clock's period outlasts a round. */
  faultyDriftPpmMax: 500_000,
  /** Largest initial offset, in ms (one day). */
  offsetMsMax: 86_400_000,
  /** Largest one-way delay, in ms. */
  delayMsMax: 60_000,
  /** The period must be at least this many times the longest a round can take. */
  periodRoundsMin: 2,
} as const;

/** Times in violation messages: microseconds show how far past a bound a value went. */
const fixed = (ms: Millis) => ms.toFixed(3);

/** Measured values within this of a bound count as within it (floating-point rounding). */
export const boundSlackMs = 1e-6;

export interface ClockSyncConfig {
  strategy: ClockSyncStrategy;
  nodes: number;
  /** Nodes whose clock is faulty (drifts by `faultyDriftPpm`): the highest ids, never node 0. */
  faulty: number;
  seed: number;
  /** Initial offsets are drawn in [-offsetMaxMs, offsetMaxMs]. */
  offsetMaxMs: Millis;
  /** Correct clocks drift at most this (ρ, in ppm), drawn in [-driftPpm, driftPpm]. */
  driftPpm: number;
  /** A faulty clock drifts by plus or minus this, in ppm. */
  faultyDriftPpm: number;
  /** Every one-way delay is uniform in [minDelayMs, maxDelayMs]. */
  minDelayMs: Millis;
  maxDelayMs: Millis;
  /** Resynchronization period on the clock of the node that starts rounds. */
  periodMs: Millis;
  /** The run lasts rounds + 1 periods; measuring starts after the first. */
  rounds: number;
  /** Cristian: requests per round. */
  samples: number;
  /** Master broadcast: the delay receivers assume, the minimum or the middle of the range. */
  assume: "min" | "mid";
  /** Berkeley: threshold of the fault-tolerant average; "auto" is the precision bound; null averages all. */
  outlierMs: Millis | "auto" | null;
  /** Explicit hardware clocks, one per node, instead of drawing them from the seed. */
  clocks?: readonly LocalClock[];
  /** Per-direction delay ranges inside [minDelayMs, maxDelayMs], e.g. a slow uplink. */
  links?: ReadonlyArray<{ from: number; to: number; minMs: Millis; maxMs: Millis }>;
  /** Record the causal trace (returned as JSON lines). */
  trace: boolean;
}

export const clockSyncDefaults: Omit<ClockSyncConfig, "strategy" | "seed"> = {
  nodes: 5,
  faulty: 0,
  offsetMaxMs: 100,
  driftPpm: 100,
  faultyDriftPpm: 50_000,
  minDelayMs: 1,
  maxDelayMs: 10,
  periodMs: 1000,
  rounds: 10,
  samples: 3,
  assume: "mid",
  outlierMs: "auto",
  trace: false,
};

/** One Cristian reading, judged: its true error against the bound its client claimed. */
export interface CristianReading {
  node: NodeId;
  /** True time of the reading. */
  atMs: Millis;
  rttMs: Millis;
  errorMs: Millis;
  boundMs: Millis;
}

export interface ClockSyncReport {
  strategy: ClockSyncStrategy;
  ok: boolean;
  /** Why the oracle failed (empty when ok). */
  violations: string[];
  /** When measuring starts and the run ends, in true time. */
  settleMs: Millis;
  endMs: Millis;
  /** Largest |corrected clock - true time| over correct clocks and the window. */
  accuracyMs: Millis;
  /** Largest difference between two correct corrected clocks over the window. */
  precisionMs: Millis;
  /**
   * How far the average correct clock moved against true time over the window: what a faulty
   * clock averaged in drags the whole ensemble by, round after round.
   */
  ensembleDriftMs: Millis;
  /** The same for the hardware clocks left alone. */
  unsyncedAccuracyMs: Millis;
  unsyncedPrecisionMs: Millis;
  /** Null for Berkeley: it synchronizes clocks with each other, not with true time. */
  accuracyBoundMs: Millis | null;
  precisionBoundMs: Millis;
  /** Berkeley: the threshold used (null: plain average). */
  outlierMs: Millis | null;
  /** Clock steps over the whole run. */
  steps: number;
  messages: number;
  /** Cristian: every reading of every client. */
  readings: CristianReading[];
  /**
   * Berkeley: averages taken; after the first period, how many included a faulty clock, and
   * how many correct clocks were left out of one.
   */
  averages: number;
  faultyAveraged: number;
  correctIgnored: number;
  /** The causal trace as JSON lines, when asked for. */
  traceJsonl: string | null;
}

function fail(message: string): never {
  throw new PhalanxError("BAD_ARGUMENT", message);
}

function checkRange(name: string, value: number, min: number, max: number, integer = false): void {
  if (!(value >= min && value <= max) || (integer && !Number.isInteger(value)))
    fail(`${name} must be ${integer ? "an integer " : ""}in ${min}..${max}, got ${value}`);
}

/** The longest a round can take in true time, from its start to its last clock step. */
export function roundSpanMs(strategy: ClockSyncStrategy, maxDelayMs: Millis, samples: number): Millis {
  switch (strategy) {
    case "cristian":
      return samples * 2 * maxDelayMs;
    case "master":
      return maxDelayMs;
    case "berkeley":
      return 3 * maxDelayMs;
  }
}

function validate(c: ClockSyncConfig): void {
  const L = clockSyncLimits;
  if (!clockSyncStrategies.includes(c.strategy))
    fail(`strategy must be one of ${clockSyncStrategies.join(", ")}, got "${c.strategy}"`);
  checkRange("nodes", c.nodes, 2, L.nodesMax, true);
  checkRange("faulty clocks", c.faulty, 0, c.nodes - 2, true);
  checkRange("offset", c.offsetMaxMs, 0, L.offsetMsMax);
  checkRange("drift (ppm)", c.driftPpm, 0, L.driftPpmMax);
  checkRange("faulty drift (ppm)", c.faultyDriftPpm, 0, L.faultyDriftPpmMax);
  checkRange("min delay", c.minDelayMs, 0, L.delayMsMax);
  checkRange("max delay", c.maxDelayMs, c.minDelayMs, L.delayMsMax);
  checkRange("rounds", c.rounds, 1, L.roundsMax, true);
  checkRange("samples", c.samples, 1, L.samplesMax, true);
  const periodMinMs = L.periodRoundsMin * roundSpanMs(c.strategy, c.maxDelayMs, c.samples);
  if (!(c.periodMs > 0 && c.periodMs >= periodMinMs && Number.isFinite(c.periodMs)))
    fail(
      `period must be > 0 and at least ${periodMinMs} ms (twice a round) for ${c.strategy}, got ${c.periodMs}`,
    );
  if (c.outlierMs !== null && c.outlierMs !== "auto" && !(c.outlierMs > 0 && Number.isFinite(c.outlierMs)))
    fail(`outlier threshold must be > 0 ms, got ${c.outlierMs}`);
  if (c.clocks !== undefined) validateClocks(c, c.clocks);
  for (const l of c.links ?? []) {
    checkRange("link end", l.from, 0, c.nodes - 1, true);
    checkRange("link end", l.to, 0, c.nodes - 1, true);
    checkRange("link min delay", l.minMs, c.minDelayMs, c.maxDelayMs);
    checkRange("link max delay", l.maxMs, l.minMs, c.maxDelayMs);
  }
}

function validateClocks(c: ClockSyncConfig, clocks: readonly LocalClock[]): void {
  if (clocks.length !== c.nodes) fail(`give one clock per node: ${c.nodes}, got ${clocks.length}`);
  clocks.forEach((clock, i) => {
    checkRange(
      `offset of node ${i}`,
      clock.offsetMs,
      -clockSyncLimits.offsetMsMax,
      clockSyncLimits.offsetMsMax,
    );
    const driftMax = i >= c.nodes - c.faulty ? clockSyncLimits.faultyDriftPpmMax : c.driftPpm;
    checkRange(`drift of node ${i}`, clock.driftPpm, -driftMax, driftMax);
  });
  const master = clocks[timeMaster] as LocalClock;
  if (c.strategy !== "berkeley" && (master.offsetMs !== 0 || master.driftPpm !== 0))
    fail(`the ${c.strategy} time source (node 0) keeps true time: give it offset 0 and drift 0`);
}

/** Offsets and drifts from the seed; node 0 is a true reference except under Berkeley. */
function drawClocks(c: ClockSyncConfig): LocalClock[] {
  const prng = new Prng(c.seed).fork("clock-sync-clocks");
  return Array.from({ length: c.nodes }, (_, i) => {
    const offsetMs = prng.between(-c.offsetMaxMs, c.offsetMaxMs);
    const faulty = i >= c.nodes - c.faulty;
    const driftPpm = faulty
      ? (prng.chance(0.5) ? 1 : -1) * c.faultyDriftPpm
      : prng.between(-c.driftPpm, c.driftPpm);
    return i === timeMaster && c.strategy !== "berkeley"
      ? { offsetMs: 0, driftPpm: 0 }
      : { offsetMs, driftPpm };
  });
}

function delayDrift(c: ClockSyncConfig): DelayDrift {
  return {
    minDelayMs: c.minDelayMs,
    maxDelayMs: c.maxDelayMs,
    driftRate: c.driftPpm / 1e6,
    periodMs: c.periodMs,
  };
}

function assumedDelayMs(c: ClockSyncConfig): Millis {
  return c.assume === "min" ? c.minDelayMs : (c.minDelayMs + c.maxDelayMs) / 2;
}

function bounds(c: ClockSyncConfig): { accuracyMs: Millis | null; precisionMs: Millis } {
  const d = delayDrift(c);
  switch (c.strategy) {
    case "cristian":
      return {
        accuracyMs: cristianAccuracyBoundMs(d, c.samples),
        precisionMs: cristianPrecisionBoundMs(d, c.samples),
      };
    case "master":
      return {
        accuracyMs: broadcastAccuracyBoundMs(d, assumedDelayMs(c)),
        precisionMs: broadcastPrecisionBoundMs(d),
      };
    case "berkeley":
      return { accuracyMs: null, precisionMs: berkeleyPrecisionBoundMs(d) };
  }
}

function factory(c: ClockSyncConfig, outlierMs: Millis | null): ProcessFactory<ClockSyncMsg, ResyncTimer> {
  const driftRate = c.driftPpm / 1e6;
  switch (c.strategy) {
    case "cristian":
      return (id) =>
        id === timeMaster
          ? new CristianServer()
          : new CristianClient({
              periodMs: c.periodMs,
              samples: c.samples,
              minDelayMs: c.minDelayMs,
              driftRate,
            });
    case "master":
      return (id) =>
        id === timeMaster ? new BroadcastMaster(c.periodMs) : new BroadcastReceiver(assumedDelayMs(c));
    case "berkeley":
      return (id) =>
        id === timeMaster ? new BerkeleyMaster({ periodMs: c.periodMs, outlierMs }) : new BerkeleyNode();
  }
}

/** Running maxima of clock error and spread over the correct nodes. */
class Meter {
  accuracyMs = 0;
  precisionMs = 0;

  constructor(private readonly count: number) {}

  /** `clockMs(i)` reads node i's clock at true time `nowMs`. */
  measure(nowMs: Millis, clockMs: (i: number) => Millis): void {
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.count; i++) {
      const v = clockMs(i);
      low = Math.min(low, v);
      high = Math.max(high, v);
      this.accuracyMs = Math.max(this.accuracyMs, Math.abs(v - nowMs));
    }
    this.precisionMs = Math.max(this.precisionMs, high - low);
  }
}

export function runClockSync(c: ClockSyncConfig): ClockSyncReport {
  validate(c);
  const clocks = c.clocks ?? drawClocks(c);
  const claimed = bounds(c);
  const outlierMs = c.outlierMs === "auto" ? claimed.precisionMs : c.outlierMs;
  const link: Partial<LinkConfig> = {
    latency: { kind: "uniform", minMs: c.minDelayMs, maxMs: c.maxDelayMs },
  };
  const sim = new Simulation<ClockSyncMsg, ResyncTimer>({
    seed: c.seed,
    nodes: c.nodes,
    factory: factory(c, outlierMs),
    network: {
      link,
      links: (c.links ?? []).map((l) => ({
        from: l.from as NodeId,
        to: l.to as NodeId,
        config: { latency: { kind: "uniform", minMs: l.minMs, maxMs: l.maxMs } },
      })),
    },
    clocks: new Map(clocks.map((clock, i) => [i as NodeId, clock])),
    trace: c.trace,
  });

  const correct = c.nodes - c.faulty;
  const settleMs = c.periodMs;
  const endMs = (c.rounds + 1) * c.periodMs;
  const hardwareMs = (i: number) => sim.localTime(sim.slotOf(i as NodeId)!);
  const correctionMs = (i: number) => (sim.process(i) as unknown as ClockSyncProcess).clock.correctionMs;
  const synced = new Meter(correct);
  const unsynced = new Meter(correct);
  const readings: CristianReading[] = [];
  let steps = 0;
  let averages = 0;
  let faultyAveraged = 0;
  let correctIgnored = 0;

  sim.onOutput((o: OutputRecord) => {
    const r = o.record as ClockSyncOutput;
    switch (r.kind) {
      case "adjust":
        steps++;
        if (o.t < settleMs || o.node >= correct) return;
        // Both sides of the step: just before it, and now.
        synced.measure(o.t, (i) => hardwareMs(i) + correctionMs(i) - (i === o.node ? r.deltaMs : 0));
        synced.measure(o.t, (i) => hardwareMs(i) + correctionMs(i));
        return;
      case "sample":
        readings.push(reading(o, r));
        return;
      case "average":
        averages++;
        // The first round starts from unsynchronized clocks, far apart: judge later ones.
        if (o.t < settleMs) return;
        if (r.averaged.some((n) => n >= correct)) faultyAveraged++;
        correctIgnored += r.ignored.filter((n) => n < correct).length;
        return;
    }
  });

  /** Measures the window's ends; returns the mean error of the correct clocks. */
  const measureAll = (): Millis => {
    const clockMs = (i: number) => hardwareMs(i) + correctionMs(i);
    synced.measure(sim.now, clockMs);
    unsynced.measure(sim.now, hardwareMs);
    let sum = 0;
    for (let i = 0; i < correct; i++) sum += clockMs(i) - sim.now;
    return sum / correct;
  };
  sim.runUntil(settleMs);
  const meanErrorAtSettleMs = measureAll();
  sim.runUntil(endMs);
  const ensembleDriftMs = Math.abs(measureAll() - meanErrorAtSettleMs);

  const violations: string[] = [];
  const within = (value: number, bound: number) => value <= bound + boundSlackMs;
  if (!within(synced.precisionMs, claimed.precisionMs))
    violations.push(
      `precision ${fixed(synced.precisionMs)} ms exceeds the bound ${fixed(claimed.precisionMs)} ms`,
    );
  if (claimed.accuracyMs !== null && !within(synced.accuracyMs, claimed.accuracyMs))
    violations.push(
      `accuracy ${fixed(synced.accuracyMs)} ms exceeds the bound ${fixed(claimed.accuracyMs)} ms`,
    );
  for (const r of readings) {
    if (r.node < correct && !within(Math.abs(r.errorMs), r.boundMs))
      violations.push(
        `node ${r.node}'s reading at ${fixed(r.atMs)} ms is off by ${fixed(r.errorMs)} ms, ` +
          `beyond its bound ${fixed(r.boundMs)} ms`,
      );
  }
  return {
    strategy: c.strategy,
    ok: violations.length === 0,
    violations,
    settleMs,
    endMs,
    accuracyMs: synced.accuracyMs,
    precisionMs: synced.precisionMs,
    ensembleDriftMs,
    unsyncedAccuracyMs: unsynced.accuracyMs,
    unsyncedPrecisionMs: unsynced.precisionMs,
    accuracyBoundMs: claimed.accuracyMs,
    precisionBoundMs: claimed.precisionMs,
    outlierMs: c.strategy === "berkeley" ? outlierMs : null,
    steps,
    messages: sim.stats.sent,
    readings,
    averages,
    faultyAveraged,
    correctIgnored,
    traceJsonl:
      sim.trace === null ? null : traceToJsonl(sim.traceHeader("clock-sync", traceOptions(c)), sim.trace),
  };
}

/** The server's clock is true time (validated), so a reading's error is its estimate minus now. */
function reading(o: OutputRecord, r: SampleOutput): CristianReading {
  return { node: o.node, atMs: o.t, rttMs: r.rttMs, errorMs: r.estimateMs - o.t, boundMs: r.boundMs };
}

function traceOptions(c: ClockSyncConfig): Record<string, unknown> {
  return {
    strategy: c.strategy,
    nodes: c.nodes,
    faulty: c.faulty,
    delayMs: [c.minDelayMs, c.maxDelayMs],
    driftPpm: c.driftPpm,
    periodMs: c.periodMs,
    rounds: c.rounds,
  };
}
