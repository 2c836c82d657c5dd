/**
 * The deterministic simulator: the driver that runs unchanged protocol cores (core/process.ts)
 * in virtual time. One seed fixes everything: message latencies, losses, duplicates, the order
 * of simultaneous events, every node's random numbers and keys. Faults are injected through the
 * public methods (crash, restart, failStop, pause, resume, partition, heal, blockLink) or a
 * Byzantine adversary wrapped around a node (sim/adversary/).
 *
 * Models (seed 002, "Categories of failures" and "Two kinds of models"):
 * - asynchronous: messages take a sampled latency and may be lost, duplicated or reordered;
 * - synchronous rounds: every message sent in round r is delivered at the start of round r+1,
 *   before `roundStart(r+1)`, so a message missing then is known to be missing.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import { type Millis, type NodeId, nodeIds } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import { Prng } from "../core/prng.ts";
import type { Process, ProcessFactory, TimerId } from "../core/process.ts";
import { checkMacWith, macWith } from "../crypto/mac.ts";
import type { Adversary, AdversaryApi } from "./adversary/types.ts";
import { SimKeys } from "./keys.ts";
import { defaultLink, type LinkConfig, sampleLatency, validateLink } from "./network.ts";
import {
  type LocalClock,
  labelOf,
  NodeContext,
  type OutputRecord,
  type RoundOptions,
  type SimOptions,
  type SimStats,
  type Slot,
} from "./node.ts";
import { EventQueue, type EventSlab } from "./scheduler.ts";
import { type CrashLossMode, SimStorage } from "./storage.ts";
import type { TraceEvent, TraceHeader, TraceKind } from "./trace.ts";

const DELIVER = 0;
const TIMER = 1;
const CONTROL = 2;
const NOTIFY = 3;
const ROUND = 4;
const START = 5;
const ADVERSARY = 6;

export type { LocalClock, OutputRecord, RoundOptions, SimOptions, SimStats } from "./node.ts";

export class Simulation<Msg, Tag = unknown> {
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly stats: SimStats = {
    events: 0,
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: { loss: 0, partition: 0, down: 0, pausedOverflow: 0, unknownDestination: 0 },
    timersFired: 0,
    outputs: 0,
  };
  readonly outputs: OutputRecord[] = [];
  readonly byzantine = new Set<NodeId>();
  /** Trace events, when tracing is on. */
  readonly trace: TraceEvent[] | null;
  currentRound = -1;

  private readonly factory: ProcessFactory<Msg, Tag>;
  private readonly queue = new EventQueue();
  private readonly ev: EventSlab = this.queue.slab;
  private readonly slots: Slot<Msg, Tag>[];
  private readonly idxById: Map<number, number> | null;
  private readonly n: number;
  private readonly netRng: Prng;
  private readonly faultRng: Prng;
  private readonly links: LinkConfig[];
  private readonly blocked: Uint8Array;
  private readonly fifoLast: Float64Array;
  private readonly tracing: boolean;
  private readonly traceData: boolean;
  private readonly rounds: Required<RoundOptions> | null;
  private roundOutbox: number[] = [];
  private roundScheduled = false;
  /** The round the next boundary event starts. */
  private roundNext = 0;
  private readonly crashLoss: CrashLossMode;
  private readonly historyMax: number;
  /** Pending timer id → event slot. */
  private readonly timers = new Map<number, number>();
  private timerIdNext = 1;
  /** MAC secrets by the lower, then the higher node id of the pair (no string per lookup). */
  private msgIdNext = 1;
  private nowMs = 0;
  private started = false;
  private readonly outputListeners: Array<(o: OutputRecord) => void> = [];

  constructor(options: SimOptions<Msg, Tag>) {
    this.seed = options.seed;
    this.nodes =
      typeof options.nodes === "number" ? nodeIds(options.nodes) : [...options.nodes].sort((a, b) => a - b);
    this.n = this.nodes.length;
    if (this.n < 1 || this.n > limits.simNodesMax) {
      throw new PhalanxError("BAD_CONFIG", `a run needs 1..${limits.simNodesMax} nodes, got ${this.n}`);
    }
    if (new Set(this.nodes).size !== this.n)
      throw new PhalanxError("BAD_CONFIG", "node ids must be distinct");
    const contiguous = this.nodes.every((id, i) => id === i);
    this.idxById = contiguous ? null : new Map(this.nodes.map((id, i) => [id as number, i]));
    this.factory = options.factory;
    const root = new Prng(options.seed);
    this.netRng = root.fork("network");
    this.faultRng = root.fork("faults");
    const storageRng = root.fork("storage");
    const nodeRng = root.fork("nodes");
    this.tracing = options.trace ?? false;
    this.traceData = options.traceData ?? true;
    this.trace = this.tracing ? [] : null;
    this.crashLoss = options.crashLoss ?? "random";
    this.keys = new SimKeys(this.seed, options.signatures === "fast");
    this.historyMax = options.adversaryHistoryMax ?? 1000;
    if (options.rounds) {
      if (!(options.rounds.roundMs > 0)) throw new PhalanxError("BAD_CONFIG", "roundMs must be > 0");
      this.rounds = { roundsMax: 64, roundsMin: 0, ...options.rounds };
    } else {
      this.rounds = null;
    }

    const base: LinkConfig = { ...defaultLink, ...(options.network?.link ?? {}) };
    validateLink(base);
    this.links = new Array(this.n * this.n).fill(base);
    for (const o of options.network?.links ?? []) {
      const f = this.idx(o.from);
      const t = this.idx(o.to);
      if (f === undefined || t === undefined)
        throw new PhalanxError("BAD_CONFIG", `link override names unknown node`);
      const cfg = { ...(this.links[f * this.n + t] as LinkConfig), ...o.config };
      validateLink(cfg);
      this.links[f * this.n + t] = cfg;
    }
    this.blocked = new Uint8Array(this.n * this.n);
    this.fifoLast = new Float64Array(this.n * this.n);

    this.slots = this.nodes.map((id, idx) => {
      const clock = options.clocks?.get(id) ?? { offsetMs: 0, driftPpm: 0 };
      if (!(clock.driftPpm > -1e6))
        throw new PhalanxError("BAD_CONFIG", `drift of node ${id} must be > -1e6 ppm`);
      const slot = {
        idx,
        id,
        process: null,
        up: false,
        stopped: false,
        paused: false,
        pausedQueue: [],
        incarnation: 0,
        storage: new SimStorage(storageRng.fork(`storage-${id}`)),
        rng: nodeRng.fork(`node-${id}`),
        offsetMs: clock.offsetMs,
        rate: 1 + clock.driftPpm / 1e6,
        lt: 0,
        vt: new Int32Array(this.n),
        adversary: null,
        advApi: null,
        history: [],
        counters: new Map(),
        timersPending: 0,
      } as unknown as Slot<Msg, Tag>;
      slot.ctx = new NodeContext(this, slot);
      return slot;
    });
  }

  // ---------------------------------------------------------------- running

  /** Start every node at virtual time 0 (called by the run methods if needed). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const slot of this.slots) {
      slot.up = true;
      slot.incarnation++;
      slot.process = this.factory(slot.id);
      const e = this.newEvent(START, 0, slot.idx);
      this.ev.incarnation[e] = slot.incarnation;
      this.queue.push(e);
    }
    if (this.rounds) {
      this.currentRound = 0;
      this.roundScheduled = true;
      this.queue.push(this.newEvent(ROUND, 0, 0));
    }
  }

  get now(): Millis {
    return this.nowMs;
  }

  /** Execute one event. False when nothing is left. */
  step(): boolean {
    if (!this.started) this.start();
    const e = this.queue.pop();
    if (e < 0) return false;
    this.nowMs = this.ev.time[e] as number;
    if (++this.stats.events > limits.simEventsMax) {
      throw new PhalanxError(
        "LIMIT_EXCEEDED",
        `run exceeded ${limits.simEventsMax} events (runaway protocol?)`,
      );
    }
    this.dispatch(e);
    return true;
  }

  /** Run until no event is left. Returns the number of events executed. */
  runUntilQuiescent(eventsMax = Number.POSITIVE_INFINITY): number {
    let k = 0;
    while (k < eventsMax && this.step()) k++;
    return k;
  }

  /** Run every event up to and including virtual time `timeMs`, then set the clock to it. */
  runUntil(timeMs: Millis): void {
    if (!this.started) this.start();
    for (;;) {
      const next = this.queue.peek();
      if (next < 0 || (this.ev.time[next] as number) > timeMs) break;
      this.step();
    }
    if (timeMs > this.nowMs) this.nowMs = timeMs;
  }

  /** Run until `done()` holds (checked after each event) or time passes `timeLimitMs`. */
  runUntilPredicate(done: () => boolean, timeLimitMs: Millis): boolean {
    if (!this.started) this.start();
    if (done()) return true;
    for (;;) {
      const next = this.queue.peek();
      if (next < 0 || (this.ev.time[next] as number) > timeLimitMs) return done();
      this.step();
      if (done()) return true;
    }
  }

  /** Schedule a control action (a fault, a check) at virtual time `timeMs`. */
  at(timeMs: Millis, fn: () => void): void {
    const e = this.newEvent(CONTROL, Math.max(timeMs, this.nowMs), 0);
    this.ev.fn[e] = fn;
    this.queue.push(e);
  }

  get pendingEvents(): number {
    return this.queue.size;
  }

  onOutput(listener: (o: OutputRecord) => void): void {
    this.outputListeners.push(listener);
  }

  // ---------------------------------------------------------------- faults

  isUp(node: number): boolean {
    return this.slotOrThrow(node).up;
  }

  isPaused(node: number): boolean {
    return this.slotOrThrow(node).paused;
  }

  /** Crash: volatile state is lost, synced storage kept, unsynced writes may be lost. */
  crash(node: number): void {
    const slot = this.slotOrThrow(node);
    if (!slot.up) return;
    this.recordLocal(slot, "crash");
    this.takeDown(slot);
  }

  /** Fail-stop: a crash that every live peer is told about (after a network delay). */
  failStop(node: number): void {
    const slot = this.slotOrThrow(node);
    if (!slot.up) return;
    const noticeId = this.msgIdNext++;
    this.recordLocal(slot, "failstop", undefined, undefined, noticeId);
    const lt = slot.lt;
    const vt = this.tracing ? slot.vt.slice() : null;
    this.takeDown(slot);
    slot.stopped = true;
    for (const peer of this.slots) {
      if (peer === slot || !peer.up) continue;
      const e = this.newEvent(NOTIFY, this.nowMs + this.latency(slot.idx, peer.idx), peer.idx);
      this.ev.from[e] = slot.idx;
      this.ev.msgId[e] = noticeId;
      this.ev.lt[e] = lt;
      this.ev.vt[e] = vt;
      this.queue.push(e);
    }
  }

  /** Restart a crashed node: a fresh process over the storage that survived. */
  restart(node: number): void {
    const slot = this.slotOrThrow(node);
    if (slot.up) return;
    slot.up = true;
    slot.stopped = false;
    slot.incarnation++;
    slot.process = this.factory(slot.id);
    this.recordLocal(slot, "restart");
    const e = this.newEvent(START, this.nowMs, slot.idx);
    this.ev.incarnation[e] = slot.incarnation;
    this.queue.push(e);
  }

  /** Pause: the node runs nothing; its messages and timers wait. It looks dead but is not. */
  pause(node: number): void {
    const slot = this.slotOrThrow(node);
    if (!slot.up || slot.paused) return;
    this.recordLocal(slot, "pause");
    slot.paused = true;
  }

  resume(node: number): void {
    const slot = this.slotOrThrow(node);
    if (!slot.paused) return;
    slot.paused = false;
    if (!slot.up) return;
    this.recordLocal(slot, "resume");
    const waiting = slot.pausedQueue;
    slot.pausedQueue = [];
    for (const e of waiting) {
      this.ev.time[e] = this.nowMs;
      this.queue.push(e);
    }
  }

  /** Split the network: messages between different groups are dropped. Unlisted nodes form one more group. */
  partition(groups: ReadonlyArray<readonly number[]>): void {
    const group = new Int32Array(this.n).fill(-1);
    groups.forEach((g, gi) => {
      for (const id of g) {
        const i = this.idx(id);
        if (i === undefined) throw new PhalanxError("BAD_ARGUMENT", `partition names unknown node ${id}`);
        group[i] = gi;
      }
    });
    for (let a = 0; a < this.n; a++) {
      for (let b = 0; b < this.n; b++) this.blocked[a * this.n + b] = group[a] !== group[b] ? 1 : 0;
    }
  }

  /** Remove every partition and blocked link. */
  heal(): void {
    this.blocked.fill(0);
  }

  /** Block one direction of one link (a one-way partition). */
  blockLink(from: number, to: number): void {
    this.blocked[this.idxOrThrow(from) * this.n + this.idxOrThrow(to)] = 1;
  }

  unblockLink(from: number, to: number): void {
    this.blocked[this.idxOrThrow(from) * this.n + this.idxOrThrow(to)] = 0;
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked[this.idxOrThrow(from) * this.n + this.idxOrThrow(to)] === 1;
  }

  /** Change every link's behaviour from now on (per-link overrides given at construction are replaced). */
  setLinks(change: Partial<LinkConfig>): void {
    for (let i = 0; i < this.links.length; i++) {
      const cfg = { ...(this.links[i] as LinkConfig), ...change };
      validateLink(cfg);
      this.links[i] = cfg;
    }
  }

  /** Make `node` Byzantine: its outgoing messages pass through the adversary. */
  setAdversary(node: number, adversary: Adversary<Msg>): void {
    const slot = this.slotOrThrow(node);
    slot.adversary = adversary;
    this.byzantine.add(node as NodeId);
    slot.advApi = this.makeAdversaryApi(slot);
  }

  /** Change a node's local clock from now on (a clock step or a new drift). */
  setClock(node: number, clock: LocalClock): void {
    const slot = this.slotOrThrow(node);
    slot.offsetMs = clock.offsetMs;
    slot.rate = 1 + clock.driftPpm / 1e6;
  }

  // ---------------------------------------------------------------- inspection

  process(node: number): Process<Msg, Tag> | null {
    return this.slotOrThrow(node).process;
  }

  storage(node: number): SimStorage {
    return this.slotOrThrow(node).storage;
  }

  nodeCounters(node: number): ReadonlyMap<string, number> {
    return this.slotOrThrow(node).counters;
  }

  publicKey(node: number): Uint8Array {
    return this.keys.keyPair(this.slotOrThrow(node).id).publicRaw;
  }

  /** The header line of this run's trace. */
  traceHeader(protocol: string, options: unknown): TraceHeader {
    return {
      kind: "header",
      format: "phalanx-trace/1",
      protocol,
      seed: this.seed,
      nodes: [...this.nodes],
      byzantine: [...this.byzantine].sort((a, b) => a - b),
      options,
    };
  }

  // ---------------------------------------------------------------- internals used by contexts

  slotOf(node: NodeId): Slot<Msg, Tag> | undefined {
    const i = this.idx(node);
    return i === undefined ? undefined : this.slots[i];
  }

  /** Node keys and pair MAC keys of this run (keys.ts). */
  readonly keys: SimKeys;

  signAs(slot: Slot<Msg, Tag>, data: Uint8Array): Uint8Array {
    return this.keys.sign(slot.id, data);
  }

  verifyBy(signer: number, data: Uint8Array, signature: Uint8Array): boolean {
    const s = this.slotOf(signer as NodeId);
    return s !== undefined && this.keys.verify(s.id, data, signature);
  }

  localTime(slot: Slot<Msg, Tag>): Millis {
    return slot.offsetMs + this.nowMs * slot.rate;
  }

  sendFromCore(slot: Slot<Msg, Tag>, to: NodeId, msg: Msg): void {
    assert(slot.up && !slot.paused, "a node that is down or paused cannot send");
    if (slot.adversary !== null) {
      const api = slot.advApi as AdversaryApi<Msg>;
      slot.history.push({ to, msg, at: this.nowMs });
      if (slot.history.length > this.historyMax) slot.history.shift();
      slot.adversary.onSend(api, to, msg);
      return;
    }
    this.rawSend(slot, to, msg);
  }

  setTimer(slot: Slot<Msg, Tag>, afterMs: Millis, tag: Tag): TimerId {
    assert(
      Number.isFinite(afterMs) && afterMs >= 0,
      `timer delay must be a finite number >= 0, got ${afterMs}`,
    );
    assert(slot.timersPending < limits.timersPerNodeMax, "too many pending timers on one node");
    const e = this.newEvent(TIMER, this.nowMs + afterMs / slot.rate, slot.idx);
    const id = this.timerIdNext++;
    this.ev.tag[e] = tag;
    this.ev.incarnation[e] = slot.incarnation;
    this.ev.timerId[e] = id;
    this.timers.set(id, e);
    slot.timersPending++;
    this.queue.push(e);
    return id;
  }

  cancelTimer(id: TimerId): void {
    const e = this.timers.get(id);
    if (e === undefined) return;
    this.ev.cancelled[e] = 1;
    this.timers.delete(id);
    const slot = this.slots[this.ev.node[e] as number] as Slot<Msg, Tag>;
    // A timer of an earlier incarnation was already uncounted when its node crashed.
    if (this.ev.incarnation[e] === slot.incarnation) slot.timersPending--;
  }

  output(slot: Slot<Msg, Tag>, record: unknown): void {
    const o: OutputRecord = { t: this.nowMs, node: slot.id, record };
    this.outputs.push(o);
    this.stats.outputs++;
    if (this.tracing) this.recordLocal(slot, "output", labelOf(record), record);
    for (const l of this.outputListeners) l(o);
  }

  count(slot: Slot<Msg, Tag>, metric: string, by: number): void {
    slot.counters.set(metric, (slot.counters.get(metric) ?? 0) + by);
  }

  /** A counter summed over all nodes. */
  counter(metric: string): number {
    let sum = 0;
    for (const s of this.slots) sum += s.counters.get(metric) ?? 0;
    return sum;
  }

  /** Stamp and record a node event (no-op with tracing off). */
  recordLocal(slot: Slot<Msg, Tag>, kind: TraceKind, label?: string, data?: unknown, msgId?: number): void {
    if (!this.tracing) return;
    slot.lt++;
    slot.vt[slot.idx] = (slot.vt[slot.idx] as number) + 1;
    const e = this.baseEvent(slot, kind);
    if (label !== undefined) e.label = label;
    if (msgId !== undefined) e.msg = msgId;
    if (data !== undefined && this.traceData) e.data = data;
    this.pushTrace(e);
  }

  // ---------------------------------------------------------------- private

  private idx(node: number): number | undefined {
    if (this.idxById === null) return node >= 0 && node < this.n && Number.isInteger(node) ? node : undefined;
    return this.idxById.get(node);
  }

  private idxOrThrow(node: number): number {
    const i = this.idx(node);
    if (i === undefined) throw new PhalanxError("BAD_ARGUMENT", `unknown node ${node}`);
    return i;
  }

  private slotOrThrow(node: number): Slot<Msg, Tag> {
    return this.slots[this.idxOrThrow(node)] as Slot<Msg, Tag>;
  }

  private newEvent(kind: number, time: number, node: number): number {
    const e = this.ev.alloc();
    this.ev.kind[e] = kind;
    this.ev.time[e] = time;
    this.ev.node[e] = node;
    return e;
  }

  private latency(from: number, to: number): number {
    return sampleLatency((this.links[from * this.n + to] as LinkConfig).latency, this.netRng);
  }

  private takeDown(slot: Slot<Msg, Tag>): void {
    slot.up = false;
    slot.paused = false;
    // Held messages are lost with the node; held timers die with its incarnation.
    for (const e of slot.pausedQueue) {
      if (this.ev.kind[e] === DELIVER) {
        this.stats.dropped.down++;
        this.recordDrop(e, "down");
      }
      this.forgetTimer(e);
      this.ev.release(e);
    }
    slot.pausedQueue = [];
    slot.process = null;
    slot.incarnation++;
    slot.timersPending = 0;
    slot.storage.crash(this.crashLoss);
  }

  private baseEvent(slot: Slot<Msg, Tag>, kind: TraceKind): TraceEvent {
    const vt: Record<string, number> = {};
    const v = slot.vt;
    for (let i = 0; i < this.n; i++) {
      const c = v[i] as number;
      if (c !== 0) vt[String(this.nodes[i])] = c;
    }
    return { i: 0, t: this.nowMs, node: slot.id, kind, lt: slot.lt, vt };
  }

  private pushTrace(e: TraceEvent): void {
    const trace = this.trace as TraceEvent[];
    if (trace.length >= limits.traceEventsMax) {
      throw new PhalanxError(
        "LIMIT_EXCEEDED",
        `trace exceeded ${limits.traceEventsMax} events; trace a shorter run`,
      );
    }
    e.i = trace.length;
    trace.push(e);
  }

  private recordDrop(e: number, reason: string): void {
    if (!this.tracing) return;
    this.recordDropOf(
      this.ev.node[e] as number,
      this.ev.from[e] as number,
      this.ev.msgId[e] as number,
      this.ev.msg[e],
      reason,
    );
  }

  private recordDropOf(toIdx: number, fromIdx: number, msgId: number, msg: unknown, reason: string): void {
    if (!this.tracing) return;
    const e: TraceEvent = {
      i: 0,
      t: this.nowMs,
      node: this.nodes[toIdx] as number,
      kind: "drop",
      msg: msgId,
      peer: this.nodes[fromIdx] as number,
      label: labelOf(msg),
      reason,
    };
    this.pushTrace(e);
  }

  private rawSend(slot: Slot<Msg, Tag>, to: NodeId, msg: Msg): void {
    const from = slot.idx;
    const toIdx = this.idx(to);
    this.stats.sent++;
    if (toIdx === undefined) {
      this.stats.dropped.unknownDestination++;
      this.count(slot, "sim.send.unknown-destination", 1);
      return;
    }
    const msgId = this.msgIdNext++;
    let lt = 0;
    let vt: Int32Array | null = null;
    if (this.tracing) {
      slot.lt++;
      slot.vt[from] = (slot.vt[from] as number) + 1;
      const e = this.baseEvent(slot, "send");
      e.msg = msgId;
      e.peer = to;
      e.label = labelOf(msg);
      if (this.traceData) e.data = msg;
      this.pushTrace(e);
      lt = slot.lt;
      vt = slot.vt.slice();
    }
    const li = from * this.n + toIdx;
    if (this.blocked[li] === 1) {
      this.stats.dropped.partition++;
      this.recordDropOf(toIdx, from, msgId, msg, "partition");
      return;
    }
    const link = this.links[li] as LinkConfig;
    if (toIdx !== from && link.lossProb > 0 && this.netRng.float() < link.lossProb) {
      this.stats.dropped.loss++;
      this.recordDropOf(toIdx, from, msgId, msg, "loss");
      return;
    }
    const copies = toIdx !== from && link.dupProb > 0 && this.netRng.float() < link.dupProb ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const E = this.ev;
    for (let c = 0; c < copies; c++) {
      const e = E.alloc();
      E.kind[e] = DELIVER;
      E.node[e] = toIdx;
      E.from[e] = from;
      E.msg[e] = msg;
      E.msgId[e] = msgId;
      E.lt[e] = lt;
      E.vt[e] = vt;
      if (this.rounds !== null) {
        E.round[e] = this.currentRound;
        E.time[e] = this.nowMs;
        this.roundOutbox.push(e);
        this.scheduleNextRound();
        continue;
      }
      let t = this.nowMs;
      if (toIdx !== from) {
        t += sampleLatency(link.latency, this.netRng);
        if (link.reorderProb > 0 && this.netRng.float() < link.reorderProb)
          t += this.netRng.float() * link.reorderDelayMs;
        if (link.fifo) {
          const last = this.fifoLast[li] as number;
          if (t < last) t = last;
          this.fifoLast[li] = t;
        }
      }
      E.time[e] = t;
      this.queue.push(e);
    }
  }

  /** Runs event slot `e`, then frees it unless it was held for a paused node. */
  private dispatch(e: number): void {
    if (this.run(e)) this.ev.release(e);
  }

  /** False if the event was kept (held while paused). */
  private run(e: number): boolean {
    const E = this.ev;
    const slot = this.slots[E.node[e] as number] as Slot<Msg, Tag>;
    switch (E.kind[e]) {
      case DELIVER:
        if (!slot.up) {
          this.stats.dropped.down++;
          this.recordDrop(e, "down");
          return true;
        }
        if (slot.paused) return this.hold(slot, e);
        this.deliver(slot, e);
        return true;
      case TIMER: {
        if (E.cancelled[e] === 1 || E.incarnation[e] !== slot.incarnation) {
          this.forgetTimer(e);
          return true;
        }
        if (slot.paused) return this.hold(slot, e);
        this.timers.delete(E.timerId[e] as number);
        slot.timersPending--;
        this.stats.timersFired++;
        const tag = E.tag[e] as Tag;
        if (this.tracing) this.recordLocal(slot, "timer", labelOf(tag), tag);
        (slot.process as Process<Msg, Tag>).timeout(slot.ctx, tag);
        return true;
      }
      case CONTROL:
        (E.fn[e] as () => void)();
        return true;
      case NOTIFY: {
        if (!slot.up) return true;
        if (slot.paused) return this.hold(slot, e);
        const peer = this.slots[E.from[e] as number] as Slot<Msg, Tag>;
        if (this.tracing) {
          this.mergeClock(slot, e);
          const t = this.baseEvent(slot, "notify");
          t.msg = E.msgId[e] as number;
          t.peer = peer.id;
          this.pushTrace(t);
        }
        slot.process?.peerStopped?.(slot.ctx, peer.id);
        return true;
      }
      case ROUND:
        this.roundBoundary(E.time[e] as number);
        return true;
      case START:
        if (E.incarnation[e] !== slot.incarnation || !slot.up) return true;
        this.recordLocal(slot, "start");
        (slot.process as Process<Msg, Tag>).start(slot.ctx);
        if (slot.adversary !== null) slot.adversary.onStart?.(slot.advApi as AdversaryApi<Msg>);
        return true;
      case ADVERSARY:
        if (E.incarnation[e] !== slot.incarnation || !slot.up) return true;
        if (slot.paused) return this.hold(slot, e);
        (E.fn[e] as () => void)();
        return true;
      default:
        assert(false, `unknown simulator event kind ${E.kind[e]}`);
    }
  }

  /** Drops the id → slot entry of a timer event about to be freed, so the slot can be reused. */
  private forgetTimer(e: number): void {
    if (this.ev.kind[e] !== TIMER) return;
    const id = this.ev.timerId[e] as number;
    if (this.timers.get(id) === e) this.timers.delete(id);
  }

  private hold(slot: Slot<Msg, Tag>, e: number): boolean {
    if (slot.pausedQueue.length >= limits.pausedInboxMax) {
      if (this.ev.kind[e] === DELIVER) {
        this.stats.dropped.pausedOverflow++;
        this.recordDrop(e, "paused-overflow");
      }
      if (this.ev.kind[e] === TIMER) {
        this.forgetTimer(e);
        slot.timersPending--;
      }
      return true;
    }
    slot.pausedQueue.push(e);
    return false;
  }

  private mergeClock(slot: Slot<Msg, Tag>, e: number): void {
    slot.lt = Math.max(slot.lt, this.ev.lt[e] as number) + 1;
    const v = slot.vt;
    const m = this.ev.vt[e] as Int32Array | null;
    if (m !== null)
      for (let i = 0; i < this.n; i++) if ((m[i] as number) > (v[i] as number)) v[i] = m[i] as number;
    v[slot.idx] = (v[slot.idx] as number) + 1;
  }

  private deliver(slot: Slot<Msg, Tag>, e: number): void {
    const E = this.ev;
    this.stats.delivered++;
    const from = this.nodes[E.from[e] as number] as NodeId;
    const msg = E.msg[e] as Msg;
    if (this.tracing) {
      this.mergeClock(slot, e);
      const t = this.baseEvent(slot, "recv");
      t.msg = E.msgId[e] as number;
      t.peer = from;
      t.label = labelOf(msg);
      if (this.rounds !== null) t.data = { sentRound: E.round[e] as number, round: this.currentRound };
      this.pushTrace(t);
    }
    if (slot.adversary?.onReceive !== undefined)
      slot.adversary.onReceive(slot.advApi as AdversaryApi<Msg>, from, msg);
    (slot.process as Process<Msg, Tag>).receive(slot.ctx, from, msg);
  }

  private roundBoundary(time: number): void {
    const rounds = this.rounds as Required<RoundOptions>;
    const round = this.roundNext++;
    this.currentRound = round;
    const batch = this.roundOutbox;
    this.roundOutbox = [];
    for (const m of batch) {
      assert(this.ev.round[m] === round - 1, "a message must arrive in the round after it was sent");
      this.ev.time[m] = time;
      this.dispatch(m);
    }
    for (const slot of this.slots) {
      if (!slot.up || slot.paused || slot.process === null) continue;
      if (slot.process.roundStart === undefined) continue;
      this.recordLocal(slot, "round", `round ${round}`);
      slot.process.roundStart(slot.ctx, round);
    }
    this.roundScheduled = false;
    if (this.roundOutbox.length > 0 || round < rounds.roundsMin) this.scheduleNextRound();
  }

  /**
   * Rounds stop when nothing is sent; a message sent later (from a timer, or by a restarted
   * node) starts them again at the next round boundary.
   */
  private scheduleNextRound(): void {
    const rounds = this.rounds;
    if (rounds === null || this.roundScheduled) return;
    if (this.roundNext > rounds.roundsMax) return;
    this.roundScheduled = true;
    this.queue.push(this.newEvent(ROUND, Math.max(this.roundNext * rounds.roundMs, this.nowMs), 0));
  }

  private makeAdversaryApi(slot: Slot<Msg, Tag>): AdversaryApi<Msg> {
    const sim = this;
    return {
      self: slot.id,
      nodes: this.nodes,
      now: () => sim.localTime(slot),
      random: () => sim.faultRng.float(),
      send(to: NodeId, msg: Msg, delayMs = 0): void {
        if (delayMs <= 0) {
          sim.rawSend(slot, to, msg);
          return;
        }
        this.after(delayMs, () => sim.rawSend(slot, to, msg));
      },
      after(delayMs: Millis, fn: () => void): void {
        const e = sim.newEvent(ADVERSARY, sim.nowMs + Math.max(0, delayMs), slot.idx);
        sim.ev.fn[e] = fn;
        sim.ev.incarnation[e] = slot.incarnation;
        sim.queue.push(e);
      },
      sign: (data: Uint8Array) => sim.signAs(slot, data),
      mac: (peer: NodeId, data: Uint8Array) => macWith(sim.keys.pairMacKey(slot.id, peer), data),
      verify: (signer: NodeId, data: Uint8Array, signature: Uint8Array) =>
        sim.verifyBy(signer, data, signature),
      checkMac: (peer: NodeId, data: Uint8Array, tag: Uint8Array) =>
        checkMacWith(sim.keys.pairMacKey(slot.id, peer), data, tag),
      history: slot.history,
    };
  }
}
