/**
 * `phalanx sim clock-sync`: physical clock synchronization (seed 002, "Synchronizing clocks",
 * accuracy versus precision, drift between updates). Nodes start with offset hardware clocks
 * that drift; each keeps a software correction that one of three methods adjusts:
 * - cristian: clients ask a time server and keep their shortest round trip (Cristian,
 *   "Probabilistic clock synchronization", 1989);
 * - master: a master broadcasts its time every period;
 * - berkeley: a master polls everyone and sends each node its move to the fault-tolerant
 *   average (Gusella and Zatti, TEMPO, 1989).
 * Without --strategy the three run on the same clocks and network, side by side.
 *
 * The oracle (clock-sync/experiment.ts): precision and, where claimed, accuracy stay within the
 * bounds derived from the delay range and the drift over a period (clock-sync/bounds.ts), and
 * every Cristian reading is within the error bound its client computed.
 */
import { PhalanxError } from "../core/errors.ts";
import type { Millis } from "../core/ids.ts";
import {
  type ClockSyncConfig,
  type ClockSyncReport,
  type ClockSyncStrategy,
  clockSyncDefaults,
  clockSyncStrategies,
  runClockSync,
} from "./clock-sync/experiment.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

const NAME = "clock-sync";
/** Violations printed per run; the rest are counted. */
const violationsShownMax = 5;

const settings = {
  period: "resynchronization period in ms of the master's or client's clock (default 1000)",
  rounds: "periods measured after the first (default 10)",
  offset: "initial clock offsets are drawn in ±this many ms (default 100)",
  drift: "correct clocks drift within ±this many ppm (default 100)",
  faulty: "drift in ppm of the --traitors faulty clocks (default 50000)",
  min: "least one-way message delay in ms, known to every node (default 1)",
  max: "largest one-way message delay in ms (default 10)",
  samples: "cristian: requests per round, the shortest round trip is kept (default 3)",
  assume: "master: delay receivers add, min or mid of the delay range (default mid)",
  outlier:
    "berkeley: fault-tolerant average threshold in ms, auto (the precision bound) or off (default auto)",
} as const;

type SettingKey = keyof typeof settings;

function parseNumber(key: SettingKey, text: string): number {
  if (!/^-?\d+(\.\d+)?$/.test(text))
    throw new PhalanxError("BAD_ARGUMENT", `--set ${key}= needs a number, got "${text}"`);
  return Number(text);
}

function numberSetting(s: Readonly<Record<string, string>>, key: SettingKey, fallback: number): number {
  const text = s[key];
  return text === undefined ? fallback : parseNumber(key, text);
}

function assumeSetting(s: Readonly<Record<string, string>>): ClockSyncConfig["assume"] {
  const text = s.assume ?? clockSyncDefaults.assume;
  if (text !== "min" && text !== "mid")
    throw new PhalanxError("BAD_ARGUMENT", `--set assume= needs min or mid, got "${text}"`);
  return text;
}

function outlierSetting(s: Readonly<Record<string, string>>): ClockSyncConfig["outlierMs"] {
  const text = s.outlier;
  if (text === undefined || text === "auto") return "auto";
  if (text === "off") return null;
  return parseNumber("outlier", text);
}

/** The configuration of one method from the command's options (validated by runClockSync). */
function configOf(options: AlgorithmOptions, strategy: ClockSyncStrategy): ClockSyncConfig {
  const s = options.settings;
  const d = clockSyncDefaults;
  return {
    strategy,
    nodes: options.nodes ?? d.nodes,
    faulty: options.traitors ?? d.faulty,
    seed: options.seed,
    offsetMaxMs: numberSetting(s, "offset", d.offsetMaxMs),
    driftPpm: numberSetting(s, "drift", d.driftPpm),
    faultyDriftPpm: numberSetting(s, "faulty", d.faultyDriftPpm),
    minDelayMs: numberSetting(s, "min", d.minDelayMs),
    maxDelayMs: numberSetting(s, "max", d.maxDelayMs),
    periodMs: numberSetting(s, "period", d.periodMs),
    rounds: numberSetting(s, "rounds", d.rounds),
    samples: numberSetting(s, "samples", d.samples),
    assume: assumeSetting(s),
    outlierMs: outlierSetting(s),
    trace: options.trace !== undefined,
  };
}

function strategiesOf(options: AlgorithmOptions): readonly ClockSyncStrategy[] {
  for (const key of Object.keys(options.settings)) {
    if (!Object.hasOwn(settings, key))
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${NAME} has no setting "${key}" (settings: ${Object.keys(settings).join(", ")})`,
      );
  }
  if (!Number.isSafeInteger(options.seed))
    throw new PhalanxError("BAD_ARGUMENT", `--seed needs an integer, got ${options.seed}`);
  if (options.strategy === undefined) {
    if (options.trace !== undefined)
      throw new PhalanxError("BAD_ARGUMENT", "--trace records one run: choose a method with --strategy");
    return clockSyncStrategies;
  }
  const strategy = clockSyncStrategies.find((x) => x === options.strategy);
  if (strategy === undefined)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} has no strategy "${options.strategy}" (strategies: ${clockSyncStrategies.join(", ")})`,
    );
  return [strategy];
}

const ms = (x: Millis) => x.toFixed(2);

function describeSetup(c: ClockSyncConfig): string[] {
  const faulty = c.faulty === 0 ? "" : `, ${c.faulty} with a faulty clock (±${c.faultyDriftPpm} ppm)`;
  return [
    `clocks: ${c.nodes} nodes${faulty}; offsets within ±${c.offsetMaxMs} ms, drift within ±${c.driftPpm} ppm`,
    `network: delays ${c.minDelayMs}..${c.maxDelayMs} ms; period ${c.periodMs} ms, ` +
      `${c.rounds} periods measured after the first`,
  ];
}

function methodLines(c: ClockSyncConfig, r: ClockSyncReport): string[] {
  switch (r.strategy) {
    case "cristian": {
      const correct = r.readings.filter((x) => x.node < c.nodes - c.faulty);
      const worst = Math.max(
        0,
        ...correct.map((x) => Math.abs(x.errorMs) / x.boundMs).filter(Number.isFinite),
      );
      const claimed = correct.map((x) => x.boundMs);
      return [
        `readings: ${r.readings.length}, ${c.samples} per client and round, each claiming ±` +
          `${ms(Math.min(...claimed))}..${ms(Math.max(...claimed))} ms; the worst was off by ` +
          `${worst.toFixed(2)} of its claim`,
      ];
    }
    case "master": {
      const assumed = c.assume === "min" ? c.minDelayMs : (c.minDelayMs + c.maxDelayMs) / 2;
      const which = c.assume === "min" ? "least" : "middle";
      return [`receivers add ${assumed} ms (the ${which} delay) to the master's time`];
    }
    case "berkeley":
      return [
        `averages: ${r.averages}, outlier threshold ${r.outlierMs === null ? "off" : `${ms(r.outlierMs)} ms`}; ` +
          `after the first, ${r.faultyAveraged} took in a faulty clock and ${r.correctIgnored} correct clocks were left out`,
        `the average clock moved ${ms(r.ensembleDriftMs)} ms against true time over the measured periods`,
      ];
  }
}

function violationLines(r: ClockSyncReport): string[] {
  const lines = r.violations.slice(0, violationsShownMax).map((v) => `violation (${r.strategy}): ${v}`);
  if (r.violations.length > violationsShownMax)
    lines.push(`... and ${r.violations.length - violationsShownMax} more ${r.strategy} violations`);
  return lines;
}

function singleResult(
  c: ClockSyncConfig,
  r: ClockSyncReport,
  tracePath: string | undefined,
): AlgorithmResult {
  const accuracyBound =
    r.accuracyBoundMs === null ? "no bound: internal synchronization" : `bound ${ms(r.accuracyBoundMs)} ms`;
  const lines = [
    `${NAME} ${r.strategy}: precision ${ms(r.precisionMs)} ms (bound ${ms(r.precisionBoundMs)})` +
      (r.accuracyBoundMs === null
        ? ""
        : `, accuracy ${ms(r.accuracyMs)} ms (bound ${ms(r.accuracyBoundMs)})`) +
      (r.ok ? ": bounds held" : ": a bound was VIOLATED"),
    ...describeSetup(c),
    `left alone:   accuracy ${ms(r.unsyncedAccuracyMs)} ms, precision ${ms(r.unsyncedPrecisionMs)} ms`,
    `synchronized: accuracy ${ms(r.accuracyMs)} ms (${accuracyBound}), ` +
      `precision ${ms(r.precisionMs)} ms (bound ${ms(r.precisionBoundMs)} ms)`,
    ...methodLines(c, r),
    `messages: ${r.messages}, clock steps: ${r.steps}`,
    ...violationLines(r),
  ];
  const traceJsonl = tracePath !== undefined && r.traceJsonl !== null ? r.traceJsonl : undefined;
  if (traceJsonl !== undefined) {
    lines.push(`trace of seed ${c.seed} written to ${tracePath}`);
  }
  return {
    ok: r.ok,
    lines,
    traceJsonl,
    figures: {
      strategy: r.strategy,
      nodes: c.nodes,
      faulty: c.faulty,
      accuracyMs: r.accuracyMs,
      accuracyBoundMs: r.accuracyBoundMs,
      precisionMs: r.precisionMs,
      precisionBoundMs: r.precisionBoundMs,
      ensembleDriftMs: r.ensembleDriftMs,
      unsyncedAccuracyMs: r.unsyncedAccuracyMs,
      unsyncedPrecisionMs: r.unsyncedPrecisionMs,
      messages: r.messages,
      steps: r.steps,
      violations: r.violations.length,
    },
  };
}

/** Column widths of the comparison table; the first column is left-aligned. */
const columnWidths = [9, 10, 8, 8, 11, 8, 8, 10] as const;

function tableRow(cells: readonly string[]): string {
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(columnWidths[0]) : cell.padStart(columnWidths[i] ?? 0)))
    .join("");
}

function comparisonResult(c: ClockSyncConfig, reports: readonly ClockSyncReport[]): AlgorithmResult {
  const ok = reports.every((r) => r.ok);
  const figures: AlgorithmResult["figures"] = { nodes: c.nodes, faulty: c.faulty };
  for (const r of reports) {
    figures[`${r.strategy}AccuracyMs`] = r.accuracyMs;
    figures[`${r.strategy}AccuracyBoundMs`] = r.accuracyBoundMs;
    figures[`${r.strategy}PrecisionMs`] = r.precisionMs;
    figures[`${r.strategy}PrecisionBoundMs`] = r.precisionBoundMs;
    figures[`${r.strategy}Messages`] = r.messages;
    figures[`${r.strategy}Ok`] = r.ok;
  }
  return {
    ok,
    lines: [
      `${NAME}: cristian, master and berkeley on the same clocks and network: ` +
        (ok ? "every bound held" : "a bound was VIOLATED"),
      ...describeSetup(c),
      tableRow(["method", "accuracy", "bound", "alone", "precision", "bound", "alone", "messages"]),
      ...reports.map((r) =>
        tableRow([
          r.strategy,
          ms(r.accuracyMs),
          r.accuracyBoundMs === null ? "-" : ms(r.accuracyBoundMs),
          ms(r.unsyncedAccuracyMs),
          ms(r.precisionMs),
          ms(r.precisionBoundMs),
          ms(r.unsyncedPrecisionMs),
          String(r.messages),
        ]),
      ),
      "in ms; alone: the same clocks never corrected (cristian's and master's time source keeps true time;",
      "berkeley's master drifts like the rest, and berkeley claims no accuracy: it follows the average)",
      ...reports.flatMap(violationLines),
    ],
    figures,
  };
}

export const algorithm: Algorithm = {
  name: NAME,
  summary: "clock synchronization: Cristian, master broadcast and Berkeley, accuracy and precision vs bounds",
  source: "seed 002, Synchronizing clocks; Cristian 1989; Gusella and Zatti 1989 (TEMPO)",
  defaults: { nodes: clockSyncDefaults.nodes, traitors: clockSyncDefaults.faulty },
  strategies: clockSyncStrategies,
  settings,
  run(options: AlgorithmOptions): AlgorithmResult {
    const strategies = strategiesOf(options);
    const configs = strategies.map((s) => configOf(options, s));
    const reports = configs.map(runClockSync);
    const config = configs[0] as ClockSyncConfig;
    if (reports.length === 1) return singleResult(config, reports[0] as ClockSyncReport, options.trace);
    return comparisonResult(config, reports);
  },
};
