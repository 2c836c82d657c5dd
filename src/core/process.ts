/**
 * The process contract (DESIGN.md, "The one architectural rule"). A protocol core is a
 * deterministic state machine with no I/O: each entry point receives an input and queues
 * effects on the Context. The simulator and the runtime implement Context; the same core runs
 * unchanged under both.
 */
import type { Millis, NodeId } from "./ids.ts";

/**
 * Durable key-value storage of one node. Reads see the node's own writes at once. A write is
 * durable only after a later `sync()`: a crash may lose any write not yet synced. Keys sort as
 * strings. Values are bytes (encode with core/codec.ts), so no object is shared with storage.
 */
export interface Storage {
  get(key: string): Uint8Array | undefined;
  put(key: string, value: Uint8Array): void;
  delete(key: string): void;
  /** Keys that start with `prefix`, in ascending order. */
  keys(prefix?: string): string[];
  /**
   * Barrier: every earlier write is durable before any message the node sends after this call
   * leaves the node, and before any later `output`.
   */
  sync(): void;
}

/** An opaque handle for cancelling a timer. */
export type TimerId = number;

export interface Context<Msg, Tag = unknown> {
  readonly self: NodeId;
  /** Every node of the run, this one included, in ascending order. */
  readonly nodes: readonly NodeId[];
  /** Local time: virtual with this node's offset and drift in the simulator; monotonic in the runtime. */
  now(): Millis;
  send(to: NodeId, msg: Msg): void;
  /**
   * Fire `timeout(ctx, tag)` after `afterMs` of local time. Tags are data: carry the view or
   * round they belong to, so that a stale timer is recognised and ignored.
   */
  setTimer(afterMs: Millis, tag: Tag): TimerId;
  cancelTimer(id: TimerId): void;
  /** Uniform float in [0, 1), seeded in the simulator. */
  random(): number;
  readonly storage: Storage;
  /** Sign with this node's own private key. No node can sign for another. */
  sign(data: Uint8Array): Uint8Array;
  /** Verify a signature of `signer` over `data`. */
  verify(signer: NodeId, data: Uint8Array, signature: Uint8Array): boolean;
  /**
   * MAC (HMAC-SHA256) over `data` with the secret this node shares with `peer`. Cheap (about
   * 2.6 us here, against 133 us for an Ed25519 verification) but convinces only that peer.
   */
  mac(peer: NodeId, data: Uint8Array): Uint8Array;
  /** Check a MAC that `peer` made for this node over `data`. */
  checkMac(peer: NodeId, data: Uint8Array, tag: Uint8Array): boolean;
  /** Record a local event in the causal trace (stamped with Lamport and vector time). */
  trace(label: string, detail?: unknown): void;
  /** Make a result observable (a reply, an executed operation, a delivered rumor): what checkers judge. */
  output(record: unknown): void;
  /** Count an occurrence, for example a dropped malformed message (the metric name is the key). */
  count(metric: string, by?: number): void;
  /** In synchronous-round mode: the current round number, starting at 0. Otherwise -1. */
  round(): number;
}

export interface Process<Msg, Tag = unknown> {
  /** First input of a fresh or restarted node: load durable state, set timers. */
  start(ctx: Context<Msg, Tag>): void;
  receive(ctx: Context<Msg, Tag>, from: NodeId, msg: Msg): void;
  timeout(ctx: Context<Msg, Tag>, tag: Tag): void;
  /** Fail-stop model: the driver tells every live node that `peer` has stopped. */
  peerStopped?(ctx: Context<Msg, Tag>, peer: NodeId): void;
  /**
   * Synchronous-round mode: called when round `round` begins, after every message sent in
   * round `round - 1` has been delivered. A message not received by now will never arrive.
   */
  roundStart?(ctx: Context<Msg, Tag>, round: number): void;
}

/** Creates the process of one node; called again (with the same id) on restart after a crash. */
export type ProcessFactory<Msg, Tag = unknown> = (id: NodeId) => Process<Msg, Tag>;
