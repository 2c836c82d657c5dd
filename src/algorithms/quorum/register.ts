/**
 * A multi-writer register replicated on n servers through masking quorums (Malkhi & Reiter,
 * "Byzantine quorum systems", 1998: the replicated variable protocol), tolerating f
 * servers that lie, answer with stale values, or stay silent.
 *
 * Each server keeps one (timestamp, value); a timestamp is (counter, writer id), ordered by
 * counter, then writer, so two writers never tie. A client accesses a quorum: it picks one
 * uniformly, asks its servers, and if they have not all answered after `timeoutMs` asks every
 * other server too; an access is complete once the servers that answered include a quorum.
 *
 * - write(v): ask a quorum for timestamps; take the (f+1)-th largest counter c, which is at
 *   least the counter of every completed write (each such write reached >= f+1 correct servers of
 *   any quorum) and at most a correct server's counter (so a liar's huge counter is ignored);
 *   then store (c+1, self, v) at a quorum.
 * - read(): ask a quorum for (timestamp, value). `decideRead`: the candidates are the pairs at
 *   least f+1 servers vouch for (so at least one correct server holds them: a value only the f
 *   liars claim is masked); return the one with the highest timestamp, unless f+1 or more replies
 *   claim a higher timestamp. In that case a write newer than the candidate may have completed
 *   (it would have reached f+1 correct servers of this quorum), so the client backs off and reads
 *   again. With no write in progress only the f liars can claim more, so a read always ends.
 *
 * This gives regular semantics, stated for several writers: a read returns the value of a write
 * that began before the read ended, and no write that completed before the read began had begun
 * after that write completed (a newer finished write always wins). Reads concurrent with writes
 * may see new then old values, so the register is not linearizable. In the paper a read with no
 * pair vouched for by f+1 returns no value (safe semantics); retrying instead, and the refusal
 * rule above, are this implementation's additions that make reads regular.
 */
import { assertNever } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import type { QuorumSystem } from "./systems.ts";

export const registerLimits = {
  /** Largest timestamp counter accepted from a server: far above any real one, safe in a double. */
  counterMax: 2 ** 52,
  /** Longest value, in characters. */
  valueLengthMax: 1024,
  /** Reads one client tries before it reports the read as failed. */
  readAttemptsMax: 50,
} as const;

/** Timestamp: counter, then writer id. The initial value has (0, 0); real writes counter >= 1. */
export interface Stamp {
  counter: number;
  writer: number;
}

export const initialStamp: Stamp = Object.freeze({ counter: 0, writer: 0 });

export function stampAfter(a: Stamp, b: Stamp): boolean {
  return a.counter > b.counter || (a.counter === b.counter && a.writer > b.writer);
}

export type RegisterMsg =
  | { type: "ts-query"; req: number }
  | { type: "ts-reply"; req: number; counter: number }
  | { type: "write"; req: number; counter: number; value: string }
  | { type: "write-ack"; req: number }
  | { type: "read"; req: number }
  | { type: "read-reply"; req: number; counter: number; writer: number; value: string | null };

export type ClientMsg = Extract<RegisterMsg, { type: "ts-query" | "write" | "read" }>;
export type ServerReply = Extract<RegisterMsg, { type: "ts-reply" | "write-ack" | "read-reply" }>;

export type RegisterTimer = { kind: "next-op" } | { kind: "expand"; req: number } | { kind: "retry" };

/** What clients make observable: the history the regularity checker judges. */
export type RegisterOutput =
  | { kind: "invoke"; client: number; op: number; action: "write"; value: string }
  | { kind: "invoke"; client: number; op: number; action: "read" }
  | { kind: "return"; client: number; op: number; action: "write"; value: string; counter: number }
  | {
      kind: "return";
      client: number;
      op: number;
      action: "read";
      value: string | null;
      counter: number;
      writer: number;
      attempts: number;
    }
  | { kind: "failed"; client: number; op: number; attempts: number };

/** One server's answer to a read. */
export interface ReadReply {
  counter: number;
  writer: number;
  value: string | null;
}

export type ReadDecision =
  | { kind: "value"; value: string | null; stamp: Stamp; vouchers: number; higher: number }
  | { kind: "undecided"; why: string };

/** The read rule (see the module comment). `replies` come from servers that include a quorum. */
export function decideRead(replies: readonly ReadReply[], f: number): ReadDecision {
  const groups = new Map<string, { reply: ReadReply; vouchers: number }>();
  for (const r of replies) {
    const key = JSON.stringify([r.counter, r.writer, r.value]);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { reply: r, vouchers: 1 });
    else g.vouchers++;
  }
  let best: { reply: ReadReply; vouchers: number } | null = null;
  for (const g of groups.values()) {
    if (g.vouchers < f + 1) continue;
    if (best === null || stampAfter(g.reply, best.reply) || sameStampGreaterValue(g.reply, best.reply))
      best = g;
  }
  if (best === null) return { kind: "undecided", why: `no value has ${f + 1} vouchers` };
  const stamp = { counter: best.reply.counter, writer: best.reply.writer };
  const higher = replies.filter((r) => stampAfter(r, stamp)).length;
  if (higher >= f + 1) return { kind: "undecided", why: `${higher} replies claim a newer timestamp` };
  return { kind: "value", value: best.reply.value, stamp, vouchers: best.vouchers, higher };
}

/** Deterministic tie-break between two pairs with one timestamp (only a liar can make that happen). */
function sameStampGreaterValue(a: ReadReply, b: ReadReply): boolean {
  return a.counter === b.counter && a.writer === b.writer && String(a.value) > String(b.value);
}

/** The counter a new write uses: one more than the (f+1)-th largest counter a quorum reported. */
export function nextCounter(counters: readonly number[], f: number): number {
  const sorted = [...counters].sort((a, b) => b - a);
  return (sorted[Math.min(f, sorted.length - 1)] ?? 0) + 1;
}

type Ctx = Context<RegisterMsg, RegisterTimer>;

/** A correct server: keeps the latest (timestamp, value) it was sent, answers every client. */
export class RegisterServer implements Process<RegisterMsg, RegisterTimer> {
  private stamp: Stamp = initialStamp;
  private value: string | null = null;

  constructor(private readonly isClient: (id: NodeId) => boolean) {}

  start(): void {}

  receive(ctx: Ctx, from: NodeId, msg: RegisterMsg): void {
    if (!this.isClient(from) || !isClientMsg(msg)) {
      ctx.count("quorum.invalid");
      return;
    }
    ctx.count("quorum.access");
    switch (msg.type) {
      case "ts-query":
        ctx.send(from, { type: "ts-reply", req: msg.req, counter: this.stamp.counter });
        return;
      case "write": {
        const stamp = { counter: msg.counter, writer: from };
        if (stampAfter(stamp, this.stamp)) {
          this.stamp = stamp;
          this.value = msg.value;
        }
        ctx.send(from, { type: "write-ack", req: msg.req });
        return;
      }
      case "read":
        ctx.send(from, { type: "read-reply", req: msg.req, ...this.stamp, value: this.value });
        return;
      default:
        assertNever(msg, "client message");
    }
  }

  timeout(): void {}
}

export interface ClientOptions {
  /** Servers are nodes 0..n-1 (n = system.n). */
  system: QuorumSystem;
  /** Liars to mask. */
  f: number;
  /** Operations this client performs. */
  ops: number;
  /** Pause before each operation: uniform in [0, thinkMsMax). */
  thinkMsMax: Millis;
  /** Wait this long for the chosen quorum before asking every server. */
  timeoutMs: Millis;
  /** Pause before reading again after an undecided read: uniform in [0, retryMsMax). */
  retryMsMax: Millis;
  /** Probability that an operation is a write. */
  writeShare: number;
}

interface Phase {
  kind: "ts-query" | "write" | "read";
  req: number;
  asked: Set<number>;
  /** Server → its answer (a counter, an ack, or a read reply). */
  replies: Map<number, ServerReply>;
}

/** A client performing `ops` random reads and writes one after another. */
export class RegisterClient implements Process<RegisterMsg, RegisterTimer> {
  private op = 0;
  private req = 0;
  private phase: Phase | null = null;
  private writing: { value: string; counter: number } | null = null;
  private readAttempts = 0;

  constructor(private readonly options: ClientOptions) {}

  start(ctx: Ctx): void {
    this.scheduleNext(ctx);
  }

  receive(ctx: Ctx, from: NodeId, msg: RegisterMsg): void {
    const phase = this.phase;
    if (!isServerReply(msg) || from >= this.options.system.n) {
      ctx.count("quorum.client.invalid");
      return;
    }
    if (phase === null || msg.req !== phase.req || !phase.asked.has(from) || phase.replies.has(from)) {
      ctx.count("quorum.client.stale");
      return;
    }
    if (msg.type !== replyTypeOf(phase.kind)) {
      ctx.count("quorum.client.invalid");
      return;
    }
    phase.replies.set(from, msg);
    if (this.options.system.includesQuorum((s) => phase.replies.has(s))) this.finishPhase(ctx, phase);
  }

  timeout(ctx: Ctx, tag: RegisterTimer): void {
    switch (tag.kind) {
      case "next-op":
        this.beginOp(ctx);
        return;
      case "expand":
        if (this.phase?.req === tag.req) this.expand(ctx, this.phase);
        return;
      case "retry":
        this.startPhase(ctx, "read");
        return;
      default:
        assertNever(tag, "register timer");
    }
  }

  private scheduleNext(ctx: Ctx): void {
    if (this.op < this.options.ops) ctx.setTimer(ctx.random() * this.options.thinkMsMax, { kind: "next-op" });
  }

  private beginOp(ctx: Ctx): void {
    this.op++;
    const base = { kind: "invoke", client: ctx.self, op: this.op } as const;
    if (ctx.random() < this.options.writeShare) {
      const value = `c${ctx.self}.${this.op}`;
      this.writing = { value, counter: 0 };
      ctx.output({ ...base, action: "write", value } satisfies RegisterOutput);
      this.startPhase(ctx, "ts-query");
    } else {
      this.readAttempts = 0;
      ctx.output({ ...base, action: "read" } satisfies RegisterOutput);
      this.startPhase(ctx, "read");
    }
  }

  private startPhase(ctx: Ctx, kind: Phase["kind"]): void {
    if (kind === "read") this.readAttempts++;
    const phase: Phase = { kind, req: ++this.req, asked: new Set(), replies: new Map() };
    this.phase = phase;
    ctx.count("quorum.phase");
    this.ask(
      ctx,
      phase,
      this.options.system.pick(() => ctx.random()),
    );
    ctx.setTimer(this.options.timeoutMs, { kind: "expand", req: phase.req });
  }

  /** The chosen quorum is slow or silent: ask every other server as well. */
  private expand(ctx: Ctx, phase: Phase): void {
    ctx.count("quorum.expand");
    const rest: number[] = [];
    for (let s = 0; s < this.options.system.n; s++) if (!phase.asked.has(s)) rest.push(s);
    this.ask(ctx, phase, rest);
  }

  private ask(ctx: Ctx, phase: Phase, servers: readonly number[]): void {
    for (const s of servers) {
      phase.asked.add(s);
      ctx.send(s as NodeId, this.request(phase));
    }
  }

  private request(phase: Phase): ClientMsg {
    switch (phase.kind) {
      case "ts-query":
        return { type: "ts-query", req: phase.req };
      case "write": {
        const w = this.writing as { value: string; counter: number };
        return { type: "write", req: phase.req, counter: w.counter, value: w.value };
      }
      case "read":
        return { type: "read", req: phase.req };
      default:
        return assertNever(phase.kind, "phase");
    }
  }

  private finishPhase(ctx: Ctx, phase: Phase): void {
    this.phase = null;
    const replies = [...phase.replies.values()];
    switch (phase.kind) {
      case "ts-query": {
        const counters = replies.map((r) => (r.type === "ts-reply" ? r.counter : 0));
        (this.writing as { counter: number }).counter = nextCounter(counters, this.options.f);
        this.startPhase(ctx, "write");
        return;
      }
      case "write": {
        const w = this.writing as { value: string; counter: number };
        this.writing = null;
        ctx.output({
          kind: "return",
          client: ctx.self,
          op: this.op,
          action: "write",
          value: w.value,
          counter: w.counter,
        } satisfies RegisterOutput);
        this.scheduleNext(ctx);
        return;
      }
      case "read":
        this.finishRead(
          ctx,
          replies.filter((r) => r.type === "read-reply"),
        );
        return;
      default:
        assertNever(phase.kind, "phase");
    }
  }

  private finishRead(ctx: Ctx, replies: ReadReply[]): void {
    const d = decideRead(replies, this.options.f);
    if (d.kind === "value") {
      if (d.higher > 0) ctx.count("quorum.read.outvoted", d.higher);
      ctx.output({
        kind: "return",
        client: ctx.self,
        op: this.op,
        action: "read",
        value: d.value,
        ...d.stamp,
        attempts: this.readAttempts,
      } satisfies RegisterOutput);
      this.scheduleNext(ctx);
      return;
    }
    ctx.count("quorum.read.undecided");
    if (this.readAttempts >= registerLimits.readAttemptsMax) {
      ctx.output({
        kind: "failed",
        client: ctx.self,
        op: this.op,
        attempts: this.readAttempts,
      } satisfies RegisterOutput);
      this.scheduleNext(ctx);
      return;
    }
    ctx.setTimer(ctx.random() * this.options.retryMsMax, { kind: "retry" });
  }
}

function replyTypeOf(kind: Phase["kind"]): ServerReply["type"] {
  return kind === "ts-query" ? "ts-reply" : kind === "write" ? "write-ack" : "read-reply";
}

const isReq = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 1;
const isCounter = (x: unknown) =>
  Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= registerLimits.counterMax;
const isValue = (x: unknown) => typeof x === "string" && x.length <= registerLimits.valueLengthMax;

/** Validates what a server receives. */
export function isClientMsg(m: unknown): m is ClientMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  if (!isReq(o.req)) return false;
  if (o.type === "ts-query" || o.type === "read") return true;
  return o.type === "write" && isCounter(o.counter) && (o.counter as number) >= 1 && isValue(o.value);
}

/** Validates what a client receives (from servers that may lie). */
export function isServerReply(m: unknown): m is ServerReply {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  if (!isReq(o.req)) return false;
  switch (o.type) {
    case "ts-reply":
      return isCounter(o.counter);
    case "write-ack":
      return true;
    case "read-reply":
      return isCounter(o.counter) && Number.isSafeInteger(o.writer) && (o.value === null || isValue(o.value));
    default:
      return false;
  }
}
