/**
 * Byzantine generals with signed messages, SM(m) (Lamport, Shostak and Pease, "The Byzantine
 * Generals Problem", ACM TOPLAS 1982, section 4 and its Theorem 2; seed 000, "Signed BFT").
 * The commander signs its order and sends it to every lieutenant. A lieutenant that receives an
 * order it has not seen before, carried by a chain of valid signatures (commander first, every
 * relayer after it), adds the order to its set V and, if fewer than m lieutenants have signed
 * the chain, appends its own signature and sends it on to every lieutenant not yet on the chain.
 * After round m+1 each lieutenant obeys choice(V): the order if V holds exactly one, else RETREAT.
 *
 * Signatures take away the traitors' power to lie about what they heard: a traitor can only
 * withhold, or sign something itself. So SM(m) needs no bound on n: with at most m traitors
 * (t <= m), all loyal lieutenants obey the same order (IC1), the loyal commander's if it is
 * loyal (IC2), whatever n is. The seed's "requires 2m+1 nodes" is not needed for agreement; this
 * module accepts any t <= m <= n-2 (m >= n-1 would allow chains longer than there are
 * lieutenants, which changes nothing), including m >= n/3 where OM(m) fails.
 *
 * Each general is a pure Process in the simulator's synchronous rounds: the commander sends in
 * round 0; a chain that arrives in round r carries exactly r signatures (a shorter one is late
 * and counts as never received: that is how "absence of a message can be detected"); relays go
 * out as chains arrive; lieutenants decide at the start of round m+1. Every link is checked with
 * ctx.verify against its signer's key, and a chain with a bad link is dropped and counted.
 * Traitors are the same core wrapped in an adversary (DESIGN.md) that holds only its own key.
 */
import { encode } from "../../core/codec.ts";
import { PhalanxError } from "../../core/errors.ts";
import { type NodeId, nodeIds } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import { honest, silent } from "../../sim/adversary/strategies.ts";
import type { Adversary, AdversaryApi } from "../../sim/adversary/types.ts";
import { Simulation } from "../../sim/simulation.ts";
import { traceToJsonl } from "../../sim/trace.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "../types.ts";
import {
  checkGenerals,
  defaultOrder,
  formatIds,
  generalsSettings,
  isOrder,
  loyalLieutenants,
  type Order,
  omMessageTerms,
  otherOrder,
  parseGeneralsSettings,
  randomPlacement,
  relayChainValid,
  type Verdict,
  verdictLines,
} from "./common.ts";

export const smLimits = {
  /**
   * Generals in one run. A run verifies up to about 2(n-1)(n-2) chains of up to m+1 links with
   * Ed25519 (133 us each); 64 generals keep the default command under a few seconds.
   */
  nodesMax: 64,
  /** Bytes of one signature (Ed25519, and the simulator's "fast" HMAC-SHA512 tags). */
  signatureBytes: 64,
  /** Loyal lieutenants whose sets a report lists. */
  reportLieutenantsMax: 12,
} as const;

/** Virtual length of one synchronous round; any positive value gives the same run. */
export const smRoundMs = 10;

/** An order with its signature chain: signers[0] is the commander, the last signer sent it. */
export interface SmMsg {
  type: "sm";
  value: Order;
  signers: number[];
  /** sigs[k] is signers[k]'s signature over linkBytes(value, signers[0..k], sigs[0..k-1]). */
  sigs: Uint8Array[];
}

export interface SmDecision {
  kind: "decided";
  value: Order;
  /** The set V of orders that arrived with valid chains, sorted. */
  values: Order[];
}

export interface SmConfig {
  commander: NodeId;
  m: number;
  /** What the commander's core orders (a traitor's adversary may sign something else). */
  order: Order;
}

type Ctx = Context<SmMsg, never>;

/** Why a chain is dropped; each is counted as `sm.CAUSE`. */
export const smDropCauses = ["malformed", "to-commander", "late", "bad-chain", "bad-signature"] as const;
export type SmDropCause = (typeof smDropCauses)[number];

/** What link k of a chain signs: the order, the signers up to k, and every earlier signature. */
export function linkBytes(
  value: Order,
  signers: readonly number[],
  previous: readonly Uint8Array[],
): Uint8Array {
  return encode(["sm", value, signers, previous]);
}

/** `chain` extended by `signer`, who signs with `sign` (a general's ctx.sign or its adversary's). */
export function extendChain(
  chain: Pick<SmMsg, "value" | "signers" | "sigs">,
  signer: number,
  sign: (data: Uint8Array) => Uint8Array,
): SmMsg {
  const signers = [...chain.signers, signer];
  const sig = sign(linkBytes(chain.value, signers, chain.sigs));
  return { type: "sm", value: chain.value, signers, sigs: [...chain.sigs, sig] };
}

/** Whether every link of the chain is its signer's signature (public keys are public). */
export function chainVerifies(
  msg: SmMsg,
  verify: (signer: NodeId, data: Uint8Array, sig: Uint8Array) => boolean,
): boolean {
  for (let k = 0; k < msg.signers.length; k++) {
    const data = linkBytes(msg.value, msg.signers.slice(0, k + 1), msg.sigs.slice(0, k));
    if (!verify(msg.signers[k] as NodeId, data, msg.sigs[k] as Uint8Array)) return false;
  }
  return true;
}

/** choice(V): the one order in V, or RETREAT when V is empty or holds both. */
export function choice(values: ReadonlySet<Order>): Order {
  if (values.size !== 1) return defaultOrder;
  return values.values().next().value as Order;
}

/** One general: the commander signs in round 0; a lieutenant relays new orders and decides at m+1. */
export class SmGeneral implements Process<SmMsg, never> {
  private readonly values = new Set<Order>();

  constructor(private readonly config: SmConfig) {}

  /** The set V so far. */
  orders(): ReadonlySet<Order> {
    return this.values;
  }

  start(): void {}

  timeout(): void {}

  roundStart(ctx: Ctx, round: number): void {
    if (ctx.self === this.config.commander) {
      if (round === 0) this.command(ctx);
      return;
    }
    if (round === this.config.m + 1) this.decide(ctx);
  }

  receive(ctx: Ctx, from: NodeId, msg: SmMsg): void {
    if (this.ignoreChain(ctx, from, msg)) return;
    this.values.add(msg.value);
    // The chain holds the commander and signers.length - 1 lieutenants: relay while that is < m.
    if (msg.signers.length <= this.config.m) this.relay(ctx, msg);
  }

  private command(ctx: Ctx): void {
    const signed = extendChain({ value: this.config.order, signers: [], sigs: [] }, ctx.self, (d) =>
      ctx.sign(d),
    );
    for (const to of ctx.nodes) if (to !== ctx.self) this.send(ctx, to, signed);
  }

  private relay(ctx: Ctx, msg: SmMsg): void {
    const signed = extendChain(msg, ctx.self, (d) => ctx.sign(d));
    for (const to of ctx.nodes) {
      if (to === ctx.self || to === this.config.commander || msg.signers.includes(to)) continue;
      this.send(ctx, to, signed);
    }
  }

  /** Counted as `sm.sent`: for a loyal general, exactly what goes on the wire. */
  private send(ctx: Ctx, to: NodeId, msg: SmMsg): void {
    ctx.count("sm.sent");
    ctx.send(to, msg);
  }

  private decide(ctx: Ctx): void {
    const decision: SmDecision = {
      kind: "decided",
      value: choice(this.values),
      values: [...this.values].sort(),
    };
    ctx.output(decision);
  }

  /**
   * Drops (and counts) what cannot change V: a chain no loyal general would send, or one whose
   * order is already in V (LSP: "if v is not in V"), which is not even verified.
   */
  private ignoreChain(ctx: Ctx, from: NodeId, msg: SmMsg): boolean {
    const cause = this.invalidity(ctx, from, msg);
    if (cause === "known") return true;
    if (cause === null) return false;
    ctx.count(`sm.${cause}`);
    return true;
  }

  private invalidity(ctx: Ctx, from: NodeId, msg: unknown): SmDropCause | "known" | null {
    if (!isSmMsgShape(msg, ctx.nodes.length)) return "malformed";
    if (ctx.self === this.config.commander) return "to-commander";
    const signers = msg.signers;
    if (signers.length !== ctx.round()) return "late";
    if (!relayChainValid(signers, this.config.commander, from, ctx.self, ctx.nodes)) return "bad-chain";
    if (this.values.has(msg.value)) return "known";
    if (!chainVerifies(msg, (s, d, sig) => ctx.verify(s, d, sig))) return "bad-signature";
    return null;
  }
}

function isSmMsgShape(m: unknown, signersMax: number): m is SmMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    o.type === "sm" &&
    isOrder(o.value) &&
    Array.isArray(o.signers) &&
    Array.isArray(o.sigs) &&
    o.signers.length >= 1 &&
    o.signers.length <= signersMax &&
    o.sigs.length === o.signers.length &&
    o.signers.every((x) => Number.isSafeInteger(x)) &&
    o.sigs.every((s) => s instanceof Uint8Array && s.length === smLimits.signatureBytes)
  );
}

// ------------------------------------------------------------------ traitors

export const smStrategies = ["split", "forge", "silent", "selective"] as const;
export type SmStrategy = (typeof smStrategies)[number];

const strategyMeaning: Record<SmStrategy, string> = {
  split:
    "a traitor commander signs attack for the first half of the lieutenants and retreat for the rest; " +
    "a traitor lieutenant relays as told (it cannot change a signed order)",
  forge:
    "a traitor commander alters its signed order for every other lieutenant; a traitor lieutenant relays " +
    "every order with its value altered, and invents the commander's signature on the opposite order: " +
    "it holds only its own key, so every such chain fails verification",
  silent: "a traitor sends nothing, so the loyal lieutenants hear only what loyal generals sign",
  selective:
    "a traitor commander signs its order for the loyal lieutenants and the opposite order for one general " +
    "only; traitor lieutenants pass each order to the next traitor only, the last one to a single loyal " +
    "lieutenant: the opposite order surfaces as late as the rounds allow",
};

interface TraitorPlan {
  nodes: readonly NodeId[];
  commander: NodeId;
  traitors: readonly NodeId[];
}

/** The lieutenants in id order. */
function lieutenantsOf(plan: TraitorPlan): NodeId[] {
  return plan.nodes.filter((id) => id !== plan.commander);
}

/**
 * Who a `selective` traitor hands a chain to: the next traitor lieutenant not on it, else the
 * first loyal lieutenant not on it.
 */
function selectiveTarget(plan: TraitorPlan, self: number, chain: readonly number[]): NodeId | undefined {
  const off = (id: NodeId) => id !== self && !chain.includes(id);
  const lieutenants = lieutenantsOf(plan);
  return (
    lieutenants.find((id) => plan.traitors.includes(id) && off(id)) ??
    lieutenants.find((id) => !plan.traitors.includes(id) && off(id))
  );
}

/** The order with the value flipped and the signatures kept: an altered message. */
function altered(msg: SmMsg): SmMsg {
  return { ...msg, value: otherOrder(msg.value) };
}

function signedOrder(api: AdversaryApi<SmMsg>, value: Order): SmMsg {
  return extendChain({ value, signers: [], sigs: [] }, api.self, (d) => api.sign(d));
}

export function smAdversary(strategy: SmStrategy, plan: TraitorPlan, self: NodeId): Adversary<SmMsg> {
  const isCommander = self === plan.commander;
  const lieutenants = lieutenantsOf(plan);
  switch (strategy) {
    case "silent":
      return silent<SmMsg>();
    case "split":
      if (!isCommander) return honest<SmMsg>();
      return {
        name: "split",
        onSend(api, to) {
          const value: Order =
            lieutenants.indexOf(to) < Math.ceil(lieutenants.length / 2) ? "attack" : "retreat";
          api.send(to, signedOrder(api, value));
        },
      };
    case "forge":
      return {
        name: "forge",
        onSend(api, to, msg) {
          if (isCommander) {
            api.send(to, lieutenants.indexOf(to) % 2 === 1 ? altered(msg) : msg);
            return;
          }
          api.send(to, altered(msg));
          if (msg.signers.length !== 2) return;
          // The commander's signature on the opposite order, made with the only key it has.
          const invented: SmMsg = {
            type: "sm",
            value: otherOrder(msg.value),
            signers: [plan.commander],
            sigs: [api.sign(linkBytes(otherOrder(msg.value), [plan.commander], []))],
          };
          api.send(
            to,
            extendChain(invented, api.self, (d) => api.sign(d)),
          );
        },
      };
    case "selective":
      if (isCommander) {
        return {
          name: "selective",
          onSend(api, to, msg) {
            const first = selectiveTarget(plan, api.self, [api.self]);
            api.send(to, to === first ? signedOrder(api, otherOrder(msg.value)) : msg);
          },
        };
      }
      return {
        name: "selective",
        onSend(api, to, msg) {
          if (to === selectiveTarget(plan, api.self, msg.signers)) api.send(to, msg);
        },
      };
  }
}

// ------------------------------------------------------------------ one run

export interface SmScenario {
  n: number;
  m: number;
  commander: NodeId;
  order: Order;
  traitors: readonly NodeId[];
  strategy: SmStrategy;
  /** Traitors driven by any other adversary instead of `strategy` (experiments). */
  adversaries?: ReadonlyMap<NodeId, Adversary<SmMsg>>;
  seed: number;
  /** Real Ed25519 (default) or the simulator's cheaper unforgeable tags, for sweeps. */
  signatures?: "ed25519" | "fast";
  trace?: boolean;
}

export interface SmOutcome {
  scenario: SmScenario;
  sim: Simulation<SmMsg, never>;
  decisions: ReadonlyMap<NodeId, SmDecision>;
  verdict: Verdict;
  /** Messages on the wire, traitors' included. */
  messages: number;
  /** Messages the loyal generals sent. */
  loyalMessages: number;
  /** Chains dropped by loyal lieutenants, by cause. */
  dropped: Readonly<Record<SmDropCause, number>>;
}

export function runSm(s: SmScenario): SmOutcome {
  const nodes = nodeIds(s.n);
  const config: SmConfig = { commander: s.commander, m: s.m, order: s.order };
  const sim = new Simulation<SmMsg, never>({
    seed: s.seed,
    nodes,
    factory: () => new SmGeneral(config),
    rounds: { roundMs: smRoundMs, roundsMin: s.m + 1, roundsMax: s.m + 1 },
    signatures: s.signatures ?? "ed25519",
    trace: s.trace ?? false,
  });
  const plan: TraitorPlan = { nodes, commander: s.commander, traitors: s.traitors };
  for (const t of s.traitors) sim.setAdversary(t, s.adversaries?.get(t) ?? smAdversary(s.strategy, plan, t));
  sim.runUntilQuiescent();
  const loyal = nodes.filter((id) => !s.traitors.includes(id));
  const sumOver = (metric: string) =>
    loyal.reduce((sum, id) => sum + (sim.nodeCounters(id).get(metric) ?? 0), 0);
  const decisions = new Map<NodeId, SmDecision>();
  for (const o of sim.outputs) decisions.set(o.node, o.record as SmDecision);
  const verdict = checkGenerals({
    nodes,
    commander: s.commander,
    order: s.order,
    traitors: s.traitors,
    decisions: new Map([...decisions].map(([id, d]) => [id, d.value])),
  });
  const dropped = Object.fromEntries(smDropCauses.map((c) => [c, sumOver(`sm.${c}`)])) as Record<
    SmDropCause,
    number
  >;
  return {
    scenario: s,
    sim,
    decisions,
    verdict,
    messages: sim.stats.sent,
    loyalMessages: sumOver("sm.sent"),
    dropped,
  };
}

/** Most messages loyal generals send in SM(m): the order, then each lieutenant relays at most two orders. */
export function smLoyalMessagesMax(n: number, m: number): number {
  return m === 0 ? n - 1 : n - 1 + 2 * (n - 1) * (n - 2);
}

// ------------------------------------------------------------------ the command

export const smSettings = {
  ...generalsSettings,
  m: "the m of SM(m): chains relayed while fewer than m lieutenants signed them (default --traitors; needs traitors <= m <= n-2)",
  signatures: "ed25519 (default) or fast: the simulator's cheaper unforgeable tags",
} as const;

interface SmPlan {
  n: number;
  m: number;
  commander: NodeId;
  order: Order;
  traitors: NodeId[];
  strategy: SmStrategy;
  signatures: "ed25519" | "fast";
  seed: number;
}

function integerSetting(name: string, text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new PhalanxError("BAD_ARGUMENT", `${name} must be an integer >= 0, got "${t}"`);
  return Number(t);
}

function signaturesSetting(text: string | undefined): "ed25519" | "fast" {
  const t = (text ?? "ed25519").trim();
  if (t !== "ed25519" && t !== "fast")
    throw new PhalanxError("BAD_ARGUMENT", `signatures must be ed25519 or fast, got "${t}"`);
  return t;
}

function planOf(options: AlgorithmOptions): SmPlan {
  const n = options.nodes ?? algorithm.defaults.nodes;
  const t = options.traitors ?? algorithm.defaults.traitors;
  if (!Number.isInteger(n) || n < 2 || n > smLimits.nodesMax)
    throw new PhalanxError("BAD_ARGUMENT", `--nodes must be an integer in 2..${smLimits.nodesMax}, got ${n}`);
  if (!Number.isInteger(t) || t < 0)
    throw new PhalanxError("BAD_ARGUMENT", `--traitors must be an integer >= 0, got ${t}`);
  const { m: mText, signatures, ...generals } = options.settings;
  const m = mText === undefined ? t : integerSetting("m", mText);
  if (m > n - 2) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `SM(${m}) among ${n} generals: m must be at most n-2 = ${n - 2} (a chain cannot hold more lieutenants); ` +
        `lower --traitors (or --set m), or raise --nodes to ${m + 2}`,
    );
  }
  if (t > m) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `SM(${m}) tolerates at most m = ${m} traitors, not ${t}; use --set m=${t} or more`,
    );
  }
  const strategy = options.strategy ?? "split";
  if (!(smStrategies as readonly string[]).includes(strategy)) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `--strategy must be one of ${smStrategies.join(", ")}, got "${strategy}"`,
    );
  }
  const set = parseGeneralsSettings(generals, n, t);
  return {
    n,
    m,
    commander: set.commander,
    order: set.order ?? "attack",
    traitors: set.traitors ?? randomPlacement(options.seed, nodeIds(n), t),
    strategy: strategy as SmStrategy,
    signatures: signaturesSetting(signatures),
    seed: options.seed,
  };
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const plan = planOf(options);
  const outcome = runSm({ ...plan, trace: options.trace !== undefined });
  const v = outcome.verdict;
  const bound = smLoyalMessagesMax(plan.n, plan.m);
  const ok = v.violations.length === 0 && outcome.loyalMessages <= bound;
  const lines = [
    `sm: SM(${plan.m}) with ${plan.n} generals, ${scenarioText(outcome.scenario)}: ` +
      (ok
        ? "IC1 and IC2 hold"
        : `VIOLATION ${[...v.violations, ...boundViolation(outcome, bound)].join("; ")}`),
    conditionLine(plan),
    ...reportOf(outcome),
  ];
  const traced = options.trace === undefined ? undefined : traceOf(outcome, options.trace);
  if (traced !== undefined) lines.push(traced.line);
  return { ok, lines, figures: figuresOf(outcome), traceJsonl: traced?.jsonl };
}

function boundViolation(outcome: SmOutcome, bound: number): string[] {
  return outcome.loyalMessages > bound
    ? [`loyal generals sent ${outcome.loyalMessages} messages, more than ${bound}`]
    : [];
}

function conditionLine(plan: SmPlan): string {
  const t = plan.traitors.length;
  const oral =
    plan.n <= 3 * plan.m
      ? `; here n = ${plan.n} <= 3m = ${3 * plan.m}, where no oral-messages algorithm can`
      : "";
  return (
    `  ${plural(t, "traitor")} <= m = ${plan.m}: SM(m) keeps IC1 and IC2 with at most m traitors, ` +
    `for any number of generals (Lamport, Shostak and Pease 1982, Theorem 2)${oral}`
  );
}

function scenarioText(s: SmScenario): string {
  const commander = s.traitors.includes(s.commander)
    ? `commander ${s.commander} a traitor (its core orders ${s.order})`
    : `loyal commander ${s.commander} orders ${s.order}`;
  if (s.traitors.length === 0) return `${commander}, no traitors`;
  return `${commander}, ${traitorsText(s.traitors)} (${s.strategy})`;
}

function traitorsText(ids: readonly NodeId[]): string {
  return `${ids.length === 1 ? "traitor" : "traitors"} ${formatIds(ids)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function reportOf(outcome: SmOutcome): string[] {
  const s = outcome.scenario;
  const loyal = loyalLieutenants({ nodes: nodeIds(s.n), commander: s.commander, traitors: s.traitors });
  const lines: string[] = [];
  if (s.traitors.length > 0) lines.push(`  ${traitorsText(s.traitors)}: ${strategyMeaning[s.strategy]}`);
  lines.push(
    `  rule: an order joins V when every signature of its chain verifies (commander first, one more per round); ` +
      `chains with fewer than m = ${s.m} lieutenant signatures are signed and relayed; choice(V) is the order ` +
      `when |V| = 1, else retreat`,
  );
  for (const id of loyal.slice(0, smLimits.reportLieutenantsMax)) {
    const d = outcome.decisions.get(id);
    const set = d === undefined ? "?" : `{${d.values.join(", ")}}`;
    lines.push(`  lieutenant ${id} (loyal): V = ${set} -> ${d?.value ?? "undecided"}`);
  }
  if (loyal.length > smLimits.reportLieutenantsMax)
    lines.push(`  ... and ${loyal.length - smLimits.reportLieutenantsMax} more loyal lieutenants`);
  const decided = outcome.decisions.get(loyal[0] as NodeId)?.value;
  lines.push(...verdictLines(outcome.verdict, s.commander, s.order, decided));
  const d = outcome.dropped;
  lines.push(
    `  rejected by loyal lieutenants: ${plural(d["bad-signature"], "chain")} with a bad signature, ` +
      `${d.late} late, ${d["bad-chain"]} with a malformed chain, ${d.malformed} malformed`,
  );
  lines.push(messagesLine(outcome));
  return lines;
}

function messagesLine(outcome: SmOutcome): string {
  const { n, m } = outcome.scenario;
  const terms = omMessageTerms(n, m);
  const oral = terms.reduce((a, b) => a + b, 0);
  return (
    `  messages: ${outcome.messages} sent in ${plural(m + 1, "round")} (${outcome.loyalMessages} by loyal ` +
    `generals, at most (n-1) + 2(n-1)(n-2) = ${smLoyalMessagesMax(n, m)}); OM(${m}) with n = ${n} sends ` +
    `${terms.join(" + ")} = ${oral}`
  );
}

function figuresOf(outcome: SmOutcome): AlgorithmResult["figures"] {
  const s = outcome.scenario;
  const loyal = loyalLieutenants({ nodes: nodeIds(s.n), commander: s.commander, traitors: s.traitors });
  return {
    nodes: s.n,
    traitors: s.traitors.length,
    m: s.m,
    commander: s.commander,
    order: s.order,
    placement: formatIds(s.traitors),
    strategy: s.strategy,
    signatures: s.signatures ?? "ed25519",
    ic1: outcome.verdict.ic1,
    ic2: outcome.verdict.ic2,
    decision: outcome.verdict.ic1 ? (outcome.decisions.get(loyal[0] as NodeId)?.value ?? null) : null,
    rounds: s.m + 1,
    messages: outcome.messages,
    loyalMessages: outcome.loyalMessages,
    loyalMessagesMax: smLoyalMessagesMax(s.n, s.m),
    oralMessages: omMessageTerms(s.n, s.m).reduce((a, b) => a + b, 0),
    rejectedBadSignature: outcome.dropped["bad-signature"],
    rejectedLate: outcome.dropped.late,
    rejectedBadChain: outcome.dropped["bad-chain"],
  };
}

function traceOf(outcome: SmOutcome, file: string): { line: string; jsonl: string } {
  const s = outcome.scenario;
  const trace = outcome.sim.trace ?? [];
  const header = outcome.sim.traceHeader("sm", {
    nodes: s.n,
    m: s.m,
    commander: s.commander,
    order: s.order,
    placement: s.traitors,
    strategy: s.strategy,
  });
  return { line: `  trace: ${trace.length} events written to ${file}`, jsonl: traceToJsonl(header, trace) };
}

export const algorithm: Algorithm = {
  name: "sm",
  summary: "Byzantine generals with signed messages SM(m): agreement with any number of traitors up to m",
  source:
    "seed 000, Signed BFT; Lamport, Shostak and Pease, The Byzantine Generals Problem, TOPLAS 1982, section 4",
  defaults: { nodes: 4, traitors: 1 },
  strategies: smStrategies,
  settings: smSettings,
  run,
};
