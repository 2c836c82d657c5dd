/**
 * Signed rounds with early stopping: Dolev and Strong's authenticated Byzantine agreement
 * ("Authenticated algorithms for Byzantine agreement", SIAM J. Computing 1983) run as the seed
 * describes it (seed 002, "A timeline perspective" to "Traitor is stymied"): every general signs
 * its vote and sends it to all; in each later round every general relays, with its own signature
 * appended, each signed vote it learned in the round before ("General Smith sent me:
 * attack_(signed Smith)"). A chain received in round r must carry r distinct valid signatures,
 * the voter's first and the sender's last, or it is dropped and counted. After f+1 rounds
 * (f = faults tolerated) every loyal general holds the same set of signed votes: a chain
 * accepted in the last round has f+1 signers, one of them loyal, who relayed it to everyone
 * earlier. A voter with exactly one signed vote counts with it; a traitor that signed both
 * ("double-votes") or none is weeded out. The decision is the majority of the counted votes, a
 * tie attacking (the seed's rule). Messages: at most one envelope per pair per round, so at most
 * (f+1)·n² (the seed's "costs were steep").
 *
 * Early stopping (Dolev, Reischuk and Strong, "Early stopping in Byzantine agreement", JACM
 * 1990; the seed's min(t+2, f+1) with t the faults that really occur): in this mode every
 * active general sends every other general one envelope per round, the same to all of them,
 * even when it has nothing to relay. A general decides at the end of round r >= 2 if no general
 * it heard from in round r-1 fell silent in round r (a clean round), or if a general that
 * decided told it so; it then sends one last envelope (its final relays and a "decided" flag)
 * and halts. A faulty general can make at most one round unclean for a given loyal general
 * (the round it falls silent), so every loyal general decides by round min(t+2, f+1). Round 1
 * never counts as clean: a traitor that signs conflicting votes looks clean in round 1 and is
 * only visible in round 2. A general whose own signature comes back on a vote it never signed
 * holds a vote it cannot relay (a chain cannot carry one signer twice); it never stops early,
 * since its "decided" flag would stand for a vote the others may lack.
 *
 * The early rule is argued for, and tested on, traitors that do any mix of: crash (stop for
 * good, possibly part-way through a round), sign conflicting votes in round 1 and otherwise
 * follow the protocol, or add chains that fail verification. A traitor that keeps talking to a
 * general while hiding a signed vote from it (strategy "hide") is outside that model: no local
 * rule tells that silence apart, and early stopping can then break agreement (deterministic
 * early stopping against every Byzantine behaviour with dishonest majorities is a harder,
 * open-ended problem). Without early stopping (`early=0`), the plain f+1 rounds hold against
 * every traitor behaviour, any t <= f <= n-1.
 */
import { PhalanxError } from "../core/errors.ts";
import { type NodeId, nodeIds } from "../core/ids.ts";
import type { Adversary } from "../sim/adversary/types.ts";
import { Simulation } from "../sim/simulation.ts";
import { traceToJsonl } from "../sim/trace.ts";
import {
  type DsChain,
  type DsConfig,
  type DsDecision,
  type DsDropCause,
  DsGeneral,
  type DsMsg,
  dsDropCauses,
  dsLimits,
  dsRoundMs,
  extendChain,
  linkBytes,
} from "./dolev-strong/general.ts";
import { formatIds, type Order, otherOrder, randomPlacement } from "./generals/common.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

// ------------------------------------------------------------------ traitors

/** What one traitor's adversary does to its core's envelopes (it holds only its own key). */
export type DsBehaviour =
  /** Faithful before `round`; in `round` its envelope reaches only `reach`; silent after. */
  | { kind: "crash"; round: number; reach: readonly NodeId[] }
  /** In round 1 signs attack for `attackTo` and retreat for everyone else; faithful after. */
  | { kind: "equivocate"; attackTo: readonly NodeId[] }
  /** Faithful, but its round-2 envelopes add one altered vote and one invented signature. */
  | { kind: "forge" }
  /** Faithful, except that chains of `hidden`'s vote go to `next` only. */
  | { kind: "hide"; hidden: NodeId; next: NodeId };

export const dsStrategies = ["crash", "chain", "silent", "equivocate", "forge", "hide"] as const;
export type DsStrategy = (typeof dsStrategies)[number];

const strategyMeaning: Record<DsStrategy, string> = {
  crash:
    "the k-th traitor follows the protocol through round k, then in round k+1 sends only to the next " +
    "traitor (the last one: to one loyal general) and stops; the other loyal generals see a new general " +
    "fall silent in each of rounds 2..t+1, so the first clean round is t+2: exactly min(t+2, f+1)",
  chain:
    "the first traitor's signed vote goes only to the second traitor; each traitor crashes in its turn " +
    "after passing it to the next one only, the last to one loyal general in round t: each crash hides " +
    "the vote one more round",
  silent: "the traitors send nothing",
  equivocate:
    "each traitor signs attack for half of the generals and retreat for the others, then follows the protocol",
  forge:
    "each traitor follows the protocol but adds forged chains: a loyal general's vote with its value " +
    "altered, and the same vote with the loyal signature invented (signed with the traitor's own key)",
  hide:
    "the traitors pass the first traitor's signed vote along their chain, one per round, the last one " +
    "showing it to a single loyal general, while sending everyone else envelopes without it",
};

/** The behaviour of each traitor under `strategy`; `traitors` in ascending order, at least one loyal general. */
export function behavioursOf(
  strategy: DsStrategy,
  nodes: readonly NodeId[],
  traitors: readonly NodeId[],
): Map<NodeId, DsBehaviour> {
  const loyal = nodes.filter((id) => !traitors.includes(id));
  const target = loyal[0] as NodeId;
  const next = (k: number) => traitors[k + 1] ?? target;
  const out = new Map<NodeId, DsBehaviour>();
  traitors.forEach((id, k) => {
    switch (strategy) {
      case "crash":
        out.set(id, { kind: "crash", round: k + 2, reach: [next(k)] });
        return;
      case "chain":
        out.set(id, { kind: "crash", round: k + 1, reach: [next(k)] });
        return;
      case "silent":
        out.set(id, { kind: "crash", round: 1, reach: [] });
        return;
      case "equivocate": {
        const others = nodes.filter((x) => x !== id);
        out.set(id, { kind: "equivocate", attackTo: others.slice(0, Math.ceil(others.length / 2)) });
        return;
      }
      case "forge":
        out.set(id, { kind: "forge" });
        return;
      case "hide":
        out.set(id, { kind: "hide", hidden: traitors[0] as NodeId, next: next(k) });
        return;
    }
  });
  return out;
}

export function dsAdversary(b: DsBehaviour): Adversary<DsMsg> {
  switch (b.kind) {
    case "crash":
      return {
        name: `crash(${b.round})`,
        onSend(api, to, msg) {
          if (msg.round < b.round || (msg.round === b.round && b.reach.includes(to))) api.send(to, msg);
        },
      };
    case "equivocate":
      return {
        name: "equivocate",
        onSend(api, to, msg) {
          if (msg.round !== 1) {
            api.send(to, msg);
            return;
          }
          const value: Order = b.attackTo.includes(to) ? "attack" : "retreat";
          const vote = extendChain({ value, signers: [], sigs: [] }, api.self, (d) => api.sign(d));
          api.send(to, { ...msg, chains: msg.chains.map((c) => (c.signers[0] === api.self ? vote : c)) });
        },
      };
    case "forge":
      return {
        name: "forge",
        onSend(api, to, msg) {
          const relayed = msg.round === 2 ? msg.chains.find((c) => c.signers[0] !== api.self) : undefined;
          if (relayed === undefined) {
            api.send(to, msg);
            return;
          }
          const voter = relayed.signers[0] as number;
          const flipped = otherOrder(relayed.value);
          const altered: DsChain = { ...relayed, value: flipped };
          const claimed: DsChain = {
            value: flipped,
            signers: [voter],
            sigs: [api.sign(linkBytes(flipped, [voter], []))],
          };
          const invented = extendChain(claimed, api.self, (d) => api.sign(d));
          api.send(to, { ...msg, chains: [...msg.chains, altered, invented] });
        },
      };
    case "hide":
      return {
        name: "hide",
        onSend(api, to, msg) {
          api.send(
            to,
            to === b.next ? msg : { ...msg, chains: msg.chains.filter((c) => c.signers[0] !== b.hidden) },
          );
        },
      };
  }
}

function behaviourText(id: NodeId, b: DsBehaviour): string {
  switch (b.kind) {
    case "crash":
      return b.reach.length === 0 && b.round === 1
        ? `traitor ${id} sends nothing`
        : `traitor ${id} crashes in round ${b.round} after sending only to ${formatIds(b.reach)}`;
    case "equivocate":
      return `traitor ${id} signs attack for ${formatIds(b.attackTo)} and retreat for the others`;
    case "forge":
      return `traitor ${id} adds an altered and an invented chain to each round-2 envelope`;
    case "hide":
      return `traitor ${id} passes ${b.hidden}'s signed vote only to ${b.next}`;
  }
}

// ------------------------------------------------------------------ one run and its oracle

export interface DsScenario {
  n: number;
  f: number;
  early: boolean;
  votes: readonly Order[];
  traitors: readonly NodeId[];
  behaviours: ReadonlyMap<NodeId, DsBehaviour>;
  /** Traitors driven by any other adversary (experiments beyond DsBehaviour). */
  adversaries?: ReadonlyMap<NodeId, Adversary<DsMsg>>;
  /** A name for the behaviours, for reports. */
  strategy: string;
  seed: number;
  /** Real Ed25519 (default) or the simulator's cheaper unforgeable tags, for sweeps. */
  signatures?: "ed25519" | "fast";
  trace?: boolean;
}

export interface DsVerdict {
  /** Every loyal general decided. */
  terminated: boolean;
  /** All loyal generals decided the same vector (so the same order). */
  agreement: boolean;
  /** Every loyal general's vector holds every loyal general's vote. */
  validity: boolean;
  violations: string[];
}

export interface DsOutcome {
  scenario: DsScenario;
  sim: Simulation<DsMsg, never>;
  decisions: ReadonlyMap<NodeId, DsDecision>;
  verdict: DsVerdict;
  /** The round by which every loyal general had decided. */
  decidedBy: number;
  /** min(t+2, f+1) with early stopping, f+1 without. */
  roundsBound: number;
  /** The last round a loyal general sent in. */
  lastSendRound: number;
  /** Envelopes on the wire, traitors' included. */
  messages: number;
  loyalMessages: number;
  /** Signed chains the loyal generals' envelopes carried (counted once per recipient). */
  loyalChains: number;
  /** (f+1)·n², the seed's bound. */
  messagesBound: number;
  /** Input dropped by loyal generals, by cause. */
  dropped: Readonly<Record<DsDropCause, number>>;
}

export function roundsBound(early: boolean, t: number, f: number): number {
  return early ? Math.min(t + 2, f + 1) : f + 1;
}

export function checkDolevStrong(run: {
  nodes: readonly NodeId[];
  votes: readonly Order[];
  traitors: readonly NodeId[];
  decisions: ReadonlyMap<NodeId, DsDecision>;
}): DsVerdict {
  const loyal = run.nodes.filter((id) => !run.traitors.includes(id));
  const violations: string[] = [];
  const undecided = loyal.filter((id) => !run.decisions.has(id));
  if (undecided.length > 0) violations.push(`loyal general(s) ${formatIds(undecided)} decided nothing`);
  const vectors = new Map<string, NodeId[]>();
  for (const id of loyal) {
    const d = run.decisions.get(id);
    if (d === undefined) continue;
    const key = vectorText(d.vector);
    vectors.set(key, [...(vectors.get(key) ?? []), id]);
  }
  if (vectors.size > 1) {
    const groups = [...vectors].map(([key, ids]) => `${formatIds(ids)} hold ${key}`);
    violations.push(`agreement: loyal generals disagree: ${groups.join("; ")}`);
  }
  const wrong = loyal.filter((id) => {
    const d = run.decisions.get(id);
    return d !== undefined && loyal.some((g) => d.vector[g] !== run.votes[g]);
  });
  if (wrong.length > 0)
    violations.push(`validity: loyal general(s) ${formatIds(wrong)} miscount a loyal general's vote`);
  return {
    terminated: undecided.length === 0,
    agreement: vectors.size <= 1,
    validity: wrong.length === 0,
    violations,
  };
}

function vectorText(vector: readonly (Order | null)[]): string {
  return vector.map((v, id) => `${id}:${v ?? "-"}`).join(" ");
}

export function runDolevStrong(s: DsScenario): DsOutcome {
  const nodes = nodeIds(s.n);
  const config: DsConfig = { f: s.f, early: s.early, votes: s.votes };
  const sim = new Simulation<DsMsg, never>({
    seed: s.seed,
    nodes,
    factory: () => new DsGeneral(config),
    rounds: { roundMs: dsRoundMs, roundsMin: s.f + 1, roundsMax: s.f + 1 },
    signatures: s.signatures ?? "ed25519",
    trace: s.trace ?? false,
  });
  for (const [id, b] of s.behaviours) sim.setAdversary(id, dsAdversary(b));
  for (const [id, adversary] of s.adversaries ?? []) sim.setAdversary(id, adversary);
  sim.runUntilQuiescent();
  const decisions = new Map<NodeId, DsDecision>();
  for (const o of sim.outputs) decisions.set(o.node, o.record as DsDecision);
  const loyal = nodes.filter((id) => !s.traitors.includes(id));
  const sumOver = (metric: string) =>
    loyal.reduce((sum, id) => sum + (sim.nodeCounters(id).get(metric) ?? 0), 0);
  return {
    scenario: s,
    sim,
    decisions,
    verdict: checkDolevStrong({ nodes, votes: s.votes, traitors: s.traitors, decisions }),
    decidedBy: Math.max(0, ...loyal.map((id) => decisions.get(id)?.round ?? Number.POSITIVE_INFINITY)),
    roundsBound: roundsBound(s.early, s.traitors.length, s.f),
    lastSendRound: Math.max(0, ...loyal.map((id) => (sim.process(id) as DsGeneral).lastSentRound())),
    messages: sim.stats.sent,
    loyalMessages: sumOver("ds.envelopes"),
    loyalChains: sumOver("ds.chains"),
    messagesBound: (s.f + 1) * s.n * s.n,
    dropped: Object.fromEntries(dsDropCauses.map((c) => [c, sumOver(`ds.${c}`)])) as Record<
      DsDropCause,
      number
    >,
  };
}

/** The oracle of a run: agreement, validity, the rounds bound and the messages bound. */
export function outcomeHolds(o: DsOutcome): boolean {
  return (
    o.verdict.violations.length === 0 && o.decidedBy <= o.roundsBound && o.loyalMessages <= o.messagesBound
  );
}

// ------------------------------------------------------------------ the command

export const dsSettings = {
  f: "faults tolerated: decide by round f+1 at the latest (default n-2; needs traitors <= f <= n-1)",
  early: "1 (default): early stopping; 0: plain Dolev-Strong, f+1 rounds against any traitor behaviour",
  votes: "one letter per general, a (attack) or r (retreat), e.g. aarar (default: even ids attack)",
  traitors: "explicit placement, e.g. 1,3 or none (default: drawn from the seed)",
  signatures: "ed25519 (default) or fast: the simulator's cheaper unforgeable tags",
} as const;

interface DsPlan {
  n: number;
  f: number;
  early: boolean;
  votes: Order[];
  traitors: NodeId[];
  strategy: DsStrategy;
  signatures: "ed25519" | "fast";
  seed: number;
}

function bad(message: string): PhalanxError {
  return new PhalanxError("BAD_ARGUMENT", message);
}

function planOf(options: AlgorithmOptions): DsPlan {
  const n = options.nodes ?? algorithm.defaults.nodes;
  if (!Number.isInteger(n) || n < 2 || n > dsLimits.nodesMax)
    throw bad(`--nodes must be an integer in 2..${dsLimits.nodesMax}, got ${n}`);
  const set = options.settings;
  for (const key of Object.keys(set)) {
    if (!Object.hasOwn(dsSettings, key))
      throw bad(`unknown setting "${key}"; allowed: ${Object.keys(dsSettings).join(", ")}`);
  }
  const listed = set.traitors === undefined ? undefined : placementOf(set.traitors, n);
  const t = options.traitors ?? listed?.length ?? algorithm.defaults.traitors;
  if (!Number.isInteger(t) || t < 0 || t > n - 1)
    throw bad(`--traitors must be an integer in 0..${n - 1} (at least one general loyal), got ${t}`);
  if (listed !== undefined && listed.length !== t)
    throw bad(`traitors lists ${listed.length} ids but --traitors is ${t}; list exactly ${t}`);
  const f = set.f === undefined ? Math.max(t, n - 2) : integer("f", set.f);
  if (f < t || f > n - 1)
    throw bad(`f must be in ${t}..${n - 1} (at least the ${t} traitors, at most n-1), got ${f}`);
  const strategy = options.strategy ?? "crash";
  if (!(dsStrategies as readonly string[]).includes(strategy))
    throw bad(`--strategy must be one of ${dsStrategies.join(", ")}, got "${strategy}"`);
  const traitors = listed ?? randomPlacement(options.seed, nodeIds(n), t);
  return {
    n,
    f,
    early: earlySetting(set.early),
    votes:
      set.votes === undefined
        ? nodeIds(n).map((id) => (id % 2 === 0 ? "attack" : "retreat"))
        : votesOf(set.votes, n),
    traitors,
    strategy: strategy as DsStrategy,
    signatures: signaturesSetting(set.signatures),
    seed: options.seed,
  };
}

function integer(name: string, text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw bad(`${name} must be an integer >= 0, got "${t}"`);
  return Number(t);
}

function earlySetting(text: string | undefined): boolean {
  const t = (text ?? "1").trim();
  if (t !== "0" && t !== "1") throw bad(`early must be 1 or 0, got "${t}"`);
  return t === "1";
}

function signaturesSetting(text: string | undefined): "ed25519" | "fast" {
  const t = (text ?? "ed25519").trim();
  if (t !== "ed25519" && t !== "fast") throw bad(`signatures must be ed25519 or fast, got "${t}"`);
  return t;
}

function votesOf(text: string, n: number): Order[] {
  const t = text.trim();
  if (t.length !== n || !/^[ar]+$/.test(t))
    throw bad(`votes must be ${n} letters a (attack) or r (retreat), one per general, got "${t}"`);
  return [...t].map((c) => (c === "a" ? "attack" : "retreat"));
}

function placementOf(text: string, n: number): NodeId[] {
  const trimmed = text.trim();
  const ids = trimmed === "none" || trimmed === "" ? [] : trimmed.split(",").map((x) => x.trim());
  if (!ids.every((x) => /^\d+$/.test(x) && Number(x) < n))
    throw bad(`traitors must name generals 0..${n - 1}, got "${trimmed}"`);
  const out = [...new Set(ids.map(Number))].sort((a, b) => a - b) as NodeId[];
  if (out.length !== ids.length) throw bad(`traitors must be distinct, got "${trimmed}"`);
  return out;
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const plan = planOf(options);
  const outcome = runDolevStrong({
    ...plan,
    behaviours: behavioursOf(plan.strategy, nodeIds(plan.n), plan.traitors),
    trace: options.trace !== undefined,
  });
  const ok = outcomeHolds(outcome);
  const lines = [summaryLine(plan, outcome, ok), ...reportOf(plan, outcome)];
  const traced = options.trace === undefined ? undefined : traceOf(outcome, options.trace);
  if (traced !== undefined) lines.push(traced.line);
  return { ok, lines, figures: figuresOf(plan, outcome), traceJsonl: traced?.jsonl };
}

function summaryLine(plan: DsPlan, o: DsOutcome, ok: boolean): string {
  const t = plan.traitors.length;
  const who =
    t === 0
      ? "no traitors"
      : `${t === 1 ? "traitor" : `${t} traitors`} ${formatIds(plan.traitors)} (${plan.strategy})`;
  const head = `dolev-strong: ${plan.n} generals, f = ${plan.f}, ${who}, ${plan.early ? "early stopping" : "no early stopping"}`;
  if (!ok) {
    const problems = [...o.verdict.violations];
    if (o.decidedBy > o.roundsBound)
      problems.push(`decided by round ${o.decidedBy}, after the bound ${o.roundsBound}`);
    if (o.loyalMessages > o.messagesBound)
      problems.push(`loyal generals sent ${o.loyalMessages} envelopes, more than ${o.messagesBound}`);
    return `${head}: VIOLATION ${problems.join("; ")}`;
  }
  return `${head}: agreement and validity hold; every loyal general decided by round ${o.decidedBy} (bound ${boundText(plan)})`;
}

function boundText(plan: DsPlan): string {
  const t = plan.traitors.length;
  return plan.early
    ? `min(t+2, f+1) = min(${t + 2}, ${plan.f + 1}) = ${roundsBound(true, t, plan.f)}`
    : `f+1 = ${plan.f + 1}`;
}

function reportOf(plan: DsPlan, o: DsOutcome): string[] {
  const s = o.scenario;
  const loyal = nodeIds(plan.n).filter((id) => !plan.traitors.includes(id));
  const lines = [
    `  votes (each general's core signs one; traitors marked *): ${plan.votes
      .map((v, id) => `${id}${plan.traitors.includes(id as NodeId) ? "*" : ""}:${v}`)
      .join(" ")}`,
  ];
  if (plan.traitors.length > 0) {
    lines.push(`  ${plan.strategy}: ${strategyMeaning[plan.strategy]}`);
    lines.push(
      `    ${plan.traitors.map((id) => behaviourText(id, s.behaviours.get(id) as DsBehaviour)).join("; ")}`,
    );
  }
  if (plan.early && plan.strategy === "hide" && plan.traitors.length > 0) {
    lines.push(
      "  note: hide is outside the early-stopping model (a traitor that keeps talking while it withholds " +
        "a signed vote); --set early=0 runs plain Dolev-Strong, which holds against it",
    );
  }
  for (const id of loyal.slice(0, dsLimits.reportGeneralsMax)) {
    const d = o.decisions.get(id);
    lines.push(
      d === undefined
        ? `  general ${id} (loyal): undecided`
        : `  general ${id} (loyal): round ${d.round}: ${vectorText(d.vector)} -> ${d.order}`,
    );
  }
  if (loyal.length > dsLimits.reportGeneralsMax)
    lines.push(`  ... and ${loyal.length - dsLimits.reportGeneralsMax} more loyal generals`);
  const v = o.verdict;
  const first = o.decisions.get(loyal[0] as NodeId)?.order;
  lines.push(
    `  agreement (all loyal generals count the same votes, so decide alike): ${
      v.agreement && v.terminated ? `holds, all decide ${first}` : "BROKEN"
    }`,
  );
  lines.push(
    `  validity (every loyal general counts every loyal vote as signed): ${v.validity ? "holds" : "BROKEN"}`,
  );
  lines.push(roundsLine(plan, o));
  lines.push(
    `  messages: ${o.messages} envelopes on the wire, ${o.loyalMessages} from loyal generals carrying ` +
      `${o.loyalChains} signed chains; bound (f+1)·n² = ${plan.f + 1}·${plan.n}² = ${o.messagesBound}`,
  );
  const d = o.dropped;
  lines.push(
    `  rejected by loyal generals: ${d["bad-signature"]} with a bad signature, ${d["wrong-round"]} of the ` +
      `wrong length or round, ${d["bad-chain"]} malformed chains, ${d.malformed} malformed envelopes`,
  );
  return lines;
}

function roundsLine(plan: DsPlan, o: DsOutcome): string {
  const byRound = new Map<number, NodeId[]>();
  for (const [id, d] of o.decisions) {
    if (plan.traitors.includes(id)) continue;
    byRound.set(d.round, [...(byRound.get(d.round) ?? []), id]);
  }
  const decided = [...byRound]
    .sort(([a], [b]) => a - b)
    .map(([r, ids]) => `round ${r} (${formatIds(ids.sort((a, b) => a - b))})`)
    .join(", ");
  const plain = plan.early ? `, plain Dolev-Strong ${plan.f + 1}` : "";
  return (
    `  rounds: loyal generals decided in ${decided}; bound ${boundText(plan)}${plain}; ` +
    `their last envelope went out in round ${o.lastSendRound}`
  );
}

function figuresOf(plan: DsPlan, o: DsOutcome): AlgorithmResult["figures"] {
  const loyal = nodeIds(plan.n).filter((id) => !plan.traitors.includes(id));
  return {
    nodes: plan.n,
    traitors: plan.traitors.length,
    f: plan.f,
    early: plan.early,
    strategy: plan.strategy,
    placement: formatIds(plan.traitors),
    signatures: plan.signatures,
    agreement: o.verdict.agreement,
    validity: o.verdict.validity,
    decision: o.verdict.agreement ? (o.decisions.get(loyal[0] as NodeId)?.order ?? null) : null,
    decidedBy: o.decidedBy,
    roundsBound: o.roundsBound,
    lastSendRound: o.lastSendRound,
    messages: o.messages,
    loyalMessages: o.loyalMessages,
    loyalChains: o.loyalChains,
    messagesBound: o.messagesBound,
    rejectedBadSignature: o.dropped["bad-signature"],
  };
}

function traceOf(o: DsOutcome, file: string): { line: string; jsonl: string } {
  const s = o.scenario;
  const trace = o.sim.trace ?? [];
  const header = o.sim.traceHeader("dolev-strong", {
    nodes: s.n,
    f: s.f,
    early: s.early,
    votes: s.votes,
    placement: s.traitors,
    strategy: s.strategy,
  });
  return { line: `  trace: ${trace.length} events written to ${file}`, jsonl: traceToJsonl(header, trace) };
}

export const algorithm: Algorithm = {
  name: "dolev-strong",
  summary:
    "signed rounds (Dolev-Strong) with early stopping: agreement in min(t+2, f+1) rounds, (f+1)·n² messages",
  source:
    "seed 002, Traitor is stymied; Dolev and Strong, Authenticated algorithms for Byzantine agreement, 1983; " +
    "Dolev, Reischuk and Strong, Early stopping in Byzantine agreement, 1990",
  defaults: { nodes: 7, traitors: 2 },
  strategies: dsStrategies,
  settings: dsSettings,
  run,
};
