/**
 * The consensus protocol the FLP adversary attacks (src/algorithms/flp.ts): Ben-Or's two-phase
 * voting protocol for crash faults (PODC 1983) with its coin flip replaced by a fixed default
 * bit, which makes it deterministic, the kind of protocol Fischer, Lynch and Paterson's theorem
 * is about (JACM 32(2), 1985; seed 002, "Core of the FLP result").
 *
 * n processes, of which f = 1 may crash, so a process never waits for more than n - 1 votes.
 * Round r of a process with current bit x:
 * 1. report: broadcast REPORT(r, x); wait for n - f reports of round r (its own included). If
 *    more than n/2 of all n processes reported one bit v, propose v, otherwise propose "?".
 * 2. propose: broadcast PROPOSE(r, v or ?); wait for n - f proposals of round r. With f + 1
 *    proposals of v, decide v; with at least one, adopt x = v; with none, adopt the default.
 *
 * Safety: two different bits cannot both be reported by a majority, so a round has at most one
 * proposed bit; a process that decides v saw f + 1 proposals of v, so every process, hearing
 * from all but f, sees at least one and adopts v, and the next round is unanimous. A decision
 * is a write-once register: the process keeps voting after it, as FLP's processes keep
 * stepping. Votes for a later phase are kept until the process gets there; stale ones are
 * ignored.
 *
 * This module is the pure transition function of one process; model.ts runs configurations
 * of them for the adversary, and `FlpProcess` runs the same function on the simulator.
 */
import { assert } from "../../core/assert.ts";
import type { NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";

export type Bit = 0 | 1;
export type Phase = 1 | 2;

/** REPORT carries the sender's bit; PROPOSE carries a bit or null for "?". */
export interface FlpMsg {
  type: "report" | "propose";
  round: number;
  value: Bit | null;
}

/** One vote a process has counted (its own included) for its current or a later phase. */
export interface Vote {
  round: number;
  phase: Phase;
  from: number;
  value: Bit | null;
}

export interface ProcState {
  /** False until the process's first step (which broadcasts its first report). */
  started: boolean;
  round: number;
  phase: Phase;
  /** The current bit: the input until the first round ends. */
  x: Bit;
  /** The write-once output register, and the round that wrote it. */
  decided: Bit | null;
  decidedRound: number | null;
  votes: readonly Vote[];
}

export interface FlpParams {
  n: number;
  /** Crashes tolerated: FLP's single faulty process. */
  f: number;
  /** The bit adopted when a round proposes nothing (Ben-Or flips a coin here). */
  defaultBit: Bit;
}

/** What one step of a process did: its new state and what it broadcast, in order. */
export interface Transition {
  state: ProcState;
  broadcast: FlpMsg[];
}

/** Rounds a message from a peer may claim: beyond this it is malformed (runs end far earlier). */
export const flpRoundMax = 1_000_000;

export function flpParams(n: number, defaultBit: Bit = 0): FlpParams {
  return { n, f: 1, defaultBit };
}

export function initialProc(input: Bit): ProcState {
  return { started: false, round: 1, phase: 1, x: input, decided: null, decidedRound: null, votes: [] };
}

/** Position of a phase in the run's order of phases. */
export function phaseIndex(round: number, phase: Phase): number {
  return 2 * round + phase - 1;
}

export function phaseOf(msg: FlpMsg): Phase {
  return msg.type === "report" ? 1 : 2;
}

/** A message the receiver will never count: its phase is over there. */
export function isStale(s: ProcState, msg: FlpMsg): boolean {
  return phaseIndex(msg.round, phaseOf(msg)) < phaseIndex(s.round, s.phase);
}

/** The first step: broadcast the round-1 report (and count what arrived before, if anything). */
export function startProc(params: FlpParams, self: number, s: ProcState): Transition {
  if (s.started) return { state: s, broadcast: [] };
  const report: FlpMsg = { type: "report", round: 1, value: s.x };
  const own: Vote = { round: 1, phase: 1, from: self, value: s.x };
  const started: ProcState = { ...s, started: true, votes: [...s.votes, own] };
  const next = advance(params, self, started);
  return { state: next.state, broadcast: [report, ...next.broadcast] };
}

/** A message from `from`; a process that has not started starts first (its first step). */
export function receiveProc(
  params: FlpParams,
  self: number,
  s: ProcState,
  from: number,
  msg: FlpMsg,
): Transition {
  const first = startProc(params, self, s);
  const state = first.state;
  if (isStale(state, msg) || hasVote(state, msg.round, phaseOf(msg), from)) return first;
  const vote: Vote = { round: msg.round, phase: phaseOf(msg), from, value: msg.value };
  const next = advance(params, self, { ...state, votes: [...state.votes, vote] });
  return { state: next.state, broadcast: [...first.broadcast, ...next.broadcast] };
}

function hasVote(s: ProcState, round: number, phase: Phase, from: number): boolean {
  return s.votes.some((v) => v.round === round && v.phase === phase && v.from === from);
}

/** Finish every phase whose n - f votes are in (votes for later phases may already be there). */
function advance(params: FlpParams, self: number, state: ProcState): Transition {
  let s = state;
  const broadcast: FlpMsg[] = [];
  for (;;) {
    const votes = s.votes.filter((v) => v.round === s.round && v.phase === s.phase);
    if (votes.length < params.n - params.f) return { state: s, broadcast };
    const t = s.phase === 1 ? endReport(params, self, s, votes) : endPropose(params, self, s, votes);
    s = t.state;
    broadcast.push(...t.broadcast);
  }
}

function countOf(votes: readonly Vote[], value: Bit): number {
  let k = 0;
  for (const v of votes) if (v.value === value) k++;
  return k;
}

function endReport(params: FlpParams, self: number, s: ProcState, votes: readonly Vote[]): Transition {
  const majority = (v: Bit) => 2 * countOf(votes, v) > params.n;
  const value: Bit | null = majority(1) ? 1 : majority(0) ? 0 : null;
  const own: Vote = { round: s.round, phase: 2, from: self, value };
  return {
    state: { ...s, phase: 2, votes: [...s.votes, own] },
    broadcast: [{ type: "propose", round: s.round, value }],
  };
}

function endPropose(params: FlpParams, self: number, s: ProcState, votes: readonly Vote[]): Transition {
  const zeros = countOf(votes, 0);
  const ones = countOf(votes, 1);
  assert(zeros === 0 || ones === 0, `round ${s.round}: both bits proposed (a majority is unique)`);
  const proposed: Bit | null = ones > 0 ? 1 : zeros > 0 ? 0 : null;
  const decide = proposed !== null && Math.max(zeros, ones) >= params.f + 1;
  const x = proposed ?? params.defaultBit;
  const round = s.round + 1;
  const own: Vote = { round, phase: 1, from: self, value: x };
  const later = s.votes.filter((v) => v.round >= round);
  const first = s.decided === null && decide;
  return {
    state: {
      ...s,
      round,
      phase: 1,
      x,
      decided: first ? proposed : s.decided,
      decidedRound: first ? s.round : s.decidedRound,
      votes: [...later, own],
    },
    broadcast: [{ type: "report", round, value: x }],
  };
}

/** A message from the network is well-formed (anything else is counted and dropped). */
export function isFlpMsg(m: unknown): m is FlpMsg {
  if (typeof m !== "object" || m === null) return false;
  const x = m as Partial<FlpMsg>;
  const round = x.round;
  if (typeof round !== "number" || !Number.isInteger(round) || round < 1 || round > flpRoundMax) return false;
  if (x.type === "report") return x.value === 0 || x.value === 1;
  return x.type === "propose" && (x.value === 0 || x.value === 1 || x.value === null);
}

/** What a process outputs when it decides. */
export interface FlpDecision {
  kind: "decided";
  value: Bit;
  round: number;
}

/** The same transition function as a simulator process (no adversary: the network's own order). */
export class FlpProcess implements Process<FlpMsg> {
  private state: ProcState;

  constructor(
    private readonly params: FlpParams,
    input: Bit,
  ) {
    this.state = initialProc(input);
  }

  get decided(): Bit | null {
    return this.state.decided;
  }

  start(ctx: Context<FlpMsg>): void {
    this.apply(ctx, startProc(this.params, ctx.self, this.state));
  }

  receive(ctx: Context<FlpMsg>, from: NodeId, msg: FlpMsg): void {
    if (!isFlpMsg(msg) || from === ctx.self || !ctx.nodes.includes(from)) {
      ctx.count("flp.malformed");
      return;
    }
    this.apply(ctx, receiveProc(this.params, ctx.self, this.state, from, msg));
  }

  timeout(): void {
    // The protocol is timer-free: in the asynchronous model nothing can be learned by waiting.
  }

  private apply(ctx: Context<FlpMsg>, t: Transition): void {
    const before = this.state.decided;
    this.state = t.state;
    for (const msg of t.broadcast) for (const to of ctx.nodes) if (to !== ctx.self) ctx.send(to, msg);
    if (before === null && t.state.decided !== null) {
      const d: FlpDecision = { kind: "decided", value: t.state.decided, round: t.state.decidedRound ?? 0 };
      ctx.output(d);
    }
  }
}
