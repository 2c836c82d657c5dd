/**
 * One node of the deadlock experiment: a resource manager and a transaction runner
 * (locks.ts), and on the detector node the naive detector of seed 002's "Deadlock detection
 * algorithm": it asks the managers what waits for what, one manager at a time, joins the answers
 * into one graph and reports its cycles. Each answer is true when it is given, but they are
 * given at different moments: under a high rate of locking an edge seen early may be gone
 * before a later one appears, and the graph can show a cycle that never existed ("Phantom
 * deadlocks!"). The snapshot detector (detector.ts) wraps this node and starts the polls.
 *
 * Messages reach `receive` already validated by the snapshot layer (`isDeadlockMsg`).
 */
import { assertNever } from "../../core/assert.ts";
import type { NodeId } from "../../core/ids.ts";
import type { Recordable } from "../snapshot/chandy-lamport.ts";
import { type Cycle, findCycles, managerEdges, type TxnView } from "./graph.ts";
import { type LockCtx, LockManager, type LockTimer, Transactions, type Workload } from "./locks.ts";
import {
  type AbortMsg,
  type DeadlockMsg,
  type EdgesMsg,
  type LocalEdge,
  ownerOf,
  type ResourceView,
} from "./messages.ts";

/** Label of the local trace event of a manager read by the naive detector. */
export const NAIVE_READ = "naive-read";

export type DetectorName = "naive" | "snapshot";

/** A cycle a detector reported. */
export interface Detected {
  cycle: Cycle;
  /** Naive detector: when each edge's manager was read (local time of the manager). */
  readAtMs: number[] | null;
  /** Snapshot detector: the deadlock was already found and its victim aborted (no new abort sent). */
  known: boolean;
}

export type DeadlockOutput =
  | { kind: "detection-start"; detector: DetectorName; id: number }
  | { kind: "detection-end"; detector: DetectorName; id: number; cycles: Detected[] };

export interface NodeOptions extends Workload {
  /** The node that runs both detectors. */
  detector: NodeId;
}

/** The naive detector's poll in progress: the next node to ask and the edges gathered so far. */
interface Poll {
  id: number;
  next: number;
  edges: LocalEdge[];
  readAtMs: Map<LocalEdge, number>;
}

export class LockNode implements Recordable<DeadlockMsg, LockTimer, ResourceView[]> {
  private readonly manager: LockManager;
  private readonly txns: Transactions;
  private polls = 0;
  private poll: Poll | null = null;

  constructor(
    private readonly self: NodeId,
    private readonly nodes: readonly NodeId[],
    private readonly options: NodeOptions,
  ) {
    const all = nodes.flatMap((n) =>
      Array.from({ length: options.locksPerNode }, (_, k) => n * options.locksPerNode + k),
    );
    const mine = (r: number) => ownerOf(r, options.locksPerNode) === self;
    this.manager = new LockManager(all.filter(mine));
    this.txns = new Transactions(
      options,
      all.filter((r) => !mine(r)),
    );
  }

  /** The state a snapshot records: the manager's views (a copy). */
  recordState(): ResourceView[] {
    return this.manager.views();
  }

  /** What the simulator's ground truth reads: this node's transaction and its manager's views. */
  observe(): { txn: TxnView; views: ResourceView[] } {
    return { txn: this.txns.view(this.self), views: this.manager.views() };
  }

  start(ctx: LockCtx): void {
    this.txns.think(ctx);
  }

  receive(ctx: LockCtx, from: NodeId, msg: DeadlockMsg): void {
    switch (msg.type) {
      case "request":
        this.manager.onRequest(ctx, from, msg);
        return;
      case "release":
        this.manager.onRelease(ctx, from, msg);
        return;
      case "cancel":
        this.manager.onCancel(ctx, from, msg);
        return;
      case "grant":
        this.txns.onGrant(ctx, from, msg);
        return;
      case "abort":
        this.onAbort(ctx, from, msg);
        return;
      case "query":
        this.onQuery(ctx, from, msg.detection);
        return;
      case "edges":
        this.onEdges(ctx, from, msg);
        return;
      default:
        assertNever(msg, "deadlock message");
    }
  }

  timeout(ctx: LockCtx, tag: LockTimer): void {
    switch (tag.kind) {
      case "think":
        this.txns.onThink(ctx);
        return;
      case "hold":
        this.txns.onHoldDone(ctx, tag.txn);
        return;
      default:
        assertNever(tag, "deadlock timer");
    }
  }

  private onAbort(ctx: LockCtx, from: NodeId, msg: AbortMsg): void {
    if (from !== this.options.detector) {
      ctx.count("deadlock.abort.not-from-detector");
      return;
    }
    this.txns.onAbort(ctx, msg);
  }

  private onQuery(ctx: LockCtx, from: NodeId, detection: number): void {
    if (from !== this.options.detector) {
      ctx.count("deadlock.query.not-from-detector");
      return;
    }
    ctx.trace(NAIVE_READ, { detection });
    ctx.count("deadlock.sent.naive");
    ctx.send(from, { type: "edges", detection, atMs: ctx.now(), edges: managerEdges(this.manager.views()) });
  }

  /** Starts a naive detection (the detector node calls it every period), unless one is still running. */
  startPoll(ctx: LockCtx): void {
    if (this.poll !== null) {
      ctx.count("deadlock.naive.busy");
      return;
    }
    this.polls++;
    this.poll = { id: this.polls, next: 0, edges: [], readAtMs: new Map() };
    ctx.output({ kind: "detection-start", detector: "naive", id: this.polls } satisfies DeadlockOutput);
    this.pollNext(ctx, this.poll);
  }

  private onEdges(ctx: LockCtx, from: NodeId, msg: EdgesMsg): void {
    const poll = this.poll;
    if (poll === null || msg.detection !== poll.id || from !== this.nodes[poll.next]) {
      ctx.count("deadlock.edges.unexpected");
      return;
    }
    this.gather(poll, msg.edges, msg.atMs);
    this.pollNext(ctx, poll);
  }

  private gather(poll: Poll, edges: readonly LocalEdge[], atMs: number): void {
    for (const e of edges) {
      poll.edges.push(e);
      poll.readAtMs.set(e, atMs);
    }
    poll.next++;
  }

  /** Asks the next manager (reading this node's own at once), or reports once all have answered. */
  private pollNext(ctx: LockCtx, poll: Poll): void {
    for (;;) {
      const node = this.nodes[poll.next];
      if (node === undefined) break;
      if (node !== this.self) {
        ctx.count("deadlock.sent.naive");
        ctx.send(node, { type: "query", detection: poll.id });
        return;
      }
      ctx.trace(NAIVE_READ, { detection: poll.id });
      this.gather(poll, managerEdges(this.manager.views()), ctx.now());
    }
    this.poll = null;
    const cycles = findCycles(poll.edges).map((cycle) => ({
      cycle,
      readAtMs: cycle.map((e) => poll.readAtMs.get(e) as number),
      known: false,
    }));
    ctx.output({ kind: "detection-end", detector: "naive", id: poll.id, cycles } satisfies DeadlockOutput);
  }
}
