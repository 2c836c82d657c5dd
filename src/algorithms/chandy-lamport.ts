/**
 * `phalanx sim chandy-lamport`: Chandy–Lamport snapshots of a running bank (seed 002,
 * "Consistent cuts and snapshots" and "Chandy/Lamport Algorithm"; Chandy and Lamport,
 * "Distributed Snapshots", TOCS 1985). Nodes send each other random transfers over FIFO
 * channels while randomly chosen nodes start snapshots at random times, often several at once.
 *
 * The oracle judges every snapshot against the simulator's causal trace:
 * 1. its cut is consistent: each node's side is every event before the input that made it
 *    record (see RECORD), and no message received inside the cut was sent outside it, by both
 *    trace checkers (messages against send events, and vector clocks);
 * 2. its channel states are exactly the transfers the trace shows crossing the cut (sent inside,
 *    received outside), in order;
 * 3. money is conserved: recorded balances plus money in recorded channels equal the initial
 *    total, although transfers were in flight when it was taken.
 */
import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import { Simulation } from "../sim/simulation.ts";
import {
  type Cut,
  checkCut,
  hostName,
  isCutConsistentByClocks,
  type TraceEvent,
  traceToJsonl,
} from "../sim/trace.ts";
import { intSetting } from "./settings.ts";
import {
  type BankMsg,
  BankNode,
  type BankState,
  type BankTimer,
  bankLimits,
  bankTotal,
  defaultBankOptions,
  isBankMsg,
  isBankState,
} from "./snapshot/bank.ts";
import {
  type GlobalSnapshot,
  MARKER,
  RECORD,
  REPORT,
  type SnapshotId,
  type SnapshotMsg,
  SnapshotNode,
  type SnapshotOutput,
  type SnapshotTimer,
} from "./snapshot/chandy-lamport.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

const NAME = "chandy-lamport";

/** Nodes of one run: markers cost n(n-1) messages per snapshot. */
const nodesMin = 2;
const nodesMax = 64;
/** Snapshots one run may take. */
const snapshotsMax = 200;

const defaults = { nodes: 5, snapshots: 3 } as const;

/** One run of the bank under snapshots. */
export interface BankRunParams {
  nodes: number;
  seed: number;
  snapshots: number;
  transfers: number;
  balance: number;
  fifo: boolean;
}

export type BankSnapshot = GlobalSnapshot<BankMsg, BankState>;

export interface SnapshotVerdict {
  id: SnapshotId;
  /** Each node's side of the cut, in its own event indices; null if some node never recorded. */
  cut: Cut | null;
  /** Why the cut is not consistent, or null. */
  inconsistency: string | null;
  /** Why the recorded channel states differ from what the trace shows in flight, or null. */
  channelMismatch: string | null;
  balances: number;
  inChannels: number;
  total: number;
  conserved: boolean;
  /** Transfers in the recorded channel states. */
  channelMessages: number;
  ok: boolean;
}

function isControl(label: string | undefined): boolean {
  return label === MARKER || label === REPORT;
}

/** Own index of an event on its node: its own vector component. */
function own(e: TraceEvent): number {
  return (e.vt as Record<string, number>)[String(e.node)] as number;
}

function sameId(data: unknown, id: SnapshotId): boolean {
  const d = data as Partial<SnapshotId> | undefined;
  return d?.initiator === id.initiator && d?.k === id.k;
}

/**
 * The cut of snapshot `id` in a trace: for each node, the events before the input that made it
 * record (the event just before its RECORD event, which must be a marker's receipt or a timer).
 * Null if some node of `nodes` has no RECORD event for `id`.
 */
export function snapshotCut(
  events: readonly TraceEvent[],
  nodes: readonly number[],
  id: SnapshotId,
): Cut | null {
  const trigger = new Map<number, TraceEvent>();
  const last = new Map<number, TraceEvent>();
  for (const e of events) {
    if (e.vt === undefined) continue;
    if (e.kind === "local" && e.label === RECORD && sameId(e.data, id)) {
      const before = last.get(e.node);
      if (before !== undefined && own(before) === own(e) - 1) trigger.set(e.node, before);
    }
    last.set(e.node, e);
  }
  const cut = new Map<number, number>();
  for (const node of nodes) {
    const t = trigger.get(node);
    if (t === undefined || !(t.kind === "timer" || (t.kind === "recv" && t.label === MARKER))) return null;
    cut.set(node, own(t) - 1);
  }
  return cut;
}

/**
 * Application messages the trace shows crossing `cut` forwards (sent inside it, not received
 * inside it), by channel "from>to", each as the trace recorded it, in send order.
 */
export function inFlight(events: readonly TraceEvent[], cut: Cut): Map<string, unknown[]> {
  const receivedInside = new Set<number>();
  for (const e of events) {
    if (e.kind === "recv" && e.vt !== undefined && own(e) <= (cut.get(e.node) ?? 0))
      receivedInside.add(e.msg as number);
  }
  const out = new Map<string, unknown[]>();
  for (const e of events) {
    if (e.kind !== "send" || e.vt === undefined || isControl(e.label)) continue;
    if (own(e) > (cut.get(e.node) ?? 0) || receivedInside.has(e.msg as number)) continue;
    const key = `${e.node}>${e.peer}`;
    const list = out.get(key) ?? [];
    list.push(e.data);
    out.set(key, list);
  }
  return out;
}

function describeCrossing(events: readonly TraceEvent[], cut: Cut): string | null {
  const verdict = checkCut(events, cut);
  const byClocks = isCutConsistentByClocks(events, cut);
  if (verdict.consistent) return byClocks ? null : "vector clocks see an event beyond the cut";
  const crossing = new Set(verdict.offending.map((o) => o.id));
  const labels = new Map<number, string>();
  for (const e of events)
    if (e.kind === "send" && crossing.has(e.msg as number)) labels.set(e.msg as number, e.label ?? "message");
  // Name an application message if one crossed: with FIFO channels broken, markers can cross too.
  const m = verdict.offending.find((o) => !isControl(labels.get(o.id))) ?? verdict.message;
  return (
    `${labels.get(m.id)} #${m.id} ${hostName(m.from)}->${hostName(m.to)} was received inside the cut ` +
    `(event ${m.recvIndex} of ${hostName(m.to)}) but sent outside it (event ${m.sendIndex} of ${hostName(m.from)})` +
    (verdict.offending.length > 1 ? `, and ${verdict.offending.length - 1} more` : "")
  );
}

function seqsOf(messages: readonly unknown[]): string {
  return `[${messages.map((m) => (m as BankMsg).seq).join(" ")}]`;
}

function describeChannelMismatch(
  events: readonly TraceEvent[],
  cut: Cut,
  snapshot: BankSnapshot,
): string | null {
  const expected = inFlight(events, cut);
  for (const c of snapshot.channels) {
    const key = `${c.from}>${c.to}`;
    const want = seqsOf(expected.get(key) ?? []);
    const got = seqsOf(c.messages);
    expected.delete(key);
    if (want !== got)
      return `channel ${hostName(c.from)}->${hostName(c.to)} recorded transfers ${got}, the trace has ${want} in flight`;
  }
  const [key, missing] = [...expected][0] ?? [];
  if (key === undefined) return null;
  return `channel ${key.replace(">", "->")} is not in the snapshot, the trace has ${seqsOf(missing ?? [])} in flight`;
}

/** Judges one snapshot of the bank against the run's trace and the initial total. */
export function judgeSnapshot(
  events: readonly TraceEvent[],
  nodes: readonly number[],
  snapshot: BankSnapshot,
  initialTotal: number,
): SnapshotVerdict {
  const id = { initiator: snapshot.initiator, k: snapshot.k };
  const cut = snapshotCut(events, nodes, id);
  const money = bankTotal(snapshot.states, snapshot.channels);
  const channelMessages = snapshot.channels.reduce((a, c) => a + c.messages.length, 0);
  const inconsistency =
    cut === null ? "some node has no recording point in the trace" : describeCrossing(events, cut);
  const channelMismatch = cut === null ? null : describeChannelMismatch(events, cut, snapshot);
  const conserved = money.total === initialTotal && snapshot.states.length === nodes.length;
  return {
    id,
    cut,
    inconsistency,
    channelMismatch,
    ...money,
    conserved,
    channelMessages,
    ok: inconsistency === null && channelMismatch === null && conserved,
  };
}

const settings = {
  snapshots: `snapshots to take, each by a random node at a random time (default ${defaults.snapshots}, 1..${snapshotsMax})`,
  transfers: `transfer turns each node takes, about one per ${defaultBankOptions.transferEveryMs} ms; an empty account skips its turn (default ${defaultBankOptions.transfers})`,
  balance: `initial balance of each node (default ${defaultBankOptions.balance})`,
  fifo: "true (default) or false: without FIFO channels the algorithm's cuts can be wrong",
} as const;

function parse(options: AlgorithmOptions): BankRunParams {
  const nodes = options.nodes ?? defaults.nodes;
  if (!Number.isInteger(nodes) || nodes < nodesMin || nodes > nodesMax)
    throw new PhalanxError("BAD_ARGUMENT", `${NAME} needs ${nodesMin}..${nodesMax} nodes, got ${nodes}`);
  if ((options.traitors ?? 0) !== 0)
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${NAME} tolerates no faulty process (the algorithm assumes reliable processes and channels): use --traitors 0`,
    );
  if (options.strategy !== undefined)
    throw new PhalanxError("BAD_ARGUMENT", `${NAME} has no strategies; drop --strategy`);
  for (const key of Object.keys(options.settings))
    if (!(key in settings))
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${NAME} has no setting "${key}" (settings: ${Object.keys(settings).join(", ")})`,
      );
  const fifo = options.settings.fifo ?? "true";
  if (fifo !== "true" && fifo !== "false")
    throw new PhalanxError("BAD_ARGUMENT", `--set fifo= needs true or false, got "${fifo}"`);
  return {
    nodes,
    seed: options.seed,
    snapshots: intSetting(options.settings, "snapshots", defaults.snapshots, 1, snapshotsMax),
    transfers: intSetting(
      options.settings,
      "transfers",
      defaultBankOptions.transfers,
      0,
      bankLimits.transfersMax,
    ),
    balance: intSetting(options.settings, "balance", defaultBankOptions.balance, 0, bankLimits.balanceMax),
    fifo: fifo === "true",
  };
}

/** Who starts each snapshot and when: uniform over nodes and over the time transfers run. */
function initiations(p: BankRunParams): Map<number, number[]> {
  const rng = new Prng(p.seed).fork("chandy-lamport-initiations");
  const windowMs = p.transfers * defaultBankOptions.transferEveryMs;
  const byNode = new Map<number, number[]>();
  for (let i = 0; i < p.snapshots; i++) {
    const node = rng.int(p.nodes);
    const at = rng.float() * windowMs;
    byNode.set(node, [...(byNode.get(node) ?? []), at]);
  }
  for (const times of byNode.values()) times.sort((a, b) => a - b);
  return byNode;
}

type Msg = SnapshotMsg<BankMsg, BankState>;
type Tag = SnapshotTimer<BankTimer>;

/** Runs the bank with snapshots to quiescence, tracing, and judges every snapshot taken. */
export function simulateBank(p: BankRunParams): { sim: Simulation<Msg, Tag>; taken: TakenSnapshot[] } {
  const schedule = initiations(p);
  const sim = new Simulation<Msg, Tag>({
    seed: p.seed,
    nodes: p.nodes,
    factory: (id: NodeId) =>
      new SnapshotNode(new BankNode({ balance: p.balance, transfers: p.transfers }), {
        initiateAtMs: schedule.get(id) ?? [],
        isMessage: isBankMsg,
        isState: isBankState,
      }),
    network: { link: { fifo: p.fifo } },
    trace: true,
  });
  sim.runUntilQuiescent();
  return { sim, taken: taken(sim, p) };
}

/** A completed snapshot, its verdict, and when its initiator started it and got it back (virtual ms). */
export interface TakenSnapshot {
  snapshot: BankSnapshot;
  verdict: SnapshotVerdict;
  startMs: number;
  doneMs: number;
}

function taken(sim: Simulation<Msg, Tag>, p: BankRunParams): TakenSnapshot[] {
  const events = sim.trace as TraceEvent[];
  const nodes = [...sim.nodes];
  const startMs = new Map<string, number>();
  for (const e of events) {
    const d = e.data as SnapshotId | undefined;
    if (e.kind === "local" && e.label === RECORD && d?.initiator === e.node)
      startMs.set(`${d.initiator}:${d.k}`, e.t);
  }
  return sim.outputs
    .map((o) => {
      const s = (o.record as SnapshotOutput<BankMsg, BankState>).snapshot;
      return {
        snapshot: s,
        verdict: judgeSnapshot(events, nodes, s, p.balance * p.nodes),
        startMs: startMs.get(`${s.initiator}:${s.k}`) as number,
        doneMs: o.t,
      };
    })
    .sort((a, b) => a.startMs - b.startMs);
}

function overlapping(all: readonly TakenSnapshot[]): number {
  return all.filter((a) => all.some((b) => b !== a && b.startMs < a.doneMs && a.startMs < b.doneMs)).length;
}

function snapshotLine(t: TakenSnapshot, p: BankRunParams): string {
  const v = t.verdict;
  const name = `snapshot (${hostName(v.id.initiator)},${v.id.k})`;
  const channels = `${v.channelMessages} transfer${v.channelMessages === 1 ? "" : "s"} in channels`;
  const cut =
    v.cut === null ? "no cut" : `cut ${[...v.cut].map(([n, c]) => `${hostName(n)}:${c}`).join(" ")}`;
  const head = `${name} ${t.startMs.toFixed(1)}-${t.doneMs.toFixed(1)} ms: balances ${v.balances} + ${v.inChannels} (${channels}) = ${v.total}`;
  const problems = [
    v.inconsistency === null ? null : `INCONSISTENT CUT: ${v.inconsistency}`,
    v.channelMismatch === null ? null : `WRONG CHANNEL STATE: ${v.channelMismatch}`,
    v.conserved ? null : `NOT CONSERVED: ${v.total} != ${p.balance * p.nodes}`,
  ].filter((x) => x !== null);
  return `${head}; ${cut}${problems.length === 0 ? "" : `; ${problems.join("; ")}`}`;
}

function run(options: AlgorithmOptions): AlgorithmResult {
  const p = parse(options);
  const { sim, taken: all } = simulateBank(p);
  const total = p.balance * p.nodes;
  const events = sim.trace as TraceEvent[];
  const consistent = all.filter((t) => t.verdict.inconsistency === null).length;
  const conserved = all.filter((t) => t.verdict.conserved).length;
  const good = all.filter((t) => t.verdict.ok).length;
  const ok = all.length === p.snapshots && good === p.snapshots;
  const transfers = sim.counter("bank.transfer.sent");
  const markers = sim.counter("cl.marker.sent");
  const reports = sim.counter("cl.report.sent");
  const channelMessages = all.reduce((a, t) => a + t.verdict.channelMessages, 0);
  const concurrent = overlapping(all);
  const setup = `${p.snapshots} snapshot${p.snapshots === 1 ? "" : "s"} of ${p.nodes} nodes${p.fifo ? "" : " over non-FIFO channels"}, seed ${p.seed}`;
  const summary = ok
    ? `${NAME}: ${setup}: every cut consistent, every total ${total}`
    : `${NAME}: ${setup}: ORACLE FAILED: ${p.snapshots - good} of ${p.snapshots} snapshots wrong or missing (${all.length} completed, ${consistent} consistent, ${conserved} conserved)`;
  const lines = [
    summary,
    ...all.map((t) => `  ${snapshotLine(t, p)}`),
    `concurrency: ${concurrent} of ${all.length} snapshots overlapped another`,
    `messages: ${transfers} transfers, ${markers} markers, ${reports} reports (${sim.stats.sent} in all); ${channelMessages} transfers recorded in channel states`,
  ];
  let traceJsonl: string | undefined;
  if (options.trace !== undefined) {
    traceJsonl = traceToJsonl(
      sim.traceHeader(NAME, {
        nodes: p.nodes,
        snapshots: p.snapshots,
        transfers: p.transfers,
        balance: p.balance,
        fifo: p.fifo,
      }),
      events,
    );
    lines.push(
      `trace: ${events.length} events written to ${options.trace}; each node's "${RECORD}" event follows the input that made it record, and its side of the cut ends just before that input`,
    );
  }
  return {
    ok,
    lines,
    traceJsonl,
    figures: {
      nodes: p.nodes,
      seed: p.seed,
      snapshots: p.snapshots,
      completed: all.length,
      consistent,
      conserved,
      total,
      transfers,
      markers,
      reports,
      messages: sim.stats.sent,
      channelMessages,
      overlapping: concurrent,
      fifo: p.fifo,
      traceEvents: events.length,
    },
  };
}

export const algorithm: Algorithm = {
  name: NAME,
  summary: "Chandy–Lamport snapshots of a bank with transfers in flight: consistent cuts, conserved money",
  source: "seed 002, Consistent cuts and snapshots; Chandy/Lamport Algorithm (Chandy & Lamport, TOCS 1985)",
  defaults: { nodes: defaults.nodes, traitors: 0 },
  strategies: [],
  settings,
  run,
};
