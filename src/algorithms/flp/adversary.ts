/**
 * The FLP adversary: a scheduler that keeps a consensus run bivalent forever (Fischer, Lynch
 * and Paterson, JACM 1985; seed 002, "Core of the FLP result").
 *
 * - Lemma 2 (`lemma2Chain`): walk the input assignments 00..0, 10..0, 110..0, ..., 11..1, each
 *   differing from the last in one process's input. The first is 0-valent and the last
 *   1-valent, so some assignment on the way is bivalent (or two neighbours differ in valency,
 *   which a run where the differing process takes no steps rules out).
 * - Lemma 3 (`runBivalent`): from a bivalent configuration C and an event e = (p, m), some
 *   schedule sigma that does not contain e leads to a configuration D with e(D) bivalent. The
 *   adversary finds the shortest such sigma by breadth-first search, applies sigma then e, and
 *   repeats.
 *
 * Fairness is FLP's own construction: the targets of successive stages go round the processes
 * in turn (in an order drawn from the seed), and the event of each stage delivers the target's oldest buffered message (a null
 * step if it has none). So every process takes a step in every n stages, and a message waits
 * only while older messages to its receiver go first: every message is eventually delivered.
 * Within a finite horizon this is what is enforced; the run reports how long messages waited
 * and how far apart one process's steps were.
 */
import { assert } from "../../core/assert.ts";
import type { Prng } from "../../core/prng.ts";
import {
  applyEvent,
  type Configuration,
  configurationKey,
  enabledEvents,
  type FlpEvent,
  initialConfiguration,
} from "./model.ts";
import type { Bit, FlpParams } from "./protocol.ts";
import { bivalent, type Valency, type ValencyOracle } from "./valency.ts";

/** Configurations one stage's search for sigma may visit before the stage gives up. */
export const sigmaConfigsMax = 50_000;

export interface ChainLink {
  inputs: Bit[];
  valency: Valency;
}

/** The Lemma 2 chain of input assignments with their valencies. */
export function lemma2Chain(params: FlpParams, oracle: ValencyOracle): ChainLink[] {
  const chain: ChainLink[] = [];
  for (let ones = 0; ones <= params.n; ones++) {
    const inputs = Array.from({ length: params.n }, (_, i) => (i < ones ? 1 : 0) as Bit);
    chain.push({ inputs, valency: oracle.valency(initialConfiguration(inputs)) });
  }
  return chain;
}

export interface BivalentRun {
  inputs: Bit[];
  /** Every event applied, in order (sigma's events and each stage's e). */
  schedule: FlpEvent[];
  /** The configuration after the last event. */
  final: Configuration;
  /** Stages started (the last may be cut short by the step budget). */
  stages: number;
  /** Events of all sigmas (the rest are the stages' e events). */
  sigmaEvents: number;
  /** Whether every configuration of the run, the initial one included, was bivalent. */
  allBivalent: boolean;
  /** The stage whose sigma was not found within `sigmaConfigsMax`, or null. */
  stuckStage: number | null;
  stepsPerProcess: number[];
  /** Longest stretch of steps in which some process took none (to the run's end included). */
  maxStepGap: number;
  delivered: number;
  sent: number;
  /** Longest wait of a delivered message, in steps. */
  maxDeliveryWait: number;
  /** Messages still buffered at the end, and the longest wait among them. */
  pendingAtEnd: number;
  oldestPendingWait: number;
}

/** The stage's event e: the target's oldest buffered message, or a null step. */
export function stageEvent(c: Configuration, target: number): FlpEvent {
  let oldest: number | null = null;
  for (const m of c.buffer) if (m.to === target && (oldest === null || m.id < oldest)) oldest = m.id;
  return { to: target, id: oldest };
}

const sameEvent = (a: FlpEvent, b: FlpEvent) => a.to === b.to && a.id === b.id;

/**
 * Lemma 3's search: the shortest sigma without `e` such that e(sigma(C)) is bivalent (which of
 * the equally short ones is drawn from `prng`), or null if none within the bound.
 */
export function findSigma(
  params: FlpParams,
  oracle: ValencyOracle,
  c: Configuration,
  e: FlpEvent,
  prng: Prng,
): FlpEvent[] | null {
  const seen = new Set<string>([configurationKey(c)]);
  let frontier: Array<{ c: Configuration; path: FlpEvent[] }> = [{ c, path: [] }];
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const node of frontier) {
      if (oracle.isBivalent(applyEvent(params, node.c, e))) return node.path;
      for (const ev of prng.shuffle(enabledEvents(node.c))) {
        if (sameEvent(ev, e)) continue;
        const d = applyEvent(params, node.c, ev);
        const key = configurationKey(d);
        if (seen.has(key)) continue;
        if (seen.size >= sigmaConfigsMax) return null;
        seen.add(key);
        next.push({ c: d, path: [...node.path, ev] });
      }
    }
    frontier = next;
  }
  return null;
}

/** Runs the adversary for `steps` events from the bivalent initial configuration of `inputs`. */
export function runBivalent(
  params: FlpParams,
  oracle: ValencyOracle,
  inputs: readonly Bit[],
  steps: number,
  prng: Prng,
): BivalentRun {
  let c = initialConfiguration(inputs);
  const n = params.n;
  const schedule: FlpEvent[] = [];
  const lastStep = new Array<number>(n).fill(0);
  const stepsPerProcess = new Array<number>(n).fill(0);
  let maxStepGap = 0;
  let maxDeliveryWait = 0;
  let delivered = 0;
  let allBivalent = oracle.valency(c) === bivalent;
  let stages = 0;
  let sigmaEvents = 0;
  let stuckStage: number | null = null;
  const order = prng.shuffle(Array.from({ length: n }, (_, i) => i));

  const step = (ev: FlpEvent) => {
    if (ev.id !== null) {
      const m = c.buffer.find((x) => x.id === ev.id);
      assert(m !== undefined, `message ${ev.id} must be buffered`);
      maxDeliveryWait = Math.max(maxDeliveryWait, c.steps - m.sentAt);
      delivered++;
    }
    c = applyEvent(params, c, ev);
    schedule.push(ev);
    stepsPerProcess[ev.to] = (stepsPerProcess[ev.to] as number) + 1;
    maxStepGap = Math.max(maxStepGap, c.steps - 1 - (lastStep[ev.to] as number));
    lastStep[ev.to] = c.steps;
    if (oracle.valency(c) !== bivalent) allBivalent = false;
  };

  while (allBivalent && c.steps < steps) {
    const target = order[stages % n] as number;
    stages++;
    const e = stageEvent(c, target);
    const sigma = findSigma(params, oracle, c, e, prng);
    if (sigma === null) {
      stuckStage = stages;
      break;
    }
    sigmaEvents += Math.min(sigma.length, steps - c.steps);
    for (const ev of [...sigma, e]) {
      if (c.steps >= steps) break;
      step(ev);
    }
  }
  for (const last of lastStep) maxStepGap = Math.max(maxStepGap, c.steps - last);
  let oldestPendingWait = 0;
  for (const m of c.buffer) oldestPendingWait = Math.max(oldestPendingWait, c.steps - m.sentAt);
  return {
    inputs: [...inputs],
    schedule,
    final: c,
    stages,
    sigmaEvents,
    allBivalent,
    stuckStage,
    stepsPerProcess,
    maxStepGap,
    delivered,
    sent: c.nextId - 1,
    maxDeliveryWait,
    pendingAtEnd: c.buffer.length,
    oldestPendingWait,
  };
}
