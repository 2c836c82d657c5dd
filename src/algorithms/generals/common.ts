/**
 * What the Byzantine generals algorithms share (Lamport, Shostak and Pease, "The Byzantine
 * Generals Problem", ACM TOPLAS 4(3), 1982; seed 000, "Byzantine Generals: Reduction"): the two
 * orders and the default a lieutenant falls back on, the two interactive consistency conditions
 * every run is judged by, traitor placements, and the `--set` settings the commands accept.
 *
 * IC1: all loyal lieutenants obey the same order. IC2: if the commander is loyal, every loyal
 * lieutenant obeys the order it sends. Both are checked on the decisions a run outputs, never on
 * a protocol's internal state, so the oral (OM) and the signed (SM) algorithms are judged alike.
 */
import { PhalanxError } from "../../core/errors.ts";
import type { NodeId } from "../../core/ids.ts";
import { Prng } from "../../core/prng.ts";

export type Order = "attack" | "retreat";

export const orders: readonly Order[] = ["attack", "retreat"];

/** What a lieutenant assumes for a missing message or a tied vote (the paper's RETREAT). */
export const defaultOrder: Order = "retreat";

export function isOrder(x: unknown): x is Order {
  return x === "attack" || x === "retreat";
}

export function otherOrder(order: Order): Order {
  return order === "attack" ? "retreat" : "attack";
}

/**
 * Whether a relay chain (OM's path, SM's signers) is well formed as received by `self` from
 * `from`: it starts at the commander, ends at the sender, names each general at most once,
 * never the receiver, and only generals of the run.
 */
export function relayChainValid(
  chain: readonly number[],
  commander: number,
  from: number,
  self: number,
  nodes: readonly number[],
): boolean {
  return (
    chain[0] === commander &&
    chain[chain.length - 1] === from &&
    new Set(chain).size === chain.length &&
    !chain.includes(self) &&
    chain.every((id) => nodes.includes(id))
  );
}

/** One run as the conditions see it: who commanded what, who lied, what each lieutenant decided. */
export interface GeneralsRun {
  nodes: readonly NodeId[];
  commander: NodeId;
  /** The order the commander's own core sends (what a loyal commander means). */
  order: Order;
  traitors: readonly NodeId[];
  /** Decision of each lieutenant that reached one. */
  decisions: ReadonlyMap<NodeId, Order>;
}

export interface Verdict {
  /** All loyal lieutenants decided, and decided the same. */
  ic1: boolean;
  /** Every loyal lieutenant decided the loyal commander's order; null when the commander is a traitor. */
  ic2: boolean | null;
  /** One sentence per broken condition. */
  violations: string[];
}

export function loyalLieutenants(run: Pick<GeneralsRun, "nodes" | "commander" | "traitors">): NodeId[] {
  return run.nodes.filter((id) => id !== run.commander && !run.traitors.includes(id));
}

export function checkGenerals(run: GeneralsRun): Verdict {
  const loyal = loyalLieutenants(run);
  const violations: string[] = [];
  const undecided = loyal.filter((id) => !run.decisions.has(id));
  const values = new Set(loyal.flatMap((id) => run.decisions.get(id) ?? []));
  if (undecided.length > 0)
    violations.push(`IC1: loyal lieutenant(s) ${formatIds(undecided)} decided nothing`);
  if (values.size > 1) {
    const by = (o: Order) => formatIds(loyal.filter((id) => run.decisions.get(id) === o));
    violations.push(`IC1: loyal lieutenants disagree: ${by("attack")} attack, ${by("retreat")} retreat`);
  }
  const ic1 = violations.length === 0;
  if (run.traitors.includes(run.commander)) return { ic1, ic2: null, violations };
  const disobey = loyal.filter((id) => run.decisions.get(id) !== run.order);
  if (disobey.length > 0) {
    violations.push(
      `IC2: loyal commander ${run.commander} ordered ${run.order}, loyal lieutenant(s) ${formatIds(disobey)} did not obey`,
    );
  }
  return { ic1, ic2: disobey.length === 0, violations };
}

/** Every set of `size` nodes, in lexicographic order. */
export function placements(nodes: readonly NodeId[], size: number): NodeId[][] {
  const out: NodeId[][] = [];
  const pick = (from: number, chosen: NodeId[]): void => {
    if (chosen.length === size) {
      out.push([...chosen]);
      return;
    }
    for (let i = from; i <= nodes.length - (size - chosen.length); i++) {
      chosen.push(nodes[i] as NodeId);
      pick(i + 1, chosen);
      chosen.pop();
    }
  };
  pick(0, []);
  return out;
}

/** `size` distinct nodes drawn from the seed (the commander may be among them), ascending. */
export function randomPlacement(seed: number, nodes: readonly NodeId[], size: number): NodeId[] {
  const prng = new Prng(seed).fork("generals-placement");
  return prng
    .shuffle([...nodes])
    .slice(0, size)
    .sort((a, b) => a - b);
}

export function formatIds(ids: readonly number[]): string {
  return ids.length === 0 ? "none" : ids.join(", ");
}

/** The `--set` keys of the generals commands, with their meaning (for `phalanx sim --help`). */
export const generalsSettings = {
  commander: "id of the commanding general (default 0)",
  order: "attack or retreat: what a loyal commander orders (default attack)",
  traitors: "explicit placement, e.g. 1,3 or none (default: drawn from the seed)",
} as const;

export interface GeneralsSettings {
  commander: NodeId;
  /** Undefined: the caller's default (or, for a search, both orders). */
  order?: Order;
  /** Undefined: the caller draws or enumerates placements. */
  traitors?: NodeId[];
}

/**
 * Reads `--set commander=ID order=attack|retreat traitors=ID,ID|none` for `n` generals of
 * which at most `traitorsMax` may be traitors.
 */
export function parseGeneralsSettings(
  settings: Readonly<Record<string, string>>,
  n: number,
  traitorsMax: number,
): GeneralsSettings {
  for (const key of Object.keys(settings)) {
    if (!Object.hasOwn(generalsSettings, key)) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `unknown setting "${key}"; allowed: ${Object.keys(generalsSettings).join(", ")}`,
      );
    }
  }
  const out: GeneralsSettings = { commander: 0 as NodeId };
  if (settings.commander !== undefined) out.commander = parseNodeId("commander", settings.commander, n);
  if (settings.order !== undefined) {
    const order = settings.order.trim();
    if (!isOrder(order))
      throw new PhalanxError("BAD_ARGUMENT", `order must be attack or retreat, got "${order}"`);
    out.order = order;
  }
  if (settings.traitors !== undefined) {
    const text = settings.traitors.trim();
    const ids =
      text === "none" || text === "" ? [] : text.split(",").map((t) => parseNodeId("traitors", t, n));
    if (new Set(ids).size !== ids.length)
      throw new PhalanxError("BAD_ARGUMENT", `traitors must be distinct, got "${text}"`);
    if (ids.length > traitorsMax) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `traitors lists ${ids.length} ids but --traitors is ${traitorsMax}; list at most ${traitorsMax}`,
      );
    }
    out.traitors = ids.sort((a, b) => a - b);
  }
  return out;
}

function parseNodeId(name: string, text: string, n: number): NodeId {
  const t = text.trim();
  const id = Number(t);
  if (!/^\d+$/.test(t) || id >= n)
    throw new PhalanxError("BAD_ARGUMENT", `${name} must name generals 0..${n - 1}, got "${t}"`);
  return id as NodeId;
}

/** Messages OM(m) sends among n generals, term by term: (n-1), (n-1)(n-2), ..., (n-1)...(n-m-1). */
export function omMessageTerms(n: number, m: number): number[] {
  const terms: number[] = [];
  let product = 1;
  for (let k = 1; k <= m + 1; k++) {
    product *= Math.max(0, n - k);
    terms.push(product);
  }
  return terms;
}

/** The report's IC1 and IC2 lines for a verdict; `decided` is what the loyal lieutenants chose. */
export function verdictLines(
  v: Verdict,
  commander: NodeId,
  order: Order,
  decided: Order | undefined,
): string[] {
  const broken = (condition: "IC1" | "IC2") =>
    v.violations
      .filter((x) => x.startsWith(`${condition}: `))
      .map((x) => x.slice(condition.length + 2))
      .join("; ");
  const ic1 = v.ic1
    ? `holds${decided === undefined ? "" : `, all decide ${decided}`}`
    : `BROKEN: ${broken("IC1")}`;
  const ic2 =
    v.ic2 === null
      ? `does not apply, commander ${commander} is a traitor`
      : v.ic2
        ? `holds, commander ${commander} ordered ${order}`
        : `BROKEN: ${broken("IC2")}`;
  return [
    `  IC1 (all loyal lieutenants decide the same): ${ic1}`,
    `  IC2 (a loyal commander is obeyed): ${ic2}`,
  ];
}
