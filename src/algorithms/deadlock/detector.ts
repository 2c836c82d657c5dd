/**
 * The snapshot detector: deadlock detection on a consistent cut (seed 002, "Consistent cuts and
 * snapshots": the phantom came from checking for deadlock "on a gray cut"). Every node runs
 * the Chandy–Lamport layer (snapshot/chandy-lamport.ts) around its LockNode; the detector
 * node starts a snapshot every period. The recorded global state is one the system could have
 * been in, and the lock messages recorded in channels are folded into it (graph.ts,
 * `snapshotEdges`), so every cycle of its wait-for graph existed in that state. A deadlock is a
 * stable property, so the cycle still exists when the snapshot is complete, and one that
 * existed when the snapshot began is in it.
 *
 * The detector breaks each deadlock it finds by aborting one transaction of the cycle (the
 * one on the highest node). A later snapshot may still record the cycle while the abort is on
 * its way: it is reported again as known, and not aborted twice.
 *
 * The same period starts the naive detector's poll (node.ts), so both watch the same moments.
 * Detections go on after the work until a snapshot begun after it shows the service quiet (no
 * resource held or asked for, no lock message on its way): being quiet is stable once no
 * transaction may start, so no deadlock can form after the last detection.
 */
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context } from "../../core/process.ts";
import {
  type GlobalSnapshot,
  INITIATE,
  type SnapshotMsg,
  SnapshotNode,
  type SnapshotTimer,
  snapshotLimits,
} from "../snapshot/chandy-lamport.ts";
import { type Cycle, findCycles, snapshotEdges, type TxnView } from "./graph.ts";
import type { LockTimer } from "./locks.ts";
import {
  type AbortMsg,
  type DeadlockMsg,
  isDeadlockMsg,
  isResourceViews,
  type ResourceView,
  type Shape,
} from "./messages.ts";
import type { DeadlockOutput, Detected, LockNode } from "./node.ts";

export interface DetectorOptions {
  shape: Shape;
  /** Does this node run the detectors? */
  detector: boolean;
  /** Time between two detections. */
  periodMs: Millis;
  /** Local time after which no transaction starts (Workload.workMs). */
  workMs: Millis;
  /**
   * Fold the lock messages recorded in channels into the graph (true: correct). False shows why
   * they matter: a consistent cut without its channel states misses requests on their way
   * (and with them deadlocks) and keeps holders whose release is on its way (phantoms).
   */
  foldChannels: boolean;
}

type Ctx = Context<SnapshotMsg<DeadlockMsg, ResourceView[]>, SnapshotTimer<LockTimer>>;
type Snapshot = GlobalSnapshot<DeadlockMsg, ResourceView[]>;

/** No resource held or asked for, and no lock message on its way, in a recorded global state. */
function isQuiet(snapshot: Snapshot): boolean {
  const idle = snapshot.states.every(({ state }) =>
    state.every((v) => v.holder === null && v.queue.length === 0),
  );
  const lockMessages = (m: DeadlockMsg) =>
    m.type === "request" || m.type === "release" || m.type === "cancel";
  return idle && snapshot.channels.every((c) => !c.messages.some(lockMessages));
}

export class DeadlockNode extends SnapshotNode<DeadlockMsg, LockTimer, ResourceView[]> {
  private snapshots = 0;
  /** The first snapshot started after the work: only from there on can the service stay quiet. */
  private firstAfterWork = Number.POSITIVE_INFINITY;
  private quiet = false;
  /** Per node, the last transaction this detector aborted (transaction numbers only grow). */
  private readonly aborted = new Map<number, number>();

  constructor(
    private readonly locks: LockNode,
    private readonly detection: DetectorOptions,
  ) {
    super(locks, {
      initiateAtMs: [],
      isMessage: (m): m is DeadlockMsg => isDeadlockMsg(m, detection.shape),
      isState: (s): s is ResourceView[] => isResourceViews(s, detection.shape),
    });
  }

  /** What the simulator's ground truth reads of this node. */
  observe(): { txn: TxnView; views: ResourceView[] } {
    return this.locks.observe();
  }

  override start(ctx: Ctx): void {
    super.start(ctx);
    if (this.detection.detector) ctx.setTimer(this.detection.periodMs, { kind: INITIATE });
  }

  override timeout(ctx: Ctx, tag: SnapshotTimer<LockTimer>): void {
    if (tag.kind !== INITIATE) {
      super.timeout(ctx, tag);
      return;
    }
    if (this.quiet) return;
    // The layer records this node's state first thing, right after the timer.
    super.timeout(ctx, tag);
    this.snapshots++;
    if (ctx.now() >= this.detection.workMs)
      this.firstAfterWork = Math.min(this.firstAfterWork, this.snapshots);
    ctx.output({
      kind: "detection-start",
      detector: "snapshot",
      id: this.snapshots,
    } satisfies DeadlockOutput);
    this.locks.startPoll(ctx);
    if (this.snapshots < snapshotLimits.initiationsMax) ctx.setTimer(this.detection.periodMs, tag);
    else ctx.count("deadlock.detections.limit");
  }

  protected override complete(ctx: Ctx, snapshot: Snapshot): void {
    const channels = this.detection.foldChannels ? snapshot.channels : [];
    const edges = snapshotEdges(snapshot.states, channels, this.detection.shape.locksPerNode);
    const cycles: Detected[] = findCycles(edges).map((cycle) => {
      const known = cycle.some((e) => (this.aborted.get(e.waiter) ?? 0) >= e.txn);
      if (!known) this.abortVictim(ctx, cycle);
      return { cycle, readAtMs: null, known };
    });
    if (snapshot.k >= this.firstAfterWork && isQuiet(snapshot)) this.quiet = true;
    ctx.output({
      kind: "detection-end",
      detector: "snapshot",
      id: snapshot.k,
      cycles,
    } satisfies DeadlockOutput);
  }

  private abortVictim(ctx: Ctx, cycle: Cycle): void {
    const victim = cycle.reduce((a, e) => (e.waiter > a.waiter ? e : a));
    this.aborted.set(victim.waiter, victim.txn);
    ctx.count("deadlock.sent.abort");
    ctx.send(victim.waiter as NodeId, { type: "abort", txn: victim.txn } satisfies AbortMsg);
  }
}
