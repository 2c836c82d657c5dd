/**
 * Fault plans: what goes wrong in a run, and when. A plan is data (printable, reproducible
 * from the seed): link behaviour (latency, loss, duplication, reordering), local clock offsets
 * and drift, Byzantine nodes with named strategies, and a schedule of crashes, restarts,
 * fail-stops, pauses and partitions. At `healAtMs` every network and node fault ends
 * (partitions heal, links stop losing, duplicating and reordering, crashed nodes restart, paused
 * nodes resume) and the run enters its liveness phase. Byzantine nodes stay Byzantine.
 *
 * Named profiles give one fault family each; `randomPlan` is the swarm's generator: per seed it
 * turns each fault family on or off and draws its intensity, so different seeds stress
 * different mixes (swarm testing, Groce et al. 2012; TigerBeetle's VOPR).
 */
import { PhalanxError } from "../core/errors.ts";
import type { Millis, NodeId } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import type { LinkConfig } from "./network.ts";
import type { LocalClock, Simulation } from "./simulation.ts";

export type FaultAction =
  | { at: Millis; kind: "crash" | "restart" | "failstop" | "pause" | "resume"; node: NodeId }
  | { at: Millis; kind: "partition"; groups: NodeId[][] }
  | { at: Millis; kind: "block" | "unblock"; from: NodeId; to: NodeId }
  | { at: Millis; kind: "heal" };

export interface FaultPlan {
  profile: string;
  link: Partial<LinkConfig>;
  clocks: Array<{ node: NodeId } & LocalClock>;
  byzantine: Array<{ node: NodeId; strategy: string }>;
  schedule: FaultAction[];
  /** When all faults end and the liveness phase starts. */
  healAtMs: Millis;
}

/** What a protocol tolerates, so generated plans stay inside its fault model. */
export interface Tolerance {
  /** Nodes that may be down (crashed, stopped or paused) at once. */
  down: number;
  /** Nodes that may be Byzantine. */
  byzantine: number;
  /** Byzantine strategies the protocol offers (generic ones are added). */
  strategies: readonly string[];
  /** Whether fail-stop (with notification) is part of the model. */
  failStop: boolean;
}

export const GENERIC_STRATEGIES = ["silent", "dropping", "delaying", "duplicating", "replaying"] as const;

export const PROFILES = [
  "none",
  "lossy",
  "partition",
  "crash",
  "failstop",
  "pause",
  "drift",
  "byzantine",
  "chaos",
] as const;
export type ProfileName = (typeof PROFILES)[number];

export const PROFILE_HELP: Record<ProfileName, string> = {
  none: "no faults: latency 1-10 ms only",
  lossy: "10% loss, 5% duplication, 20% extra reordering delay on every link",
  partition: "the nodes split in two halves for a while, plus a one-way link cut",
  crash: "nodes crash and restart (unsynced writes may be lost)",
  failstop: "one node fail-stops; every peer is notified",
  pause: "nodes pause (slow, look dead) and resume",
  drift: "local clocks with offsets up to 1 s and drift up to 200 ppm",
  byzantine: "up to the tolerated number of nodes run Byzantine strategies",
  chaos: "all of the above at once, within the protocol's tolerance",
};

/** The node a crash, restart, fail-stop, pause or resume acts on. */
export function nodeOf(a: FaultAction): NodeId | undefined {
  return "node" in a ? a.node : undefined;
}

function emptyPlan(profile: string, healAtMs: Millis): FaultPlan {
  return { profile, link: {}, clocks: [], byzantine: [], schedule: [], healAtMs };
}

function pickNodes(prng: Prng, nodes: readonly NodeId[], count: number): NodeId[] {
  return prng.shuffle([...nodes]).slice(0, Math.max(0, Math.min(count, nodes.length)));
}

function addLossy(plan: FaultPlan, prng: Prng, intensity: number): void {
  plan.link.lossProb = Math.round(intensity * 0.2 * 1000) / 1000;
  plan.link.dupProb = Math.round(intensity * 0.1 * 1000) / 1000;
  plan.link.reorderProb = Math.round(intensity * 0.4 * 1000) / 1000;
  plan.link.reorderDelayMs = 5 + prng.int(50);
}

function addPartitions(plan: FaultPlan, prng: Prng, nodes: readonly NodeId[], count: number): void {
  for (let i = 0; i < count; i++) {
    const at = prng.between(0, plan.healAtMs * 0.8);
    const len = prng.between(plan.healAtMs * 0.05, plan.healAtMs * 0.3);
    if (prng.chance(0.7)) {
      const shuffled = prng.shuffle([...nodes]);
      const cut = 1 + prng.int(Math.max(1, nodes.length - 1));
      plan.schedule.push({ at, kind: "partition", groups: [shuffled.slice(0, cut), shuffled.slice(cut)] });
      plan.schedule.push({ at: Math.min(at + len, plan.healAtMs), kind: "heal" });
    } else {
      const [from, to] = pickNodes(prng, nodes, 2);
      if (from === undefined || to === undefined) continue;
      plan.schedule.push({ at, kind: "block", from, to });
      plan.schedule.push({ at: Math.min(at + len, plan.healAtMs), kind: "unblock", from, to });
    }
  }
}

/** Crash/restart or pause/resume episodes, never more than `down` nodes out at once. */
function addOutages(
  plan: FaultPlan,
  prng: Prng,
  nodes: readonly NodeId[],
  down: number,
  count: number,
  kinds: ReadonlyArray<"crash" | "pause">,
): void {
  if (down <= 0) return;
  // Give each of `down` "slots" a sequence of non-overlapping episodes.
  const victims = pickNodes(prng, nodes, down);
  for (let i = 0; i < count; i++) {
    const slot = i % victims.length;
    const node = victims[slot] as NodeId;
    const span = plan.healAtMs / Math.ceil(count / victims.length);
    const round = Math.floor(i / victims.length);
    const at = round * span + prng.between(0, span * 0.5);
    const len = prng.between(span * 0.1, span * 0.45);
    const kind = prng.pick(kinds);
    plan.schedule.push({ at, kind, node });
    plan.schedule.push({ at: at + len, kind: kind === "crash" ? "restart" : "resume", node });
  }
}

function addDrift(
  plan: FaultPlan,
  prng: Prng,
  nodes: readonly NodeId[],
  maxOffsetMs: number,
  maxPpm: number,
): void {
  for (const node of nodes) {
    plan.clocks.push({
      node,
      offsetMs: Math.round(prng.between(-maxOffsetMs, maxOffsetMs)),
      driftPpm: Math.round(prng.between(-maxPpm, maxPpm)),
    });
  }
}

function addByzantine(
  plan: FaultPlan,
  prng: Prng,
  nodes: readonly NodeId[],
  tol: Tolerance,
  count: number,
): void {
  const strategies = [...GENERIC_STRATEGIES, ...tol.strategies];
  const alreadyFaulty = new Set<NodeId>();
  for (const a of plan.schedule) {
    const node = nodeOf(a);
    if (node !== undefined) alreadyFaulty.add(node);
  }
  const candidates = nodes.filter((n) => !alreadyFaulty.has(n));
  for (const node of pickNodes(prng, candidates, count))
    plan.byzantine.push({ node, strategy: prng.pick(strategies) });
}

export function profilePlan(
  profile: string,
  seed: number,
  nodes: readonly NodeId[],
  tol: Tolerance,
  healAtMs: Millis,
): FaultPlan {
  const prng = new Prng(seed).fork(`profile-${profile}`);
  const plan = emptyPlan(profile, healAtMs);
  switch (profile as ProfileName) {
    case "none":
      break;
    case "lossy":
      addLossy(plan, prng, 0.5);
      break;
    case "partition": {
      const shuffled = prng.shuffle([...nodes]);
      const half = Math.ceil(nodes.length / 2);
      plan.schedule.push({
        at: healAtMs * 0.2,
        kind: "partition",
        groups: [shuffled.slice(0, half), shuffled.slice(half)],
      });
      plan.schedule.push({ at: healAtMs * 0.6, kind: "heal" });
      if (nodes.length >= 2) {
        plan.schedule.push({
          at: healAtMs * 0.7,
          kind: "block",
          from: shuffled[0] as NodeId,
          to: shuffled[1] as NodeId,
        });
      }
      break;
    }
    case "crash":
      addOutages(plan, prng, nodes, Math.max(1, tol.down), 4, ["crash"]);
      break;
    case "failstop": {
      if (!tol.failStop) throw new PhalanxError("BAD_ARGUMENT", "this protocol does not model fail-stop");
      const [node] = pickNodes(prng, nodes, 1);
      if (node !== undefined) plan.schedule.push({ at: healAtMs * 0.3, kind: "failstop", node });
      break;
    }
    case "pause":
      addOutages(plan, prng, nodes, Math.max(1, tol.down), 4, ["pause"]);
      break;
    case "drift":
      addDrift(plan, prng, nodes, 1000, 200);
      break;
    case "byzantine":
      addByzantine(plan, prng, nodes, tol, Math.max(1, tol.byzantine));
      break;
    case "chaos":
      addLossy(plan, prng, 0.5);
      addPartitions(plan, prng, nodes, 2);
      addOutages(plan, prng, nodes, tol.down, 4, ["crash", "pause"]);
      addDrift(plan, prng, nodes, 500, 100);
      addByzantine(
        plan,
        prng,
        nodes,
        tol,
        Math.max(0, Math.min(tol.byzantine, tol.down === 0 ? tol.byzantine : 1)),
      );
      break;
    default:
      throw new PhalanxError(
        "UNKNOWN_FAULT_PROFILE",
        `unknown fault profile "${profile}"; choose one of: ${PROFILES.join(", ")}`,
      );
  }
  plan.schedule.sort((a, b) => a.at - b.at);
  return plan;
}

/**
 * The swarm's plan for one seed: each fault family independently on or off, with its own
 * intensity. Byzantine nodes and down nodes together stay within the protocol's tolerance.
 */
export function randomPlan(
  seed: number,
  nodes: readonly NodeId[],
  tol: Tolerance,
  healAtMs: Millis,
): FaultPlan {
  const prng = new Prng(seed).fork("swarm-plan");
  const plan = emptyPlan("swarm", healAtMs);
  const on = (p: number) => prng.chance(p);
  if (on(0.5)) addLossy(plan, prng, prng.float());
  if (on(0.4)) addPartitions(plan, prng, nodes, 1 + prng.int(3));
  if (on(0.5)) addDrift(plan, prng, nodes, prng.int(1000), prng.int(300));
  const byz = tol.byzantine > 0 && on(0.5) ? 1 + prng.int(tol.byzantine) : 0;
  // Byzantine nodes count against the same budget as down nodes (f faulty in all).
  const downBudget = Math.max(0, tol.down - (tol.down === tol.byzantine ? byz : 0));
  if (downBudget > 0 && on(0.5)) {
    addOutages(
      plan,
      prng,
      nodes,
      1 + prng.int(downBudget),
      1 + prng.int(6),
      on(0.5) ? ["crash"] : ["crash", "pause"],
    );
  }
  if (tol.failStop && on(0.2) && downBudget > 0) {
    const [node] = pickNodes(prng, nodes, 1);
    if (node !== undefined && !plan.schedule.some((a) => nodeOf(a) === node)) {
      plan.schedule.push({ at: prng.between(0, healAtMs), kind: "failstop", node });
    }
  }
  if (byz > 0) addByzantine(plan, prng, nodes, tol, byz);
  plan.schedule.sort((a, b) => a.at - b.at);
  return plan;
}

/** Schedules the plan's actions, and the end of all faults at `healAtMs`. */
export function applyPlan<Msg, Tag>(sim: Simulation<Msg, Tag>, plan: FaultPlan): void {
  for (const c of plan.clocks) sim.setClock(c.node, c);
  for (const a of plan.schedule) {
    sim.at(a.at, () => {
      switch (a.kind) {
        case "crash":
          return sim.crash(a.node);
        case "restart":
          return sim.restart(a.node);
        case "failstop":
          return sim.failStop(a.node);
        case "pause":
          return sim.pause(a.node);
        case "resume":
          return sim.resume(a.node);
        case "partition":
          return sim.partition(a.groups);
        case "block":
          return sim.blockLink(a.from, a.to);
        case "unblock":
          return sim.unblockLink(a.from, a.to);
        case "heal":
          return sim.heal();
      }
    });
  }
  const stopped = new Set<NodeId>();
  for (const a of plan.schedule) if (a.kind === "failstop") stopped.add(a.node);
  sim.at(plan.healAtMs, () => {
    sim.heal();
    sim.setLinks({ lossProb: 0, dupProb: 0, reorderProb: 0 });
    for (const node of sim.nodes) {
      if (sim.isPaused(node)) sim.resume(node);
      if (!sim.isUp(node) && !stopped.has(node)) sim.restart(node);
    }
  });
}

/** One line per fault, for printing with a run's summary. */
export function describePlan(plan: FaultPlan): string[] {
  const out: string[] = [`profile ${plan.profile}; faults end at ${plan.healAtMs.toFixed(0)} ms`];
  const l = plan.link;
  if (l.lossProb || l.dupProb || l.reorderProb) {
    out.push(
      `links: loss ${l.lossProb ?? 0}, duplication ${l.dupProb ?? 0}, reorder ${l.reorderProb ?? 0} (+${l.reorderDelayMs ?? 0} ms)`,
    );
  }
  if (plan.clocks.length > 0) {
    const worst = plan.clocks.reduce((m, c) => Math.max(m, Math.abs(c.driftPpm)), 0);
    out.push(`clocks: ${plan.clocks.length} nodes with offsets and drift up to ${worst} ppm`);
  }
  for (const b of plan.byzantine) out.push(`byzantine: node ${b.node} runs ${b.strategy}`);
  for (const a of plan.schedule) {
    const what =
      a.kind === "partition"
        ? `partition ${a.groups.map((g) => `{${g.join(",")}}`).join(" | ")}`
        : a.kind === "block" || a.kind === "unblock"
          ? `${a.kind} link ${a.from}->${a.to}`
          : a.kind === "heal"
            ? "heal"
            : `${a.kind} node ${nodeOf(a)}`;
    out.push(`at ${a.at.toFixed(1)} ms: ${what}`);
  }
  return out;
}
