/**
 * The per-node side of the simulator: run options and statistics, the state the driver keeps
 * for each node (its slot), and the Context a protocol core talks to. Every Context call goes
 * back to the Simulation, which owns time, the network and the trace.
 */
import type { Millis, NodeId } from "../core/ids.ts";
import type { Prng } from "../core/prng.ts";
import type { Context, Process, ProcessFactory, Storage, TimerId } from "../core/process.ts";
import { checkMacWith, macWith } from "../crypto/mac.ts";
import type { Adversary, AdversaryApi } from "./adversary/types.ts";
import type { LinkConfig, NetworkConfig } from "./network.ts";
import type { Simulation } from "./simulation.ts";
import type { CrashLossMode, SimStorage } from "./storage.ts";

export interface LocalClock {
  offsetMs: Millis;
  driftPpm: number;
}

export interface RoundOptions {
  roundMs: Millis;
  /** Last round that runs (default 64). */
  roundsMax?: number;
  /** Rounds that run even if nothing is sent (default 0). */
  roundsMin?: number;
}

export interface SimOptions<Msg, Tag> {
  seed: number;
  /** Node ids, or a count n for ids 0..n-1. */
  nodes: readonly NodeId[] | number;
  factory: ProcessFactory<Msg, Tag>;
  network?: { link?: Partial<LinkConfig>; links?: NetworkConfig["links"] };
  trace?: boolean;
  /** Put message bodies and timer tags in the trace (default true when tracing). */
  traceData?: boolean;
  rounds?: RoundOptions;
  /** Local clock of each node (default: exact). */
  clocks?: ReadonlyMap<NodeId, LocalClock>;
  /** What a crash does to unsynced writes (default "random": each may or may not survive). */
  crashLoss?: CrashLossMode;
  /**
   * "ed25519" (default): real signatures. "fast": 64-byte HMAC-SHA512 tags under a secret per
   * node that only the simulator holds, checked by the simulator; as unforgeable inside a run
   * (an adversary never sees another node's secret) and about 50 times cheaper, for sweeps.
   */
  signatures?: "ed25519" | "fast";
  /** Messages kept per Byzantine node for replay (default 1000). */
  adversaryHistoryMax?: number;
}

export interface SimStats {
  events: number;
  sent: number;
  delivered: number;
  duplicated: number;
  dropped: {
    loss: number;
    partition: number;
    down: number;
    pausedOverflow: number;
    unknownDestination: number;
  };
  timersFired: number;
  outputs: number;
}

export interface OutputRecord {
  t: Millis;
  node: NodeId;
  record: unknown;
}

export interface Slot<Msg, Tag> {
  idx: number;
  id: NodeId;
  process: Process<Msg, Tag> | null;
  ctx: NodeContext<Msg, Tag>;
  up: boolean;
  stopped: boolean;
  paused: boolean;
  /** Slots of events held while paused. */
  pausedQueue: number[];
  incarnation: number;
  storage: SimStorage;
  rng: Prng;
  offsetMs: number;
  rate: number;
  lt: number;
  vt: Int32Array;
  adversary: Adversary<Msg> | null;
  advApi: AdversaryApi<Msg> | null;
  history: Array<{ to: NodeId; msg: Msg; at: Millis }>;
  counters: Map<string, number>;
  timersPending: number;
}

export class NodeContext<Msg, Tag> implements Context<Msg, Tag> {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly storage: Storage;
  constructor(
    private readonly sim: Simulation<Msg, Tag>,
    private readonly slot: Slot<Msg, Tag>,
  ) {
    this.self = slot.id;
    this.nodes = sim.nodes;
    this.storage = slot.storage;
  }
  now(): Millis {
    return this.sim.localTime(this.slot);
  }
  send(to: NodeId, msg: Msg): void {
    this.sim.sendFromCore(this.slot, to, msg);
  }
  setTimer(afterMs: Millis, tag: Tag): TimerId {
    return this.sim.setTimer(this.slot, afterMs, tag);
  }
  cancelTimer(id: TimerId): void {
    this.sim.cancelTimer(id);
  }
  random(): number {
    return this.slot.rng.float();
  }
  sign(data: Uint8Array): Uint8Array {
    return this.sim.signAs(this.slot, data);
  }
  verify(signer: NodeId, data: Uint8Array, signature: Uint8Array): boolean {
    return this.sim.verifyBy(signer, data, signature);
  }
  mac(peer: NodeId, data: Uint8Array): Uint8Array {
    return macWith(this.sim.keys.pairMacKey(this.slot.id, peer), data);
  }
  checkMac(peer: NodeId, data: Uint8Array, tag: Uint8Array): boolean {
    return checkMacWith(this.sim.keys.pairMacKey(this.slot.id, peer), data, tag);
  }
  trace(label: string, detail?: unknown): void {
    this.sim.recordLocal(this.slot, "local", label, detail);
  }
  output(record: unknown): void {
    this.sim.output(this.slot, record);
  }
  count(metric: string, by = 1): void {
    this.sim.count(this.slot, metric, by);
  }
  round(): number {
    return this.sim.currentRound;
  }
}

export function labelOf(msg: unknown): string {
  if (typeof msg === "object" && msg !== null) {
    const t = (msg as { type?: unknown }).type;
    if (typeof t === "string") return t;
    const k = (msg as { kind?: unknown }).kind;
    if (typeof k === "string") return k;
  }
  return typeof msg;
}
