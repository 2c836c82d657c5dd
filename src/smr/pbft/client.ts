/**
 * A PBFT client as a pure protocol core (OSDI '99 section 4.1; seed 004, "Termination"). It
 * sends each request to the primary it believes in, with a MAC authenticator (one MAC per
 * replica), and accepts a result once enough replicas sent matching replies: f+1 for an ordered
 * request (at least one is correct, and correct replicas only reply after executing), a quorum
 * for a read-only one. If no result arrives in time it multicasts the request to all replicas,
 * which relay it to the primary and start watching it, and doubles its wait.
 *
 * Read-only optimization (TOCS 2002, 5.1.3): a read goes to every replica unordered and is
 * accepted on a quorum of matching results. That is linearizable only if writes also complete
 * on a quorum of matching replies, so with the optimization on, writes wait for a quorum too.
 * Otherwise, or when the replies do not match, the read is retried as an ordered request.
 */
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import { type PbftConfig, primaryOf } from "./config.ts";
import { equalBytes, isReply, type PbftMsg, type Request, replyBytes, requestDigestOf } from "./messages.ts";

/** `due`: the local time the retransmission timer was set for (see `arm`). */
export type ClientTimer = { kind: "retransmit"; due: number } | { kind: "next" };

export interface ClientOp {
  op: Uint8Array;
  readOnly: boolean;
}

/** What the client produces: each operation's invocation and completion, for checkers. */
export type ClientOutput =
  | { kind: "invoke"; client: number; timestamp: number; op: Uint8Array; readOnly: boolean }
  | {
      kind: "complete";
      client: number;
      timestamp: number;
      result: Uint8Array;
      readOnly: boolean;
      path: "read-only" | "ordered";
    };

export interface ClientOptions {
  /** First retransmission timeout; doubles per attempt up to retransmitMaxMs. */
  retransmitMs: Millis;
  retransmitMaxMs: Millis;
  readOnlyOptimization: boolean;
  /** Local time between finishing one operation and starting the next. */
  thinkMs: Millis;
}

export const defaultClientOptions: ClientOptions = {
  retransmitMs: 150,
  retransmitMaxMs: 2000,
  readOnlyOptimization: false,
  thinkMs: 0,
};

type Ctx = Context<PbftMsg, ClientTimer>;

interface Outstanding {
  timestamp: number;
  op: ClientOp;
  /** Currently tried as read-only (before a fallback). */
  readOnly: boolean;
  /** replica → its (MAC-checked) result */
  replies: Map<NodeId, Uint8Array>;
  /** Retransmissions so far, and the local time of the next one. */
  attempt: number;
  deadline: number;
}

/**
 * A closed-loop client: asks `next()` for its next operation after each completes, until it
 * returns undefined.
 */
export class PbftClient implements Process<PbftMsg, ClientTimer> {
  private readonly options: ClientOptions;
  private view = 0;
  private timestamp = 0;
  private current: Outstanding | undefined;
  /** Due time of the one retransmission timer relied on (others pending are stale). */
  private timerDue: number | undefined;
  completed = 0;

  constructor(
    private readonly config: PbftConfig,
    private readonly next: (ctx: Ctx) => ClientOp | undefined,
    options: Partial<ClientOptions> = {},
  ) {
    this.options = { ...defaultClientOptions, ...options };
  }

  start(ctx: Ctx): void {
    // A restarted client must never reuse a timestamp: take the local clock as a floor.
    this.timestamp = Math.max(this.timestamp, Math.floor(ctx.now() * 1000));
    this.issue(ctx);
  }

  receive(ctx: Ctx, from: NodeId, msg: PbftMsg): void {
    if (!isReply(msg)) {
      ctx.count("client.invalid-message");
      return;
    }
    const cur = this.current;
    if (cur === undefined || msg.timestamp !== cur.timestamp || msg.client !== ctx.self) return;
    if (from !== msg.replica || !this.config.replicas.includes(from)) return;
    if (msg.readOnly !== cur.readOnly) return;
    if (!ctx.checkMac(from, replyBytes(msg), msg.mac)) {
      ctx.count("client.bad-reply-mac");
      return;
    }
    cur.replies.set(from, msg.result);
    if (msg.view > this.view) this.view = msg.view;
    const need = cur.readOnly || this.options.readOnlyOptimization ? this.config.quorum : this.config.weak;
    let matching = 0;
    for (const res of cur.replies.values()) if (equalBytes(res, msg.result)) matching++;
    if (matching >= need) {
      this.finish(ctx, cur, msg.result);
      return;
    }
    if (cur.readOnly) {
      // If no result can reach a quorum any more, fall back to an ordered read now.
      let best = 0;
      for (const a of cur.replies.values()) {
        let c = 0;
        for (const b of cur.replies.values()) if (equalBytes(a, b)) c++;
        if (c > best) best = c;
      }
      if (best + (this.config.n - cur.replies.size) < this.config.quorum) this.fallBack(ctx, cur);
    }
  }

  timeout(ctx: Ctx, tag: ClientTimer): void {
    if (tag.kind === "next") {
      this.issue(ctx);
      return;
    }
    if (tag.due !== this.timerDue) return;
    this.timerDue = undefined;
    const cur = this.current;
    if (cur === undefined) return;
    if (cur.deadline !== tag.due) {
      // Set for an operation that has completed since: wait for the current one's deadline.
      this.setRetransmitTimer(ctx, cur.deadline - tag.due, cur.deadline);
      return;
    }
    if (cur.readOnly) {
      this.fallBack(ctx, cur);
      return;
    }
    ctx.count("client.retransmit");
    const req = this.request(ctx, cur);
    for (const r of this.config.replicas) ctx.send(r, req);
    this.arm(ctx, cur, cur.attempt + 1);
  }

  private issue(ctx: Ctx): void {
    if (this.current !== undefined) return;
    const op = this.next(ctx);
    if (op === undefined) return;
    this.timestamp++;
    const readOnly = op.readOnly && this.options.readOnlyOptimization;
    const cur: Outstanding = {
      timestamp: this.timestamp,
      op,
      readOnly,
      replies: new Map(),
      attempt: 0,
      deadline: 0,
    };
    this.current = cur;
    ctx.output({
      kind: "invoke",
      client: ctx.self,
      timestamp: cur.timestamp,
      op: op.op,
      readOnly: op.readOnly,
    } satisfies ClientOutput);
    const req = this.request(ctx, cur);
    if (readOnly) for (const r of this.config.replicas) ctx.send(r, req);
    else ctx.send(primaryOf(this.config, this.view), req);
    this.arm(ctx, cur, 0);
  }

  private fallBack(ctx: Ctx, cur: Outstanding): void {
    ctx.count("client.read-only-fallback");
    cur.readOnly = false;
    cur.replies.clear();
    ctx.send(primaryOf(this.config, this.view), this.request(ctx, cur));
    this.arm(ctx, cur, 0);
  }

  private request(ctx: Ctx, cur: Outstanding): Request {
    const req: Request = {
      type: "request",
      client: ctx.self,
      timestamp: cur.timestamp,
      op: cur.op.op,
      readOnly: cur.readOnly,
      auth: [],
    };
    const digest = requestDigestOf(req);
    req.auth = this.config.replicas.map((r) => ctx.mac(r, digest));
    return req;
  }

  /**
   * Sets the deadline of `cur`'s next retransmission. One timer serves every operation: a
   * closed-loop client completes most operations long before their deadline, and a timer per
   * operation would be one more simulator event per request. A new timer is set only when none
   * is due by the deadline; one that fires for an earlier operation re-arms for the current one.
   */
  private arm(ctx: Ctx, cur: Outstanding, attempt: number): void {
    const wait = Math.min(this.options.retransmitMs * 2 ** attempt, this.options.retransmitMaxMs);
    cur.attempt = attempt;
    cur.deadline = ctx.now() + wait;
    if (this.timerDue === undefined || this.timerDue > cur.deadline) {
      this.setRetransmitTimer(ctx, wait, cur.deadline);
    }
  }

  private setRetransmitTimer(ctx: Ctx, afterMs: Millis, due: number): void {
    this.timerDue = due;
    ctx.setTimer(afterMs, { kind: "retransmit", due });
  }

  private finish(ctx: Ctx, cur: Outstanding, result: Uint8Array): void {
    this.current = undefined;
    this.completed++;
    ctx.output({
      kind: "complete",
      client: ctx.self,
      timestamp: cur.timestamp,
      result,
      readOnly: cur.op.readOnly,
      path: cur.readOnly ? "read-only" : "ordered",
    } satisfies ClientOutput);
    if (this.options.thinkMs > 0) ctx.setTimer(this.options.thinkMs, { kind: "next" });
    else this.issue(ctx);
  }
}
