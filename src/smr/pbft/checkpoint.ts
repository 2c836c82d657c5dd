/**
 * Checkpoints and garbage collection (OSDI '99 section 4.3). Every K sequence numbers a replica
 * records the digest of its state (service state and client table) and multicasts a signed
 * CHECKPOINT. A quorum of matching checkpoints makes it stable: their set is the proof, the low
 * water mark h moves up to it, and the log and messages below it are discarded. A replica that
 * sees a quorum agree on a state it does not have asks for that state (state-transfer.ts).
 */
import { decodeSafe, encode } from "../../core/codec.ts";
import { PhalanxError } from "../../core/errors.ts";
import type { NodeId } from "../../core/ids.ts";
import { sha256 } from "../../crypto/digest.ts";
import { type Checkpoint, checkpointBytes, equalBytes, hex, type Seq } from "./messages.ts";
import type { PbftCtx, Replica } from "./replica.ts";
import { requestState } from "./state-transfer.ts";

/** The checkpointed state: the service snapshot plus the client table (for exactly-once). */
export function makeSnapshot(r: Replica): Uint8Array {
  const clients = [...r.clients.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, rec]) => [c, rec.timestamp, rec.result] as [number, number, Uint8Array]);
  return encode({ app: r.service.snapshot(), clients });
}

/** Digest of a state: the service's own (incremental) digest and a digest of the client table. */
export function stateDigest(
  serviceDigest: Uint8Array,
  clients: ReadonlyArray<[number, number, Uint8Array]>,
): Uint8Array {
  return sha256(encode(["state", serviceDigest, sha256(encode(clients))]));
}

function clientRows(r: Replica): Array<[number, number, Uint8Array]> {
  return [...r.clients.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, rec]) => [c, rec.timestamp, rec.result]);
}

export function currentStateDigest(r: Replica): Uint8Array {
  return stateDigest(r.service.digest(), clientRows(r));
}

/**
 * Install a snapshot from storage or a peer. Throws PhalanxError if the bytes are malformed;
 * returns the digest of the installed state so the caller can compare it with a proof.
 */
export function installSnapshot(r: Replica, snapshot: Uint8Array): Uint8Array {
  const parsed = decodeSafe<{ app: unknown; clients: unknown }>(snapshot);
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !(parsed.app instanceof Uint8Array) ||
    !Array.isArray(parsed.clients) ||
    !parsed.clients.every(
      (row) =>
        Array.isArray(row) &&
        row.length === 3 &&
        Number.isSafeInteger(row[0]) &&
        Number.isSafeInteger(row[1]) &&
        row[2] instanceof Uint8Array,
    )
  ) {
    throw new PhalanxError("DECODE_FAILED", "snapshot has the wrong shape");
  }
  const service = r.services.restore(parsed.app);
  const rows = parsed.clients as Array<[number, number, Uint8Array]>;
  r.service = service;
  r.clients.clear();
  for (const [c, ts, result] of rows) r.clients.set(c as NodeId, { timestamp: ts, result });
  return stateDigest(service.digest(), rows);
}

/** After executing `seq`: take a checkpoint if it is a multiple of K. */
export function executeBatchCheckpoint(r: Replica, ctx: PbftCtx, seq: Seq): void {
  if (seq % r.config.options.checkpointInterval !== 0) return;
  const state = currentStateDigest(r);
  r.ownCheckpoints.set(seq, { state, snapshot: makeSnapshot(r) });
  const cp: Checkpoint = {
    type: "checkpoint",
    seq,
    state,
    replica: r.self,
    sig: ctx.sign(checkpointBytes(seq, state, r.self)),
  };
  recordCheckpoint(r, cp);
  r.broadcast(ctx, cp);
  checkStable(r, ctx, seq);
}

function recordCheckpoint(r: Replica, cp: Checkpoint): void {
  let bySender = r.checkpoints.get(cp.seq);
  if (bySender === undefined) {
    bySender = new Map();
    r.checkpoints.set(cp.seq, bySender);
  }
  bySender.set(cp.replica, cp);
}

export function onCheckpoint(r: Replica, ctx: PbftCtx, from: NodeId, cp: Checkpoint): void {
  if (from !== cp.replica || !r.isReplica(cp.replica)) {
    ctx.count("pbft.checkpoint-bad-sender");
    return;
  }
  if (cp.seq % r.config.options.checkpointInterval !== 0 || cp.seq <= r.h) return;
  if (!ctx.verify(cp.replica, checkpointBytes(cp.seq, cp.state, cp.replica), cp.sig)) {
    ctx.count("pbft.bad-signature");
    return;
  }
  r.noteSeen(cp.seq);
  const prev = r.latestCheckpointBy.get(cp.replica);
  if (prev === undefined || prev.seq < cp.seq) r.latestCheckpointBy.set(cp.replica, cp);
  // Keep per-sequence sets only inside a bounded range above h; beyond it the latest-by-sender
  // map is enough to notice that we are behind.
  if (cp.seq <= r.H + r.config.options.logWindow) recordCheckpoint(r, cp);
  checkStable(r, ctx, cp.seq);
  noticeBehind(r, ctx);
}

/** Matching checkpoints for (seq, state), at most one per replica. */
export function quorumFor(r: Replica, seq: Seq): { state: Uint8Array; proof: Checkpoint[] } | undefined {
  const bySender = r.checkpoints.get(seq);
  if (bySender === undefined) return undefined;
  const groups = new Map<string, Checkpoint[]>();
  for (const cp of bySender.values()) {
    const k = hex(cp.state);
    const g = groups.get(k) ?? [];
    g.push(cp);
    groups.set(k, g);
  }
  for (const g of groups.values()) {
    if (g.length >= r.config.quorum)
      return { state: (g[0] as Checkpoint).state, proof: g.slice(0, r.config.quorum) };
  }
  return undefined;
}

function checkStable(r: Replica, ctx: PbftCtx, seq: Seq): void {
  if (seq <= r.h) return;
  const q = quorumFor(r, seq);
  if (q === undefined) return;
  const own = r.ownCheckpoints.get(seq);
  if (own === undefined) {
    // A quorum is ahead of us; fetch the state once we cannot get there by executing.
    if (seq > r.lastExecuted) noticeBehind(r, ctx);
    return;
  }
  if (!equalBytes(own.state, q.state)) {
    // Our state differs from what a quorum (with at least f+1 correct replicas) computed.
    ctx.count("pbft.state-divergence");
    requestState(r, ctx);
    return;
  }
  makeStable(r, ctx, seq, q.state, q.proof, own.snapshot);
}

/** Move the low water mark to `seq` and discard everything below it. */
export function makeStable(
  r: Replica,
  ctx: PbftCtx,
  seq: Seq,
  state: Uint8Array,
  proof: Checkpoint[],
  snapshot: Uint8Array,
): void {
  r.h = seq;
  r.stableState = state;
  r.stableProof = proof;
  r.stableSnapshot = snapshot;
  for (const s of [...r.log.keys()]) {
    if (s <= seq) {
      r.log.delete(s);
      r.forgetEntry(ctx, s);
    }
  }
  for (const s of [...r.checkpoints.keys()]) if (s < seq) r.checkpoints.delete(s);
  for (const s of [...r.ownCheckpoints.keys()]) if (s <= seq) r.ownCheckpoints.delete(s);
  for (const s of [...r.committedVotes.keys()]) if (s <= seq) r.committedVotes.delete(s);
  r.persistStable(ctx);
  ctx.output({ kind: "stable", seq });
}

/**
 * f+1 replicas (at least one correct) report checkpoints beyond what we can reach by executing
 * our log: ask for state.
 */
export function noticeBehind(r: Replica, ctx: PbftCtx): void {
  let ahead = 0;
  for (const cp of r.latestCheckpointBy.values()) if (cp.seq > r.lastExecuted && cp.seq > r.H) ahead++;
  const q = [...r.checkpoints.keys()].filter((s) => s > r.lastExecuted && quorumFor(r, s) !== undefined);
  const missingBatch = q.some((s) => {
    for (let i = r.lastExecuted + 1; i <= s; i++) {
      const e = r.log.get(i);
      if (e === undefined || e.batch === undefined || !e.committed) return true;
    }
    return false;
  });
  if (ahead >= r.config.weak || (q.length > 0 && missingBatch)) requestState(r, ctx);
}
