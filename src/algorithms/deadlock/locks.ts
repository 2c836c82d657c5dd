/**
 * The lock service of the deadlock experiment: resource managers and the transactions that use
 * them (seed 002, "Who cares?": processes "wait" for actions by other processes, and a process
 * does one thing at a time).
 *
 * A manager grants each of its resources to one transaction at a time and queues the other
 * requests in arrival order. A transaction locks `txnLocks` resources managed by other nodes,
 * one after the other in a random order (two transactions that take the same two resources in
 * opposite orders can deadlock), holds them all for a while, releases them, pauses and starts
 * the next one. It waits as long as it takes: only an abort (from the snapshot detector) ends a
 * wait early; it then cancels its pending request and releases what it holds.
 */
import { assert } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context } from "../../core/process.ts";
import type { TxnView } from "./graph.ts";
import {
  type AbortMsg,
  type CancelMsg,
  type DeadlockMsg,
  deadlockLimits,
  type GrantMsg,
  ownerOf,
  type ReleaseMsg,
  type RequestMsg,
  type ResourceView,
  type TxnRef,
} from "./messages.ts";

export type LockTimer = { kind: "think" } | { kind: "hold"; txn: number };

export type LockCtx = Context<DeadlockMsg, LockTimer>;

/** The workload of every node. */
export interface Workload {
  locksPerNode: number;
  /** Locks one transaction takes, each managed by another node. */
  txnLocks: number;
  /** Mean time a transaction holds all its locks (each hold lasts 0.5 to 1.5 times it). */
  holdMs: Millis;
  /** Mean pause between two transactions of a node, and after an abort. */
  thinkMs: Millis;
  /** Local time after which a node starts no new transaction. */
  workMs: Millis;
}

interface Resource {
  holder: TxnRef | null;
  queue: TxnRef[];
}

const sameTxn = (a: TxnRef | null, node: number, txn: number) =>
  a !== null && a.node === node && a.txn === txn;

/** The manager of the resources one node owns. */
export class LockManager {
  private readonly resources = new Map<number, Resource>();

  constructor(owned: readonly number[]) {
    for (const r of owned) this.resources.set(r, { holder: null, queue: [] });
  }

  /** A copy of what the manager knows: what a snapshot records and a query reads. */
  views(): ResourceView[] {
    return [...this.resources].map(([r, s]) => ({
      r,
      holder: s.holder === null ? null : { ...s.holder },
      queue: s.queue.map((q) => ({ ...q })),
    }));
  }

  onRequest(ctx: LockCtx, from: NodeId, msg: RequestMsg): void {
    const res = this.resources.get(msg.r);
    if (res === undefined) {
      ctx.count("deadlock.request.not-mine");
      return;
    }
    if (res.holder === null) {
      res.holder = { node: from, txn: msg.txn };
      this.grant(ctx, msg.r, res.holder);
      return;
    }
    if (res.queue.length >= deadlockLimits.queueMax) {
      ctx.count("deadlock.queue.full");
      return;
    }
    res.queue.push({ node: from, txn: msg.txn });
  }

  onRelease(ctx: LockCtx, from: NodeId, msg: ReleaseMsg): void {
    const res = this.resources.get(msg.r);
    if (res === undefined || !sameTxn(res.holder, from, msg.txn)) {
      ctx.count("deadlock.release.stale");
      return;
    }
    this.passOn(ctx, msg.r, res);
  }

  /** An aborted transaction gives up its request: queued, or already granted (the grant is then on its way). */
  onCancel(ctx: LockCtx, from: NodeId, msg: CancelMsg): void {
    const res = this.resources.get(msg.r);
    if (res === undefined) {
      ctx.count("deadlock.cancel.stale");
      return;
    }
    if (sameTxn(res.holder, from, msg.txn)) {
      this.passOn(ctx, msg.r, res);
      return;
    }
    const before = res.queue.length;
    res.queue = res.queue.filter((q) => !sameTxn(q, from, msg.txn));
    if (res.queue.length === before) ctx.count("deadlock.cancel.stale");
  }

  private passOn(ctx: LockCtx, r: number, res: Resource): void {
    res.holder = res.queue.shift() ?? null;
    if (res.holder !== null) this.grant(ctx, r, res.holder);
  }

  private grant(ctx: LockCtx, r: number, to: TxnRef): void {
    ctx.count("deadlock.sent.lock");
    ctx.send(to.node as NodeId, { type: "grant", r, txn: to.txn } satisfies GrantMsg);
  }
}

/** The transactions of one node, one at a time. */
export class Transactions {
  private txn = 0;
  /** Resources of the current transaction, in the order it locks them. */
  private plan: number[] = [];
  private held: number[] = [];
  private waiting: number | null = null;

  /** @param remote every resource managed by another node */
  constructor(
    private readonly workload: Workload,
    private readonly remote: readonly number[],
  ) {}

  view(self: NodeId): TxnView {
    return { node: self, txn: this.txn, waiting: this.waiting, holds: this.held };
  }

  /** Pause before the next transaction. */
  think(ctx: LockCtx): void {
    if (ctx.now() >= this.workload.workMs) return;
    ctx.setTimer(this.workload.thinkMs * (0.5 + ctx.random()), { kind: "think" });
  }

  /** Starts the next transaction, unless `workMs` has passed: then this node is done. */
  onThink(ctx: LockCtx): void {
    if (ctx.now() < this.workload.workMs) this.begin(ctx);
  }

  private begin(ctx: LockCtx): void {
    assert(this.remote.length >= this.workload.txnLocks, "a transaction needs txnLocks remote resources");
    assert(this.txn + 1 < deadlockLimits.txnsMax, "workMs and thinkMs bound the transactions of a node");
    this.txn++;
    const pool = [...this.remote];
    this.plan = [];
    while (this.plan.length < this.workload.txnLocks) {
      const i = Math.floor(ctx.random() * pool.length);
      this.plan.push(pool[i] as number);
      pool.splice(i, 1);
    }
    this.held = [];
    this.next(ctx);
  }

  onGrant(ctx: LockCtx, from: NodeId, msg: GrantMsg): void {
    if (msg.txn !== this.txn || msg.r !== this.waiting || from !== this.owner(msg.r)) {
      // The grant for a request this node cancelled: the manager let go of it on the cancel.
      ctx.count("deadlock.grant.stale");
      return;
    }
    this.held.push(msg.r);
    this.waiting = null;
    this.next(ctx);
  }

  onHoldDone(ctx: LockCtx, txn: number): void {
    // Only a waiting transaction can be aborted, so a hold always ends the transaction it began.
    assert(txn === this.txn && this.waiting === null, "a hold timer outlived its transaction");
    this.releaseAll(ctx);
    ctx.count("deadlock.txn.committed");
    this.think(ctx);
  }

  onAbort(ctx: LockCtx, msg: AbortMsg): void {
    if (msg.txn !== this.txn || this.waiting === null) {
      ctx.count("deadlock.abort.stale");
      return;
    }
    this.send(ctx, this.waiting, { type: "cancel", r: this.waiting, txn: this.txn });
    this.waiting = null;
    this.releaseAll(ctx);
    ctx.count("deadlock.txn.aborted");
    this.think(ctx);
  }

  /** Asks for the next resource of the plan, or holds them all for a while. */
  private next(ctx: LockCtx): void {
    const r = this.plan[this.held.length];
    if (r === undefined) {
      ctx.setTimer(this.workload.holdMs * (0.5 + ctx.random()), { kind: "hold", txn: this.txn });
      return;
    }
    this.waiting = r;
    this.send(ctx, r, { type: "request", r, txn: this.txn });
  }

  private releaseAll(ctx: LockCtx): void {
    for (const r of this.held) this.send(ctx, r, { type: "release", r, txn: this.txn });
    this.held = [];
    this.plan = [];
  }

  private owner(r: number): NodeId {
    return ownerOf(r, this.workload.locksPerNode);
  }

  private send(ctx: LockCtx, r: number, msg: RequestMsg | ReleaseMsg | CancelMsg): void {
    ctx.count("deadlock.sent.lock");
    ctx.send(this.owner(r), msg);
  }
}
