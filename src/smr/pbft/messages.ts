/**
 * PBFT messages (Castro and Liskov, OSDI 1999 and TOCS 2002; seed 004). Authentication follows
 * what each message is used for:
 * - REQUEST carries a MAC authenticator from the client: one HMAC per replica, so each replica
 *   checks its own entry (about 2.6 us) instead of an Ed25519 verification (about 133 us).
 * - PRE-PREPARE, PREPARE, CHECKPOINT, VIEW-CHANGE and NEW-VIEW are signed (Ed25519): they are
 *   forwarded as evidence (prepared certificates, checkpoint proofs, view-change sets) that a
 *   third party must be able to verify. They are per batch, not per request.
 * - COMMIT carries a MAC authenticator: it is never forwarded as evidence.
 * - REPLY carries one MAC for its client.
 * Every message from the network is checked by `validate*` before use: shape, types, bounds.
 */
import { encode } from "../../core/codec.ts";
import type { NodeId } from "../../core/ids.ts";
import { limits } from "../../core/limits.ts";
import { sha256, sha256Prefix } from "../../crypto/digest.ts";

export type View = number;
export type Seq = number;

export interface Request {
  type: "request";
  client: NodeId;
  /** Client's request number: strictly increasing per client (exactly-once). */
  timestamp: number;
  /** Encoded service operation (opaque to PBFT). */
  op: Uint8Array;
  /** Answered without ordering when true (read-only optimization). */
  readOnly: boolean;
  /** auth[i] = MAC(client, replica i) over the request digest. */
  auth: Uint8Array[];
}

export interface PrePrepare {
  type: "pre-prepare";
  view: View;
  seq: Seq;
  digest: Uint8Array;
  /** The batch; may be omitted inside NEW-VIEW when the new primary does not hold it. */
  batch?: Request[];
  replica: NodeId;
  sig: Uint8Array;
}

export interface Prepare {
  type: "prepare";
  view: View;
  seq: Seq;
  digest: Uint8Array;
  replica: NodeId;
  sig: Uint8Array;
}

export interface Commit {
  type: "commit";
  view: View;
  seq: Seq;
  digest: Uint8Array;
  replica: NodeId;
  /** auth[i] = MAC(replica, replica i). */
  auth: Uint8Array[];
}

export interface Reply {
  type: "reply";
  view: View;
  timestamp: number;
  client: NodeId;
  replica: NodeId;
  result: Uint8Array;
  readOnly: boolean;
  mac: Uint8Array;
}

export interface Checkpoint {
  type: "checkpoint";
  seq: Seq;
  /** Digest of the service state and client table after executing `seq`. */
  state: Uint8Array;
  replica: NodeId;
  sig: Uint8Array;
}

/** Proof that a batch prepared: its pre-prepare (as signed by the primary) and 2f prepares. */
export interface PreparedProof {
  view: View;
  seq: Seq;
  digest: Uint8Array;
  prePrepareSig: Uint8Array;
  prepares: Prepare[];
}

export interface ViewChange {
  type: "view-change";
  /** The view being moved to. */
  view: View;
  stableSeq: Seq;
  stableState: Uint8Array;
  /** 2f+1 signed checkpoints for stableSeq (empty when stableSeq is 0). */
  checkpointProof: Checkpoint[];
  prepared: PreparedProof[];
  replica: NodeId;
  sig: Uint8Array;
}

export interface NewView {
  type: "new-view";
  view: View;
  viewChanges: ViewChange[];
  prePrepares: PrePrepare[];
  replica: NodeId;
  sig: Uint8Array;
}

export interface FetchBatch {
  type: "fetch-batch";
  seq: Seq;
  digest: Uint8Array;
}

export interface BatchBody {
  type: "batch";
  seq: Seq;
  digest: Uint8Array;
  batch: Request[];
}

/** Asks for the committed entry at `seq` (a lagging replica filling a gap). */
export interface FetchCommitted {
  type: "fetch-committed";
  seq: Seq;
}

/** One replica's word that `seq` committed with `digest`; f+1 matching ones make it certain. */
export interface CommittedEntry {
  type: "committed";
  seq: Seq;
  digest: Uint8Array;
  batch: Request[];
  replica: NodeId;
  mac: Uint8Array;
}

export interface FetchState {
  type: "fetch-state";
  /** The sender has executed up to here. */
  after: Seq;
}

export interface StateTransfer {
  type: "state";
  seq: Seq;
  snapshot: Uint8Array;
  proof: Checkpoint[];
}

export type ReplicaMsg =
  | Request
  | PrePrepare
  | Prepare
  | Commit
  | Checkpoint
  | ViewChange
  | NewView
  | FetchBatch
  | BatchBody
  | FetchCommitted
  | CommittedEntry
  | FetchState
  | StateTransfer;

export type PbftMsg = ReplicaMsg | Reply;

// ------------------------------------------------------------------ digests and signed bytes

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Big-endian uint32 at `off`. */
function putUint32(out: Uint8Array, off: number, x: number): void {
  out[off] = x >>> 24;
  out[off + 1] = x >>> 16;
  out[off + 2] = x >>> 8;
  out[off + 3] = x;
}

/** Big-endian float64 at `off` (as DataView.setFloat64 writes it), without a DataView per call. */
function putFloat64(out: Uint8Array, off: number, x: number): void {
  f64[0] = x;
  if (hostLittleEndian) for (let i = 0; i < 8; i++) out[off + i] = f64Bytes[7 - i] as number;
  else out.set(f64Bytes, off);
}

/** "PbRq": tag of the request layout. */
const REQUEST_TAG = 0x50625271;
const REQUEST_HEADER = 4 + 2 * 8 + 1;

/** The layout of the request being hashed (reused: the digest is all that is kept). */
let requestScratch = new Uint8Array(1024);

/**
 * SHA-256 of a fixed, injective layout (cheaper than MessagePack): tag, client and timestamp
 * as float64 (safe integers, so exact), readOnly as one byte, then the op bytes to the end.
 */
export function requestDigest(
  client: number,
  timestamp: number,
  readOnly: boolean,
  op: Uint8Array,
): Uint8Array {
  const length = REQUEST_HEADER + op.byteLength;
  if (requestScratch.byteLength < length)
    requestScratch = new Uint8Array(Math.max(length, 2 * requestScratch.byteLength));
  const out = requestScratch;
  putUint32(out, 0, REQUEST_TAG);
  putFloat64(out, 4, client);
  putFloat64(out, 12, timestamp);
  out[20] = readOnly ? 1 : 0;
  out.set(op, REQUEST_HEADER);
  return sha256Prefix(out, length);
}

interface CachedDigest {
  client: number;
  timestamp: number;
  readOnly: boolean;
  op: Uint8Array;
  digest: Uint8Array;
}

/**
 * Request digests by request object. A request is hashed once where it is first needed and the
 * digest reused (MAC check, batch digest, execution check) instead of re-encoding it each time.
 * The entry records the fields it was computed from and is used only while they are the same
 * (the same op array); messages are never mutated in place, by this code or by the simulator.
 * The digest does not cover `auth`, so the entry stays right when an authenticator is replaced.
 */
const requestDigests = new WeakMap<Request, CachedDigest>();

export function requestDigestOf(r: Request): Uint8Array {
  const c = requestDigests.get(r);
  if (
    c !== undefined &&
    c.op === r.op &&
    c.client === r.client &&
    c.timestamp === r.timestamp &&
    c.readOnly === r.readOnly
  ) {
    return c.digest;
  }
  const digest = requestDigest(r.client, r.timestamp, r.readOnly, r.op);
  requestDigests.set(r, { client: r.client, timestamp: r.timestamp, readOnly: r.readOnly, op: r.op, digest });
  return digest;
}

const NULL_BATCH_DIGEST = sha256("phalanx-pbft-null-batch");

export function batchDigest(batch: readonly Request[]): Uint8Array {
  if (batch.length === 0) return NULL_BATCH_DIGEST;
  const all = new Uint8Array(batch.length * 32);
  for (let i = 0; i < batch.length; i++) all.set(requestDigestOf(batch[i] as Request), i * 32);
  return sha256(all);
}

export const prePrepareBytes = (view: View, seq: Seq, digest: Uint8Array) =>
  encode(["pp", view, seq, digest]);
export const prepareBytes = (view: View, seq: Seq, digest: Uint8Array, replica: number) =>
  encode(["p", view, seq, digest, replica]);
export const commitBytes = (view: View, seq: Seq, digest: Uint8Array, replica: number) =>
  encode(["c", view, seq, digest, replica]);
export const checkpointBytes = (seq: Seq, state: Uint8Array, replica: number) =>
  encode(["cp", seq, state, replica]);

/** Tag of the reply layout ("R"); the request MAC covers a bare 32-byte digest instead. */
const REPLY_TAG = 0x52;
const REPLY_HEADER = 1 + 4 * 8 + 1;

/** What a reply's MAC covers (a Reply without `mac` and `type`). */
export type ReplyBody = Omit<Reply, "type" | "mac">;

/**
 * What a reply's MAC covers, in a fixed layout (cheaper than MessagePack, and injective): a tag
 * byte, view, timestamp, client, replica as float64 (all safe integers, so exact), readOnly as
 * one byte, then the result bytes to the end. The header is 34 bytes, so a reply's bytes are
 * never 32 long, and a KV write's result (about 20 bytes) keeps the whole within 55 bytes: one
 * SHA-256 block for the inner hash of its HMAC instead of two.
 */
export function replyBytes(r: ReplyBody): Uint8Array {
  const out = new Uint8Array(REPLY_HEADER + r.result.byteLength);
  out[0] = REPLY_TAG;
  putFloat64(out, 1, r.view);
  putFloat64(out, 9, r.timestamp);
  putFloat64(out, 17, r.client);
  putFloat64(out, 25, r.replica);
  out[33] = r.readOnly ? 1 : 0;
  out.set(r.result, REPLY_HEADER);
  return out;
}

export const committedBytes = (seq: Seq, digest: Uint8Array, replica: number) =>
  encode(["ce", seq, digest, replica]);

export function viewChangeBytes(m: Omit<ViewChange, "sig" | "type">): Uint8Array {
  return encode([
    "vc",
    m.view,
    m.stableSeq,
    m.stableState,
    m.checkpointProof.map((c) => [c.seq, c.state, c.replica, c.sig]),
    m.prepared.map((p) => [
      p.view,
      p.seq,
      p.digest,
      p.prePrepareSig,
      p.prepares.map((q) => [q.replica, q.sig]),
    ]),
    m.replica,
  ]);
}

export function newViewBytes(m: Omit<NewView, "sig" | "type">): Uint8Array {
  return encode([
    "nv",
    m.view,
    m.viewChanges.map((v) => [v.replica, v.sig]),
    m.prePrepares.map((p) => [p.view, p.seq, p.digest, p.sig]),
    m.replica,
  ]);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(d: Uint8Array): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("hex");
}

// ------------------------------------------------------------------ validation of untrusted input

const isU = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const isBytes = (x: unknown, len?: number): x is Uint8Array =>
  x instanceof Uint8Array && (len === undefined || x.byteLength === len);
const isSig = (x: unknown) => isBytes(x, 64);
const isDigest = (x: unknown) => isBytes(x, 32);
// Loops rather than `every` with a closure: these run for every request of every batch.
function isMacs(x: unknown, n: number): boolean {
  if (!Array.isArray(x) || x.length !== n) return false;
  for (let i = 0; i < n; i++) if (!isBytes(x[i], 32)) return false;
  return true;
}

function isBatch(x: unknown, n: number): x is Request[] {
  if (!Array.isArray(x) || x.length > limits.pbftBatchMax) return false;
  for (let i = 0; i < x.length; i++) if (!isRequest(x[i], n)) return false;
  return true;
}

export function isRequest(x: unknown, n: number): x is Request {
  const o = x as Request;
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "request" &&
    isU(o.client) &&
    isU(o.timestamp) &&
    isBytes(o.op) &&
    o.op.byteLength <= limits.pbftOpBytesMax &&
    typeof o.readOnly === "boolean" &&
    isMacs(o.auth, n)
  );
}

function isPrepareShape(o: Prepare): boolean {
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "prepare" &&
    isU(o.view) &&
    isU(o.seq) &&
    isDigest(o.digest) &&
    isU(o.replica) &&
    isSig(o.sig)
  );
}

function isCheckpointShape(o: Checkpoint): boolean {
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "checkpoint" &&
    isU(o.seq) &&
    isDigest(o.state) &&
    isU(o.replica) &&
    isSig(o.sig)
  );
}

function isPrePrepareShape(o: PrePrepare, n: number): boolean {
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "pre-prepare" &&
    isU(o.view) &&
    isU(o.seq) &&
    o.seq >= 1 &&
    isDigest(o.digest) &&
    isU(o.replica) &&
    isSig(o.sig) &&
    (o.batch === undefined || isBatch(o.batch, n))
  );
}

function isViewChangeShape(o: ViewChange, n: number): boolean {
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "view-change" &&
    isU(o.view) &&
    isU(o.stableSeq) &&
    isDigest(o.stableState) &&
    Array.isArray(o.checkpointProof) &&
    o.checkpointProof.length <= n &&
    o.checkpointProof.every(isCheckpointShape) &&
    Array.isArray(o.prepared) &&
    o.prepared.length <= limits.pbftLogWindowMax &&
    o.prepared.every(
      (p) =>
        typeof p === "object" &&
        p !== null &&
        isU(p.view) &&
        isU(p.seq) &&
        isDigest(p.digest) &&
        isSig(p.prePrepareSig) &&
        Array.isArray(p.prepares) &&
        p.prepares.length <= n &&
        p.prepares.every(isPrepareShape),
    ) &&
    isU(o.replica) &&
    isSig(o.sig)
  );
}

/** Shape check of any message a replica may receive (n = number of replicas). */
export function isReplicaMsg(x: unknown, n: number): x is ReplicaMsg {
  if (typeof x !== "object" || x === null) return false;
  const o = x as { type?: unknown } & Record<string, unknown>;
  switch (o.type) {
    case "request":
      return isRequest(o, n);
    case "pre-prepare":
      return isPrePrepareShape(o as unknown as PrePrepare, n);
    case "prepare":
      return isPrepareShape(o as unknown as Prepare);
    case "commit":
      return isU(o.view) && isU(o.seq) && isDigest(o.digest) && isU(o.replica) && isMacs(o.auth, n);
    case "checkpoint":
      return isCheckpointShape(o as unknown as Checkpoint);
    case "view-change":
      return isViewChangeShape(o as unknown as ViewChange, n);
    case "new-view": {
      const m = o as unknown as NewView;
      return (
        isU(m.view) &&
        Array.isArray(m.viewChanges) &&
        m.viewChanges.length <= n &&
        m.viewChanges.every((v) => isViewChangeShape(v, n)) &&
        Array.isArray(m.prePrepares) &&
        m.prePrepares.length <= limits.pbftLogWindowMax &&
        m.prePrepares.every((p) => isPrePrepareShape(p, n)) &&
        isU(m.replica) &&
        isSig(m.sig)
      );
    }
    case "fetch-batch":
      return isU(o.seq) && isDigest(o.digest);
    case "batch":
      return isU(o.seq) && isDigest(o.digest) && isBatch(o.batch, n);
    case "fetch-committed":
      return isU(o.seq);
    case "committed":
      return isU(o.seq) && isDigest(o.digest) && isBatch(o.batch, n) && isU(o.replica) && isBytes(o.mac, 32);
    case "fetch-state":
      return isU(o.after);
    case "state":
      return (
        isU(o.seq) &&
        isBytes(o.snapshot) &&
        o.snapshot.byteLength <= limits.pbftSnapshotBytesMax &&
        Array.isArray(o.proof) &&
        o.proof.length <= n &&
        (o.proof as Checkpoint[]).every(isCheckpointShape)
      );
    default:
      return false;
  }
}

export function isReply(x: unknown): x is Reply {
  const o = x as Reply;
  return (
    typeof o === "object" &&
    o !== null &&
    o.type === "reply" &&
    isU(o.view) &&
    isU(o.timestamp) &&
    isU(o.client) &&
    isU(o.replica) &&
    isBytes(o.result) &&
    typeof o.readOnly === "boolean" &&
    isBytes(o.mac, 32)
  );
}
