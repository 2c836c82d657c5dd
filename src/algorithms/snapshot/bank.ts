/**
 * The application Chandy and Lamport use to explain their snapshot ("Distributed Snapshots",
 * TOCS 1985, section 2; seed 002, "Consistent cuts and snapshots"): a bank whose branches hold
 * money and send each other transfers. Money is never created or destroyed, so at every instant
 * the balances plus the money in transit add up to the initial total. A snapshot that loses or
 * doubles a transfer in flight, or that cuts the run inconsistently, shows the wrong total.
 *
 * Each node starts with `balance`, and on a jittered timer sends `transfers` random amounts to
 * random peers (skipping a turn while it has nothing), then goes quiet so the run ends.
 */
import { assertNever } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";

export const bankLimits = {
  /** Largest initial balance of one node; n times it stays a safe integer for every n the simulator allows. */
  balanceMax: 1_000_000_000,
  /** Largest amount one transfer may carry (a transfer never carries more than the whole balance). */
  amountMax: 4096 * 1_000_000_000,
  /** Transfers one node sends in a run. */
  transfersMax: 10_000,
} as const;

export interface TransferMsg {
  type: "transfer";
  /** Per-sender sequence number from 1, so a recorded transfer can be matched to the trace. */
  seq: number;
  amount: number;
}

export type BankMsg = TransferMsg;

export type BankTimer = { kind: "transfer" };

/** What a snapshot records of one branch. */
export interface BankState {
  balance: number;
}

export interface BankOptions {
  /** Initial balance of every node. */
  balance: number;
  /** Transfer turns each node takes. */
  transfers: number;
  /** Mean local time between two turns (each gap is drawn in [0.5, 1.5) times it). */
  transferEveryMs: Millis;
}

export const defaultBankOptions: BankOptions = { balance: 1000, transfers: 20, transferEveryMs: 10 };

type Ctx = Context<BankMsg, BankTimer>;

export class BankNode implements Process<BankMsg, BankTimer> {
  private balance: number;
  private turns = 0;
  private seq = 0;
  private readonly options: BankOptions;

  constructor(options: Partial<BankOptions> = {}) {
    this.options = { ...defaultBankOptions, ...options };
    this.balance = this.options.balance;
  }

  /** The local state a snapshot records: a copy, so later transfers do not change it. */
  recordState(): BankState {
    return { balance: this.balance };
  }

  start(ctx: Ctx): void {
    if (this.options.transfers > 0) this.arm(ctx);
  }

  receive(ctx: Ctx, _from: NodeId, msg: BankMsg): void {
    if (!isBankMsg(msg)) {
      ctx.count("bank.invalid");
      return;
    }
    switch (msg.type) {
      case "transfer":
        this.balance += msg.amount;
        return;
      default:
        assertNever(msg.type, "bank message");
    }
  }

  timeout(ctx: Ctx, tag: BankTimer): void {
    switch (tag.kind) {
      case "transfer":
        this.turns++;
        this.transfer(ctx);
        if (this.turns < this.options.transfers) this.arm(ctx);
        return;
      default:
        assertNever(tag.kind, "bank timer");
    }
  }

  private arm(ctx: Ctx): void {
    ctx.setTimer(this.options.transferEveryMs * (0.5 + ctx.random()), { kind: "transfer" });
  }

  private transfer(ctx: Ctx): void {
    const peers = ctx.nodes.filter((n) => n !== ctx.self);
    if (peers.length === 0 || this.balance === 0) {
      ctx.count("bank.turn.skipped");
      return;
    }
    const to = peers[Math.floor(ctx.random() * peers.length)] as NodeId;
    const amount = 1 + Math.floor(ctx.random() * Math.min(this.balance, bankLimits.amountMax));
    this.balance -= amount;
    this.seq++;
    ctx.count("bank.transfer.sent");
    ctx.send(to, { type: "transfer", seq: this.seq, amount });
  }
}

export function isBankMsg(m: unknown): m is BankMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    o.type === "transfer" &&
    Number.isSafeInteger(o.seq) &&
    (o.seq as number) >= 1 &&
    Number.isSafeInteger(o.amount) &&
    (o.amount as number) >= 1 &&
    (o.amount as number) <= bankLimits.amountMax
  );
}

export function isBankState(s: unknown): s is BankState {
  if (typeof s !== "object" || s === null) return false;
  const b = (s as Record<string, unknown>).balance;
  return Number.isSafeInteger(b) && (b as number) >= 0;
}

/** Money a set of recorded balances and recorded channel contents holds. */
export function bankTotal(
  states: ReadonlyArray<{ state: BankState }>,
  channels: ReadonlyArray<{ messages: readonly BankMsg[] }>,
): { balances: number; inChannels: number; total: number } {
  let balances = 0;
  for (const s of states) balances += s.state.balance;
  let inChannels = 0;
  for (const c of channels) for (const m of c.messages) inChannels += m.amount;
  return { balances, inChannels, total: balances + inChannels };
}
