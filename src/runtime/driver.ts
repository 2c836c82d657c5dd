/**
 * The runtime driver: runs one protocol core (a Process, src/core/process.ts) for real. It is
 * the runtime's implementation of the Context port; the simulator has its own (src/sim/node.ts).
 * The core is unchanged; only the effects become real:
 * - time is the monotonic clock, timers are `setTimeout`s;
 * - `send` hands the message to the host (which encodes it and puts it on a TLS link);
 * - `storage` is durable (lmdb) and `sync()` is a real barrier: a message or output produced
 *   after a `sync()` is held until the storage has committed every earlier write to disk.
 *   Writes of many handlers share one commit (group commit), so a busy replica pays one disk
 *   sync per batch of messages, not one per request;
 * - `sign`/`verify` are Ed25519 (node:crypto) with the configured public keys; `mac`/`checkMac`
 *   are HMAC-SHA256 under the pairwise secrets of config.ts;
 * - `count` feeds the Prometheus metrics.
 * Handlers run one at a time, to completion, as in the simulator. An exception thrown by a core
 * is a bug: it is logged with the input that caused it and counted; the node keeps running
 * (the input is dropped), rather than letting one message from a peer kill a replica.
 */
import { sign as edSign, verify as edVerify, type KeyObject, randomBytes } from "node:crypto";
import type { Millis, NodeId } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import type { Context, Process, Storage, TimerId } from "../core/process.ts";
import { checkMacWith, MacKey, macWith } from "../crypto/mac.ts";
import { publicKeyFromRaw } from "../crypto/sign.ts";
import { type ClusterConfig, identityOf, type NodeKeys, pairMacSecret, signPublicOf } from "./config.ts";
import type { Metrics } from "./metrics.ts";

/** Storage with an asynchronous commit: the runtime's lmdb store, or memory for clients (storage.ts). */
export interface FlushableStorage extends Storage {
  readonly syncPending: boolean;
  barrier(): Promise<void> | undefined;
}

/** For nodes that keep nothing across restarts (clients): sync() is a no-op. */
export class MemoryStorage implements FlushableStorage {
  private readonly map = new Map<string, Uint8Array>();
  readonly syncPending = false;
  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }
  put(key: string, value: Uint8Array): void {
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  keys(prefix = ""): string[] {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  sync(): void {}
  barrier(): undefined {
    return undefined;
  }
}

/** What a driver needs for the Context's sign, verify, mac and checkMac. */
export interface CryptoPort {
  sign(data: Uint8Array): Uint8Array;
  verify(signer: number, data: Uint8Array, signature: Uint8Array): boolean;
  mac(peer: number, data: Uint8Array): Uint8Array;
  checkMac(peer: number, data: Uint8Array, tag: Uint8Array): boolean;
}

/** Signatures and MACs of one node, with the cluster's public keys. */
export class NodeCrypto implements CryptoPort {
  private readonly verifyKeys = new Map<number, KeyObject | null>();
  private readonly macKeys = new Map<number, MacKey | null>();

  constructor(
    private readonly keys: NodeKeys,
    private readonly cluster: ClusterConfig,
  ) {}

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(edSign(null, data, this.keys.signPrivate));
  }

  verify(signer: number, data: Uint8Array, signature: Uint8Array): boolean {
    if (!(signature instanceof Uint8Array) || signature.byteLength !== 64) return false;
    const identity = identityOf(signer);
    let key = this.verifyKeys.get(identity);
    if (key === undefined) {
      const raw = signPublicOf(this.cluster, identity);
      key = raw === undefined ? null : publicKeyFromRaw(raw);
      this.verifyKeys.set(identity, key);
    }
    if (key === null) return false;
    try {
      return edVerify(null, data, key, signature);
    } catch {
      return false;
    }
  }

  private macKey(peer: number): MacKey | null {
    const identity = identityOf(peer);
    let key = this.macKeys.get(identity);
    if (key === undefined) {
      const secret = pairMacSecret(this.keys, this.cluster, identity);
      key = secret === undefined ? null : new MacKey(secret);
      this.macKeys.set(identity, key);
    }
    return key;
  }

  mac(peer: number, data: Uint8Array): Uint8Array {
    const key = this.macKey(peer);
    // No shared secret with an unknown peer: a tag nobody accepts.
    return key === null ? new Uint8Array(32) : macWith(key, data);
  }

  checkMac(peer: number, data: Uint8Array, tag: Uint8Array): boolean {
    const key = this.macKey(peer);
    return key !== null && checkMacWith(key, data, tag);
  }
}

export interface DriverOptions<Msg> {
  self: NodeId;
  nodes: readonly NodeId[];
  storage: FlushableStorage;
  crypto: CryptoPort;
  metrics: Metrics;
  /** Puts a message on the wire (the host encodes and routes it). */
  transmit(to: NodeId, msg: Msg): void;
  /** Local time in ms; default the monotonic clock. Clients use epoch time (their timestamps must grow across restarts). */
  now?: () => Millis;
  onOutput?(record: unknown): void;
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

/** A message or output waiting for barrier number `after` to settle. */
type Held<Msg> = ({ to: NodeId; msg: Msg } | { output: unknown }) & { after: number };

export class Driver<Msg, Tag> implements Context<Msg, Tag> {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly storage: FlushableStorage;
  private readonly prng: Prng;
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();
  private nextTimer = 1;
  private held: Held<Msg>[] = [];
  /** Barriers taken and settled (numbered from 1). */
  private barriers = 0;
  private barriersDone = 0;
  /** The barrier that must settle before anything sent now may leave (monotone). */
  private required = 0;
  private stopped = false;
  private readonly clock: () => Millis;

  constructor(
    readonly process: Process<Msg, Tag>,
    private readonly o: DriverOptions<Msg>,
  ) {
    this.self = o.self;
    this.nodes = o.nodes;
    this.storage = o.storage;
    const seed = randomBytes(16);
    this.prng = new Prng([
      seed.readUInt32LE(0),
      seed.readUInt32LE(4),
      seed.readUInt32LE(8),
      seed.readUInt32LE(12),
    ]);
    this.clock = o.now ?? (() => performance.now());
  }

  // ------------------------------------------------------------ entry points

  start(): void {
    this.run("start", () => this.process.start(this));
  }

  deliver(from: NodeId, msg: Msg): void {
    if (this.stopped) return;
    this.run("receive", () => this.process.receive(this, from, msg));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when nothing is held behind a pending disk commit. */
  async idle(): Promise<void> {
    while (this.held.length > 0) await new Promise((r) => setTimeout(r, 1));
  }

  private run(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.o.metrics.count("driver.handler-exception");
      this.o.log("error", `protocol core threw in ${what}; input dropped`, {
        err: String((e as Error)?.stack ?? e),
      });
    }
    this.afterHandler();
  }

  /**
   * Group commit. A handler that called sync() gets one barrier for all its writes (and those
   * of every handler before it); what it sent after the sync() leaves when that barrier
   * settles, in order. Writes without a sync() wait for the next barrier: committing them
   * eagerly whenever the disk was idle was measured slower (c=64: 2,240 against 2,710 ops/s;
   * c=1 p50 6.5 against 5.9 ms), the extra fsyncs of four replicas on one disk costing more
   * than the overlap gained.
   */
  private afterHandler(): void {
    if (this.storage.syncPending) {
      const k = ++this.barriers;
      const began = performance.now();
      const p = this.storage.barrier();
      if (p === undefined) this.release(k);
      else
        p.then(
          () => {
            this.o.metrics.histogram("storage.barrier-wait").observe(performance.now() - began);
            this.release(k);
          },
          (e: unknown) => this.commitFailed(e),
        );
    }
  }

  private release(k: number): void {
    this.barriersDone = k;
    let i = 0;
    while (i < this.held.length && (this.held[i] as Held<Msg>).after <= k) i++;
    const ready = this.held.splice(0, i);
    for (const h of ready) {
      if ("output" in h) this.o.onOutput?.(h.output);
      else this.o.transmit(h.to, h.msg);
    }
  }

  private commitFailed(e: unknown): void {
    // A failed commit means acknowledged state may not be on disk: stop rather than lie.
    this.o.log("error", "storage commit failed; stopping this node", { err: String(e) });
    this.o.metrics.count("storage.commit-failed");
    process.exit(70);
  }

  /** The barrier a message sent now must wait for; 0 when it may leave at once. */
  private waitFor(): number {
    // A sync() in this handler: the barrier taken when the handler returns covers it.
    if (this.storage.syncPending) this.required = this.barriers + 1;
    return this.required > this.barriersDone ? this.required : 0;
  }

  // ------------------------------------------------------------ Context

  now(): Millis {
    return this.clock();
  }

  send(to: NodeId, msg: Msg): void {
    if (this.stopped) return;
    const after = this.waitFor();
    if (after > 0) this.held.push({ to, msg, after });
    else this.o.transmit(to, msg);
  }

  setTimer(afterMs: Millis, tag: Tag): TimerId {
    const id = this.nextTimer++;
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        if (this.stopped) return;
        this.run("timeout", () => this.process.timeout(this, tag));
      },
      Math.max(0, afterMs),
    );
    this.timers.set(id, t);
    return id;
  }

  /** Runs `timeout(tag)` on the next turn of the event loop (setImmediate: no 1 ms timer floor). */
  soon(tag: Tag): void {
    setImmediate(() => {
      if (!this.stopped) this.run("timeout", () => this.process.timeout(this, tag));
    });
  }

  cancelTimer(id: TimerId): void {
    const t = this.timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(id);
  }

  random(): number {
    return this.prng.float();
  }

  sign(data: Uint8Array): Uint8Array {
    return this.o.crypto.sign(data);
  }

  verify(signer: NodeId, data: Uint8Array, signature: Uint8Array): boolean {
    return this.o.crypto.verify(signer, data, signature);
  }

  mac(peer: NodeId, data: Uint8Array): Uint8Array {
    return this.o.crypto.mac(peer, data);
  }

  checkMac(peer: NodeId, data: Uint8Array, tag: Uint8Array): boolean {
    return this.o.crypto.checkMac(peer, data, tag);
  }

  trace(_label: string, _detail?: unknown): void {}

  output(record: unknown): void {
    const after = this.waitFor();
    if (after > 0) this.held.push({ output: record, after });
    else this.o.onOutput?.(record);
  }

  count(metric: string, by = 1): void {
    this.o.metrics.count(metric, by);
  }

  round(): number {
    return -1;
  }
}
