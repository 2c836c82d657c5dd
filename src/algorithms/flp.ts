/**
 * `phalanx sim flp`: the Fischer, Lynch and Paterson impossibility result made to happen
 * (JACM 32(2), 1985; seed 002, "The Fischer, Lynch and Paterson Result" and "Core of the FLP
 * result"; seed 003 on FLP). No deterministic asynchronous consensus protocol that tolerates
 * one crash can guarantee to decide: a scheduler can keep it bivalent forever, even when no
 * process crashes.
 *
 * - `--strategy flp` (default): a deterministic voting protocol for n = 3 with one crash
 *   tolerated (flp/protocol.ts); the exact valency of every configuration by exhaustive search
 *   (flp/valency.ts); a bivalent initial configuration by Lemma 2 and a run kept bivalent for
 *   `steps` events by Lemma 3, fairly (flp/adversary.ts); and the same protocol deciding on the
 *   simulator without the adversary. ok: every configuration of the run was bivalent (so no
 *   process decided) for all the steps asked, and the baseline decided, all on one bit.
 * - `--strategy pbft`: the same kind of adversary as a network scheduler against PBFT
 *   (flp/pbft.ts). ok: no request completed and views changed while it acted, agreement and
 *   linearizability held, and every request completed after it stopped, while the run without
 *   it completed requests before that time.
 */
import { PhalanxError } from "../core/errors.ts";
import { type NodeId, nodeIds } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import { Simulation } from "../sim/simulation.ts";
import { traceToJsonl } from "../sim/trace.ts";
import { type BivalentRun, lemma2Chain, runBivalent } from "./flp/adversary.ts";
import { applyEvent, describeEvent, initialConfiguration } from "./flp/model.ts";
import { runPbftStall, type StallRun } from "./flp/pbft.ts";
import {
  type Bit,
  type FlpDecision,
  type FlpMsg,
  type FlpParams,
  FlpProcess,
  flpParams,
} from "./flp/protocol.ts";
import { scheduleTrace } from "./flp/trace.ts";
import { bivalent, describeValency, ValencyOracle } from "./flp/valency.ts";
import { intSetting } from "./settings.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

/** Processes of the FLP run: the exhaustive valency search of n = 4 passes 3 million configurations. */
const flpNodes = 3;
/** Steps of the bivalent run by default and at most. */
const stepsDefault = 200;
const stepsMax = 100_000;
/** Events of the schedule printed. */
const scheduleShown = 12;
/** Virtual time the baseline run may take to decide, ms. */
const baselineLimitMs = 60_000;

/** PBFT replicas by default and at most (n >= 4: with f = 0 nothing can be held back). */
const pbftNodesDefault = 4;
const pbftNodesMin = 4;
const pbftNodesMax = 16;
/**
 * How long the PBFT adversary acts: at least long enough for views to change (a backup suspects
 * the primary after 400 ms without progress), by default, and at most, ms; the run goes on
 * `afterHorizonMs` after it by default.
 */
const horizonMinMs = 1_000;
const horizonDefaultMs = 3_000;
const horizonMaxMs = 60_000;
const afterHorizonMs = 9_000;

const strategies = ["flp", "pbft"] as const;
type Strategy = (typeof strategies)[number];

const settingsHelp = {
  steps: `flp: events the adversary schedules (default ${stepsDefault}, at most ${stepsMax})`,
  horizon: `pbft: ms the network adversary acts before it stops (GST; default ${horizonDefaultMs})`,
  until: `pbft: end of the run in ms (default horizon + ${afterHorizonMs})`,
} as const;

const settingOf: Record<keyof typeof settingsHelp, Strategy> = {
  steps: "flp",
  horizon: "pbft",
  until: "pbft",
};

function bad(message: string): never {
  throw new PhalanxError("BAD_ARGUMENT", message);
}

function strategyOf(options: AlgorithmOptions): Strategy {
  const s = options.strategy ?? "flp";
  if (!(strategies as readonly string[]).includes(s))
    bad(`flp has no strategy "${s}" (try ${strategies.join(" or ")})`);
  for (const key of Object.keys(options.settings)) {
    if (!Object.hasOwn(settingOf, key))
      bad(`flp has no setting "${key}" (try ${Object.keys(settingsHelp).join(", ")})`);
    const owner = settingOf[key as keyof typeof settingsHelp];
    if (owner !== s) bad(`--set ${key} applies to --strategy ${owner}, not ${s}`);
  }
  return s as Strategy;
}

// ------------------------------------------------------------------ --strategy flp

const bits = (xs: readonly Bit[]) => xs.join("");

/** The protocol on the simulator, with the network's own random order and no adversary. */
function baseline(params: FlpParams, inputs: readonly Bit[], seed: number) {
  const procs: FlpProcess[] = [];
  const sim = new Simulation<FlpMsg>({
    seed,
    nodes: params.n,
    factory: (id: NodeId) => {
      const p = new FlpProcess(params, inputs[id] as Bit);
      procs[id] = p;
      return p;
    },
  });
  const allDecided = () => procs.length === params.n && procs.every((p) => p.decided !== null);
  sim.runUntilPredicate(allDecided, baselineLimitMs);
  const decisions = sim.outputs.map((o) => o.record as FlpDecision);
  const values = new Set(decisions.map((d) => d.value));
  return {
    decided: decisions.length,
    agreed: values.size === 1,
    value: decisions[0]?.value ?? null,
    roundMax: Math.max(0, ...decisions.map((d) => d.round)),
    ms: sim.now,
    messages: sim.stats.delivered,
  };
}

function shownSchedule(params: FlpParams, run: BivalentRun): string[] {
  let c = initialConfiguration(run.inputs);
  const shown: string[] = [];
  for (const ev of run.schedule.slice(0, scheduleShown)) {
    shown.push(describeEvent(c, ev));
    c = applyEvent(params, c, ev);
  }
  return shown;
}

function runFlp(options: AlgorithmOptions): AlgorithmResult {
  if (options.nodes !== undefined && options.nodes !== flpNodes)
    bad(`flp runs n = ${flpNodes} processes (the exhaustive valency search of n = 4 is too large)`);
  if (options.traitors !== undefined && options.traitors !== 1)
    bad("flp's protocol tolerates exactly one crash (FLP's single faulty process): --traitors 1");
  const steps = intSetting(options.settings, "steps", stepsDefault, 1, stepsMax);
  const params = flpParams(flpNodes);
  const oracle = new ValencyOracle(params);
  const chain = lemma2Chain(params, oracle);
  const start = chain.find((l) => l.valency === bivalent);
  if (start === undefined) bad("no bivalent initial configuration: the protocol cannot decide both bits");
  const run = runBivalent(params, oracle, start.inputs, steps, new Prng(options.seed));
  const reached = run.schedule.length;
  const decided = run.final.procs.some((p) => p.decided !== null);
  const base = baseline(params, start.inputs, options.seed);
  const baseOk = base.decided === params.n && base.agreed;
  const ok = run.allBivalent && reached === steps && !decided && baseOk;
  let traceJsonl: string | undefined;
  if (options.trace !== undefined) {
    const header = {
      kind: "header" as const,
      format: "phalanx-trace/1" as const,
      protocol: "flp",
      seed: options.seed,
      nodes: nodeIds(params.n),
      byzantine: [],
      options: { steps, inputs: bits(start.inputs), time: "step" },
    };
    traceJsonl = traceToJsonl(header, scheduleTrace(params, start.inputs, run.schedule));
  }

  const rounds = run.final.procs.map((p) => p.round).join("/");
  const lines = [
    ok
      ? `flp: the adversary kept ${params.n}-process consensus bivalent for ${reached} steps; no process decided (seed ${options.seed})`
      : `flp: FAILED: ${failure(run, decided)} (seed ${options.seed})`,
    `protocol: Ben-Or's two-phase voting with its coin replaced by default bit ${params.defaultBit}; ` +
      `n = ${params.n}, one crash tolerated, so each phase waits for ${params.n - params.f} votes`,
    `valency: exact, by exhaustive search over all schedules: ${oracle.size} configurations ` +
      `(rounds counted from the slowest process, ignored messages dropped)`,
    `Lemma 2: ${chain.map((l) => `${bits(l.inputs)} ${describeValency(l.valency)}`).join(", ")}; ` +
      `the run starts from ${bits(start.inputs)}`,
    `Lemma 3: ${run.stages} stages, each ending with its target's oldest message; ` +
      `${run.sigmaEvents} events went into schedules (sigma) that delay it to stay bivalent`,
    `run: ${reached} steps, every configuration bivalent: ${run.allBivalent ? "yes" : "no"}; ` +
      `decisions: ${decided ? "some" : "none"}; processes reached rounds ${rounds}`,
    `fairness: steps per process ${run.stepsPerProcess.join("/")}, none idle more than ${run.maxStepGap} steps in a row; ` +
      `${run.delivered} of ${run.sent} messages delivered, longest wait ${run.maxDeliveryWait} steps; ` +
      `${run.pendingAtEnd} in flight at the end, oldest sent ${run.oldestPendingWait} steps ago`,
    `without the adversary (simulator, random latencies, seed ${options.seed}): ` +
      `${base.decided} of ${params.n} decided ${base.value ?? "nothing"}${base.agreed ? "" : " (DISAGREEMENT)"} ` +
      `by round ${base.roundMax}, ${base.ms.toFixed(1)} ms, ${base.messages} messages`,
    `schedule: ${shownSchedule(params, run).join("; ")}${reached > scheduleShown ? "; ..." : ""}`,
  ];
  return {
    ok,
    lines,
    traceJsonl,
    figures: {
      strategy: "flp",
      nodes: params.n,
      steps: reached,
      stepsAsked: steps,
      allBivalent: run.allBivalent,
      decided,
      inputs: bits(start.inputs),
      configurations: oracle.size,
      stages: run.stages,
      sigmaEvents: run.sigmaEvents,
      roundMax: Math.max(...run.final.procs.map((p) => p.round)),
      messagesSent: run.sent,
      messagesDelivered: run.delivered,
      maxDeliveryWait: run.maxDeliveryWait,
      maxStepGap: run.maxStepGap,
      pendingAtEnd: run.pendingAtEnd,
      baselineDecided: base.decided,
      baselineValue: base.value,
      baselineRound: base.roundMax,
      baselineMs: base.ms,
    },
  };
}

/** Why a run is not ok (the loop of runBivalent stops early only when stuck or no longer bivalent). */
function failure(run: BivalentRun, decided: boolean): string {
  if (run.stuckStage !== null) return `stage ${run.stuckStage} found no bivalent extension`;
  if (!run.allBivalent) return `the run left bivalence after ${run.schedule.length} steps`;
  return decided ? "a process decided" : "the protocol did not decide without the adversary either";
}

// ------------------------------------------------------------------ --strategy pbft

function runPbft(options: AlgorithmOptions): AlgorithmResult {
  const n = options.nodes ?? pbftNodesDefault;
  if (!Number.isInteger(n) || n < pbftNodesMin || n > pbftNodesMax)
    bad(`--strategy pbft needs ${pbftNodesMin}..${pbftNodesMax} replicas (f >= 1), got ${n}`);
  if (options.traitors !== undefined && options.traitors !== 0)
    bad("--strategy pbft: the adversary is the network, every replica is correct (--traitors 0)");
  const horizonMs = intSetting(options.settings, "horizon", horizonDefaultMs, horizonMinMs, horizonMaxMs);
  const untilMs = intSetting(
    options.settings,
    "until",
    horizonMs + afterHorizonMs,
    horizonMs + 1,
    horizonMaxMs * 10,
  );
  const common = { seed: options.seed, replicas: n, horizonMs, untilMs };
  const attacked = runPbftStall({ ...common, adversary: true, trace: options.trace !== undefined });
  const plain = runPbftStall({ ...common, adversary: false, trace: false });
  const traceJsonl = options.trace !== undefined ? (attacked.jsonl ?? "") : undefined;

  const safe = (r: StallRun) => !r.violations.some((v) => v.checker !== "liveness");
  const live = (r: StallRun) => r.violations.length === 0 && r.completed === r.operations;
  const stalled = attacked.completedBeforeHorizon === 0 && attacked.viewsBeforeHorizon > 0;
  const ok = safe(attacked) && safe(plain) && stalled && live(attacked) && plain.completedBeforeHorizon > 0;
  const ms = (t: number | null) => (t === null ? "never" : `${t.toFixed(0)} ms`);
  const verdict = (r: StallRun) =>
    r.violations.length === 0 ? "none" : r.violations.map((v) => `${v.checker}: ${v.message}`).join("; ");
  const lines = [
    `flp --strategy pbft: ${ok ? "" : "FAILED: "}a network adversary stalled PBFT for ${horizonMs} ms ` +
      `(${attacked.completedBeforeHorizon} requests completed, ${attacked.viewsBeforeHorizon} view changes), ` +
      `then ${attacked.completed} of ${attacked.operations} completed; safety ${safe(attacked) ? "held" : "BROKEN"} (seed ${options.seed})`,
    `adversary: held ${attacked.held} prepares, each the one that would complete a replica's prepared ` +
      `certificate, until that replica sent a VIEW-CHANGE; released the rest at ${horizonMs} ms (GST); ` +
      `it dropped nothing`,
    `with it: n = ${n}; views up to ${attacked.viewMax}; ` +
      `first completion after GST at ${ms(attacked.firstCompletionAfterHorizonMs)}, ` +
      `last at ${ms(attacked.lastCompletionMs)}; violations: ${verdict(attacked)}`,
    `without it (same seed): ${plain.completedBeforeHorizon} of ${plain.operations} completed before ${horizonMs} ms, ` +
      `last at ${ms(plain.lastCompletionMs)}, views up to ${plain.viewMax}; violations: ${verdict(plain)}`,
    `checked: agreement and linearizability of both runs, liveness after GST (src/scenarios/pbft.ts)`,
  ];
  return {
    ok,
    lines,
    traceJsonl,
    figures: {
      strategy: "pbft",
      nodes: n,
      horizonMs,
      untilMs,
      operations: attacked.operations,
      completedBeforeHorizon: attacked.completedBeforeHorizon,
      completed: attacked.completed,
      viewChangesBeforeHorizon: attacked.viewsBeforeHorizon,
      viewMax: attacked.viewMax,
      prepareHeld: attacked.held,
      firstCompletionAfterHorizonMs: attacked.firstCompletionAfterHorizonMs,
      violations: attacked.violations.length,
      baselineCompletedBeforeHorizon: plain.completedBeforeHorizon,
      baselineLastCompletionMs: plain.lastCompletionMs,
      baselineViolations: plain.violations.length,
    },
  };
}

export const algorithm: Algorithm = {
  name: "flp",
  summary:
    "FLP impossibility: an adversarial scheduler keeps consensus bivalent forever; PBFT stalls but stays safe",
  source: 'seed 002, "The Fischer, Lynch and Paterson Result" and "Core of the FLP result"; seed 003',
  defaults: { nodes: flpNodes, traitors: 1 },
  strategies,
  settings: settingsHelp,
  run(options: AlgorithmOptions): AlgorithmResult {
    return strategyOf(options) === "flp" ? runFlp(options) : runPbft(options);
  },
};
