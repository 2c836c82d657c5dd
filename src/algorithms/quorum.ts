/**
 * Byzantine quorums (seed 002, "Byzantine Quorums"; Malkhi & Reiter, "Byzantine quorum systems",
 * Distributed Computing 11(4), 1998) as `phalanx sim quorum`.
 *
 * One run builds the chosen quorum system for n servers and f liars (quorum/systems.ts), checks
 * its intersection, size and load by enumerating every quorum when there are few enough, prints
 * the √n×√n grid beside it, and then runs the masking-quorum register (quorum/register.ts) on the
 * simulator: a few clients read and write at random while f servers lie (quorum/adversary.ts).
 * The oracle is regularity of the resulting history (quorum/check.ts) plus the formulas agreeing
 * with the enumeration. `--set system=majority` swaps in simple majorities, which cannot mask a
 * liar: the negative control, where some seeds end with a stale read.
 */
import { PhalanxError } from "../core/errors.ts";
import { type NodeId, nodeIds } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import { Simulation } from "../sim/simulation.ts";
import { traceToJsonl } from "../sim/trace.ts";
import {
  isRegisterStrategy,
  type RegisterStrategy,
  registerAdversary,
  registerStrategies,
} from "./quorum/adversary.ts";
import { checkRegular, historyOf, type RegisterViolation } from "./quorum/check.ts";
import {
  type ClientOptions,
  RegisterClient,
  type RegisterMsg,
  type RegisterOutput,
  RegisterServer,
  type RegisterTimer,
} from "./quorum/register.ts";
import {
  type Examination,
  examine,
  grid,
  gridSide,
  majority,
  maskingThreshold,
  type QuorumSystem,
} from "./quorum/systems.ts";
import { intSetting } from "./settings.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

export const quorumLimits = {
  serversMax: 1024,
  clientsMax: 16,
  opsPerClientMax: 1000,
  /** Violations listed in the report (all are counted). */
  violationsShownMax: 5,
} as const;

/** Timing of the clients, against the simulator's default 1–10 ms links. */
const clientTiming: Omit<ClientOptions, "system" | "f" | "ops"> = {
  thinkMsMax: 20,
  timeoutMs: 25,
  retryMsMax: 10,
  writeShare: 0.5,
};

const systems = ["threshold", "grid", "majority"] as const;
type SystemChoice = (typeof systems)[number];

const settings = {
  system: "threshold (masking, default), grid (masking grid, n a square) or majority (negative control)",
  clients: "clients reading and writing concurrently (default 3)",
  ops: "operations per client (default 10)",
} as const;

interface Config {
  n: number;
  f: number;
  strategy: RegisterStrategy;
  system: QuorumSystem;
  clients: number;
  ops: number;
}

function bad(message: string): PhalanxError {
  return new PhalanxError("BAD_ARGUMENT", message);
}

function buildSystem(choice: SystemChoice, n: number, f: number): QuorumSystem {
  switch (choice) {
    case "threshold":
      if (n < 4 * f + 1)
        throw bad(`masking quorums for ${f} liars need n >= 4f+1 = ${4 * f + 1} servers, got ${n}`);
      return maskingThreshold(n, f);
    case "grid": {
      const side = gridSide(n);
      if (side === null) throw bad(`the grid needs a square number of servers, got ${n}`);
      if (side < 2 * f + 1)
        throw bad(`a ${side}x${side} grid masks at most ${Math.floor((side - 1) / 2)} liars`);
      return grid(n, f);
    }
    case "majority": {
      const q = Math.floor(n / 2) + 1;
      if (q > n - f) throw bad(`with ${f} silent servers no majority of ${n} answers; use fewer traitors`);
      return majority(n, f);
    }
  }
}

function configOf(options: AlgorithmOptions): Config {
  const n = options.nodes ?? algorithm.defaults.nodes;
  const f = options.traitors ?? algorithm.defaults.traitors;
  if (!Number.isInteger(n) || n < 1 || n > quorumLimits.serversMax)
    throw bad(`--nodes must be an integer in 1..${quorumLimits.serversMax}, got ${n}`);
  if (!Number.isInteger(f) || f < 0 || f >= n)
    throw bad(`--traitors must be an integer in 0..${n - 1}, got ${f}`);
  for (const key of Object.keys(options.settings))
    if (!(key in settings))
      throw bad(`unknown setting ${key}; quorum accepts ${Object.keys(settings).join(", ")}`);
  const strategy = options.strategy ?? "mixed";
  if (!isRegisterStrategy(strategy))
    throw bad(`unknown strategy ${strategy}; quorum accepts ${registerStrategies.join(", ")}`);
  const choice = options.settings.system ?? "threshold";
  if (!(systems as readonly string[]).includes(choice))
    throw bad(`--set system=${choice}: expected one of ${systems.join(", ")}`);
  return {
    n,
    f,
    strategy,
    system: buildSystem(choice as SystemChoice, n, f),
    clients: intSetting(options.settings, "clients", 3, 1, quorumLimits.clientsMax),
    ops: intSetting(options.settings, "ops", 10, 1, quorumLimits.opsPerClientMax),
  };
}

/** Does the enumeration agree with the system's formulas (and, if it claims to mask, is it available)? */
function agrees(system: QuorumSystem, e: Examination): boolean {
  return (
    e.sizeMin === system.size &&
    e.sizeMax === system.size &&
    e.intersectionMin === system.intersectionMin &&
    Math.abs(e.loadUniform - system.load) < 1e-12 &&
    Math.abs(e.loadLowerBound - Math.max(1 / system.size, system.load)) < 1e-12 &&
    (!system.masking || e.available !== false)
  );
}

/** One line about a quorum system: size, intersection (and how it was established), load. */
function describe(system: QuorumSystem, e: Examination | null): string {
  const how = e === null ? "by its formula" : `checked all ${e.pairs} pairs`;
  const need = system.f > 0 ? ` (2f+1 = ${2 * system.f + 1})` : "";
  return (
    `${system.label}: ${system.count} quorums of ${system.size}/${system.n} servers, ` +
    `any two share >= ${system.intersectionMin}${need} (${how}), load ${system.size}/${system.n} = ${system.load.toFixed(3)}`
  );
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const cfg = configOf(options);
  const { n, f, system } = cfg;
  const isClient = (id: NodeId) => id >= n;
  const clientOptions: ClientOptions = { ...clientTiming, system, f, ops: cfg.ops };
  const sim = new Simulation<RegisterMsg, RegisterTimer>({
    seed: options.seed,
    nodes: nodeIds(n + cfg.clients),
    factory: (id) => (isClient(id) ? new RegisterClient(clientOptions) : new RegisterServer(isClient)),
    trace: options.trace !== undefined,
  });
  const liars = new Prng(options.seed).fork("traitors").shuffle(nodeIds(n)).slice(0, f);
  for (const liar of liars) sim.setAdversary(liar, registerAdversary(cfg.strategy, n));
  sim.runUntilQuiescent();

  const history = historyOf(sim.outputs);
  const violations: RegisterViolation[] = checkRegular(history);
  const exam = examine(system);
  const formulasHold = exam === null || agrees(system, exam);

  const plainGrid = gridSide(n) !== null && !(system.kind === "grid" && f === 0) ? grid(n, 0) : null;
  const reads = history.filter((o) => o.action === "read").length;
  const writes = history.length - reads;
  const phases = sim.counter("quorum.phase");
  let busiest = 0;
  for (let s = 0; s < n; s++) busiest = Math.max(busiest, sim.nodeCounters(s).get("quorum.access") ?? 0);
  const measuredLoad = phases > 0 ? busiest / phases : 0;
  const retries = sim.counter("quorum.read.undecided");
  const outvoted = sim.counter("quorum.read.outvoted");
  const messages = sim.stats.sent;
  let counterMax = 0;
  for (const o of sim.outputs) {
    const r = o.record as RegisterOutput;
    if (r.kind === "return" && r.action === "write") counterMax = Math.max(counterMax, r.counter);
  }
  const ok = violations.length === 0 && formulasHold;

  const cast = `${n} servers, ${f} ${f === 0 ? "liars" : `${cfg.strategy} liar${f === 1 ? "" : "s"}`}, ${cfg.clients} clients`;
  const lines = [
    violations.length === 0
      ? `quorum: regular register over ${system.label} quorums (${cast}): ${history.length} operations, no violation`
      : `quorum: ${plural(violations.length, "violation")} of regularity over ${system.label} quorums (${cast})`,
    `quorum system: ${describe(system, exam)}${formulasHold ? "" : " -- DISAGREES with the enumeration"}`,
    plainGrid === null
      ? `grid: ${n} is not a square, no √n×√n grid`
      : `grid for comparison: ${describe(plainGrid, examine(plainGrid))}`,
    `operations: ${writes} writes (timestamp counters up to ${counterMax}), ${reads} reads (${plural(retries, "retry", "retries")}); ` +
      `${outvoted} replies claiming a newer timestamp than the value read were outvoted`,
    `messages: ${messages} (${(messages / Math.max(1, history.length)).toFixed(1)} per operation); ` +
      `${phases} quorum accesses, ${sim.counter("quorum.expand")} widened after a timeout; ` +
      `busiest server in ${(measuredLoad * 100).toFixed(0)}% of them (load ${system.load.toFixed(3)})`,
    ...violations.slice(0, quorumLimits.violationsShownMax).map((v) => `violation (${v.kind}): ${v.message}`),
  ];
  let traceJsonl: string | undefined;
  if (options.trace !== undefined) {
    const header = sim.traceHeader("quorum", {
      system: system.kind,
      strategy: cfg.strategy,
      clients: cfg.clients,
    });
    traceJsonl = traceToJsonl(header, sim.trace ?? []);
    lines.push(`trace: ${sim.trace?.length ?? 0} events written to ${options.trace}`);
  }
  return {
    ok,
    lines,
    traceJsonl,
    figures: {
      servers: n,
      traitors: f,
      strategy: cfg.strategy,
      system: system.kind,
      clients: cfg.clients,
      quorumSize: system.size,
      quorums: system.count,
      intersectionMin: system.intersectionMin,
      load: system.load,
      measuredLoad,
      gridSize: plainGrid?.size ?? (system.kind === "grid" && f === 0 ? system.size : null),
      operations: history.length,
      reads,
      writes,
      retries,
      outvoted,
      messages,
      counterMax,
      violations: violations.length,
      formulasHold,
    },
  };
}

export const algorithm: Algorithm = {
  name: "quorum",
  summary: "Byzantine quorums: grid and masking quorum systems, a register that masks f lying servers",
  source: "seed 002, Byzantine Quorums; Malkhi & Reiter, Byzantine quorum systems (1998)",
  defaults: { nodes: 5, traitors: 1 },
  strategies: registerStrategies,
  settings,
  run,
};
