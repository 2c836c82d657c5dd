/**
 * A PBFT replica (Castro and Liskov, OSDI 1999 / TOCS 2002; seed 004) as a pure protocol core:
 * it reacts to messages and timers through its Context and never touches I/O itself.
 *
 * This file holds the replica's state, the dispatch switch and the shared helpers. The
 * sub-protocols live beside it: normal-case.ts (request, pre-prepare, prepare, commit, execute,
 * reply), checkpoint.ts (checkpoints, watermarks, garbage collection), view-change.ts
 * (VIEW-CHANGE, NEW-VIEW) and state-transfer.ts (catching up from checkpoints and peers).
 */
import { assert, assertNever } from "../../core/assert.ts";
import { decode, encode } from "../../core/codec.ts";
import type { NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";
import { installSnapshot, onCheckpoint } from "./checkpoint.ts";
import { type PbftConfig, primaryOf } from "./config.ts";
import type {
  Checkpoint,
  NewView,
  PbftMsg,
  PrePrepare,
  Prepare,
  PreparedProof,
  Request,
  Seq,
  StateTransfer,
  View,
  ViewChange,
} from "./messages.ts";
import { batchDigest, equalBytes, isReplicaMsg } from "./messages.ts";
import {
  executeReady,
  onBatchTimer,
  onCommit,
  onPrePrepare,
  onPrepare,
  onProgressTimer,
  onRequest,
} from "./normal-case.ts";
import type { Service, ServiceFactory } from "./service.ts";
import {
  onBatchBody,
  onCatchUpTimer,
  onCommitted,
  onFetchBatch,
  onFetchCommitted,
  onFetchState,
  onState,
  probe,
} from "./state-transfer.ts";
import { onNewView, onViewChange, onViewChangeTimer, startViewChange } from "./view-change.ts";

export type PbftTimer =
  | { kind: "batch"; view: View }
  | { kind: "progress"; view: View }
  | { kind: "view-change"; view: View }
  | { kind: "catch-up" };

export type PbftCtx = Context<PbftMsg, PbftTimer>;

/** What this replica knows about one sequence number. */
export interface Entry {
  seq: Seq;
  /** View of the accepted pre-prepare (or of the committed certificate). */
  view: View;
  digest?: Uint8Array;
  /** The batch whose digest is `digest`; never one of another digest. */
  batch?: Request[] | undefined;
  prePrepare?: PrePrepare;
  /** Prepares of the current view whose signature checked (or our own), by sender. */
  prepares: Map<NodeId, Prepare>;
  /** Prepares not checked yet, by sender: verified only when they can complete a certificate. */
  unverified: Map<NodeId, Prepare>;
  /** Commits (MAC checked) of the current view, by sender. */
  commits: Map<NodeId, { view: View; digest: Uint8Array }>;
  /** Digest of the batch written to storage for this entry (written once per digest). */
  batchStored?: Uint8Array | undefined;
  prepared: boolean;
  sentCommit: boolean;
  committed: boolean;
  /** The latest prepared certificate, kept across view changes. */
  proof?: PreparedProof;
}

export interface ClientRecord {
  timestamp: number;
  result: Uint8Array;
}

/**
 * Persisted form of an entry: enough to never contradict what we said before a crash. The
 * pre-prepare is stored without its batch; the batch has its own key (StoredBatch), written
 * once per digest, so the later writes of an entry (prepared certificate, committed flag)
 * carry metadata only.
 */
interface StoredEntry {
  view: View;
  digest: Uint8Array;
  prePrepare?: Omit<PrePrepare, "batch">;
  committed: boolean;
  proof?: PreparedProof;
}

/** A batch and its digest; used on recovery only if the digest is the entry's. */
interface StoredBatch {
  digest: Uint8Array;
  batch: Request[];
}

/**
 * Encoded StoredBatch by batch array. Messages are never mutated (messages.ts), so one batch
 * object has one encoding: a replica re-persisting an entry does not re-encode its batch, and
 * in the simulator, where every replica receives the primary's very object, the batch is
 * encoded once as it would be once by a real primary that sends it (a real backup can store the
 * bytes it received).
 */
const encodedBatches = new WeakMap<readonly Request[], { digest: Uint8Array; bytes: Uint8Array }>();

function encodeStoredBatch(digest: Uint8Array, batch: Request[]): Uint8Array {
  const c = encodedBatches.get(batch);
  if (c !== undefined && equalBytes(c.digest, digest)) return c.bytes;
  const sb: StoredBatch = { digest, batch };
  const bytes = encode(sb);
  encodedBatches.set(batch, { digest, bytes });
  return bytes;
}

interface StoredStable {
  seq: Seq;
  state: Uint8Array;
  proof: Checkpoint[];
  snapshot: Uint8Array;
}

const ENTRY_PREFIX = "pbft/entry/";
/** Present once the replica has started: its absence means a first start. */
const BOOT_KEY = "pbft/boot";
const BATCH_PREFIX = "pbft/batch/";
const seqKey = (seq: Seq) => `${ENTRY_PREFIX}${String(seq).padStart(12, "0")}`;
const batchKey = (seq: Seq) => `${BATCH_PREFIX}${String(seq).padStart(12, "0")}`;

export class Replica implements Process<PbftMsg, PbftTimer> {
  readonly config: PbftConfig;
  readonly services: ServiceFactory;
  self = -1 as NodeId;
  /** This replica's index in config.replicas (its entry in authenticators). */
  index = -1;

  service!: Service;
  view: View = 0;
  status: "normal" | "view-change" = "normal";
  /** Consecutive view changes without progress (timeouts double with each). */
  viewChangeStreak = 0;
  /** The view whose NEW-VIEW wait is running. */
  viewChangeTimerFor: View = -1;

  /** Low water mark: the last stable checkpoint. */
  h: Seq = 0;
  /**
   * Views this replica may have voted in before a crash without a durable record of its votes
   * (pre-prepares, prepares and commits are written lazily, made durable before the replies
   * that depend on them): after a restart it sends none of those three in a view up to this one,
   * so it can never contradict a vote it forgot. -1 on a first start.
   */
  recoveredView: View = -1;
  stableState: Uint8Array = new Uint8Array(32);
  stableProof: Checkpoint[] = [];
  stableSnapshot: Uint8Array | undefined;
  lastExecuted: Seq = 0;
  /** Highest sequence number the primary has assigned (primary only). */
  nextSeq: Seq = 1;
  readonly log = new Map<Seq, Entry>();
  /** Checkpoints we produced and have not yet seen stable: seq → state digest and snapshot. */
  readonly ownCheckpoints = new Map<Seq, { state: Uint8Array; snapshot: Uint8Array }>();
  /** Checkpoint messages in the window: seq → sender → message. */
  readonly checkpoints = new Map<Seq, Map<NodeId, Checkpoint>>();
  /** The highest checkpoint each replica has told us about (to notice we are far behind). */
  readonly latestCheckpointBy = new Map<NodeId, Checkpoint>();

  readonly clients = new Map<NodeId, ClientRecord>();
  /** Requests we know of and have not executed: "client/timestamp" → request and local time first seen. */
  readonly pending = new Map<string, { req: Request; since: number }>();
  /** Requests we could not authenticate ourselves: "client/timestamp/digest" → replicas that relayed them. */
  readonly relays = new Map<string, Set<NodeId>>();
  /** Primary: requests waiting to be put in a batch, and the keys already assigned. */
  queue: Request[] = [];
  readonly queued = new Set<string>();
  batchTimerSet = false;
  progressTimerSet = false;

  /** View changes received: view → sender → message. */
  readonly viewChanges = new Map<View, Map<NodeId, ViewChange>>();
  /** Highest sequence number seen in any valid message from a peer (to notice we lag). */
  highestSeen: Seq = 0;
  lastExecutedAtCatchUp: Seq = -1;
  /** Catch-up rounds in a row without progress. */
  idleCatchUps = 0;
  /** Gap filling: seq → digest hex → replicas vouching, with the batch. */
  readonly committedVotes = new Map<
    Seq,
    Map<string, { voters: Set<NodeId>; batch: Request[]; digest: Uint8Array }>
  >();
  /** Snapshots offered to us: "seq:sha256" → senders and one copy (installed at f+1 senders). */
  readonly stateVotes = new Map<string, { voters: Set<NodeId>; msg: StateTransfer }>();
  /** A state transfer we asked for and have not received. */
  stateWanted = false;
  /** Batch digests by batch object (digestOf). */
  private readonly batchDigests = new WeakMap<readonly Request[], Uint8Array>();
  /** Our VIEW-CHANGE for the view we are moving to, and the latest valid NEW-VIEW we sent or accepted. */
  ownViewChange: ViewChange | undefined;
  lastNewView: NewView | undefined;

  constructor(config: PbftConfig, services: ServiceFactory) {
    this.config = config;
    this.services = services;
  }

  // ------------------------------------------------------------ Process

  start(ctx: PbftCtx): void {
    this.self = ctx.self;
    this.index = this.config.replicas.indexOf(ctx.self);
    assert(this.index >= 0, `node ${ctx.self} is not a replica of this group`);
    this.service = this.services.create();
    const restarted = ctx.storage.get(BOOT_KEY) !== undefined;
    this.recover(ctx);
    if (restarted) {
      // The durable view is written (and synced) before any vote in it; in the middle of a view
      // change to `view` we have not voted in `view` yet.
      this.recoveredView = this.status === "view-change" ? this.view - 1 : this.view;
      ctx.count("pbft.restarted");
    } else {
      // Durable before anything this replica sends: a later start knows it is a restart.
      ctx.storage.put(BOOT_KEY, new Uint8Array([1]));
      ctx.storage.sync();
    }
    ctx.setTimer(this.config.options.catchUpMs, { kind: "catch-up" });
    // Re-execute what we knew was committed beyond the stable checkpoint, then ask who is ahead.
    executeReady(this, ctx);
    probe(this, ctx);
  }

  receive(ctx: PbftCtx, from: NodeId, msg: PbftMsg): void {
    if (!isReplicaMsg(msg, this.config.n)) {
      ctx.count("pbft.invalid-message");
      return;
    }
    switch (msg.type) {
      case "request":
        onRequest(this, ctx, from, msg);
        return;
      case "pre-prepare":
        onPrePrepare(this, ctx, from, msg);
        return;
      case "prepare":
        onPrepare(this, ctx, from, msg);
        return;
      case "commit":
        onCommit(this, ctx, from, msg);
        return;
      case "checkpoint":
        onCheckpoint(this, ctx, from, msg);
        return;
      case "view-change":
        onViewChange(this, ctx, from, msg);
        return;
      case "new-view":
        onNewView(this, ctx, from, msg);
        return;
      case "fetch-batch":
        onFetchBatch(this, ctx, from, msg);
        return;
      case "batch":
        onBatchBody(this, ctx, from, msg);
        return;
      case "fetch-committed":
        onFetchCommitted(this, ctx, from, msg);
        return;
      case "committed":
        onCommitted(this, ctx, from, msg);
        return;
      case "fetch-state":
        onFetchState(this, ctx, from, msg);
        return;
      case "state":
        onState(this, ctx, from, msg);
        return;
      default:
        assertNever(msg, "replica message");
    }
  }

  timeout(ctx: PbftCtx, tag: PbftTimer): void {
    switch (tag.kind) {
      case "batch":
        onBatchTimer(this, ctx, tag);
        return;
      case "progress":
        onProgressTimer(this, ctx, tag);
        return;
      case "view-change":
        onViewChangeTimer(this, ctx, tag);
        return;
      case "catch-up":
        onCatchUpTimer(this, ctx);
        ctx.setTimer(this.config.options.catchUpMs, tag);
        return;
      default:
        assertNever(tag, "replica timer");
    }
  }

  // ------------------------------------------------------------ shared helpers

  primary(view: View = this.view): NodeId {
    return primaryOf(this.config, view);
  }

  isPrimary(): boolean {
    return this.primary() === this.self;
  }

  isReplica(node: number): boolean {
    return this.config.replicas.includes(node as NodeId);
  }

  indexOf(node: NodeId): number {
    return this.config.replicas.indexOf(node);
  }

  /** High water mark. */
  get H(): Seq {
    return this.h + this.config.options.logWindow;
  }

  inWindow(seq: Seq): boolean {
    return seq > this.h && seq <= this.H;
  }

  entry(seq: Seq): Entry {
    let e = this.log.get(seq);
    if (e === undefined) {
      e = {
        seq,
        view: -1,
        prepares: new Map(),
        unverified: new Map(),
        commits: new Map(),
        prepared: false,
        sentCommit: false,
        committed: false,
      };
      this.log.set(seq, e);
    }
    return e;
  }

  /** Send to every other replica. */
  broadcast(ctx: PbftCtx, msg: PbftMsg): void {
    for (const r of this.config.replicas) if (r !== this.self) ctx.send(r, msg);
  }

  /**
   * The digest of a batch, computed once per batch object by this replica: a backup's check of
   * a pre-prepare and the check before execution share it (messages are never mutated, so an
   * object's digest cannot change).
   */
  digestOf(batch: readonly Request[]): Uint8Array {
    let d = this.batchDigests.get(batch);
    if (d === undefined) {
      d = batchDigest(batch);
      this.batchDigests.set(batch, d);
    }
    return d;
  }

  /** One MAC per replica, in replica order: authenticates a multicast message cheaply. */
  authenticator(ctx: PbftCtx, data: Uint8Array): Uint8Array[] {
    return this.config.replicas.map((r) => (r === this.self ? new Uint8Array(32) : ctx.mac(r, data)));
  }

  noteSeen(seq: Seq): void {
    if (seq > this.highestSeen) this.highestSeen = seq;
  }

  startViewChange(ctx: PbftCtx, view: View): void {
    startViewChange(this, ctx, view);
  }

  // ------------------------------------------------------------ durability

  /** Whether this replica may vote (pre-prepare, prepare, commit) in `view` (see recoveredView). */
  votesIn(view: View): boolean {
    return view > this.recoveredView;
  }

  persistView(ctx: PbftCtx): void {
    ctx.storage.put("pbft/view", encode({ view: this.view, status: this.status }));
    ctx.storage.sync();
  }

  /**
   * Written before the prepare or commit that depends on it is sent, durable (a `sync` here or
   * a later one) before any reply that depends on it. The batch is
   * written under its own key the first time the entry holds it for its current digest; every
   * write stores the entry's metadata.
   */
  persistEntry(ctx: PbftCtx, e: Entry, sync: boolean): void {
    if (e.digest === undefined) return;
    if (e.batch !== undefined && (e.batchStored === undefined || !equalBytes(e.batchStored, e.digest))) {
      ctx.storage.put(batchKey(e.seq), encodeStoredBatch(e.digest, e.batch));
      e.batchStored = e.digest;
    }
    const stored: StoredEntry = { view: e.view, digest: e.digest, committed: e.committed };
    if (e.prePrepare !== undefined) {
      const { batch: _batch, ...pp } = e.prePrepare;
      stored.prePrepare = pp;
    }
    if (e.proof !== undefined) stored.proof = e.proof;
    ctx.storage.put(seqKey(e.seq), encode(stored));
    if (sync) ctx.storage.sync();
  }

  forgetEntry(ctx: PbftCtx, seq: Seq): void {
    ctx.storage.delete(seqKey(seq));
    ctx.storage.delete(batchKey(seq));
  }

  persistStable(ctx: PbftCtx): void {
    if (this.stableSnapshot === undefined) return;
    const stored: StoredStable = {
      seq: this.h,
      state: this.stableState,
      proof: this.stableProof,
      snapshot: this.stableSnapshot,
    };
    ctx.storage.put("pbft/stable", encode(stored));
    ctx.storage.sync();
  }

  /** Rebuild from storage after a restart: view, stable checkpoint, then the log beyond it. */
  private recover(ctx: PbftCtx): void {
    const v = ctx.storage.get("pbft/view");
    if (v !== undefined) {
      const { view, status } = decode<{ view: View; status: "normal" | "view-change" }>(v);
      this.view = view;
      this.status = status;
      if (status === "view-change") {
        // We cannot know how that view change ended: keep waiting for its NEW-VIEW, or move on.
        ctx.setTimer(this.config.options.viewChangeTimeoutMs, { kind: "view-change", view });
      }
    }
    const s = ctx.storage.get("pbft/stable");
    if (s !== undefined) {
      const st = decode<StoredStable>(s);
      installSnapshot(this, st.snapshot);
      this.h = st.seq;
      this.lastExecuted = st.seq;
      this.stableState = st.state;
      this.stableProof = st.proof;
      this.stableSnapshot = st.snapshot;
    }
    for (const key of ctx.storage.keys(ENTRY_PREFIX)) {
      const bytes = ctx.storage.get(key);
      if (bytes === undefined) continue;
      const se = decode<StoredEntry>(bytes);
      const seq = Number(key.slice(ENTRY_PREFIX.length));
      if (seq <= this.h) {
        this.forgetEntry(ctx, seq);
        continue;
      }
      const e = this.entry(seq);
      e.view = se.view;
      e.digest = se.digest;
      const b = ctx.storage.get(batchKey(seq));
      if (b !== undefined) {
        const sb = decode<StoredBatch>(b);
        // A batch of another digest (an earlier proposal, the entry's new write lost) is not
        // used; the digest is recomputed, so a damaged read is not used either.
        if (equalBytes(sb.digest, se.digest) && equalBytes(this.digestOf(sb.batch), se.digest)) {
          e.batch = sb.batch;
          e.batchStored = se.digest;
        }
      }
      if (se.prePrepare !== undefined) {
        const pp: PrePrepare = { ...se.prePrepare };
        if (e.batch !== undefined && equalBytes(pp.digest, se.digest)) pp.batch = e.batch;
        e.prePrepare = pp;
      }
      if (se.proof !== undefined) e.proof = se.proof;
      e.committed = se.committed;
      e.prepared = se.proof !== undefined && se.proof.view === se.view;
      e.sentCommit = e.prepared;
    }
    // Batches whose entry is gone (below h, or the entry's write was lost in a crash).
    for (const key of ctx.storage.keys(BATCH_PREFIX)) {
      const seq = Number(key.slice(BATCH_PREFIX.length));
      if (seq <= this.h || !this.log.has(seq)) ctx.storage.delete(key);
    }
    this.nextSeq = Math.max(this.lastExecuted, ...[...this.log.keys()]) + 1;
    ctx.count("pbft.recovered", this.log.size > 0 || s !== undefined ? 1 : 0);
  }
}
