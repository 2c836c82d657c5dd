/**
 * Runs one simulated scenario (a protocol, a node count, a seed, a fault plan) and the swarm of
 * many seeds. Everything a run does follows from its arguments: the same arguments give a
 * byte-identical trace, and a failing seed is replayed with the command the swarm prints.
 */
import { PhalanxError } from "../core/errors.ts";
import { type Millis, type NodeId, nodeIds } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import { compose, delaying, dropping, duplicating, replaying, silent } from "./adversary/strategies.ts";
import type { Adversary } from "./adversary/types.ts";
import { applyPlan, type FaultPlan, GENERIC_STRATEGIES, profilePlan, randomPlan } from "./faults.ts";
import type { ProtocolSpec, Violation } from "./protocol.ts";
import { Simulation } from "./simulation.ts";
import { traceHash, traceToJsonl } from "./trace.ts";

export interface RunOptions {
  seed: number;
  nodes?: number;
  /** A profile name, "swarm" for a random plan from the seed, or a ready plan. */
  faults?: string | FaultPlan;
  untilMs?: Millis;
  healAtMs?: Millis;
  trace?: boolean;
  /** Signature scheme of the run (see SimOptions.signatures); default "ed25519". */
  signatures?: "ed25519" | "fast";
  /** Byzantine nodes chosen by hand; they replace the plan's choice for those nodes. */
  byzantine?: ReadonlyArray<{ node: NodeId; strategy: string }>;
}

export interface RunResult<Msg, Tag> {
  sim: Simulation<Msg, Tag>;
  plan: FaultPlan;
  violations: Violation[];
  /** JSONL of the trace (with header), when tracing. */
  jsonl?: string;
  traceHash?: string;
  wallMs: number;
}

export function genericAdversary<Msg>(strategy: string): Adversary<Msg> | undefined {
  switch (strategy) {
    case "silent":
      return silent();
    case "dropping":
      return dropping(0.5);
    case "delaying":
      return delaying(50, 500);
    case "duplicating":
      return duplicating(3);
    case "replaying":
      return compose(replaying(0.3, 20));
    default:
      return undefined;
  }
}

export function runScenario<Msg, Tag>(
  spec: ProtocolSpec<Msg, Tag>,
  options: RunOptions,
): RunResult<Msg, Tag> {
  const started = performance.now();
  const n = options.nodes ?? spec.defaultNodes;
  if (!Number.isInteger(n) || n < 1 || n > limits.simNodesMax) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `--nodes must be an integer in 1..${limits.simNodesMax}, got ${n}`,
    );
  }
  const nodes = nodeIds(n);
  const untilMs = options.untilMs ?? spec.defaultUntilMs;
  const healAtMs = Math.min(options.healAtMs ?? spec.defaultHealAtMs, untilMs);
  const tol = spec.tolerance(n);
  const faults = options.faults ?? "none";
  const plan =
    typeof faults !== "string"
      ? faults
      : faults === "swarm"
        ? randomPlan(options.seed, nodes, tol, healAtMs)
        : profilePlan(faults, options.seed, nodes, tol, healAtMs);

  if (options.byzantine !== undefined && options.byzantine.length > 0) {
    const chosen = new Set(options.byzantine.map((b) => b.node));
    for (const b of options.byzantine) {
      if (!Number.isInteger(b.node) || b.node < 0 || b.node >= n)
        throw new PhalanxError("BAD_ARGUMENT", `--byzantine: node ${b.node} is not one of 0..${n - 1}`);
    }
    plan.byzantine = [...plan.byzantine.filter((b) => !chosen.has(b.node)), ...options.byzantine];
  }

  const all = nodeIds(n + (spec.extraNodes?.(n) ?? 0));
  const simOptions = {
    seed: options.seed,
    nodes: all,
    factory: spec.factory(nodes, options.seed, all),
    network: { link: plan.link },
    trace: options.trace ?? false,
    signatures: options.signatures ?? "ed25519",
    ...(spec.rounds ? { rounds: spec.rounds } : {}),
  };
  const sim = new Simulation<Msg, Tag>(simOptions);
  for (const b of plan.byzantine) {
    const adv = spec.adversary(b.strategy, nodes) ?? genericAdversary<Msg>(b.strategy);
    if (adv === undefined) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `protocol ${spec.name} has no Byzantine strategy "${b.strategy}"; choose one of: ${[...GENERIC_STRATEGIES, ...tol.strategies].join(", ")}`,
      );
    }
    sim.setAdversary(b.node, adv);
  }
  applyPlan(sim, plan);
  sim.runUntil(untilMs);

  const correct = all.filter((x) => !sim.byzantine.has(x));
  const violations = spec.check(sim, {
    correct,
    correctUp: correct.filter((x) => sim.isUp(x)),
    healed: healAtMs < untilMs,
  });
  const result: RunResult<Msg, Tag> = { sim, plan, violations, wallMs: performance.now() - started };
  if (sim.trace !== null) {
    const jsonl = traceToJsonl(
      sim.traceHeader(spec.name, {
        nodes: n,
        faults: typeof faults === "string" ? faults : plan.profile,
        untilMs,
      }),
      sim.trace,
    );
    result.jsonl = jsonl;
    result.traceHash = traceHash(jsonl);
  }
  return result;
}

export function replayCommand(
  protocol: string,
  seed: number,
  nodes: number,
  faults: string,
  untilMs?: Millis,
  signatures?: "ed25519" | "fast",
  byzantine?: ReadonlyArray<{ node: NodeId; strategy: string }>,
): string {
  const until = untilMs === undefined ? "" : ` --until ${untilMs}`;
  const sig = signatures === "fast" ? " --signatures fast" : "";
  const byz =
    byzantine === undefined || byzantine.length === 0
      ? ""
      : ` --byzantine ${byzantine.map((b) => `${b.node}=${b.strategy}`).join(",")}`;
  return `phalanx sim --protocol ${protocol} --nodes ${nodes} --seed ${seed} --faults ${faults}${until}${sig}${byz}`;
}

export interface SwarmFailure {
  seed: number;
  violations: Violation[];
  command: string;
  error?: string;
}

export interface SwarmResult {
  seeds: number;
  failures: SwarmFailure[];
  wallMs: number;
}

/** Parses "A..B" (inclusive) or a single seed. */
export function parseSeedRange(text: string): [number, number] {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  if (m === null)
    throw new PhalanxError("BAD_ARGUMENT", `--seeds must look like 1..500 or 42, got "${text}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw new PhalanxError("BAD_ARGUMENT", `--seeds range ${text} is empty (end before start)`);
  if (b - a + 1 > limits.swarmSeedsMax)
    throw new PhalanxError("BAD_ARGUMENT", `--seeds covers more than ${limits.swarmSeedsMax} seeds`);
  return [a, b];
}

/**
 * Runs seeds `from..to`, each with its own random fault plan (or the given profile), and
 * collects every failing seed with the command that replays it. A run that throws (an assertion
 * in our code) is a failure too.
 */
export function runSwarm<Msg, Tag>(
  spec: ProtocolSpec<Msg, Tag>,
  options: {
    from: number;
    to: number;
    nodes?: number;
    faults?: string;
    untilMs?: Millis;
    /** Default "fast": sweeps need speed; a replay with real signatures behaves the same. */
    signatures?: "ed25519" | "fast";
    onSeed?: (seed: number, failed: boolean, done: number, total: number) => void;
  },
): SwarmResult {
  const started = performance.now();
  const nodes = options.nodes ?? spec.defaultNodes;
  const faults = options.faults ?? "swarm";
  const signatures = options.signatures ?? "fast";
  const failures: SwarmFailure[] = [];
  const total = options.to - options.from + 1;
  for (let seed = options.from; seed <= options.to; seed++) {
    const command = replayCommand(spec.name, seed, nodes, faults, options.untilMs, signatures);
    let failed = false;
    try {
      const r = runScenario(spec, {
        seed,
        nodes,
        faults,
        signatures,
        ...(options.untilMs !== undefined ? { untilMs: options.untilMs } : {}),
      });
      if (r.violations.length > 0) {
        failed = true;
        failures.push({ seed, violations: r.violations, command });
      }
    } catch (e) {
      failed = true;
      failures.push({ seed, violations: [], command, error: (e as Error).stack ?? String(e) });
    }
    options.onSeed?.(seed, failed, seed - options.from + 1, total);
  }
  return { seeds: total, failures, wallMs: performance.now() - started };
}

export type { NodeId };
