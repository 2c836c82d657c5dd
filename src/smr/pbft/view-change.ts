/**
 * View changes (OSDI '99 section 4.4, TOCS 2002 section 4.5). A backup whose requests make no
 * progress moves to view v+1: it stops accepting normal-case messages and multicasts a signed
 * VIEW-CHANGE carrying its stable checkpoint proof and a prepared certificate for every batch
 * prepared above it. The primary of v+1 (replica (v+1) mod n) collects a quorum of valid ones and
 * multicasts NEW-VIEW: for every sequence number between the highest stable checkpoint and the
 * highest prepared one, a pre-prepare of the batch prepared in the highest view, or of a null
 * batch where none prepared. Backups check NEW-VIEW by recomputing it.
 *
 * Liveness rules: the wait for NEW-VIEW doubles with each consecutive view change; a replica
 * joins a view change once f+1 replicas (one of them correct) ask for higher views, so one
 * faulty replica cannot force a view change, and a faulty primary cannot stall for long.
 */
import type { NodeId } from "../../core/ids.ts";
import { makeStable } from "./checkpoint.ts";
import {
  batchDigest,
  type Checkpoint,
  checkpointBytes,
  equalBytes,
  type NewView,
  newViewBytes,
  type PrePrepare,
  type PreparedProof,
  prePrepareBytes,
  prepareBytes,
  type Request,
  type Seq,
  type View,
  type ViewChange,
  viewChangeBytes,
} from "./messages.ts";
import { acceptPrePrepare, armProgressTimer, executeReady, sendBatches } from "./normal-case.ts";
import type { PbftCtx, PbftTimer, Replica } from "./replica.ts";
import { requestBatch, requestState } from "./state-transfer.ts";

export function startViewChange(r: Replica, ctx: PbftCtx, view: View): void {
  if (view <= r.view) return;
  r.view = view;
  r.status = "view-change";
  r.viewChangeStreak++;
  ctx.count("pbft.view-changes-started");
  r.queue = [];
  r.queued.clear();
  r.persistView(ctx);
  const prepared: PreparedProof[] = [];
  for (const e of r.log.values()) if (e.seq > r.h && e.proof !== undefined) prepared.push(e.proof);
  prepared.sort((a, b) => a.seq - b.seq);
  const body = {
    view,
    stableSeq: r.h,
    stableState: r.stableState,
    checkpointProof: r.stableProof,
    prepared,
    replica: r.self,
  };
  const vc: ViewChange = { type: "view-change", ...body, sig: ctx.sign(viewChangeBytes(body)) };
  recordViewChange(r, vc);
  r.ownViewChange = vc;
  r.broadcast(ctx, vc);
  ctx.output({ kind: "view-change", view, replica: r.self });
  armViewChangeTimer(r, ctx);
  maybeSendNewView(r, ctx, view);
}

/**
 * The wait for NEW-VIEW starts only once a quorum has asked for the same view (OSDI '99 4.5.2):
 * a replica that times out alone waits for the others instead of racing ahead view after view,
 * which would leave no view with a quorum.
 */
function armViewChangeTimer(r: Replica, ctx: PbftCtx): void {
  if (r.status !== "view-change" || r.viewChangeTimerFor === r.view) return;
  if ((r.viewChanges.get(r.view)?.size ?? 0) < r.config.quorum) return;
  r.viewChangeTimerFor = r.view;
  const timeout = r.config.options.viewChangeTimeoutMs * 2 ** Math.min(r.viewChangeStreak - 1, 10);
  ctx.setTimer(timeout, { kind: "view-change", view: r.view });
}

export function onViewChangeTimer(
  r: Replica,
  ctx: PbftCtx,
  tag: Extract<PbftTimer, { kind: "view-change" }>,
): void {
  if (r.status !== "view-change" || r.view !== tag.view) return;
  ctx.count("pbft.new-view-timeout");
  startViewChange(r, ctx, tag.view + 1);
}

function recordViewChange(r: Replica, vc: ViewChange): void {
  let bySender = r.viewChanges.get(vc.view);
  if (bySender === undefined) {
    bySender = new Map();
    r.viewChanges.set(vc.view, bySender);
  }
  bySender.set(vc.replica, vc);
}

// ------------------------------------------------------------ verification

function validCheckpointProof(
  r: Replica,
  ctx: PbftCtx,
  seq: Seq,
  state: Uint8Array,
  proof: Checkpoint[],
): boolean {
  if (seq === 0) return true;
  const signers = new Set<NodeId>();
  for (const cp of proof) {
    if (cp.seq !== seq || !equalBytes(cp.state, state) || !r.isReplica(cp.replica) || signers.has(cp.replica))
      return false;
    if (!ctx.verify(cp.replica, checkpointBytes(cp.seq, cp.state, cp.replica), cp.sig)) return false;
    signers.add(cp.replica);
  }
  return signers.size >= r.config.quorum;
}

function validPreparedProof(r: Replica, ctx: PbftCtx, p: PreparedProof, vc: ViewChange): boolean {
  if (p.view >= vc.view || p.seq <= vc.stableSeq || p.seq > vc.stableSeq + r.config.options.logWindow)
    return false;
  const primary = r.primary(p.view);
  if (!ctx.verify(primary, prePrepareBytes(p.view, p.seq, p.digest), p.prePrepareSig)) return false;
  const signers = new Set<NodeId>();
  for (const q of p.prepares) {
    if (q.view !== p.view || q.seq !== p.seq || !equalBytes(q.digest, p.digest)) return false;
    if (!r.isReplica(q.replica) || q.replica === primary || signers.has(q.replica)) return false;
    if (!ctx.verify(q.replica, prepareBytes(q.view, q.seq, q.digest, q.replica), q.sig)) return false;
    signers.add(q.replica);
  }
  return signers.size >= r.config.quorum - 1;
}

const verifiedViewChanges = new WeakSet<ViewChange>();

export function validViewChange(r: Replica, ctx: PbftCtx, vc: ViewChange): boolean {
  if (verifiedViewChanges.has(vc)) return true;
  if (!r.isReplica(vc.replica)) return false;
  const { sig, type: _t, ...body } = vc;
  if (!ctx.verify(vc.replica, viewChangeBytes(body), sig)) return false;
  if (!validCheckpointProof(r, ctx, vc.stableSeq, vc.stableState, vc.checkpointProof)) return false;
  const seqs = new Set<Seq>();
  for (const p of vc.prepared) {
    if (seqs.has(p.seq) || !validPreparedProof(r, ctx, p, vc)) return false;
    seqs.add(p.seq);
  }
  verifiedViewChanges.add(vc);
  return true;
}

// ------------------------------------------------------------ receiving VIEW-CHANGE

export function onViewChange(r: Replica, ctx: PbftCtx, from: NodeId, vc: ViewChange): void {
  if (from !== vc.replica) {
    ctx.count("pbft.view-change-bad-sender");
    return;
  }
  if (vc.view < r.view || (vc.view === r.view && r.status === "normal")) {
    // It missed the NEW-VIEW that ended that view change: send the latest one we hold (signed
    // and self-certifying, whoever forwards it), even if we have moved on since. Without this a
    // replica partitioned during a view change waits forever once the primary has moved on
    // (sweep seed 11975).
    if (r.lastNewView !== undefined && r.lastNewView.view >= vc.view) ctx.send(from, r.lastNewView);
    ctx.count("pbft.stale-view-change");
    return;
  }
  if (r.viewChanges.get(vc.view)?.has(vc.replica)) return;
  // Bound memory: at most one pending view-change message per sender beyond our view.
  for (const [v, bySender] of r.viewChanges) if (v > r.view && v !== vc.view) bySender.delete(vc.replica);
  if (!validViewChange(r, ctx, vc)) {
    ctx.count("pbft.bad-view-change");
    return;
  }
  recordViewChange(r, vc);
  // f+1 replicas want a view above ours: at least one correct replica timed out, so join the
  // smallest such view (TOCS 2002, 4.5.2).
  const higher = new Map<NodeId, View>();
  for (const [v, bySender] of r.viewChanges) {
    if (v <= r.view) continue;
    for (const s of bySender.keys()) higher.set(s, Math.min(higher.get(s) ?? v, v));
  }
  if (higher.size >= r.config.weak) {
    const target = Math.min(...higher.values());
    if (target > r.view) startViewChange(r, ctx, target);
  }
  armViewChangeTimer(r, ctx);
  maybeSendNewView(r, ctx, vc.view);
}

// ------------------------------------------------------------ NEW-VIEW

interface Plan {
  minS: Seq;
  maxS: Seq;
  /** seq → digest chosen (null batch where none prepared). */
  chosen: Map<Seq, Uint8Array>;
  /** The view-change whose checkpoint is minS (its proof lets anyone fetch that state). */
  checkpoint: { seq: Seq; state: Uint8Array; proof: Checkpoint[] };
}

function planNewView(vcs: readonly ViewChange[]): Plan {
  let best = vcs[0] as ViewChange;
  for (const vc of vcs) if (vc.stableSeq > best.stableSeq) best = vc;
  const minS = best.stableSeq;
  let maxS = minS;
  const highest = new Map<Seq, PreparedProof>();
  for (const vc of vcs) {
    for (const p of vc.prepared) {
      if (p.seq <= minS) continue;
      if (p.seq > maxS) maxS = p.seq;
      const cur = highest.get(p.seq);
      if (cur === undefined || p.view > cur.view) highest.set(p.seq, p);
    }
  }
  const chosen = new Map<Seq, Uint8Array>();
  for (let s = minS + 1; s <= maxS; s++) chosen.set(s, highest.get(s)?.digest ?? batchDigest([]));
  return {
    minS,
    maxS,
    chosen,
    checkpoint: { seq: minS, state: best.stableState, proof: best.checkpointProof },
  };
}

/** A batch body we hold for `digest` (from the log at any sequence number). */
function findBatch(r: Replica, seq: Seq, digest: Uint8Array): Request[] | undefined {
  if (equalBytes(digest, batchDigest([]))) return [];
  const e = r.log.get(seq);
  if (e?.batch !== undefined && e.digest !== undefined && equalBytes(e.digest, digest)) return e.batch;
  return undefined;
}

function maybeSendNewView(r: Replica, ctx: PbftCtx, view: View): void {
  if (r.primary(view) !== r.self || r.view !== view || r.status !== "view-change") return;
  const bySender = r.viewChanges.get(view);
  if (bySender === undefined || bySender.size < r.config.quorum) return;
  const vcs = [...bySender.values()].sort((a, b) => a.replica - b.replica).slice(0, r.config.quorum);
  const plan = planNewView(vcs);
  const prePrepares: PrePrepare[] = [];
  for (const [seq, digest] of plan.chosen) {
    const pp: PrePrepare = {
      type: "pre-prepare",
      view,
      seq,
      digest,
      replica: r.self,
      sig: ctx.sign(prePrepareBytes(view, seq, digest)),
    };
    const batch = findBatch(r, seq, digest);
    if (batch !== undefined) pp.batch = batch;
    prePrepares.push(pp);
  }
  const body = { view, viewChanges: vcs, prePrepares, replica: r.self };
  const nv: NewView = { type: "new-view", ...body, sig: ctx.sign(newViewBytes(body)) };
  r.broadcast(ctx, nv);
  r.lastNewView = nv;
  enterView(r, ctx, nv, plan);
}

export function onNewView(r: Replica, ctx: PbftCtx, from: NodeId, nv: NewView): void {
  if (from !== nv.replica || nv.replica !== r.primary(nv.view)) {
    ctx.count("pbft.new-view-not-from-primary");
    return;
  }
  if (nv.view < r.view || (nv.view === r.view && r.status === "normal")) {
    ctx.count("pbft.stale-new-view");
    return;
  }
  const { sig, type: _t, ...body } = nv;
  if (!ctx.verify(nv.replica, newViewBytes(body), sig)) {
    ctx.count("pbft.bad-signature");
    return;
  }
  const senders = new Set<NodeId>();
  for (const vc of nv.viewChanges) {
    if (vc.view !== nv.view || senders.has(vc.replica) || !validViewChange(r, ctx, vc)) {
      ctx.count("pbft.bad-new-view");
      return;
    }
    senders.add(vc.replica);
  }
  if (senders.size < r.config.quorum) {
    ctx.count("pbft.bad-new-view");
    return;
  }
  const plan = planNewView(nv.viewChanges);
  if (nv.prePrepares.length !== plan.chosen.size) {
    ctx.count("pbft.bad-new-view");
    return;
  }
  for (const pp of nv.prePrepares) {
    const want = plan.chosen.get(pp.seq);
    if (
      want === undefined ||
      pp.view !== nv.view ||
      pp.replica !== nv.replica ||
      !equalBytes(want, pp.digest) ||
      !ctx.verify(nv.replica, prePrepareBytes(pp.view, pp.seq, pp.digest), pp.sig) ||
      (pp.batch !== undefined && !equalBytes(r.digestOf(pp.batch), pp.digest))
    ) {
      ctx.count("pbft.bad-new-view");
      return;
    }
  }
  if (nv.view > r.view) {
    r.view = nv.view;
  }
  r.lastNewView = nv;
  enterView(r, ctx, nv, plan);
}

/** Install a checked NEW-VIEW: adopt its checkpoint if ahead, then prepare its pre-prepares. */
function enterView(r: Replica, ctx: PbftCtx, nv: NewView, plan: Plan): void {
  r.view = nv.view;
  r.status = "normal";
  ctx.count("pbft.new-views-entered");
  r.persistView(ctx);
  for (const [v] of r.viewChanges) if (v <= nv.view) r.viewChanges.delete(v);
  // Messages of earlier views no longer count.
  for (const e of r.log.values()) {
    e.prepares.clear();
    e.unverified.clear();
    e.commits.clear();
    if (!e.committed) {
      e.prepared = false;
      e.sentCommit = false;
    }
  }
  if (plan.minS > r.h) {
    // A quorum holds a stable checkpoint we do not: take it as stable if we executed that far
    // with the same state, otherwise fetch it.
    const own = r.ownCheckpoints.get(plan.minS);
    if (own !== undefined && equalBytes(own.state, plan.checkpoint.state)) {
      makeStable(r, ctx, plan.minS, plan.checkpoint.state, plan.checkpoint.proof, own.snapshot);
    } else {
      requestState(r, ctx);
    }
  }
  for (const pp of nv.prePrepares) {
    if (pp.seq <= r.h) continue;
    const batch = pp.batch ?? findBatch(r, pp.seq, pp.digest);
    const e = r.entry(pp.seq);
    if (e.committed && e.digest !== undefined && equalBytes(e.digest, pp.digest)) {
      // Already committed here: keep it, and still prepare so others can commit it in this view.
      e.committed = true;
    }
    acceptPrePrepare(r, ctx, pp, batch);
    if (batch === undefined)
      requestBatch(
        r,
        ctx,
        pp.seq,
        pp.digest,
        nv.viewChanges.map((v) => v.replica),
      );
  }
  r.nextSeq = Math.max(plan.maxS, r.lastExecuted, r.h) + 1;
  const now = ctx.now();
  for (const p of r.pending.values()) p.since = now;
  ctx.output({ kind: "new-view", view: nv.view, replica: r.self });
  if (r.isPrimary()) {
    for (const p of r.pending.values()) {
      if ((r.clients.get(p.req.client)?.timestamp ?? -1) < p.req.timestamp) {
        const key = `${p.req.client}/${p.req.timestamp}`;
        if (!r.queued.has(key)) {
          r.queued.add(key);
          r.queue.push(p.req);
        }
      }
    }
    sendBatches(r, ctx);
  } else {
    for (const p of r.pending.values()) ctx.send(r.primary(), p.req);
  }
  executeReady(r, ctx);
  armProgressTimer(r, ctx);
}
