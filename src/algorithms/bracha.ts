/**
 * Byzantine reliable broadcast, Bracha's protocol (seed 002, "Byzantine Broadcast"; G. Bracha,
 * "Asynchronous Byzantine agreement protocols", Information and Computation 75(2), 1987; Bracha &
 * Toueg, "Asynchronous consensus and broadcast protocols", JACM 1985). A sender hands one value
 * to n >= 3f+1 processes, f of them Byzantine, over an asynchronous network, with no signatures:
 *
 * - the sender sends SEND(v) to all;
 * - a process ECHOes the first SEND it gets from the sender;
 * - it sends READY(v) once it has ceil((n+f+1)/2) ECHOs of v (two such quorums share a correct
 *   process, so no two values get READYs from correct processes) or f+1 READYs of v (at least
 *   one from a correct process: amplification, which gives totality);
 * - it delivers v on 2f+1 READYs of v (f+1 of them correct, so every correct process reaches
 *   f+1 READYs, READYs itself, and the n-f >= 2f+1 correct READYs deliver everywhere).
 *
 * Messages name their instance (sender, sequence) so broadcasts run side by side; each instance
 * keeps one ECHO and one READY per peer (the first counts), so its state is O(n), and a process
 * keeps a window of open instances per sender (PBFT-style watermarks), forgetting each instance
 * once it delivers (it has sent its READY by then, all others need from it). Channels are
 * authenticated (a SEND counts only from its sender) but nothing is signed. There is no
 * retransmission, so the simulated network delays, reorders and duplicates messages but never
 * loses them: Bracha's model of reliable asynchronous links.
 *
 * `run` checks validity, agreement, integrity and totality (and the O(n^2) message bound) against
 * Byzantine senders and relays. When the quorum arithmetic fails (n < 3f+1, or more traitors
 * than the quorums are sized for) it becomes an impossibility demonstration: it searches seeds
 * for a run that breaks a property.
 */
import { assertNever } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import { rewriting, silent } from "../sim/adversary/strategies.ts";
import type { Adversary } from "../sim/adversary/types.ts";
import type { LinkConfig } from "../sim/network.ts";
import { Simulation } from "../sim/simulation.ts";
import { traceToJsonl } from "../sim/trace.ts";
import {
  type BrachaMsg,
  BrachaNode,
  type BrachaOutput,
  brachaLimits,
  instanceKey,
  isBrachaMsg,
  type Quorums,
  quorumsFor,
} from "./bracha/node.ts";
import { intSetting } from "./settings.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

export { type BrachaMsg, BrachaNode, type BrachaOutput, brachaLimits, isBrachaMsg, type Quorums, quorumsFor };

const NAME = "bracha";

const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
const nodeList = (ids: readonly number[]) =>
  `${ids.length === 1 ? "node" : "nodes"} ${[...ids].sort((a, b) => a - b).join(", ")}`;

// ------------------------------------------------------------------------------------ oracles

export type Oracle = "validity" | "agreement" | "integrity" | "totality" | "messages";

export interface Violation {
  oracle: Oracle;
  message: string;
}

export interface PlannedInstance {
  sender: NodeId;
  seq: number;
  value: string;
}

/**
 * Judges a finished run from its outputs. Validity: every correct node delivers a correct
 * sender's value. Agreement: no two correct nodes deliver different values for one instance.
 * Integrity: a correct node delivers at most once per instance, and only what a correct sender
 * broadcast. Totality: if one correct node delivers, every correct node does. Messages: correct
 * nodes send at most (n-1)(2n+1) messages per broadcast (one SEND, ECHO and READY to each peer).
 */
export function checkBroadcast(
  outputs: ReadonlyArray<{ node: NodeId; record: unknown }>,
  nodes: readonly NodeId[],
  byzantine: ReadonlySet<NodeId>,
  planned: readonly PlannedInstance[],
  correctSent: number,
): Violation[] {
  const correct = nodes.filter((x) => !byzantine.has(x));
  const broadcast = new Map<string, Set<string>>();
  const delivered = new Map<string, Map<NodeId, string[]>>();
  for (const { node, record } of outputs) {
    const r = record as BrachaOutput;
    const key = instanceKey(r.sender, r.seq);
    if (r.kind === "broadcast") {
      broadcast.set(key, (broadcast.get(key) ?? new Set()).add(r.value));
    } else if (!byzantine.has(node)) {
      const byNode = delivered.get(key) ?? new Map<NodeId, string[]>();
      byNode.set(node, [...(byNode.get(node) ?? []), r.value]);
      delivered.set(key, byNode);
    }
  }
  const out: Violation[] = [];
  for (const p of planned) {
    if (byzantine.has(p.sender)) continue;
    const key = instanceKey(p.sender, p.seq);
    const byNode = delivered.get(key);
    const missing = correct.filter((x) => byNode?.get(x)?.[0] !== p.value);
    if (missing.length > 0)
      out.push({
        oracle: "validity",
        message: `instance ${key} (correct sender): ${nodeList(missing)} did not deliver "${p.value}"`,
      });
  }
  for (const [key, byNode] of delivered) {
    const sender = Number(key.split("/")[0]) as NodeId;
    for (const [node, values] of byNode) {
      if (values.length > 1)
        out.push({
          oracle: "integrity",
          message: `node ${node} delivered instance ${key} ${values.length} times`,
        });
      const sent = broadcast.get(key);
      for (const v of new Set(values)) {
        if (!byzantine.has(sender) && !sent?.has(v))
          out.push({
            oracle: "integrity",
            message: `node ${node} delivered "${v}" for instance ${key}, which its correct sender never broadcast`,
          });
      }
    }
    const values = new Set([...byNode.values()].map((vs) => vs[0] as string));
    if (values.size > 1)
      out.push({
        oracle: "agreement",
        message: `instance ${key}: correct nodes delivered different values: ${describeDeliveries(byNode)}`,
      });
    const without = correct.filter((x) => !byNode.has(x));
    if (without.length > 0)
      out.push({
        oracle: "totality",
        message: `instance ${key}: ${describeDeliveries(byNode)}, but ${nodeList(without)} never delivered`,
      });
  }
  const n = nodes.length;
  const perBroadcastMax = (n - 1) * (2 * n + 1);
  if (correctSent > planned.length * perBroadcastMax)
    out.push({
      oracle: "messages",
      message: `correct nodes sent ${correctSent} messages for ${planned.length} broadcasts, above (n-1)(2n+1) = ${perBroadcastMax} per broadcast`,
    });
  return out;
}

function describeDeliveries(byNode: ReadonlyMap<NodeId, readonly string[]>): string {
  const byValue = new Map<string, NodeId[]>();
  for (const [node, values] of byNode)
    byValue.set(values[0] as string, [...(byValue.get(values[0] as string) ?? []), node]);
  return [...byValue].map(([v, ns]) => `"${v}" by ${nodeList(ns)}`).join("; ");
}

// ------------------------------------------------------------------------------------ adversaries

const STRATEGIES = [
  "equivocating-sender",
  "silent-sender",
  "partial-sender",
  "fake-echo",
  "fake-ready",
  "silent",
] as const;
type Strategy = (typeof STRATEGIES)[number];

const STRATEGY_HELP: Record<Strategy, string> = {
  "equivocating-sender":
    "node 0 sends its value to the lower half of the nodes and a forged one to the upper half; every traitor ECHOes and READYs to each half its own value",
  "silent-sender": "node 0 and the other traitors send nothing",
  "partial-sender":
    "node 0 sends SEND, ECHO and READY only to k correct nodes, k drawn below the ECHO quorum; the other traitors are silent",
  "fake-echo": "traitor relays ECHO a forged value",
  "fake-ready": "traitor relays READY a forged value as soon as they see an instance",
  silent: "traitor relays send nothing",
};

/** Strategies in which node 0, the first sender, is one of the traitors. */
const SENDER_STRATEGIES: ReadonlySet<Strategy> = new Set([
  "equivocating-sender",
  "silent-sender",
  "partial-sender",
]);

const forge = (value: string) => `forged:${value}`;

/**
 * The equivocating traitors act together: a traitor sender gives the lower half of the nodes its
 * value and the upper half a forged one, and on every traitor's broadcast each traitor ECHOes and
 * READYs to each node the value of its half, from the start, as if both halves were right.
 */
function twoFaced(
  traitorBroadcasts: readonly PlannedInstance[],
  forgedHalf: (to: NodeId) => boolean,
): Adversary<BrachaMsg> {
  const theirs = new Set(traitorBroadcasts.map((b) => instanceKey(b.sender, b.seq)));
  const sided = (msg: BrachaMsg, to: NodeId): BrachaMsg =>
    forgedHalf(to) ? { ...msg, value: forge(msg.value) } : msg;
  return {
    name: "equivocating-sender",
    onStart(api) {
      for (const b of traitorBroadcasts) {
        for (const to of api.nodes) {
          if (to === api.self) continue;
          api.send(to, sided({ type: "echo", ...b }, to));
          api.send(to, sided({ type: "ready", ...b }, to));
        }
      }
    },
    onSend(api, to, msg) {
      if (!theirs.has(instanceKey(msg.sender, msg.seq))) api.send(to, msg);
      else if (msg.type === "send") api.send(to, sided(msg, to));
      // Its own ECHOs and READYs on traitors' broadcasts went out two-faced at the start.
    },
  };
}

/** A sender whose messages on its own broadcasts reach only `receivers`. */
function partialSender(receivers: ReadonlySet<NodeId>): Adversary<BrachaMsg> {
  return {
    name: "partial-sender",
    onSend(api, to, msg) {
      if (msg.sender !== api.self || receivers.has(to)) api.send(to, msg);
    },
  };
}

/** Forwards SENDs and ECHOs; on first sight of an instance READYs a forged value to everyone instead. */
function fakeReady(): Adversary<BrachaMsg> {
  const readied = new Set<string>();
  return {
    name: "fake-ready",
    onSend(api, to, msg) {
      if (msg.type !== "ready") api.send(to, msg);
      const key = instanceKey(msg.sender, msg.seq);
      if (msg.type === "send" || readied.has(key)) return;
      readied.add(key);
      for (const peer of api.nodes)
        if (peer !== api.self) api.send(peer, { ...msg, type: "ready", value: forge(msg.value) });
    },
  };
}

// ------------------------------------------------------------------------------------ runs

interface Params {
  nodes: number;
  traitors: number;
  /** The f the quorums are sized for. */
  quorumF: number;
  strategy: Strategy;
  broadcasts: number;
  seed: number;
  search: number;
  /** No quorum flaw (t <= f and n >= 3f+1 suffice): the protocol's guarantees apply. */
  withinModel: boolean;
  flaws: string[];
}

/** Bracha's asynchronous links: random latency, reordering and duplication, no loss. */
const LINK: Partial<LinkConfig> = {
  latency: { kind: "exponential", minMs: 1, meanMs: 10 },
  dupProb: 0.1,
  reorderProb: 0.3,
  reorderDelayMs: 50,
  lossProb: 0,
};

/** Instance i: sender node i mod n, its (i div n)+1-th broadcast. */
function plannedInstances(p: Params): PlannedInstance[] {
  return Array.from({ length: p.broadcasts }, (_, i) => {
    const sender = (i % p.nodes) as NodeId;
    const seq = Math.floor(i / p.nodes) + 1;
    return { sender, seq, value: `v${sender}.${seq}` };
  });
}

interface Cast {
  traitors: NodeId[];
  adversaries: Map<NodeId, Adversary<BrachaMsg>>;
  /** What this seed drew for the strategy, for the report (empty if nothing). */
  drawn: string;
}

/** Who is Byzantine in this seed's run, and what each traitor does. */
function castFor(p: Params, seed: number, planned: readonly PlannedInstance[]): Cast {
  const rng = new Prng(seed).fork("bracha-cast");
  const senderIsTraitor = SENDER_STRATEGIES.has(p.strategy) && p.traitors > 0;
  const others = rng.shuffle(Array.from({ length: p.nodes - 1 }, (_, i) => (i + 1) as NodeId));
  const traitors = (
    senderIsTraitor ? [0 as NodeId, ...others.slice(0, p.traitors - 1)] : others.slice(0, p.traitors)
  ).sort((a, b) => a - b);
  const isTraitor = new Set(traitors);
  const correct = Array.from({ length: p.nodes }, (_, i) => i as NodeId).filter((x) => !isTraitor.has(x));
  const adversaries = new Map<NodeId, Adversary<BrachaMsg>>();
  let drawn = "";
  const each = (make: (node: NodeId) => Adversary<BrachaMsg>) => {
    for (const t of traitors) adversaries.set(t, make(t));
  };
  switch (p.strategy) {
    case "equivocating-sender": {
      const upperHalf = (to: NodeId) => to >= Math.ceil(p.nodes / 2);
      const mine = planned.filter((b) => isTraitor.has(b.sender));
      each(() => twoFaced(mine, upperHalf));
      const half = Math.ceil(p.nodes / 2);
      drawn = `the real value goes to nodes 0..${half - 1}, the forged one to nodes ${half}..${p.nodes - 1}`;
      break;
    }
    case "silent-sender":
    case "silent":
      each(() => silent());
      break;
    case "partial-sender": {
      const k = rng.intBetween(
        1,
        Math.max(1, Math.min(correct.length, quorumsFor(p.nodes, p.quorumF).echo - 1)),
      );
      const receivers = new Set(rng.shuffle([...correct]).slice(0, k));
      drawn = `node 0 reaches ${nodeList([...receivers])} of ${correct.length} correct nodes`;
      each((t) => (t === 0 ? partialSender(receivers) : silent()));
      break;
    }
    case "fake-echo":
      each(() =>
        rewriting<BrachaMsg>("fake-echo", (msg) =>
          msg.type === "echo" ? { ...msg, value: forge(msg.value) } : msg,
        ),
      );
      break;
    case "fake-ready":
      each(() => fakeReady());
      break;
    default:
      assertNever(p.strategy, "bracha strategy");
  }
  return { traitors, adversaries, drawn };
}

interface Outcome {
  seed: number;
  sim: Simulation<BrachaMsg, never>;
  planned: PlannedInstance[];
  traitors: NodeId[];
  drawn: string;
  correctSent: number;
  violations: Violation[];
}

function simulate(p: Params, seed: number, trace: boolean): Outcome {
  const planned = plannedInstances(p);
  const cast = castFor(p, seed, planned);
  const quorums = quorumsFor(p.nodes, p.quorumF);
  const sim = new Simulation<BrachaMsg, never>({
    seed,
    nodes: p.nodes,
    factory: (id) =>
      new BrachaNode(
        quorums,
        planned.filter((b) => b.sender === id),
      ),
    network: { link: LINK },
    trace,
  });
  for (const [node, adversary] of cast.adversaries) sim.setAdversary(node, adversary);
  sim.runUntilQuiescent();
  const correctSent = sim.nodes
    .filter((x) => !sim.byzantine.has(x))
    .reduce((sum, x) => sum + (sim.nodeCounters(x).get("bracha.sent") ?? 0), 0);
  return {
    seed,
    sim,
    planned,
    traitors: cast.traitors,
    drawn: cast.drawn,
    correctSent,
    violations: checkBroadcast(sim.outputs, sim.nodes, sim.byzantine, planned, correctSent),
  };
}

// ------------------------------------------------------------------------------------ options

const settings = {
  broadcasts: `broadcast instances, senders taking turns from node 0 (default 1, 1..${brachaLimits.broadcastsMax})`,
  quorumF:
    "the f the quorums are sized for: READY on ceil((n+f+1)/2) ECHOs or f+1 READYs, DELIVER on 2f+1 READYs (default: --traitors)",
  search: `seeds tried from --seed; the first that breaks a property is reported (default 1; 100 when the quorums cannot hold against the traitors, e.g. n < 3f+1; 1..${brachaLimits.searchSeedsMax})`,
} as const;

function parse(options: AlgorithmOptions): Params {
  const nodes = options.nodes ?? algorithm.defaults.nodes;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > brachaLimits.nodesMax)
    throw new PhalanxError("BAD_ARGUMENT", `${NAME} needs 1..${brachaLimits.nodesMax} nodes, got ${nodes}`);
  const traitors = options.traitors ?? Math.min(algorithm.defaults.traitors, Math.floor((nodes - 1) / 3));
  if (!Number.isInteger(traitors) || traitors < 0 || traitors > nodes - 1)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} needs 0..n-1 traitors (at least one correct node), got ${traitors} for n = ${nodes}`,
    );
  if (!Number.isSafeInteger(options.seed))
    throw new PhalanxError("BAD_ARGUMENT", `--seed needs an integer, got ${options.seed}`);
  const strategy = (options.strategy ?? "equivocating-sender") as Strategy;
  if (!STRATEGIES.includes(strategy))
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} has no strategy "${options.strategy}"; choose one of: ${STRATEGIES.join(", ")}`,
    );
  for (const key of Object.keys(options.settings))
    if (!Object.hasOwn(settings, key))
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${NAME} has no setting "${key}" (settings: ${Object.keys(settings).join(", ")})`,
      );
  const quorumF = intSetting(options.settings, "quorumF", traitors, 0, nodes - 1);
  const flaws = quorumFlaws(nodes, traitors, quorumF);
  const withinModel = flaws.length === 0;
  return {
    nodes,
    traitors,
    quorumF,
    strategy,
    broadcasts: intSetting(options.settings, "broadcasts", 1, 1, brachaLimits.broadcastsMax),
    seed: options.seed,
    search: intSetting(options.settings, "search", withinModel ? 1 : 100, 1, brachaLimits.searchSeedsMax),
    withinModel,
    flaws,
  };
}

/**
 * Where the quorum arithmetic behind Bracha's proofs fails for n nodes, t traitors and quorums
 * sized for f (none when t <= f and n >= 3f+1): each flaw names the property it endangers.
 */
function quorumFlaws(n: number, t: number, f: number): string[] {
  const q = quorumsFor(n, f);
  const correct = n - t;
  const flaws: string[] = [];
  if (correct < q.deliver)
    flaws.push(
      `the ${correct} correct nodes cannot make a DELIVER quorum of 2f+1 = ${q.deliver} READYs alone, so delivery rests on traitors' READYs, which they can give to some correct nodes and withhold from others (totality)`,
    );
  if (correct < q.echo)
    flaws.push(`the ${correct} correct nodes cannot make an ECHO quorum of ${q.echo} alone (validity)`);
  if (t >= q.amplify)
    flaws.push(
      `the ${t} traitors alone reach the f+1 = ${q.amplify} READYs that make a correct node READY (agreement, validity)`,
    );
  const overlap = 2 * q.echo - n;
  if (overlap <= t)
    flaws.push(
      `two ECHO quorums of ${q.echo} may share only ${overlap} nodes, all of which can be traitors (agreement)`,
    );
  return flaws;
}

// ------------------------------------------------------------------------------------ report

function instanceLine(o: Outcome, b: PlannedInstance): string {
  const byValue = new Map<string, NodeId[]>();
  for (const { node, record } of o.sim.outputs) {
    const r = record as BrachaOutput;
    if (r.kind !== "deliver" || r.sender !== b.sender || r.seq !== b.seq || o.sim.byzantine.has(node))
      continue;
    byValue.set(r.value, [...(byValue.get(r.value) ?? []), node]);
  }
  const correct = o.sim.nodes.filter((x) => !o.sim.byzantine.has(x));
  const silentNodes = correct.filter((x) => ![...byValue.values()].some((ns) => ns.includes(x)));
  const parts = [...byValue].map(([v, ns]) => `"${v}" delivered by ${nodeList(ns)}`);
  if (silentNodes.length === correct.length) parts.push("no correct node delivered");
  else if (silentNodes.length > 0) parts.push(`not delivered by ${nodeList(silentNodes)}`);
  const who = o.sim.byzantine.has(b.sender) ? "Byzantine" : "correct";
  return `  instance ${b.sender}/${b.seq} (${who} sender, value "${b.value}"): ${parts.join("; ")}`;
}

function report(p: Params, o: Outcome, tried: number, found: boolean): AlgorithmResult {
  const n = p.nodes;
  const q = quorumsFor(n, p.quorumF);
  const sim = o.sim;
  const sent = sim.stats.sent;
  const byzantineSent = sent - o.correctSent;
  const failed = [...new Set(o.violations.map((v) => v.oracle))];
  const who = `n=${n}, ${plural(p.traitors, "traitor")}${p.traitors > 0 ? ` (${nodeList(o.traitors)}) running ${p.strategy}` : ""}`;
  const seeds =
    tried === 1 ? `seed ${o.seed}` : `seeds ${p.seed}..${p.seed + tried - 1} (seed ${o.seed} shown)`;
  let summary: string;
  if (p.withinModel) {
    summary = found
      ? `${NAME} ${who}: seed ${o.seed}${tried > 1 ? ` (after ${tried} seeds)` : ""}: FAILED ${failed.join(", ")}`
      : `${NAME} ${who}, ${seeds}: validity, agreement, integrity and totality held`;
  } else {
    summary = found
      ? `${NAME} ${who}, quorums for f=${p.quorumF}, outside the model: seed ${o.seed} breaks ${failed.join(", ")} (found after ${plural(tried, "seed")})`
      : `${NAME} ${who}, quorums for f=${p.quorumF}, outside the model: ${tried === 1 ? `seed ${p.seed} breaks no property` : `no seed in ${p.seed}..${p.seed + tried - 1} breaks a property`}`;
  }
  const holds = n >= 3 * p.quorumF + 1;
  const lines = [
    summary,
    `quorums for f=${p.quorumF}: READY on ${plural(q.echo, "ECHO")} or ${plural(q.amplify, "READY")}, DELIVER on ${plural(q.deliver, "READY")}; n >= 3f+1: ${n} ${holds ? ">=" : "<"} ${3 * p.quorumF + 1}${p.traitors > p.quorumF ? `; ${p.traitors} traitors > f` : ""}`,
  ];
  if (p.traitors > 0)
    lines.push(
      `strategy ${p.strategy}: ${STRATEGY_HELP[p.strategy]}${o.drawn === "" ? "" : ` (here ${o.drawn})`}`,
    );
  if (!p.withinModel) lines.push(`why: ${p.flaws.join("; ")}`);
  for (const b of o.planned.slice(0, brachaLimits.reportInstancesMax)) lines.push(instanceLine(o, b));
  if (o.planned.length > brachaLimits.reportInstancesMax)
    lines.push(`  ... and ${o.planned.length - brachaLimits.reportInstancesMax} more instances`);
  for (const v of o.violations.slice(0, brachaLimits.reportViolationsMax))
    lines.push(`violation (${v.oracle}): ${v.message}`);
  if (o.violations.length > brachaLimits.reportViolationsMax)
    lines.push(`... and ${o.violations.length - brachaLimits.reportViolationsMax} more violations`);
  const perBroadcast = sent / p.broadcasts;
  lines.push(
    `messages: ${sent} sent (${o.correctSent} by correct nodes, ${byzantineSent} by traitors) for ${plural(p.broadcasts, "broadcast")}: ${Number.isInteger(perBroadcast) ? perBroadcast : perBroadcast.toFixed(1)} per broadcast, n^2 = ${n * n}; correct nodes send at most (n-1)(2n+1) = ${(n - 1) * (2 * n + 1)} per broadcast`,
  );
  const counter = (name: string) =>
    sim.nodes
      .filter((x) => !sim.byzantine.has(x))
      .reduce((s, x) => s + (sim.nodeCounters(x).get(name) ?? 0), 0);
  const duplicates = counter("bracha.duplicate");
  const conflicting = counter("bracha.conflicting");
  const malformed = counter("bracha.malformed");
  lines.push(
    `network: no loss (no retransmission), ${sim.stats.duplicated} duplicated, reordering delays up to ${LINK.reorderDelayMs} ms; correct nodes dropped ${duplicates} duplicate, ${conflicting} conflicting, ${malformed} malformed; ${sim.stats.events} events, ${sim.now.toFixed(1)} ms`,
  );
  const deliveries = sim.outputs.filter(
    (x) => (x.record as BrachaOutput).kind === "deliver" && !sim.byzantine.has(x.node),
  ).length;
  return {
    ok: p.withinModel ? !found : found,
    lines,
    figures: {
      nodes: n,
      traitors: p.traitors,
      byzantineNodes: o.traitors.join(","),
      quorumF: p.quorumF,
      withinModel: p.withinModel,
      strategy: p.strategy,
      broadcasts: p.broadcasts,
      reportedSeed: o.seed,
      seedsTried: tried,
      violations: o.violations.length,
      firstViolation: o.violations[0]?.oracle ?? null,
      deliveries,
      messages: sent,
      messagesCorrect: o.correctSent,
      messagesByzantine: byzantineSent,
      messagesPerBroadcast: perBroadcast,
      nSquared: n * n,
      duplicates,
      conflicting,
      malformed,
      events: sim.stats.events,
      virtualMs: sim.now,
    },
  };
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const p = parse(options);
  let reported: Outcome | null = null;
  let tried = 0;
  while (tried < p.search) {
    const o = simulate(p, p.seed + tried, false);
    tried++;
    reported ??= o;
    if (o.violations.length > 0) {
      reported = o;
      break;
    }
  }
  const o = reported as Outcome;
  const found = o.violations.length > 0;
  const result = report(p, o, tried, found);
  if (options.trace !== undefined) {
    const traced = simulate(p, o.seed, true);
    const events = traced.sim.trace ?? [];
    const header = traced.sim.traceHeader(NAME, {
      nodes: p.nodes,
      traitors: p.traitors,
      quorumF: p.quorumF,
      strategy: p.strategy,
      broadcasts: p.broadcasts,
    });
    result.traceJsonl = traceToJsonl(header, events);
    result.lines.push(`trace: ${events.length} events of seed ${o.seed} written to ${options.trace}`);
  }
  return result;
}

export const algorithm: Algorithm = {
  name: NAME,
  summary: "Bracha's Byzantine reliable broadcast (SEND, ECHO, READY), n >= 3f+1; n = 3f breaks it",
  source:
    "seed 002, Byzantine Broadcast; Bracha, Asynchronous Byzantine agreement protocols (Information and Computation 1987); Bracha & Toueg (1985)",
  defaults: { nodes: 4, traitors: 1 },
  strategies: STRATEGIES,
  settings,
  run,
};
