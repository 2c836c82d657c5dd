/**
 * Dolev-Strong signed agreement with early stopping as a pure protocol core: the signed vote
 * chains, their checks and the general's rounds. src/algorithms/dolev-strong.ts runs it on the
 * simulator against traitor strategies and judges it; see that file's comment for the protocol,
 * the early-stopping rule and its limits.
 */
import { encode } from "../../core/codec.ts";
import type { NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import { isOrder, type Order } from "../generals/common.ts";

export const dsLimits = {
  /**
   * Generals in one run. A general verifies each new signed vote once (up to f+1 links, Ed25519
   * at 133 us each) and signs each relay; 64 generals keep the command within seconds.
   */
  nodesMax: 64,
  /** Bytes of one signature (Ed25519, and the simulator's "fast" HMAC-SHA512 tags). */
  signatureBytes: 64,
  /** Generals whose vectors a report lists. */
  reportGeneralsMax: 12,
} as const;

/**
 * Chains one envelope may carry: a faithful general relays each voter's at most two signed
 * votes once, so 2n; a larger envelope is dropped whole.
 */
export function chainsPerEnvelopeMax(n: number): number {
  return 2 * n;
}

/** Virtual length of one synchronous round; any positive value gives the same run. */
export const dsRoundMs = 10;

/** What a tied (or empty) vote decides: the seed's "assume that in a tie vote, we attack". */
export const tieOrder: Order = "attack";

/** A signed vote: signers[0] is the voter, each later signer relayed it, the last one sent it. */
export interface DsChain {
  value: Order;
  signers: number[];
  /** sigs[k] is signers[k]'s signature over linkBytes(value, signers[0..k], sigs[0..k-1]). */
  sigs: Uint8Array[];
}

/** One general's envelope for one round, the same for every recipient. */
export interface DsMsg {
  type: "ds";
  /** The round it is sent in (1 = the votes). */
  round: number;
  chains: DsChain[];
  /** Early stopping: the sender decided at the end of the previous round and halts after this. */
  decided: boolean;
}

export interface DsDecision {
  kind: "decided";
  /** The round at whose end the general decided. */
  round: number;
  /** Each general's counted vote, by id; null: no signed vote, or two (weeded out). */
  vector: (Order | null)[];
  order: Order;
}

export interface DsConfig {
  /** Faults tolerated: decide at the end of round f+1 at the latest. */
  f: number;
  early: boolean;
  /** Each general's vote, by id (a traitor's is what its core signs). */
  votes: readonly Order[];
}

type Ctx = Context<DsMsg, never>;

/** Why input is dropped; each is counted as `ds.CAUSE`. */
export const dsDropCauses = ["malformed", "wrong-round", "bad-chain", "bad-signature"] as const;
export type DsDropCause = (typeof dsDropCauses)[number];

/** What link k of a chain signs: the vote, the signers up to k, and every earlier signature. */
export function linkBytes(
  value: Order,
  signers: readonly number[],
  previous: readonly Uint8Array[],
): Uint8Array {
  return encode(["ds", value, signers, previous]);
}

export function extendChain(chain: DsChain, signer: number, sign: (data: Uint8Array) => Uint8Array): DsChain {
  const signers = [...chain.signers, signer];
  return {
    value: chain.value,
    signers,
    sigs: [...chain.sigs, sign(linkBytes(chain.value, signers, chain.sigs))],
  };
}

export function chainVerifies(
  chain: DsChain,
  verify: (signer: NodeId, data: Uint8Array, sig: Uint8Array) => boolean,
): boolean {
  for (let k = 0; k < chain.signers.length; k++) {
    const data = linkBytes(chain.value, chain.signers.slice(0, k + 1), chain.sigs.slice(0, k));
    if (!verify(chain.signers[k] as NodeId, data, chain.sigs[k] as Uint8Array)) return false;
  }
  return true;
}

/** Majority of the counted votes; a tie, or no vote at all, is the seed's attack. */
export function decide(vector: readonly (Order | null)[]): Order {
  let attack = 0;
  let retreat = 0;
  for (const v of vector) {
    if (v === "attack") attack++;
    else if (v === "retreat") retreat++;
  }
  if (retreat > attack) return "retreat";
  return attack > retreat ? "attack" : tieOrder;
}

export class DsGeneral implements Process<DsMsg, never> {
  /** Signed votes accepted, by voter. */
  private readonly accepted = new Map<number, Set<Order>>();
  /** Chains accepted in the current round, relayed in the next. */
  private fresh: DsChain[] = [];
  /** Senders heard in the previous and in the current round. */
  private heardBefore = new Set<NodeId>();
  private heard = new Set<NodeId>();
  private toldDecided = false;
  /**
   * A chain carried this general's signature on a vote its core never signed: its key is in a
   * traitor's hands, and it holds a vote it cannot relay (a chain cannot hold one signer twice).
   * Its "decided" flag would then stand for a vote the others may lack, so it never stops early.
   */
  private keyMisused = false;
  private halted = false;
  private lastSent = 0;

  constructor(private readonly config: DsConfig) {}

  /** The last round this general sent in (0: never). */
  lastSentRound(): number {
    return this.lastSent;
  }

  start(): void {}

  timeout(): void {}

  roundStart(ctx: Ctx, round: number): void {
    if (this.halted) return;
    if (round === 0) {
      this.vote(ctx);
      return;
    }
    if (this.mayDecide(round)) {
      this.decideNow(ctx, round);
      if (round <= this.config.f) this.sendEnvelope(ctx, this.relays(ctx, round + 1, true));
      this.halted = true;
      return;
    }
    this.sendEnvelope(ctx, this.relays(ctx, round + 1, false));
    this.heardBefore = this.heard;
    this.heard = new Set();
  }

  receive(ctx: Ctx, from: NodeId, msg: DsMsg): void {
    if (this.halted) return;
    const round = ctx.round();
    if (!isDsMsgShape(msg, ctx.nodes.length)) {
      ctx.count("ds.malformed");
      return;
    }
    if (msg.round !== round) {
      ctx.count("ds.wrong-round");
      return;
    }
    this.heard.add(from);
    if (msg.decided && this.config.early) this.toldDecided = true;
    for (const chain of msg.chains) this.consider(ctx, from, chain, round);
  }

  private vote(ctx: Ctx): void {
    const own = extendChain(
      { value: this.config.votes[ctx.self] as Order, signers: [], sigs: [] },
      ctx.self,
      (d) => ctx.sign(d),
    );
    this.accepted.set(ctx.self, new Set([own.value]));
    this.sendEnvelope(ctx, { type: "ds", round: 1, chains: [own], decided: false });
  }

  /** Deadline f+1, or (early stopping, from round 2) a clean round or a decided peer. */
  private mayDecide(round: number): boolean {
    if (round >= this.config.f + 1) return true;
    if (!this.config.early || round < 2 || this.keyMisused) return false;
    if (this.toldDecided) return true;
    for (const id of this.heardBefore) if (!this.heard.has(id)) return false;
    return true;
  }

  private decideNow(ctx: Ctx, round: number): void {
    const vector = ctx.nodes.map((id) => {
      const values = this.accepted.get(id);
      return values !== undefined && values.size === 1 ? (values.values().next().value as Order) : null;
    });
    const decision: DsDecision = { kind: "decided", round, vector, order: decide(vector) };
    ctx.output(decision);
  }

  /**
   * Round `round`'s envelope: what was accepted in the round before, signed. A chain that
   * already holds this general's signature (a traitor's own second vote coming back to its
   * core) is kept but not relayed: a chain cannot hold a signer twice.
   */
  private relays(ctx: Ctx, round: number, decided: boolean): DsMsg {
    const chains = this.fresh
      .filter((c) => !c.signers.includes(ctx.self))
      .map((c) => extendChain(c, ctx.self, (d) => ctx.sign(d)));
    this.fresh = [];
    return { type: "ds", round, chains, decided };
  }

  /** To every other general; without early stopping, only when there is something to relay. */
  private sendEnvelope(ctx: Ctx, msg: DsMsg): void {
    if (!this.config.early && msg.chains.length === 0) return;
    for (const to of ctx.nodes) {
      if (to === ctx.self) continue;
      ctx.count("ds.envelopes");
      ctx.count("ds.chains", msg.chains.length);
      ctx.send(to, msg);
    }
    this.lastSent = msg.round;
  }

  private consider(ctx: Ctx, from: NodeId, chain: DsChain, round: number): void {
    const cause = this.invalidity(ctx, from, chain, round);
    if (cause === "known") return;
    if (cause !== null) {
      ctx.count(`ds.${cause}`);
      return;
    }
    if (chain.signers.includes(ctx.self)) this.keyMisused = true;
    const voter = chain.signers[0] as number;
    const values = this.accepted.get(voter) ?? new Set<Order>();
    values.add(chain.value);
    this.accepted.set(voter, values);
    this.fresh.push(chain);
  }

  /**
   * A chain counts in round r only with exactly r distinct signers, all generals, the sender
   * last, every signature valid. One whose vote is already accepted cannot change anything and
   * is not verified.
   */
  private invalidity(ctx: Ctx, from: NodeId, chain: DsChain, round: number): DsDropCause | "known" | null {
    const signers = chain.signers;
    if (signers.length !== round) return "wrong-round";
    if (signers[signers.length - 1] !== from || new Set(signers).size !== signers.length) return "bad-chain";
    if (!signers.every((id) => ctx.nodes.includes(id as NodeId))) return "bad-chain";
    if (this.accepted.get(signers[0] as number)?.has(chain.value)) return "known";
    if (!chainVerifies(chain, (s, d, sig) => ctx.verify(s, d, sig))) return "bad-signature";
    return null;
  }
}

function isDsMsgShape(m: unknown, n: number): m is DsMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    o.type === "ds" &&
    Number.isSafeInteger(o.round) &&
    typeof o.decided === "boolean" &&
    Array.isArray(o.chains) &&
    o.chains.length <= chainsPerEnvelopeMax(n) &&
    o.chains.every((c) => isChainShape(c, n))
  );
}

function isChainShape(c: unknown, n: number): c is DsChain {
  if (typeof c !== "object" || c === null) return false;
  const o = c as Record<string, unknown>;
  return (
    isOrder(o.value) &&
    Array.isArray(o.signers) &&
    Array.isArray(o.sigs) &&
    o.signers.length >= 1 &&
    o.signers.length <= n &&
    o.sigs.length === o.signers.length &&
    o.signers.every((x) => Number.isSafeInteger(x)) &&
    o.sigs.every((s) => s instanceof Uint8Array && s.length === dsLimits.signatureBytes)
  );
}
