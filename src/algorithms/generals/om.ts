/**
 * Byzantine generals with oral messages, OM(m) (Lamport, Shostak and Pease, "The Byzantine
 * Generals Problem", ACM TOPLAS 1982, section 3; seed 000, "Oral BFT Solution (m traitors)" and
 * "Oral BFT Example (n=4, m=1)"). The commander sends its order to every lieutenant; each
 * lieutenant then acts as the commander of OM(m-1) among the others to pass on what it heard,
 * recursively, and finally takes the majority at every level. With more than 3m generals and at
 * most m traitors, all loyal lieutenants obey the same order (IC1), the loyal commander's order
 * if it is loyal (IC2). With n <= 3m no oral-messages algorithm can do that (section 2), and
 * `run` searches for the traitors' behaviour that shows it.
 *
 * Each general is a pure Process over the simulator's synchronous rounds, one round per
 * recursion level: the commander sends in round 0; in round r (1..m) every lieutenant relays
 * each value it heard along a path of r generals to every general not yet on the path; at the
 * start of round m+1 it decides. A message carries its path of relayers (commander first,
 * sender last), which names the sub-instance OM(m - |path| + 1) it belongs to. Rounds are what
 * make "absence of a message can be detected" (seed 000) true: a value not heard by the start
 * of the next round never comes, and counts as RETREAT, as does a tied vote.
 *
 * Traitors run the same correct core wrapped in an adversary that rewrites their outbox
 * (DESIGN.md): they lie, split, stay silent, act at random, or follow a script enumerated by the
 * exhaustive search. Messages that could only come from a traitor (wrong round, a path that does
 * not end in its sender, a repeated path) are dropped and counted.
 */
import { assert } from "../../core/assert.ts";
import { PhalanxError } from "../../core/errors.ts";
import { type NodeId, nodeIds } from "../../core/ids.ts";
import { limits } from "../../core/limits.ts";
import type { Context, Process } from "../../core/process.ts";
import { rewriting, silent } from "../../sim/adversary/strategies.ts";
import type { Adversary } from "../../sim/adversary/types.ts";
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
  orders,
  otherOrder,
  parseGeneralsSettings,
  placements,
  randomPlacement,
  relayChainValid,
  type Verdict,
  verdictLines,
} from "./common.ts";

export const omLimits = {
  /** Messages one OM(m) run may send (the formula in omMessageCount); bounds n and m together. */
  messagesMax: 500_000,
  /** Messages all runs of one counterexample search may send together. */
  searchMessagesMax: 2_000_000,
  /** Loyal lieutenants whose votes a report lists. */
  reportLieutenantsMax: 12,
  /** Scripted sends a report lists. */
  reportScriptMax: 12,
} as const;

/** Virtual length of one synchronous round; any positive value gives the same run. */
const ROUND_MS = 10;

export interface OmMsg {
  type: "om";
  /** Commander first, then each relayer; the last entry is the sender. */
  path: number[];
  value: Order;
}

export interface OmVote {
  /** The commander (the value heard directly), or the lieutenant whose OM(m-1) gave `value`. */
  via: number;
  value: Order;
}

export interface OmDecision {
  kind: "decided";
  value: Order;
  /** The top-level majority vote that gave `value`. */
  votes: OmVote[];
}

export interface OmConfig {
  commander: NodeId;
  m: number;
  /** What the commander's core orders (its adversary may change it on the wire). */
  order: Order;
}

type Ctx = Context<OmMsg, never>;

/** Why a message is dropped; each is counted as `om.CAUSE`. */
const dropCauses = ["malformed", "to-commander", "wrong-round", "bad-path", "duplicate"] as const;
type DropCause = (typeof dropCauses)[number];

export function pathKey(path: readonly number[]): string {
  return path.join(">");
}

/**
 * Calls `visit` with every path of `length` distinct generals that starts at `commander` and
 * avoids `exclude` (the general asking). `visit` must copy the path to keep it.
 */
export function forEachPath(
  nodes: readonly NodeId[],
  commander: NodeId,
  exclude: NodeId,
  length: number,
  visit: (path: readonly NodeId[]) => void,
): void {
  const path: NodeId[] = [commander];
  const extend = (): void => {
    if (path.length === length) {
      visit(path);
      return;
    }
    for (const id of nodes) {
      if (id === exclude || path.includes(id)) continue;
      path.push(id);
      extend();
      path.pop();
    }
  };
  extend();
}

/** Strict majority; a tie (or no value at all) is the default RETREAT. */
export function majority(values: readonly Order[]): Order {
  let attack = 0;
  for (const v of values) if (v === "attack") attack++;
  const retreat = values.length - attack;
  if (attack > retreat) return "attack";
  if (retreat > attack) return "retreat";
  return defaultOrder;
}

export function omMessageCount(n: number, m: number): number {
  return omMessageTerms(n, m).reduce((a, b) => a + b, 0);
}

/** One general: the commander in round 0, a lieutenant relaying in rounds 1..m and deciding at m+1. */
export class OmGeneral implements Process<OmMsg, never> {
  /** Value heard along each path (by pathKey); what is absent was never heard. */
  private readonly heardByPath = new Map<string, Order>();

  constructor(private readonly config: OmConfig) {}

  /** What this general heard, by path, for checks and the indistinguishability demonstration. */
  heard(): ReadonlyMap<string, Order> {
    return this.heardByPath;
  }

  start(): void {}

  timeout(): void {}

  receive(ctx: Ctx, from: NodeId, msg: OmMsg): void {
    if (this.ignoreOrder(ctx, from, msg)) return;
    this.heardByPath.set(pathKey(msg.path), msg.value);
  }

  roundStart(ctx: Ctx, round: number): void {
    const { commander, m } = this.config;
    if (ctx.self === commander) {
      if (round === 0) this.command(ctx);
      return;
    }
    if (round >= 1 && round <= m) this.relay(ctx, round);
    else if (round === m + 1) this.decide(ctx);
  }

  private command(ctx: Ctx): void {
    const path = [ctx.self];
    for (const to of ctx.nodes)
      if (to !== ctx.self) ctx.send(to, { type: "om", path, value: this.config.order });
  }

  /** Round r: act as the commander of OM(m - r) for every value heard along a path of r generals. */
  private relay(ctx: Ctx, round: number): void {
    forEachPath(ctx.nodes, this.config.commander, ctx.self, round, (path) => {
      const value = this.heardByPath.get(pathKey(path)) ?? defaultOrder;
      const next = [...path, ctx.self];
      for (const to of ctx.nodes) {
        if (to !== ctx.self && !path.includes(to)) ctx.send(to, { type: "om", path: next, value });
      }
    });
  }

  private decide(ctx: Ctx): void {
    const votes = this.votesAt(ctx, [this.config.commander]);
    const decision: OmDecision = { kind: "decided", value: majority(votes.map((v) => v.value)), votes };
    ctx.output(decision);
  }

  /**
   * The vote of the sub-instance named by `path`: the value heard along it, then, unless it is
   * OM(0), what each general not on the path passed on, itself decided by majority. Every path
   * is visited once, so a missing value is counted once.
   */
  private votesAt(ctx: Ctx, path: readonly NodeId[]): OmVote[] {
    const heard = this.heardByPath.get(pathKey(path));
    if (heard === undefined) ctx.count("om.missing");
    const votes: OmVote[] = [{ via: path[path.length - 1] as number, value: heard ?? defaultOrder }];
    if (path.length === this.config.m + 1) return votes;
    for (const j of ctx.nodes) {
      if (j === ctx.self || path.includes(j)) continue;
      const sub = this.votesAt(ctx, [...path, j]);
      votes.push({ via: j, value: majority(sub.map((v) => v.value)) });
    }
    return votes;
  }

  /** Drops (and counts) what no correct general sends: only a traitor's rewriting produces it. */
  private ignoreOrder(ctx: Ctx, from: NodeId, msg: OmMsg): boolean {
    const cause = this.invalidity(ctx, from, msg);
    if (cause === null) return false;
    ctx.count(`om.${cause}`);
    return true;
  }

  private invalidity(ctx: Ctx, from: NodeId, msg: unknown): DropCause | null {
    const depthMax = this.config.m + 1;
    if (!isOmMsgShape(msg, depthMax)) return "malformed";
    if (ctx.self === this.config.commander) return "to-commander";
    const path = msg.path;
    if (path.length !== ctx.round()) return "wrong-round";
    if (!relayChainValid(path, this.config.commander, from, ctx.self, ctx.nodes)) return "bad-path";
    if (this.heardByPath.has(pathKey(path))) return "duplicate";
    return null;
  }
}

function isOmMsgShape(m: unknown, depthMax: number): m is OmMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    o.type === "om" &&
    isOrder(o.value) &&
    Array.isArray(o.path) &&
    o.path.length >= 1 &&
    o.path.length <= depthMax &&
    o.path.every((x) => Number.isSafeInteger(x))
  );
}

// ------------------------------------------------------------------ traitors

export const omStrategies = ["lie", "split", "silent", "random"] as const;
export type OmStrategy = (typeof omStrategies)[number];

const strategyMeaning: Record<OmStrategy, string> = {
  lie: "sends the opposite of every value it should send",
  split: "sends attack to even-numbered generals and retreat to odd ones, whatever it heard",
  silent: "sends nothing (receivers assume retreat)",
  random: "sends attack, retreat or nothing, at random for each message (seeded)",
};

/** What a traitor sends, by slot (slotKey); null: nothing. The exhaustive search's behaviours. */
export type OmScript = ReadonlyMap<string, Order | null>;

export type OmBehaviour = OmStrategy | OmScript;

/** One send a traitor's core makes: a path (ending in the traitor) and a recipient. */
export function slotKey(path: readonly number[], to: number): string {
  return `${pathKey(path)} to ${to}`;
}

export function omAdversary(behaviour: OmBehaviour): Adversary<OmMsg> {
  if (typeof behaviour !== "string") {
    return rewriting<OmMsg>("scripted", (msg, to) => {
      const choice = behaviour.get(slotKey(msg.path, to));
      assert(choice !== undefined, `script has no slot ${slotKey(msg.path, to)}`);
      return choice === null ? undefined : { ...msg, value: choice };
    });
  }
  switch (behaviour) {
    case "lie":
      return rewriting<OmMsg>("lie", (msg) => ({ ...msg, value: otherOrder(msg.value) }));
    case "split":
      return rewriting<OmMsg>("split", (msg, to) => ({ ...msg, value: to % 2 === 0 ? "attack" : "retreat" }));
    case "silent":
      return silent<OmMsg>();
    case "random":
      return rewriting<OmMsg>("random", (msg, _to, api) => {
        const r = api.random() * 3;
        if (r < 1) return undefined;
        return { ...msg, value: r < 2 ? "attack" : "retreat" };
      });
  }
}

/** Every send the cores of `traitors` make in OM(m), in a fixed order. */
export function traitorSlots(
  nodes: readonly NodeId[],
  m: number,
  commander: NodeId,
  traitors: readonly NodeId[],
): string[] {
  const slots: string[] = [];
  for (const t of traitors) {
    if (t === commander) {
      for (const to of nodes) if (to !== commander) slots.push(slotKey([commander], to));
      continue;
    }
    for (let r = 1; r <= m; r++) {
      forEachPath(nodes, commander, t, r, (path) => {
        for (const to of nodes) if (to !== t && !path.includes(to)) slots.push(slotKey([...path, t], to));
      });
    }
  }
  return slots;
}

// ------------------------------------------------------------------ one run

export interface OmScenario {
  n: number;
  m: number;
  commander: NodeId;
  order: Order;
  traitors: readonly NodeId[];
  behaviour: OmBehaviour;
  seed: number;
  trace?: boolean;
}

export interface OmOutcome {
  scenario: OmScenario;
  sim: Simulation<OmMsg, never>;
  decisions: ReadonlyMap<NodeId, OmDecision>;
  verdict: Verdict;
  /** Messages that went on the wire (traitors may withhold some). */
  messages: number;
}

export function runOm(s: OmScenario): OmOutcome {
  const nodes = nodeIds(s.n);
  const config: OmConfig = { commander: s.commander, m: s.m, order: s.order };
  const sim = new Simulation<OmMsg, never>({
    seed: s.seed,
    nodes,
    factory: () => new OmGeneral(config),
    rounds: { roundMs: ROUND_MS, roundsMin: s.m + 1, roundsMax: s.m + 1 },
    trace: s.trace ?? false,
  });
  for (const t of s.traitors) sim.setAdversary(t, omAdversary(s.behaviour));
  sim.runUntilQuiescent();
  const decisions = new Map<NodeId, OmDecision>();
  for (const o of sim.outputs) decisions.set(o.node, o.record as OmDecision);
  const verdict = checkGenerals({
    nodes,
    commander: s.commander,
    order: s.order,
    traitors: s.traitors,
    decisions: new Map([...decisions].map(([id, d]) => [id, d.value])),
  });
  return { scenario: s, sim, decisions, verdict, messages: sim.stats.sent };
}

// ------------------------------------------------------------------ counterexample search

export interface SearchSpace {
  n: number;
  m: number;
  commander: NodeId;
  orders: readonly Order[];
  placements: readonly (readonly NodeId[])[];
  /** Tried in this order on every placement before any script is. */
  strategies: readonly OmStrategy[];
  seed: number;
}

export interface SearchResult {
  /** The first run that broke IC1 or IC2, or null. */
  found: OmOutcome | null;
  runs: number;
  /** Whether the search went on to scripted (exhaustive) traitor behaviours. */
  scripted: boolean;
  /** False when the budget (omLimits.searchMessagesMax) cut scripted behaviours short. */
  complete: boolean;
}

const scriptChoices: readonly (Order | null)[] = ["attack", "retreat", null];

/**
 * Tries each order, placement and strategy; if none breaks IC1 or IC2, every deterministic
 * behaviour of the traitors (each of their sends: attack, retreat or nothing) on each placement,
 * as far as the message budget allows. A traitor commander's script fixes all it sends, so its
 * order does not matter and only the first order is scripted.
 */
export function findCounterexample(space: SearchSpace): SearchResult {
  const nodes = nodeIds(space.n);
  const runsMax = Math.max(1, Math.floor(omLimits.searchMessagesMax / omMessageCount(space.n, space.m)));
  let runs = 0;
  const attempt = (order: Order, traitors: readonly NodeId[], behaviour: OmBehaviour): OmOutcome | null => {
    runs++;
    const outcome = runOm({ ...space, order, traitors, behaviour });
    return outcome.verdict.violations.length > 0 ? outcome : null;
  };
  for (const order of space.orders) {
    for (const traitors of space.placements) {
      for (const strategy of space.strategies) {
        const found = attempt(order, traitors, strategy);
        if (found !== null) return { found, runs, scripted: false, complete: true };
      }
    }
  }
  let complete = true;
  for (const order of space.orders) {
    for (const traitors of space.placements) {
      if (traitors.includes(space.commander) && order !== space.orders[0]) continue;
      const slots = traitorSlots(nodes, space.m, space.commander, traitors);
      if (scriptChoices.length ** slots.length > runsMax - runs) {
        complete = false;
        continue;
      }
      const digits = new Array<number>(slots.length).fill(0);
      do {
        const script = new Map(
          slots.map((slot, i) => [slot, scriptChoices[digits[i] as number] as Order | null]),
        );
        const found = attempt(order, traitors, script);
        if (found !== null) return { found, runs, scripted: true, complete: true };
      } while (nextDigits(digits, scriptChoices.length));
    }
  }
  return { found: null, runs, scripted: true, complete };
}

/** Advances a little-endian base-`base` counter; false once it wraps to all zeros. */
function nextDigits(digits: number[], base: number): boolean {
  for (let i = 0; i < digits.length; i++) {
    const d = (digits[i] as number) + 1;
    if (d < base) {
      digits[i] = d;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

/**
 * Three generals, a loyal commander, and a traitor lieutenant that relayed the opposite order:
 * the twin run has the commander as the traitor, telling the loyal lieutenant its order and the
 * other lieutenant the opposite. Returned when the loyal lieutenant hears exactly the same
 * messages in both runs, so that no algorithm can tell them apart.
 */
function twinRun(outcome: OmOutcome): { run: OmOutcome; loyal: NodeId; other: NodeId } | null {
  const s = outcome.scenario;
  const loyal = loyalLieutenants({ nodes: nodeIds(s.n), commander: s.commander, traitors: s.traitors });
  const other = s.traitors[0];
  const l = loyal[0];
  if (s.n !== 3 || outcome.verdict.ic2 !== false || other === undefined || l === undefined) return null;
  const heard = (outcome.sim.process(l) as OmGeneral).heard();
  if (heard.get(pathKey([s.commander])) !== s.order) return null;
  if (heard.get(pathKey([s.commander, other])) !== otherOrder(s.order)) return null;
  const script: OmScript = new Map([
    [slotKey([s.commander], l), s.order],
    [slotKey([s.commander], other), otherOrder(s.order)],
  ]);
  const run = runOm({ ...s, traitors: [s.commander], behaviour: script, trace: false });
  const twin = (run.sim.process(l) as OmGeneral).heard();
  const same = twin.size === heard.size && [...heard].every(([k, v]) => twin.get(k) === v);
  return same ? { run, loyal: l, other } : null;
}

// ------------------------------------------------------------------ the command

interface OmPlan {
  n: number;
  m: number;
  commander: NodeId;
  order?: Order;
  traitors?: NodeId[];
  strategy?: OmStrategy;
  seed: number;
}

function planOf(options: AlgorithmOptions): OmPlan {
  const n = options.nodes ?? algorithm.defaults.nodes;
  const m = options.traitors ?? algorithm.defaults.traitors;
  if (!Number.isInteger(n) || n < 2 || n > limits.simNodesMax)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `--nodes must be an integer in 2..${limits.simNodesMax}, got ${n}`,
    );
  if (!Number.isInteger(m) || m < 0)
    throw new PhalanxError("BAD_ARGUMENT", `--traitors must be an integer >= 0, got ${m}`);
  if (n <= 3 * m && n < m + 2) {
    const failing = m + 2 === 3 * m ? `${m + 2}` : `${m + 2}..${3 * m}`;
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `with ${plural(m, "traitor")} among ${n} generals at most one general is loyal, so IC1 and IC2 cannot fail; ` +
        `use --nodes ${failing} to see OM fail, or --nodes ${3 * m + 1} or more to see it work`,
    );
  }
  const expected = omMessageCount(n, m);
  if (expected > omLimits.messagesMax) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `OM(${m}) among ${n} generals sends ${expected} messages, more than the ${omLimits.messagesMax} ` +
        `this command runs; lower --nodes or --traitors`,
    );
  }
  const strategy = options.strategy;
  if (strategy !== undefined && !(omStrategies as readonly string[]).includes(strategy)) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `--strategy must be one of ${omStrategies.join(", ")}, got "${strategy}"`,
    );
  }
  const set = parseGeneralsSettings(options.settings, n, m);
  return {
    n,
    m,
    commander: set.commander,
    seed: options.seed,
    ...(set.order !== undefined ? { order: set.order } : {}),
    ...(set.traitors !== undefined ? { traitors: set.traitors } : {}),
    ...(strategy !== undefined ? { strategy: strategy as OmStrategy } : {}),
  };
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const plan = planOf(options);
  return plan.n > 3 * plan.m ? runTolerated(plan, options.trace) : runImpossible(plan, options.trace);
}

function runTolerated(plan: OmPlan, traceFile: string | undefined): AlgorithmResult {
  const { n, m } = plan;
  const strategy = plan.strategy ?? "lie";
  const outcome = runOm({
    n,
    m,
    commander: plan.commander,
    order: plan.order ?? "attack",
    traitors: plan.traitors ?? randomPlacement(plan.seed, nodeIds(n), m),
    behaviour: strategy,
    seed: plan.seed,
    trace: traceFile !== undefined,
  });
  const v = outcome.verdict;
  const ok = v.violations.length === 0;
  const lines = [
    `om: OM(${m}) with ${n} generals, ${scenarioText(outcome.scenario)}: ` +
      (ok ? "IC1 and IC2 hold" : `VIOLATION ${v.violations.join("; ")}`),
    `  n = ${n} > 3m = ${3 * m}: OM(${m}) tolerates up to ${plural(m, "traitor")} (Lamport, Shostak and Pease 1982, Theorem 1)`,
    ...reportOf(outcome),
  ];
  const traced = traceFile === undefined ? undefined : traceOf(outcome, traceFile);
  if (traced !== undefined) lines.push(traced.line);
  return { ok, lines, figures: figuresOf(outcome), traceJsonl: traced?.jsonl };
}

function runImpossible(plan: OmPlan, traceFile: string | undefined): AlgorithmResult {
  const { n, m } = plan;
  const space: SearchSpace = {
    n,
    m,
    commander: plan.commander,
    orders: plan.order !== undefined ? [plan.order] : orders,
    placements: plan.traitors !== undefined ? [plan.traitors] : placements(nodeIds(n), m),
    strategies: plan.strategy !== undefined ? [plan.strategy] : omStrategies,
    seed: plan.seed,
  };
  const search = findCounterexample(space);
  const searched =
    `  searched ${plural(search.runs, "run")}: orders ${space.orders.join(", ")}; ` +
    `${plan.traitors !== undefined ? traitorsText(plan.traitors) : `every placement of ${plural(m, "traitor")}`}; ` +
    `strategies ${space.strategies.join(", ")}` +
    (search.scripted
      ? `; then every scripted behaviour of the traitors${search.complete ? "" : " within the budget"}`
      : "");
  const found = search.found;
  if (found === null) {
    return {
      ok: false,
      lines: [
        `om: n = ${n} <= 3m = ${3 * m}: no counterexample found; OM(${m}) kept IC1 and IC2 in every run tried`,
        searched,
        ...(search.complete ? [] : ["  the search budget ran out before every scripted behaviour was tried"]),
        ...(space.orders.includes("attack")
          ? []
          : [
              "  note: ties and missing values count as retreat, so traitors cannot outvote a loyal retreat " +
                "order without a majority; leave out --set order to search the attack order too",
            ]),
      ],
      figures: {
        nodes: n,
        traitors: m,
        counterexample: false,
        searchRuns: search.runs,
        searchComplete: search.complete,
      },
    };
  }
  const shown = traceFile !== undefined ? runOm({ ...found.scenario, trace: true }) : found;
  const broken = shown.verdict.ic1 ? "IC2" : "IC1";
  const lines = [
    `om: n = ${n} <= 3m = ${3 * m}: counterexample found, ${broken} broken when ${scenarioText(found.scenario)}; ` +
      `this demonstrates that no oral-messages algorithm works when n <= 3m`,
    searched,
    `  OM(${m}) runs unchanged; its guarantee needs n > 3m`,
    ...reportOf(shown),
    ...whyLines(shown),
  ];
  const traced = traceFile === undefined ? undefined : traceOf(shown, traceFile);
  if (traced !== undefined) lines.push(traced.line);
  return {
    ok: true,
    lines,
    traceJsonl: traced?.jsonl,
    figures: {
      ...figuresOf(shown),
      counterexample: true,
      broken,
      searchRuns: search.runs,
      searchScripted: search.scripted,
    },
  };
}

function whyLines(outcome: OmOutcome): string[] {
  const twin = twinRun(outcome);
  const s = outcome.scenario;
  if (twin === null) {
    return [
      `  why: with n <= 3m the traitors can give loyal lieutenants views they cannot tell apart from runs ` +
        `in which other generals are the traitors (Lamport, Shostak and Pease 1982, section 2)`,
    ];
  }
  const opposite = otherOrder(s.order);
  return [
    `  why: if instead commander ${s.commander} were the traitor, telling ${twin.loyal} ${s.order} and ` +
      `${twin.other} ${opposite}, with ${twin.other} loyal, lieutenant ${twin.loyal} would receive exactly ` +
      `the same messages (checked by running that case);`,
    `    a rule that made ${twin.loyal} obey ${s.order} here would make it decide ${s.order} there, while ` +
      `${twin.other} there sees what a loyal commander ordering ${opposite} and a lying ${twin.loyal} would show it, ` +
      `so IC2 makes it decide ${opposite}: IC1 would break (Lamport, Shostak and Pease 1982, section 2)`,
  ];
}

function scenarioText(s: OmScenario): string {
  const commander = s.traitors.includes(s.commander)
    ? `commander ${s.commander} a traitor (its core orders ${s.order})`
    : `loyal commander ${s.commander} orders ${s.order}`;
  if (s.traitors.length === 0) return `${commander}, no traitors`;
  return `${commander}, ${traitorsText(s.traitors)} (${typeof s.behaviour === "string" ? s.behaviour : "scripted"})`;
}

function traitorsText(ids: readonly NodeId[]): string {
  return `${ids.length === 1 ? "traitor" : "traitors"} ${formatIds(ids)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function behaviourText(b: OmBehaviour, traitors: number): string {
  if (typeof b === "string") return `${traitors > 1 ? "each " : ""}${strategyMeaning[b]}`;
  const sends = [...b].map(([slot, value]) => `${slot}: ${value ?? "nothing"}`);
  const more = sends.length > omLimits.reportScriptMax ? `, ... (${sends.length} sends)` : "";
  return `sends ${sends.slice(0, omLimits.reportScriptMax).join(", ")}${more}`;
}

function reportOf(outcome: OmOutcome): string[] {
  const s = outcome.scenario;
  const loyal = loyalLieutenants({ nodes: nodeIds(s.n), commander: s.commander, traitors: s.traitors });
  const lines: string[] = [];
  if (s.traitors.length > 0)
    lines.push(`  ${traitorsText(s.traitors)}: ${behaviourText(s.behaviour, s.traitors.length)}`);
  lines.push(
    s.m === 0
      ? "  votes: the commander's order as received (missing counts as retreat)"
      : `  votes: the commander's order as received, then for each other lieutenant j what OM(${s.m - 1}) ` +
          `from j gave; majority, ties and missing count as retreat`,
  );
  for (const id of loyal.slice(0, omLimits.reportLieutenantsMax)) {
    const d = outcome.decisions.get(id);
    const votes = d === undefined ? "none" : d.votes.map((v) => `${v.via}:${v.value}`).join(" ");
    lines.push(`  lieutenant ${id} (loyal): ${votes} -> ${d?.value ?? "undecided"}`);
  }
  if (loyal.length > omLimits.reportLieutenantsMax)
    lines.push(`  ... and ${loyal.length - omLimits.reportLieutenantsMax} more loyal lieutenants`);
  const decided = outcome.decisions.get(loyal[0] as NodeId)?.value;
  lines.push(...verdictLines(outcome.verdict, s.commander, s.order, decided));
  lines.push(messagesLine(outcome));
  return lines;
}

function messagesLine(outcome: OmOutcome): string {
  const { n, m } = outcome.scenario;
  const terms = omMessageTerms(n, m);
  const expected = omMessageCount(n, m);
  const symbolic = terms
    .map((_, k) => Array.from({ length: k + 1 }, (_, j) => `(n-${j + 1})`).join(""))
    .join(" + ");
  const withheld = expected - outcome.messages;
  return (
    `  messages: ${outcome.messages} sent in ${plural(m + 1, "round")}; OM(${m}) with n = ${n} sends ` +
    `${symbolic} = ${terms.join(" + ")} = ${expected}` +
    (withheld > 0 ? ` (the traitors withheld ${withheld})` : "")
  );
}

function figuresOf(outcome: OmOutcome): AlgorithmResult["figures"] {
  const s = outcome.scenario;
  const loyal = loyalLieutenants({ nodes: nodeIds(s.n), commander: s.commander, traitors: s.traitors });
  return {
    nodes: s.n,
    traitors: s.m,
    commander: s.commander,
    order: s.order,
    placement: formatIds(s.traitors),
    strategy: typeof s.behaviour === "string" ? s.behaviour : "scripted",
    ic1: outcome.verdict.ic1,
    ic2: outcome.verdict.ic2,
    decision: outcome.verdict.ic1 ? (outcome.decisions.get(loyal[0] as NodeId)?.value ?? null) : null,
    messages: outcome.messages,
    messagesExpected: omMessageCount(s.n, s.m),
    rounds: s.m + 1,
    dropped: dropCauses.reduce((sum, cause) => sum + outcome.sim.counter(`om.${cause}`), 0),
  };
}

function traceOf(outcome: OmOutcome, file: string): { line: string; jsonl: string } {
  const s = outcome.scenario;
  const trace = outcome.sim.trace ?? [];
  const header = outcome.sim.traceHeader("om", {
    nodes: s.n,
    traitors: s.m,
    commander: s.commander,
    order: s.order,
    placement: s.traitors,
    strategy: typeof s.behaviour === "string" ? s.behaviour : "scripted",
  });
  return { line: `  trace: ${trace.length} events written to ${file}`, jsonl: traceToJsonl(header, trace) };
}

export const algorithm: Algorithm = {
  name: "om",
  summary:
    "Byzantine generals with oral messages OM(m): agreement when n > 3m, a counterexample when n <= 3m",
  source:
    "seed 000, Oral BFT Solution (m traitors); Lamport, Shostak and Pease, The Byzantine Generals Problem, TOPLAS 1982",
  defaults: { nodes: 4, traitors: 1 },
  strategies: omStrategies,
  settings: generalsSettings,
  run,
};
