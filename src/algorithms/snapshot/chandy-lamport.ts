/**
 * Chandy–Lamport distributed snapshots (Chandy and Lamport, "Distributed Snapshots: Determining
 * Global States of Distributed Systems", TOCS 1985; seed 002, "Chandy/Lamport Algorithm"), as a
 * layer that wraps any application Process. Channels must be lossless and FIFO.
 *
 * To start snapshot (p, k), node p records its own state and sends a marker for (p, k) on every
 * outgoing channel. A node that learns of (p, k) for the first time, by a marker on channel c,
 * records its state, records c as empty, starts "tape recorders" on its other incoming channels
 * and forwards the marker on every outgoing channel. An application message that arrives on a
 * channel whose recorder runs is recorded (and delivered as usual); the marker for (p, k) on
 * that channel stops its recorder. The (initiator, k) tuple tells concurrent snapshots apart,
 * so any node may start one at any time, each with its own recorders.
 *
 * As in the seed's version, contributions then flow back: a node whose recorders have all
 * stopped sends its state and channel recordings to the initiator, which outputs the assembled
 * global snapshot once every node has reported.
 *
 * The network is complete (every node may send to every other). The application's messages may
 * be any values except objects whose `type` is `cl-marker` or `cl-report`, and its timer tags
 * anything but an object of kind `cl-initiate`: those belong to this layer.
 */
import { assert } from "../../core/assert.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";

export const snapshotLimits = {
  /** Snapshots one node takes part in during its life; markers of further ones are dropped and counted. */
  snapshotsPerNodeMax: 4096,
  /** Snapshots one node may start. */
  initiationsMax: 1024,
  /** Application messages recorded on one channel for one snapshot. */
  channelMessagesMax: 100_000,
} as const;

/** Trace label of a marker message. */
export const MARKER = "cl-marker";
/** Trace label of a contribution sent back to the initiator. */
export const REPORT = "cl-report";
/**
 * Label of the local trace event a node emits as it records its state, first thing in the
 * handler of the input that made it record (the first marker of the snapshot, or the initiation
 * timer); its detail is the SnapshotId. The node's side of the cut is every event before that
 * input, which itself changes nothing in the application.
 */
export const RECORD = "cl-record";
/** Kind of this layer's timer that starts a snapshot. */
export const INITIATE = "cl-initiate";

export interface SnapshotId {
  initiator: NodeId;
  /** The initiator's own count of snapshots it started, from 1. */
  k: number;
}

export interface MarkerMsg extends SnapshotId {
  type: typeof MARKER;
}

export interface ChannelRecording<M> {
  from: NodeId;
  to: NodeId;
  /** Messages received on the channel after `to` recorded its state and before the marker, in order. */
  messages: M[];
}

/** One node's part of a snapshot, sent to the initiator. */
export interface ReportMsg<M, S> extends SnapshotId {
  type: typeof REPORT;
  node: NodeId;
  state: S;
  /** The node's incoming channels. */
  channels: ChannelRecording<M>[];
}

export type SnapshotMsg<M, S> = M | MarkerMsg | ReportMsg<M, S>;

export interface InitiateTimer {
  kind: typeof INITIATE;
}

export type SnapshotTimer<T> = T | InitiateTimer;

export interface GlobalSnapshot<M, S> extends SnapshotId {
  /** Every node's recorded state, by ascending node id. */
  states: Array<{ node: NodeId; state: S }>;
  /** Every channel between two distinct nodes, by (to, from). */
  channels: ChannelRecording<M>[];
}

/** What the initiator outputs when its snapshot is complete. */
export interface SnapshotOutput<M, S> {
  kind: "cl-snapshot";
  snapshot: GlobalSnapshot<M, S>;
}

/** An application the layer can snapshot: a Process that hands out a copy of its state. */
export interface Recordable<M, T, S> extends Process<M, T> {
  recordState(): S;
}

export interface SnapshotOptions<M, S> {
  /** Local times (from start) at which this node starts a snapshot of its own. */
  initiateAtMs: readonly Millis[];
  /** Validators for application messages and states that arrive from peers. */
  isMessage(m: unknown): m is M;
  isState(s: unknown): s is S;
}

/** A snapshot this node has recorded its state for and still records channels of. */
interface Recording<M, S> {
  state: S;
  /** Incoming channels whose marker has not arrived yet, with what they carried so far. */
  open: Map<NodeId, M[]>;
  closed: ChannelRecording<M>[];
}

/** Reports the initiator has gathered for one of its snapshots. */
type Gathering<M, S> = Map<NodeId, ReportMsg<M, S>>;

type Ctx<M, T, S> = Context<SnapshotMsg<M, S>, SnapshotTimer<T>>;

const keyOf = (id: SnapshotId) => `${id.initiator}:${id.k}`;

export function isMarkerMsg(m: unknown, nodes: readonly NodeId[]): m is MarkerMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return o.type === MARKER && isSnapshotIdOf(o, nodes);
}

function isSnapshotIdOf(o: Record<string, unknown>, nodes: readonly NodeId[]): boolean {
  return (
    typeof o.initiator === "number" &&
    nodes.includes(o.initiator as NodeId) &&
    Number.isSafeInteger(o.k) &&
    (o.k as number) >= 1 &&
    (o.k as number) <= snapshotLimits.initiationsMax
  );
}

function isReportShape(m: unknown): m is { type: typeof REPORT } {
  return typeof m === "object" && m !== null && (m as Record<string, unknown>).type === REPORT;
}

function isInitiateTimer(tag: unknown): tag is InitiateTimer {
  return typeof tag === "object" && tag !== null && (tag as Record<string, unknown>).kind === INITIATE;
}

/**
 * Wraps `app` with the snapshot layer. Every input passes through to the application except
 * markers, reports and initiation timers; incoming application messages are also taped while
 * a snapshot records their channel.
 */
export class SnapshotNode<M, T, S> implements Process<SnapshotMsg<M, S>, SnapshotTimer<T>> {
  private initiated = 0;
  /** Every snapshot this node has recorded its state for. */
  private readonly joined = new Set<string>();
  private readonly recording = new Map<string, Recording<M, S>>();
  private readonly gathering = new Map<number, Gathering<M, S>>();

  constructor(
    readonly app: Recordable<M, T, S>,
    private readonly options: SnapshotOptions<M, S>,
  ) {
    assert(options.initiateAtMs.length <= snapshotLimits.initiationsMax, "too many initiations");
  }

  start(ctx: Ctx<M, T, S>): void {
    this.app.start(ctx);
    for (const at of this.options.initiateAtMs) ctx.setTimer(at, { kind: INITIATE });
  }

  receive(ctx: Ctx<M, T, S>, from: NodeId, msg: SnapshotMsg<M, S>): void {
    if (isMarkerMsg(msg, ctx.nodes)) {
      this.onMarker(ctx, from, msg);
      return;
    }
    if (isReportShape(msg)) {
      this.onReport(ctx, from, msg);
      return;
    }
    if (!this.options.isMessage(msg)) {
      ctx.count("cl.invalid");
      return;
    }
    this.tape(ctx, from, msg);
    this.app.receive(ctx, from, msg);
  }

  timeout(ctx: Ctx<M, T, S>, tag: SnapshotTimer<T>): void {
    if (isInitiateTimer(tag)) {
      this.initiate(ctx);
      return;
    }
    this.app.timeout(ctx, tag);
  }

  /**
   * Starts a new snapshot with this node as initiator. A subclass that starts snapshots itself
   * calls it first thing in a handler, so that the cut is where RECORD says it is.
   */
  initiate(ctx: Ctx<M, T, S>): void {
    if (this.initiated >= snapshotLimits.initiationsMax) {
      ctx.count("cl.initiate.limit");
      return;
    }
    this.initiated++;
    const id: SnapshotId = { initiator: ctx.self, k: this.initiated };
    this.gathering.set(id.k, new Map());
    this.record(ctx, id, null);
  }

  /** Override to act on a complete snapshot at its initiator; by default it is output. */
  protected complete(ctx: Ctx<M, T, S>, snapshot: GlobalSnapshot<M, S>): void {
    ctx.output({ kind: "cl-snapshot", snapshot } satisfies SnapshotOutput<M, S>);
  }

  private onMarker(ctx: Ctx<M, T, S>, from: NodeId, msg: MarkerMsg): void {
    const id: SnapshotId = { initiator: msg.initiator, k: msg.k };
    const key = keyOf(id);
    if (!this.joined.has(key)) {
      if (this.joined.size >= snapshotLimits.snapshotsPerNodeMax) {
        ctx.count("cl.marker.limit");
        return;
      }
      this.record(ctx, id, from);
      return;
    }
    const rec = this.recording.get(key);
    const taped = rec?.open.get(from);
    if (rec === undefined || taped === undefined) {
      ctx.count("cl.marker.duplicate");
      return;
    }
    rec.open.delete(from);
    rec.closed.push({ from, to: ctx.self, messages: taped });
    if (rec.open.size === 0) {
      this.recording.delete(key);
      this.report(ctx, id, rec);
    }
  }

  /**
   * Records the local state for `id` (reached by a marker on channel `from`, or started here
   * when `from` is null), then sends the marker on every outgoing channel before anything else
   * leaves this node: on FIFO channels that keeps every later message out of the cut.
   */
  private record(ctx: Ctx<M, T, S>, id: SnapshotId, from: NodeId | null): void {
    ctx.trace(RECORD, { initiator: id.initiator, k: id.k });
    this.joined.add(keyOf(id));
    const peers = ctx.nodes.filter((n) => n !== ctx.self);
    const rec: Recording<M, S> = {
      state: this.app.recordState(),
      open: new Map(peers.filter((p) => p !== from).map((p) => [p, []])),
      closed: from === null ? [] : [{ from, to: ctx.self, messages: [] }],
    };
    for (const p of peers) ctx.send(p, { type: MARKER, initiator: id.initiator, k: id.k });
    ctx.count("cl.marker.sent", peers.length);
    if (rec.open.size === 0) this.report(ctx, id, rec);
    else this.recording.set(keyOf(id), rec);
  }

  /** Every recorder of `id` has stopped: hand this node's part to the initiator. */
  private report(ctx: Ctx<M, T, S>, id: SnapshotId, rec: Recording<M, S>): void {
    const channels = rec.closed.sort((a, b) => a.from - b.from);
    const report: ReportMsg<M, S> = {
      type: REPORT,
      initiator: id.initiator,
      k: id.k,
      node: ctx.self,
      state: rec.state,
      channels,
    };
    if (id.initiator === ctx.self) {
      this.gather(ctx, report);
      return;
    }
    ctx.count("cl.report.sent");
    ctx.send(id.initiator, report);
  }

  /** Tapes an application message on every channel `from` → self that a snapshot still records. */
  private tape(ctx: Ctx<M, T, S>, from: NodeId, msg: M): void {
    for (const rec of this.recording.values()) {
      const taped = rec.open.get(from);
      if (taped === undefined) continue;
      if (taped.length >= snapshotLimits.channelMessagesMax) {
        ctx.count("cl.channel.full");
        continue;
      }
      taped.push(msg);
    }
  }

  private onReport(ctx: Ctx<M, T, S>, from: NodeId, msg: unknown): void {
    if (!this.isReport(msg, ctx.nodes) || msg.node !== from || msg.initiator !== ctx.self) {
      ctx.count("cl.report.invalid");
      return;
    }
    this.gather(ctx, msg);
  }

  private isReport(m: unknown, nodes: readonly NodeId[]): m is ReportMsg<M, S> {
    const o = m as Record<string, unknown>;
    if (!isSnapshotIdOf(o, nodes) || !nodes.includes(o.node as NodeId) || !this.options.isState(o.state))
      return false;
    if (!Array.isArray(o.channels) || o.channels.length !== nodes.length - 1) return false;
    const froms = new Set<unknown>();
    for (const c of o.channels as unknown[]) {
      if (typeof c !== "object" || c === null) return false;
      const r = c as Record<string, unknown>;
      if (!nodes.includes(r.from as NodeId) || r.from === o.node || froms.has(r.from) || r.to !== o.node)
        return false;
      froms.add(r.from);
      if (!Array.isArray(r.messages) || r.messages.length > snapshotLimits.channelMessagesMax) return false;
      if (!r.messages.every((x) => this.options.isMessage(x))) return false;
    }
    return true;
  }

  private gather(ctx: Ctx<M, T, S>, report: ReportMsg<M, S>): void {
    const reports = this.gathering.get(report.k);
    if (reports === undefined || reports.has(report.node)) {
      ctx.count("cl.report.unexpected");
      return;
    }
    reports.set(report.node, report);
    if (reports.size < ctx.nodes.length) return;
    this.gathering.delete(report.k);
    const parts = [...reports.values()].sort((a, b) => a.node - b.node);
    this.complete(ctx, {
      initiator: report.initiator,
      k: report.k,
      states: parts.map((r) => ({ node: r.node, state: r.state })),
      channels: parts.flatMap((r) => r.channels),
    });
  }
}
