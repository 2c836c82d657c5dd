import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  algorithm,
  type BankSnapshot,
  judgeSnapshot,
  simulateBank,
  snapshotCut,
} from "../../src/algorithms/chandy-lamport.ts";
import {
  type BankMsg,
  BankNode,
  type BankState,
  type BankTimer,
  bankTotal,
} from "../../src/algorithms/snapshot/bank.ts";
import {
  INITIATE,
  type InitiateTimer,
  RECORD,
  type SnapshotMsg,
  SnapshotNode,
  type SnapshotTimer,
} from "../../src/algorithms/snapshot/chandy-lamport.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import type { NodeId } from "../../src/core/ids.ts";
import { Prng } from "../../src/core/prng.ts";
import type { Context, Process } from "../../src/core/process.ts";
import { type LocalClock, Simulation } from "../../src/sim/simulation.ts";
import { checkCut, parseJsonl, type TraceEvent } from "../../src/sim/trace.ts";

const SWARM_SEEDS = 500;

/** Each seed draws its own mix: small and larger clusters, few and many snapshots, idle and busy banks. */
function swarmParams(seed: number) {
  const rng = new Prng(seed).fork("chandy-lamport-swarm");
  return {
    seed,
    nodes: rng.intBetween(2, 8),
    snapshots: rng.intBetween(1, 10),
    transfers: rng.chance(0.05) ? 0 : rng.intBetween(1, 40),
    balance: rng.intBetween(1, 5000),
    fifo: true,
  };
}

describe("chandy-lamport: the documented run", () => {
  it("takes 3 snapshots of 5 nodes, each consistent and conserving 5000, with n(n-1) markers each", () => {
    const r = algorithm.run({ seed: 7, nodes: 5, settings: { snapshots: "3" } });
    assert.ok(!(r instanceof Promise));
    assert.equal(r.ok, true, r.lines.join("\n"));
    assert.match(
      r.lines[0] as string,
      /3 snapshots of 5 nodes, seed 7: every cut consistent, every total 5000/,
    );
    const f = r.figures;
    assert.equal(f.completed, 3);
    assert.equal(f.markers, 3 * 5 * 4);
    assert.equal(f.reports, 3 * 4);
    assert.equal(f.messages, (f.transfers as number) + (f.markers as number) + (f.reports as number));
    assert.ok(r.lines.some((l) => l.startsWith("messages: ")));
  });

  it("is deterministic: the same options give the same report; another seed another", () => {
    const a = algorithm.run({ seed: 11, settings: { snapshots: "5" } });
    const b = algorithm.run({ seed: 11, settings: { snapshots: "5" } });
    const c = algorithm.run({ seed: 12, settings: { snapshots: "5" } });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

describe("chandy-lamport: swarm", () => {
  it(`every snapshot of ${SWARM_SEEDS} seeds (random transfers and initiators) is consistent, exact and conserving`, () => {
    let snapshots = 0;
    let withMoneyInFlight = 0;
    let seedsWithOverlap = 0;
    let sameInitiatorOverlap = 0;
    for (let seed = 1; seed <= SWARM_SEEDS; seed++) {
      const p = swarmParams(seed);
      const { sim, taken } = simulateBank(p);
      const total = p.balance * p.nodes;
      assert.equal(taken.length, p.snapshots, `seed ${seed}: every snapshot completes`);
      for (const t of taken) {
        const v = t.verdict;
        const what = `seed ${seed} snapshot (${v.id.initiator},${v.id.k})`;
        assert.equal(v.inconsistency, null, `${what}: ${v.inconsistency}`);
        assert.equal(v.channelMismatch, null, `${what}: ${v.channelMismatch}`);
        assert.equal(v.total, total, `${what}: total`);
        assert.ok(v.ok);
        assert.equal(t.snapshot.states.length, p.nodes);
        assert.equal(t.snapshot.channels.length, p.nodes * (p.nodes - 1));
        if (v.inChannels > 0) withMoneyInFlight++;
      }
      snapshots += taken.length;
      const overlaps = (a: (typeof taken)[number], b: (typeof taken)[number]) =>
        a !== b && a.startMs < b.doneMs && b.startMs < a.doneMs;
      if (taken.some((a) => taken.some((b) => overlaps(a, b)))) seedsWithOverlap++;
      if (
        taken.some((a) =>
          taken.some((b) => overlaps(a, b) && a.verdict.id.initiator === b.verdict.id.initiator),
        )
      )
        sameInitiatorOverlap++;
      // The application itself: once quiet, the balances hold all the money.
      const final = sim.nodes.map((n) => ({
        state: (sim.process(n) as SnapshotNode<BankMsg, BankTimer, BankState>).app.recordState(),
      }));
      assert.equal(bankTotal(final, []).total, total, `seed ${seed}: final balances`);
    }
    // The oracle saw the hard cases: money in flight, and snapshots running at the same time.
    assert.ok(
      withMoneyInFlight > snapshots / 2,
      `${withMoneyInFlight} of ${snapshots} caught money in flight`,
    );
    assert.ok(seedsWithOverlap > SWARM_SEEDS / 4, `${seedsWithOverlap} seeds had concurrent snapshots`);
    assert.ok(sameInitiatorOverlap > 0, "some initiator had two of its snapshots running at once");
  });
});

describe("chandy-lamport: the oracle can fail (negative controls)", () => {
  it("a variant that ignores channel states loses money in flight on some seed", () => {
    let lost = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const p = swarmParams(seed);
      const { sim, taken } = simulateBank(p);
      for (const t of taken) {
        const blind: BankSnapshot = {
          ...t.snapshot,
          channels: t.snapshot.channels.map((c) => ({ ...c, messages: [] })),
        };
        const v = judgeSnapshot(sim.trace as TraceEvent[], [...sim.nodes], blind, p.balance * p.nodes);
        assert.equal(v.inconsistency, null, "the cut itself is still consistent");
        if (t.verdict.inChannels > 0) {
          assert.equal(v.conserved, false);
          assert.notEqual(v.channelMismatch, null);
          assert.equal(v.ok, false);
          lost++;
        }
      }
    }
    assert.ok(lost > 0);
  });

  /**
   * The broken variant: every node records its balance when its own clock reads noon, with no
   * markers and no channel recording. Clocks are skewed by up to `skewMs`.
   */
  class NoonRecorder implements Process<BankMsg, BankTimer | InitiateTimer> {
    recorded: BankState | null = null;
    constructor(
      private readonly bank: BankNode,
      private readonly noonMs: number,
    ) {}
    start(ctx: Context<BankMsg, BankTimer | InitiateTimer>): void {
      this.bank.start(ctx);
      ctx.setTimer(Math.max(0, this.noonMs - ctx.now()), { kind: INITIATE });
    }
    receive(ctx: Context<BankMsg, BankTimer | InitiateTimer>, from: NodeId, msg: BankMsg): void {
      this.bank.receive(ctx, from, msg);
    }
    timeout(ctx: Context<BankMsg, BankTimer | InitiateTimer>, tag: BankTimer | InitiateTimer): void {
      if (tag.kind === INITIATE) {
        ctx.trace(RECORD, { initiator: 0, k: 1 });
        this.recorded = this.bank.recordState();
        return;
      }
      this.bank.timeout(ctx, tag);
    }
  }

  it("a variant that records at noon by skewed local clocks, without markers, cuts inconsistently on some seed", () => {
    const nodes = 5;
    const balance = 1000;
    const skewMs = 15;
    let inconsistent = 0;
    let notConserved = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const rng = new Prng(seed).fork("skew");
      const clocks = new Map<NodeId, LocalClock>();
      for (let n = 0; n < nodes; n++)
        clocks.set(n as NodeId, { offsetMs: rng.between(-skewMs, skewMs), driftPpm: 0 });
      const sim = new Simulation<BankMsg, BankTimer | InitiateTimer>({
        seed,
        nodes,
        factory: () => new NoonRecorder(new BankNode({ balance, transfers: 20 }), 100),
        network: { link: { fifo: true } },
        clocks,
        trace: true,
      });
      sim.runUntilQuiescent();
      const snapshot: BankSnapshot = {
        initiator: 0 as NodeId,
        k: 1,
        states: sim.nodes.map((node) => ({
          node,
          state: (sim.process(node) as NoonRecorder).recorded as BankState,
        })),
        channels: sim.nodes.flatMap((to) =>
          sim.nodes.filter((from) => from !== to).map((from) => ({ from, to, messages: [] })),
        ),
      };
      const v = judgeSnapshot(sim.trace as TraceEvent[], [...sim.nodes], snapshot, balance * nodes);
      assert.notEqual(v.cut, null);
      if (v.inconsistency !== null) {
        inconsistent++;
        assert.match(v.inconsistency, /received inside the cut .* but sent outside it/);
      }
      if (!v.conserved) notConserved++;
      assert.equal(v.ok, v.inconsistency === null && v.channelMismatch === null && v.conserved);
    }
    assert.ok(inconsistent > 0, "some seed's noon cut is inconsistent");
    assert.ok(notConserved > 0, "some seed's noon snapshot loses or creates money");
  });

  it("without FIFO channels the unchanged algorithm fails the oracle on some seeds", () => {
    let failed = 0;
    let inconsistent = 0;
    let wrongChannel = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const r = algorithm.run({ seed, settings: { snapshots: "4", fifo: "false" } });
      assert.ok(!(r instanceof Promise));
      if (!r.ok) {
        failed++;
        assert.match(r.lines[0] as string, /ORACLE FAILED/);
      }
      if (r.lines.some((l) => l.includes("INCONSISTENT CUT"))) inconsistent++;
      if (r.lines.some((l) => l.includes("WRONG CHANNEL STATE"))) wrongChannel++;
    }
    assert.ok(
      failed > 0 && inconsistent > 0 && wrongChannel > 0,
      `${failed} ${inconsistent} ${wrongChannel}`,
    );
  });
});

describe("chandy-lamport: the snapshot layer", () => {
  it("drops and counts malformed markers, reports and transfers without changing any balance", () => {
    type Msg = SnapshotMsg<BankMsg, BankState>;
    type Tag = SnapshotTimer<BankTimer>;
    const rogue: Process<Msg, Tag> = {
      start(ctx) {
        const bad: unknown[] = [
          { type: "cl-marker", initiator: 99, k: 1 },
          { type: "transfer", seq: 1, amount: -5 },
          { type: "cl-report", initiator: 0, k: 1, node: 1, state: { balance: 5 }, channels: [] },
          {
            type: "cl-report",
            initiator: 0,
            k: 7,
            node: 2,
            state: { balance: 5 },
            channels: [
              { from: 0, to: 2, messages: [] },
              { from: 1, to: 2, messages: [] },
            ],
          },
        ];
        for (const m of bad) ctx.send(0 as NodeId, m as Msg);
        // The real marker of (0, 1) twice: the second is a duplicate on a closed channel.
        ctx.setTimer(20, { kind: "transfer" });
      },
      receive() {},
      timeout(ctx) {
        for (let i = 0; i < 2; i++)
          ctx.send(0 as NodeId, { type: "cl-marker", initiator: 0 as NodeId, k: 1 });
      },
    };
    const sim = new Simulation<Msg, Tag>({
      seed: 3,
      nodes: 3,
      factory: (id) =>
        id === 2
          ? rogue
          : new SnapshotNode(new BankNode({ balance: 100, transfers: 0 }), {
              initiateAtMs: id === 0 ? [1] : [],
              isMessage: (m): m is BankMsg => (m as BankMsg).type === "transfer" && (m as BankMsg).amount > 0,
              isState: (s): s is BankState => typeof (s as BankState).balance === "number",
            }),
      network: { link: { fifo: true } },
    });
    sim.runUntilQuiescent();
    const c = sim.nodeCounters(0);
    assert.equal(c.get("cl.invalid"), 2);
    assert.equal(c.get("cl.report.invalid"), 1);
    assert.equal(c.get("cl.report.unexpected"), 1);
    assert.equal(c.get("cl.marker.duplicate"), 1);
    const node0 = sim.process(0) as SnapshotNode<BankMsg, BankTimer, BankState>;
    assert.deepEqual(node0.app.recordState(), { balance: 100 });
    assert.equal(sim.outputs.length, 0, "the rogue never reported, so the snapshot is incomplete");
  });

  it("snapshotCut is null when a node never recorded the snapshot", () => {
    const { sim } = simulateBank({ seed: 5, nodes: 3, snapshots: 1, transfers: 5, balance: 10, fifo: true });
    const events = sim.trace as TraceEvent[];
    const [first] = sim.outputs;
    assert.ok(first !== undefined);
    const id = (first.record as { snapshot: BankSnapshot }).snapshot;
    assert.notEqual(snapshotCut(events, [0, 1, 2], id), null);
    assert.equal(snapshotCut(events, [0, 1, 2], { initiator: id.initiator, k: id.k + 1 }), null);
  });
});

describe("chandy-lamport: options and trace file", () => {
  const dir = mkdtempSync(join(tmpdir(), "phalanx-cl-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the causal trace; each snapshot's cut read back from the file is consistent", () => {
    const file = join(dir, "cl.jsonl");
    const r = algorithm.run({ seed: 7, nodes: 4, trace: file, settings: { snapshots: "4" } });
    assert.ok(!(r instanceof Promise) && r.ok);
    const { header, events } = parseJsonl(r.traceJsonl ?? "");
    assert.equal(header?.protocol, "chandy-lamport");
    assert.equal(events.length, r.figures.traceEvents);
    const records = events.filter((e) => e.kind === "local" && e.label === RECORD);
    assert.equal(records.length, 4 * 4);
    const ids = new Set(records.map((e) => JSON.stringify(e.data)));
    assert.equal(ids.size, 4);
    for (const id of ids) {
      const cut = snapshotCut(events, [0, 1, 2, 3], JSON.parse(id));
      assert.ok(cut !== null);
      assert.deepEqual(checkCut(events, cut), { consistent: true });
    }
  });

  it("rejects options it cannot run with BAD_ARGUMENT", () => {
    const bad: Array<Parameters<typeof algorithm.run>[0]> = [
      { seed: 1, nodes: 1, settings: {} },
      { seed: 1, nodes: 65, settings: {} },
      { seed: 1, traitors: 1, settings: {} },
      { seed: 1, strategy: "lie", settings: {} },
      { seed: 1, settings: { colour: "red" } },
      { seed: 1, settings: { snapshots: "0" } },
      { seed: 1, settings: { snapshots: "201" } },
      { seed: 1, settings: { snapshots: "2.5" } },
      { seed: 1, settings: { transfers: "-1" } },
      { seed: 1, settings: { balance: "1e3" } },
      { seed: 1, settings: { fifo: "yes" } },
    ];
    for (const options of bad) {
      assert.throws(
        () => algorithm.run(options),
        (e) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(options),
      );
    }
  });
});
