/**
 * PBFT normal case (seed 004, "BFT Protocol" 1/4 to 4/4; OSDI '99 section 4.2): the primary
 * assigns a sequence number to a batch of requests (PRE-PREPARE); backups agree on it (PREPARE,
 * 2f matching prepares from other backups plus the pre-prepare make it "prepared"); replicas
 * confirm (COMMIT, a quorum of matching commits make it "committed-local"); batches execute in
 * sequence order and every replica replies to the client, which waits for f+1 matching replies.
 */
import { assert } from "../../core/assert.ts";
import type { NodeId } from "../../core/ids.ts";
import { limits } from "../../core/limits.ts";
import { executeBatchCheckpoint } from "./checkpoint.ts";
import {
  type Commit,
  commitBytes,
  equalBytes,
  hex,
  type PrePrepare,
  type Prepare,
  prePrepareBytes,
  prepareBytes,
  type Reply,
  type Request,
  replyBytes,
  requestDigestOf,
  type View,
} from "./messages.ts";
import type { Entry, PbftCtx, PbftTimer, Replica } from "./replica.ts";

export const requestKey = (r: { client: number; timestamp: number }) => `${r.client}/${r.timestamp}`;

/** Checks this replica's entry of the client's authenticator. */
export function requestAuthentic(r: Replica, ctx: PbftCtx, req: Request): boolean {
  const tag = req.auth[r.index];
  return tag !== undefined && ctx.checkMac(req.client, requestDigestOf(req), tag);
}

// ------------------------------------------------------------ requests

export function onRequest(r: Replica, ctx: PbftCtx, from: NodeId, req: Request): void {
  if (r.isReplica(req.client)) {
    ctx.count("pbft.request-from-replica-id");
    return;
  }
  if (!requestAuthentic(r, ctx, req) && !vouchedByRelays(r, ctx, from, req)) {
    ctx.count("pbft.bad-request-mac");
    return;
  }
  if (req.readOnly) {
    answerReadOnly(r, ctx, req);
    return;
  }
  const last = r.clients.get(req.client);
  if (last !== undefined && req.timestamp < last.timestamp) {
    ctx.count("pbft.stale-request");
    return;
  }
  if (last !== undefined && req.timestamp === last.timestamp) {
    // A retransmission of what we executed: the reply was lost, send it again.
    sendReply(r, ctx, req.client, req.timestamp, last.result, false);
    return;
  }
  const key = requestKey(req);
  const fromClient = from === req.client;
  if (!r.pending.has(key)) r.pending.set(key, { req, since: ctx.now() });
  if (r.isPrimary() && r.status === "normal") {
    enqueue(r, ctx, req);
    // A primary that cannot get its proposals through (too few replicas in its view) must
    // suspect itself too, or nobody may be left to start the view change (sweep seed 3131).
    armProgressTimer(r, ctx);
    return;
  }
  if (fromClient && r.status === "normal") {
    // The client suspects the primary: relay to it and watch for progress (OSDI '99 4.4).
    ctx.send(r.primary(), req);
  }
  armProgressTimer(r, ctx);
}

/**
 * A request whose MAC for us fails, relayed by f+1 replicas: each relays only requests it
 * authenticated itself, so at least one correct replica vouches that the client sent it. This
 * lets a primary order a request from a client whose authenticator is bad for the primary only
 * (otherwise every such request costs a view change).
 */
function vouchedByRelays(r: Replica, ctx: PbftCtx, from: NodeId, req: Request): boolean {
  if (req.readOnly || from === req.client || !r.isReplica(from) || from === r.self) return false;
  const key = `${requestKey(req)}/${hex(requestDigestOf(req))}`;
  let relayers = r.relays.get(key);
  if (relayers === undefined) {
    if (r.relays.size >= limits.pbftPendingRequestsMax) {
      const oldest = r.relays.keys().next().value;
      if (oldest !== undefined) r.relays.delete(oldest);
    }
    relayers = new Set();
    r.relays.set(key, relayers);
  }
  relayers.add(from);
  if (relayers.size < r.config.weak) return false;
  r.relays.delete(key);
  ctx.count("pbft.request-vouched-by-relays");
  return true;
}

function answerReadOnly(r: Replica, ctx: PbftCtx, req: Request): void {
  if (r.status !== "normal") return;
  const result = r.service.query(req.op);
  if (result === undefined) {
    ctx.count("pbft.read-only-not-read");
    return;
  }
  // What the read saw must survive a crash before anyone is told (a write executed here may
  // not be durable yet).
  ctx.storage.sync();
  sendReply(r, ctx, req.client, req.timestamp, result, true);
}

/** Placeholder of a reply's MAC until it is computed over the reply's other fields. */
const NO_MAC = new Uint8Array(0);

export function sendReply(
  r: Replica,
  ctx: PbftCtx,
  client: NodeId,
  timestamp: number,
  result: Uint8Array,
  readOnly: boolean,
) {
  const reply: Reply = {
    type: "reply",
    view: r.view,
    timestamp,
    client,
    replica: r.self,
    result,
    readOnly,
    mac: NO_MAC,
  };
  reply.mac = ctx.mac(client, replyBytes(reply));
  ctx.send(client, reply);
}

export function enqueue(r: Replica, ctx: PbftCtx, req: Request): void {
  const key = requestKey(req);
  if (r.queued.has(key)) return;
  if (r.queue.length >= r.config.options.batchMax * r.config.options.inflightMax * 4) {
    ctx.count("pbft.queue-full");
    return;
  }
  r.queued.add(key);
  r.queue.push(req);
  sendBatches(r, ctx);
}

/**
 * Primary: cut batches while the window and the in-flight bound allow. A batch leaves at once
 * when nothing is in flight or it is full; otherwise the batch timer sends what has gathered.
 */
export function sendBatches(r: Replica, ctx: PbftCtx): void {
  const o = r.config.options;
  while (r.queue.length > 0 && r.isPrimary() && r.status === "normal" && r.votesIn(r.view)) {
    const inflight = r.nextSeq - 1 - r.lastExecuted;
    if (inflight >= o.inflightMax || r.nextSeq > r.H) return;
    if (inflight > 0 && r.queue.length < o.batchMax) {
      if (!r.batchTimerSet) {
        r.batchTimerSet = true;
        ctx.setTimer(o.batchDelayMs, { kind: "batch", view: r.view });
      }
      return;
    }
    proposeBatch(r, ctx, r.queue.splice(0, o.batchMax));
  }
}

export function onBatchTimer(r: Replica, ctx: PbftCtx, tag: Extract<PbftTimer, { kind: "batch" }>): void {
  r.batchTimerSet = false;
  if (tag.view !== r.view || !r.isPrimary() || r.status !== "normal") return;
  const o = r.config.options;
  if (r.queue.length > 0 && r.nextSeq - 1 - r.lastExecuted < o.inflightMax && r.nextSeq <= r.H) {
    proposeBatch(r, ctx, r.queue.splice(0, o.batchMax));
  }
  sendBatches(r, ctx);
}

function proposeBatch(r: Replica, ctx: PbftCtx, batch: Request[]): void {
  if (!r.votesIn(r.view)) {
    r.queue.unshift(...batch);
    return;
  }
  // Skip what executed while it waited (a retransmission that raced its first copy).
  // `queued` keeps the keys until they execute, so a retransmission is not ordered twice.
  const fresh = batch.filter((q) => (r.clients.get(q.client)?.timestamp ?? -1) < q.timestamp);
  if (fresh.length === 0) return;
  // Never propose over a sequence number known to be decided (a primary restarted into a view
  // the others have left can learn of decided ones by gap filling before it learns of the view).
  while (r.nextSeq <= r.lastExecuted || r.log.get(r.nextSeq)?.committed === true) r.nextSeq++;
  if (r.nextSeq > r.H) {
    for (const q of fresh) r.queue.unshift(q);
    return;
  }
  const seq = r.nextSeq++;
  const digest = r.digestOf(fresh);
  const pp: PrePrepare = {
    type: "pre-prepare",
    view: r.view,
    seq,
    digest,
    batch: fresh,
    replica: r.self,
    sig: ctx.sign(prePrepareBytes(r.view, seq, digest)),
  };
  acceptPrePrepare(r, ctx, pp, fresh);
  r.broadcast(ctx, pp);
}

// ------------------------------------------------------------ pre-prepare

function ignorePrePrepare(r: Replica, ctx: PbftCtx, pp: PrePrepare): string | undefined {
  if (r.status !== "normal") return "pbft.pre-prepare-during-view-change";
  if (pp.view !== r.view) return "pbft.pre-prepare-wrong-view";
  if (pp.replica !== r.primary(pp.view)) return "pbft.pre-prepare-not-from-primary";
  if (!r.inWindow(pp.seq)) return "pbft.pre-prepare-out-of-window";
  const e = r.log.get(pp.seq);
  if (e?.prePrepare !== undefined && e.view === pp.view) {
    return equalBytes(e.prePrepare.digest, pp.digest) ? "pbft.duplicate" : "pbft.equivocation";
  }
  if (pp.batch === undefined) return "pbft.pre-prepare-without-batch";
  if (!ctx.verify(pp.replica, prePrepareBytes(pp.view, pp.seq, pp.digest), pp.sig))
    return "pbft.bad-signature";
  if (!equalBytes(r.digestOf(pp.batch), pp.digest)) return "pbft.bad-digest";
  for (const q of pp.batch) {
    if (q.readOnly || r.isReplica(q.client)) return "pbft.bad-request-in-batch";
  }
  return undefined;
}

export function onPrePrepare(r: Replica, ctx: PbftCtx, from: NodeId, pp: PrePrepare): void {
  if (from !== pp.replica) {
    ctx.count("pbft.relayed-pre-prepare");
    return;
  }
  r.noteSeen(pp.seq);
  const why = ignorePrePrepare(r, ctx, pp);
  if (why !== undefined) {
    ctx.count(why);
    return;
  }
  // A request whose MAC for us fails may still be genuine (a faulty client can make its
  // authenticator good for some replicas only). We record the pre-prepare but do not vouch for
  // it: it prepares here only if a quorum of others do. Refusing it outright let one such
  // request cause a view change in every view that re-proposed it.
  const batch = pp.batch as Request[];
  const vouch = batch.every((q) => requestAuthentic(r, ctx, q));
  if (!vouch) ctx.count("pbft.unauthenticated-request-in-batch");
  acceptPrePrepare(r, ctx, pp, batch, vouch);
}

/**
 * Record a pre-prepare of the current view (checked by the caller) and prepare it, unless
 * `vouch` is false (we could not authenticate one of its requests): then others' prepares
 * alone can make it prepared here.
 */
export function acceptPrePrepare(
  r: Replica,
  ctx: PbftCtx,
  pp: PrePrepare,
  batch: Request[] | undefined,
  vouch = true,
): void {
  const e = r.entry(pp.seq);
  if (e.committed && e.digest !== undefined && !equalBytes(e.digest, pp.digest)) {
    // Decided already with another batch: a stale or faulty proposal, never to be prepared.
    ctx.count("pbft.pre-prepare-conflicts-committed");
    return;
  }
  if (e.view !== pp.view) {
    // Messages of other views no longer count (deleting while iterating a Map is safe).
    for (const [k, p] of e.prepares) if (p.view !== pp.view) e.prepares.delete(k);
    for (const [k, p] of e.unverified) if (p.view !== pp.view) e.unverified.delete(k);
    for (const [k, c] of e.commits) if (c.view !== pp.view) e.commits.delete(k);
    e.prepared = false;
    e.sentCommit = false;
  }
  e.view = pp.view;
  e.prePrepare = pp;
  if (e.digest !== undefined && !equalBytes(e.digest, pp.digest)) {
    // The batch we held belongs to another proposal (an earlier view's, perhaps an
    // equivocating primary's): never execute it under this digest.
    e.batch = undefined;
  }
  e.digest = pp.digest;
  if (batch !== undefined) {
    e.batch = batch;
    for (const q of batch) {
      const key = requestKey(q);
      // Watch only requests we could authenticate ourselves.
      if (!vouch && !requestAuthentic(r, ctx, q)) continue;
      if ((r.clients.get(q.client)?.timestamp ?? -1) < q.timestamp && !r.pending.has(key)) {
        r.pending.set(key, { req: q, since: ctx.now() });
      }
    }
  }
  r.persistEntry(ctx, e, false);
  if (pp.replica !== r.self && vouch && r.votesIn(pp.view)) {
    const prep: Prepare = {
      type: "prepare",
      view: pp.view,
      seq: pp.seq,
      digest: pp.digest,
      replica: r.self,
      sig: ctx.sign(prepareBytes(pp.view, pp.seq, pp.digest, r.self)),
    };
    e.prepares.set(r.self, prep);
    r.broadcast(ctx, prep);
  }
  armProgressTimer(r, ctx);
  checkPrepared(r, ctx, e);
}

// ------------------------------------------------------------ prepare

export function onPrepare(r: Replica, ctx: PbftCtx, from: NodeId, p: Prepare): void {
  if (from !== p.replica || !r.isReplica(p.replica)) {
    ctx.count("pbft.prepare-bad-sender");
    return;
  }
  r.noteSeen(p.seq);
  if (p.view !== r.view || r.status !== "normal") {
    ctx.count("pbft.prepare-wrong-view");
    return;
  }
  if (!r.inWindow(p.seq)) {
    ctx.count("pbft.prepare-out-of-window");
    return;
  }
  if (p.replica === r.primary(p.view)) {
    ctx.count("pbft.prepare-from-primary");
    return;
  }
  const e = r.entry(p.seq);
  // Prepared in this view already: the certificate is complete, more prepares add nothing.
  if (e.prepared && e.view === p.view) return;
  if (e.prepares.has(p.replica) || e.unverified.has(p.replica)) return;
  // The signature is checked only when the prepare can complete a certificate (checkPrepared).
  e.unverified.set(p.replica, p);
  checkPrepared(r, ctx, e);
}

const matches = (p: Prepare, view: View, digest: Uint8Array) =>
  p.view === view && equalBytes(p.digest, digest);

/**
 * prepared(m, v, n, i): the pre-prepare plus quorum-1 matching prepares from distinct backups.
 * Prepares wait unverified until enough of them match the pre-prepare to complete the
 * certificate; then just enough of them are verified (a bad signature is dropped and counted,
 * and its sender's slot freed). The certificate holds verified prepares only.
 */
function checkPrepared(r: Replica, ctx: PbftCtx, e: Entry): void {
  if (e.prepared || e.prePrepare === undefined || e.view !== r.view) return;
  const digest = e.prePrepare.digest;
  const need = r.config.quorum - 1;
  let verified = 0;
  for (const p of e.prepares.values()) if (matches(p, e.view, digest)) verified++;
  if (verified < need) {
    let candidates = 0;
    for (const p of e.unverified.values()) if (matches(p, e.view, digest)) candidates++;
    if (verified + candidates < need) return;
    for (const [sender, p] of e.unverified) {
      if (verified >= need) break;
      if (!matches(p, e.view, digest)) continue;
      e.unverified.delete(sender);
      if (!ctx.verify(p.replica, prepareBytes(p.view, p.seq, p.digest, p.replica), p.sig)) {
        ctx.count("pbft.bad-signature");
        continue;
      }
      e.prepares.set(sender, p);
      verified++;
    }
    if (verified < need) return;
  }
  const matching: Prepare[] = [];
  for (const p of e.prepares.values()) if (matches(p, e.view, digest)) matching.push(p);
  e.prepared = true;
  e.proof = {
    view: e.view,
    seq: e.seq,
    digest,
    prePrepareSig: e.prePrepare.sig,
    prepares: matching.slice(0, r.config.quorum - 1),
  };
  r.persistEntry(ctx, e, false);
  sendCommit(r, ctx, e);
}

// ------------------------------------------------------------ commit

function sendCommit(r: Replica, ctx: PbftCtx, e: Entry): void {
  if (e.sentCommit || e.digest === undefined) return;
  if (!r.votesIn(e.view)) {
    // Restarted in this view: others' commits (or gap filling) must decide it without ours.
    checkCommitted(r, ctx, e);
    return;
  }
  e.sentCommit = true;
  const data = commitBytes(e.view, e.seq, e.digest, r.self);
  const c: Commit = {
    type: "commit",
    view: e.view,
    seq: e.seq,
    digest: e.digest,
    replica: r.self,
    auth: r.authenticator(ctx, data),
  };
  e.commits.set(r.self, { view: e.view, digest: e.digest });
  r.broadcast(ctx, c);
  checkCommitted(r, ctx, e);
}

export function onCommit(r: Replica, ctx: PbftCtx, from: NodeId, c: Commit): void {
  if (from !== c.replica || !r.isReplica(c.replica)) {
    ctx.count("pbft.commit-bad-sender");
    return;
  }
  r.noteSeen(c.seq);
  if (c.view !== r.view || r.status !== "normal") {
    ctx.count("pbft.commit-wrong-view");
    return;
  }
  if (!r.inWindow(c.seq)) {
    ctx.count("pbft.commit-out-of-window");
    return;
  }
  const tag = c.auth[r.index];
  if (tag === undefined || !ctx.checkMac(c.replica, commitBytes(c.view, c.seq, c.digest, c.replica), tag)) {
    ctx.count("pbft.bad-commit-mac");
    return;
  }
  const e = r.entry(c.seq);
  e.commits.set(c.replica, { view: c.view, digest: c.digest });
  checkCommitted(r, ctx, e);
}

/** committed-local(m, v, n, i): prepared and a quorum of matching commits. */
function checkCommitted(r: Replica, ctx: PbftCtx, e: Entry): void {
  if (e.committed || !e.prepared || e.digest === undefined) return;
  let count = 0;
  for (const c of e.commits.values()) if (c.view === e.view && equalBytes(c.digest, e.digest)) count++;
  if (count < r.config.quorum) return;
  e.committed = true;
  executeReady(r, ctx);
  // After execution: the replies wait only for what they depend on (the prepared certificate,
  // written before), not for this flag, which only saves a restart some gap filling.
  r.persistEntry(ctx, e, false);
}

// ------------------------------------------------------------ execution

/** Execute committed batches in sequence order, as far as there is no gap. */
export function executeReady(r: Replica, ctx: PbftCtx): void {
  for (;;) {
    const e = r.log.get(r.lastExecuted + 1);
    if (e === undefined || !e.committed || e.batch === undefined) break;
    executeBatch(r, ctx, e);
  }
  if (r.isPrimary() && r.status === "normal") sendBatches(r, ctx);
}

export function executeBatch(r: Replica, ctx: PbftCtx, e: Entry): void {
  assert(
    e.batch !== undefined && e.digest !== undefined && equalBytes(r.digestOf(e.batch), e.digest),
    `seq ${e.seq}: the batch to execute must match the committed digest`,
  );
  // Group commit: the log records behind this batch (pre-prepare, prepared certificate,
  // commit) are made durable by one sync before its replies leave, not one per protocol step.
  ctx.storage.sync();
  for (const q of e.batch) {
    const key = requestKey(q);
    r.pending.delete(key);
    r.queued.delete(key);
    const last = r.clients.get(q.client);
    if (last !== undefined && q.timestamp <= last.timestamp) {
      ctx.count("pbft.duplicate-in-batch");
      continue;
    }
    const result = r.service.execute(q.op, q.client);
    r.clients.set(q.client, { timestamp: q.timestamp, result });
    sendReply(r, ctx, q.client, q.timestamp, result, false);
  }
  r.lastExecuted = e.seq;
  r.viewChangeStreak = 0;
  ctx.output({
    kind: "executed",
    seq: e.seq,
    view: e.view,
    digest: hex(e.digest as Uint8Array),
    requests: e.batch?.length ?? 0,
  });
  executeBatchCheckpoint(r, ctx, e.seq);
}

// ------------------------------------------------------------ progress timer (view-change trigger)

/**
 * A backup suspects the primary when a request it knows stays unexecuted for requestTimeoutMs
 * (OSDI '99 4.4). The clock runs per request from when it was first seen, so a primary that
 * orders other requests but censors one is still caught.
 */
export function armProgressTimer(
  r: Replica,
  ctx: PbftCtx,
  afterMs = r.config.options.requestTimeoutMs,
): void {
  if (r.progressTimerSet || r.pending.size === 0 || r.status !== "normal") return;
  r.progressTimerSet = true;
  ctx.setTimer(afterMs, { kind: "progress", view: r.view });
}

export function onProgressTimer(
  r: Replica,
  ctx: PbftCtx,
  tag: Extract<PbftTimer, { kind: "progress" }>,
): void {
  r.progressTimerSet = false;
  if (tag.view !== r.view || r.status !== "normal") {
    // A timer of an earlier view: it held the flag, so whoever wanted one since got none.
    armProgressTimer(r, ctx);
    return;
  }
  let oldest = Number.POSITIVE_INFINITY;
  for (const [key, p] of r.pending) {
    if ((r.clients.get(p.req.client)?.timestamp ?? -1) >= p.req.timestamp) r.pending.delete(key);
    else if (p.since < oldest) oldest = p.since;
  }
  if (r.pending.size === 0) return;
  const waited = ctx.now() - oldest;
  const timeout = r.config.options.requestTimeoutMs;
  if (waited < timeout) {
    // At least 1 ms: a remainder of a few ulps would not move virtual time forward.
    armProgressTimer(r, ctx, Math.max(1, timeout - waited));
    return;
  }
  ctx.count("pbft.request-timeout");
  r.startViewChange(ctx, r.view + 1);
}
