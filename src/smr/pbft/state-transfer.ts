/**
 * Catching up (TOCS 2002 section 5.3, simplified). A replica that is behind (restarted,
 * partitioned, slow) has two ways forward:
 * - state transfer: fetch the latest stable checkpoint, a snapshot whose digest is certified by
 *   a quorum of signed CHECKPOINT messages, and install it;
 * - gap filling: for a sequence number it lacks, collect f+1 matching COMMITTED reports (at
 *   least one from a correct replica, which only reports what it executed) and execute it.
 * Batches named by digest only (in NEW-VIEW) are fetched and checked against the digest.
 */

import { isPhalanxError } from "../../core/errors.ts";
import type { NodeId } from "../../core/ids.ts";
import { sha256 } from "../../crypto/digest.ts";
import { installSnapshot, makeStable } from "./checkpoint.ts";
import {
  type BatchBody,
  type CommittedEntry,
  checkpointBytes,
  commitBytes,
  committedBytes,
  equalBytes,
  type FetchBatch,
  type FetchCommitted,
  type FetchState,
  hex,
  type Seq,
  type StateTransfer,
} from "./messages.ts";
import { executeReady } from "./normal-case.ts";
import type { PbftCtx, Replica } from "./replica.ts";

/** How many missing sequence numbers one catch-up round asks for. */
const CATCH_UP_SPAN = 16;
/** Catch-up rounds without progress between two probes. */
const PROBE_EVERY = 10;

export function requestState(r: Replica, ctx: PbftCtx): void {
  if (r.stateWanted) return;
  r.stateWanted = true;
  ctx.count("pbft.state-requested");
  r.broadcast(ctx, { type: "fetch-state", after: r.lastExecuted });
}

export function onFetchState(r: Replica, ctx: PbftCtx, from: NodeId, m: FetchState): void {
  if (!r.isReplica(from) || from === r.self) return;
  if (r.stableSnapshot !== undefined && r.h > m.after) {
    const reply: StateTransfer = {
      type: "state",
      seq: r.h,
      snapshot: r.stableSnapshot,
      proof: r.stableProof,
    };
    ctx.send(from, reply);
    return;
  }
  // Not behind our checkpoint, but behind our execution: start it on gap filling.
  if (r.lastExecuted > m.after) onFetchCommitted(r, ctx, from, { type: "fetch-committed", seq: m.after + 1 });
}

/**
 * Ask whether anyone is ahead: on restart, and now and then when nothing is heard (a replica
 * that was cut off while the others went idle has no other way to learn it is behind).
 */
export function probe(r: Replica, ctx: PbftCtx): void {
  r.broadcast(ctx, { type: "fetch-state", after: r.lastExecuted });
}

/**
 * A snapshot is installed only when f+1 replicas (at least one correct) sent byte-identical
 * snapshots for the same sequence number, and a quorum of signed checkpoints certifies its
 * digest. The first rule matters because the service digest is an additive hash, cheap to
 * update but, against a peer who picks entries freely, open to forged states with the same sum
 * (Wagner's generalized birthday attack); identical bytes from f+1 replicas are not.
 */
export function onState(r: Replica, ctx: PbftCtx, from: NodeId, m: StateTransfer): void {
  if (!r.isReplica(from) || m.seq <= r.lastExecuted) return;
  const key = `${m.seq}:${hex(sha256(m.snapshot))}`;
  let vote = r.stateVotes.get(key);
  if (vote === undefined) {
    // Bounded: one pending vote per sender.
    for (const v of r.stateVotes.values()) v.voters.delete(from);
    vote = { voters: new Set(), msg: m };
    r.stateVotes.set(key, vote);
  }
  vote.voters.add(from);
  if (!validStateProof(r, ctx, m)) {
    ctx.count("pbft.bad-state-proof");
    vote.voters.delete(from);
    return;
  }
  if (vote.voters.size < r.config.weak) return;
  installState(r, ctx, vote.msg);
}

function validStateProof(r: Replica, ctx: PbftCtx, m: StateTransfer): boolean {
  const first = m.proof[0];
  if (first === undefined) return false;
  const signers = new Set<NodeId>();
  for (const cp of m.proof) {
    if (
      cp.seq !== m.seq ||
      !equalBytes(cp.state, first.state) ||
      !r.isReplica(cp.replica) ||
      signers.has(cp.replica)
    ) {
      return false;
    }
    if (!ctx.verify(cp.replica, checkpointBytes(cp.seq, cp.state, cp.replica), cp.sig)) return false;
    signers.add(cp.replica);
  }
  return signers.size >= r.config.quorum;
}

function installState(r: Replica, ctx: PbftCtx, m: StateTransfer): void {
  const first = m.proof[0] as (typeof m.proof)[0];
  const oldService = r.service;
  const oldClients = new Map(r.clients);
  const revert = () => {
    r.service = oldService;
    r.clients.clear();
    for (const [k, v] of oldClients) r.clients.set(k, v);
  };
  let digest: Uint8Array;
  try {
    digest = installSnapshot(r, m.snapshot);
  } catch (e) {
    if (!isPhalanxError(e)) throw e;
    revert();
    ctx.count("pbft.bad-snapshot");
    return;
  }
  if (!equalBytes(digest, first.state)) {
    revert();
    ctx.count("pbft.bad-snapshot");
    return;
  }
  r.stateVotes.clear();
  r.lastExecuted = m.seq;
  r.stateWanted = false;
  makeStable(r, ctx, m.seq, first.state, m.proof, m.snapshot);
  r.nextSeq = Math.max(r.nextSeq, m.seq + 1);
  ctx.count("pbft.state-installed");
  ctx.output({ kind: "state-transfer", seq: m.seq, replica: r.self });
  executeReady(r, ctx);
}

export function requestBatch(
  r: Replica,
  ctx: PbftCtx,
  seq: Seq,
  digest: Uint8Array,
  from: readonly NodeId[],
): void {
  const msg: FetchBatch = { type: "fetch-batch", seq, digest };
  for (const to of from) if (to !== r.self) ctx.send(to, msg);
}

export function onFetchBatch(r: Replica, ctx: PbftCtx, from: NodeId, m: FetchBatch): void {
  if (!r.isReplica(from)) return;
  const e = r.log.get(m.seq);
  if (e?.batch === undefined || e.digest === undefined || !equalBytes(e.digest, m.digest)) return;
  const body: BatchBody = { type: "batch", seq: m.seq, digest: m.digest, batch: e.batch };
  ctx.send(from, body);
}

export function onBatchBody(r: Replica, ctx: PbftCtx, _from: NodeId, m: BatchBody): void {
  const e = r.log.get(m.seq);
  if (e === undefined || e.batch !== undefined || e.digest === undefined || !equalBytes(e.digest, m.digest))
    return;
  if (!equalBytes(r.digestOf(m.batch), m.digest)) {
    ctx.count("pbft.bad-digest");
    return;
  }
  e.batch = m.batch;
  r.persistEntry(ctx, e, false);
  executeReady(r, ctx);
}

export function onFetchCommitted(r: Replica, ctx: PbftCtx, from: NodeId, m: FetchCommitted): void {
  if (!r.isReplica(from)) return;
  if (m.seq <= r.h) {
    onFetchState(r, ctx, from, { type: "fetch-state", after: m.seq - 1 });
    return;
  }
  if (m.seq > r.lastExecuted) return;
  const e = r.log.get(m.seq);
  if (e?.batch === undefined || e.digest === undefined) return;
  const reply: CommittedEntry = {
    type: "committed",
    seq: m.seq,
    digest: e.digest,
    batch: e.batch,
    replica: r.self,
    mac: ctx.mac(from, committedBytes(m.seq, e.digest, r.self)),
  };
  ctx.send(from, reply);
}

export function onCommitted(r: Replica, ctx: PbftCtx, from: NodeId, m: CommittedEntry): void {
  if (from !== m.replica || !r.isReplica(from)) return;
  if (m.seq <= r.lastExecuted || m.seq > r.lastExecuted + r.config.options.logWindow) return;
  if (!ctx.checkMac(from, committedBytes(m.seq, m.digest, m.replica), m.mac)) {
    ctx.count("pbft.bad-committed-mac");
    return;
  }
  if (!equalBytes(r.digestOf(m.batch), m.digest)) {
    ctx.count("pbft.bad-digest");
    return;
  }
  let votes = r.committedVotes.get(m.seq);
  if (votes === undefined) {
    votes = new Map();
    r.committedVotes.set(m.seq, votes);
  }
  const key = hex(m.digest);
  const v = votes.get(key) ?? { voters: new Set<NodeId>(), batch: m.batch, digest: m.digest };
  v.voters.add(from);
  votes.set(key, v);
  r.noteSeen(m.seq);
  if (v.voters.size < r.config.weak) return;
  const e = r.entry(m.seq);
  if (e.committed && e.digest !== undefined && !equalBytes(e.digest, m.digest)) {
    ctx.count("pbft.committed-conflict");
    return;
  }
  e.digest = m.digest;
  e.batch = m.batch;
  e.committed = true;
  if (e.view < 0) e.view = r.view;
  r.committedVotes.delete(m.seq);
  r.persistEntry(ctx, e, false);
  ctx.count("pbft.gap-filled");
  executeReady(r, ctx);
}

/**
 * The network may lose any message, and PBFT only moves when quorums hear each other, so a
 * replica periodically repeats its part for what is not committed yet: its VIEW-CHANGE while a
 * view change is under way, and in the normal case its pre-prepare (primary), prepare and
 * commit. Receivers treat repeats as no-ops.
 */
function retransmit(r: Replica, ctx: PbftCtx): void {
  if (r.status === "view-change") {
    if (r.ownViewChange !== undefined && r.ownViewChange.view === r.view) r.broadcast(ctx, r.ownViewChange);
    return;
  }
  let budget = r.config.options.inflightMax * 2;
  for (let seq = r.lastExecuted + 1; seq <= r.H && budget > 0; seq++) {
    const e = r.log.get(seq);
    if (e === undefined || e.committed || e.view !== r.view || e.prePrepare === undefined) continue;
    budget--;
    ctx.count("pbft.retransmit");
    if (e.prePrepare.replica === r.self) r.broadcast(ctx, e.prePrepare);
    const own = e.prepares.get(r.self);
    if (own !== undefined) r.broadcast(ctx, own);
    if (e.sentCommit && e.digest !== undefined) {
      const data = commitBytes(e.view, e.seq, e.digest, r.self);
      r.broadcast(ctx, {
        type: "commit",
        view: e.view,
        seq,
        digest: e.digest,
        replica: r.self,
        auth: r.authenticator(ctx, data),
      });
    }
  }
}

/** Periodic: if others are ahead and we made no progress since the last round, ask. */
export function onCatchUpTimer(r: Replica, ctx: PbftCtx): void {
  retransmit(r, ctx);
  const stuck = r.lastExecuted === r.lastExecutedAtCatchUp;
  r.lastExecutedAtCatchUp = r.lastExecuted;
  if (!stuck) {
    r.idleCatchUps = 0;
    return;
  }
  if (++r.idleCatchUps % PROBE_EVERY === 0) probe(r, ctx);
  if (r.stateWanted) {
    r.stateWanted = false;
    requestState(r, ctx);
  }
  if (r.highestSeen <= r.lastExecuted) return;
  const last = Math.min(r.highestSeen, r.lastExecuted + CATCH_UP_SPAN);
  for (let seq = r.lastExecuted + 1; seq <= last; seq++) {
    const e = r.log.get(seq);
    if (e?.committed && e.batch === undefined && e.digest !== undefined) {
      requestBatch(r, ctx, seq, e.digest, r.config.replicas);
    } else if (e === undefined || !e.committed) {
      r.broadcast(ctx, { type: "fetch-committed", seq });
    }
  }
}
