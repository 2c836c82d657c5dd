import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process } from "../../src/core/process.ts";
import { GossipNode } from "../../src/gossip/gossip.ts";
import { gossipSimOptions, gossipSpec } from "../../src/scenarios/gossip.ts";
import {
  type Adversary,
  type AdversaryApi,
  delaying,
  duplicating,
  equivocating,
  honest,
  replaying,
  rewriting,
  silent,
} from "../../src/sim/adversary/index.ts";
import type { FaultPlan } from "../../src/sim/faults.ts";
import type { ProtocolSpec } from "../../src/sim/protocol.ts";
import { runScenario } from "../../src/sim/run.ts";
import { Simulation } from "../../src/sim/simulation.ts";
import type { TraceEvent } from "../../src/sim/trace.ts";
import { byKind } from "./helpers.ts";

const N = (x: number) => x as NodeId;

interface Val {
  type: "val";
  seq: number;
  value: string;
}

interface Receipt {
  t: number;
  node: NodeId;
  from: NodeId;
  msg: Val;
}

interface CoreSend {
  t: number;
  from: NodeId;
  to: NodeId;
  msg: Val;
}

/** Every 10 ms, `ticks` times, sends its next value to every peer. */
class Broadcaster implements Process<Val, "tick"> {
  private seq = 0;
  ctx: Context<Val, "tick"> | null = null;
  constructor(
    private readonly ticks: number,
    private readonly receipts: Receipt[],
    private readonly coreSends: CoreSend[],
  ) {}
  start(ctx: Context<Val, "tick">): void {
    this.ctx = ctx;
    ctx.setTimer(10, "tick");
  }
  receive(ctx: Context<Val, "tick">, from: NodeId, msg: Val): void {
    this.receipts.push({ t: ctx.now(), node: ctx.self, from, msg });
  }
  timeout(ctx: Context<Val, "tick">): void {
    this.seq++;
    for (const to of ctx.nodes) {
      if (to === ctx.self) continue;
      const msg: Val = { type: "val", seq: this.seq, value: `v${ctx.self}.${this.seq}` };
      this.coreSends.push({ t: ctx.now(), from: ctx.self, to, msg });
      ctx.send(to, msg);
    }
    if (this.seq < this.ticks) ctx.setTimer(10, "tick");
  }
}

function byzRun(adversary: Adversary<Val> | null, ticks = 3, nodes = 4, seed = 1) {
  const receipts: Receipt[] = [];
  const coreSends: CoreSend[] = [];
  const sim = new Simulation<Val, "tick">({
    seed,
    nodes,
    factory: () => new Broadcaster(ticks, receipts, coreSends),
    network: { link: { latency: { kind: "constant", ms: 1 } } },
    trace: true,
  });
  if (adversary !== null) sim.setAdversary(N(0), adversary);
  sim.runUntilQuiescent();
  const from0 = receipts.filter((r) => r.from === 0);
  const got = (node: number) => from0.filter((r) => r.node === node).map((r) => r.msg);
  return { sim, receipts, coreSends, from0, got };
}

describe("Byzantine adversaries", () => {
  it("honest (control): each peer gets exactly what the core sent", () => {
    const { sim, got } = byzRun(honest());
    for (const p of [1, 2, 3])
      assert.deepEqual(
        got(p).map((m) => m.value),
        ["v0.1", "v0.2", "v0.3"],
      );
    assert.deepEqual([...sim.byzantine], [0]);
  });

  it("rewriting sends each peer its own rewritten message, or drops it", () => {
    const { got } = byzRun(
      rewriting<Val>("per-peer", (msg, to) => (to === 3 ? undefined : { ...msg, value: `lie-to-${to}` })),
    );
    assert.deepEqual(
      got(1),
      [1, 2, 3].map((seq) => ({ type: "val", seq, value: "lie-to-1" })),
    );
    assert.deepEqual(
      got(2),
      [1, 2, 3].map((seq) => ({ type: "val", seq, value: "lie-to-2" })),
    );
    assert.deepEqual(got(3), []);
  });

  it("equivocating tells the upper half of the nodes one thing and the rest another", () => {
    const { got, from0 } = byzRun(equivocating<Val>((msg) => ({ ...msg, value: `other ${msg.seq}` })));
    // 4 nodes: the default side is nodes 2 and 3 (index >= 2).
    assert.deepEqual(
      got(1).map((m) => m.value),
      ["v0.1", "v0.2", "v0.3"],
    );
    assert.deepEqual(
      got(2).map((m) => m.value),
      ["other 1", "other 2", "other 3"],
    );
    assert.deepEqual(
      got(3).map((m) => m.value),
      ["other 1", "other 2", "other 3"],
    );
    // The same round, two different values: equivocation.
    const seq1 = new Set(from0.filter((r) => r.msg.seq === 1).map((r) => r.msg.value));
    assert.equal(seq1.size, 2);
  });

  it("silent sends nothing, though its core keeps running", () => {
    const { sim, from0, coreSends, receipts } = byzRun(silent());
    assert.equal(from0.length, 0);
    assert.equal(coreSends.filter((s) => s.from === 0).length, 9, "the core still tried to send");
    assert.equal(byKind(sim.trace as TraceEvent[], "send").filter((e) => e.node === 0).length, 0);
    assert.ok(
      receipts.some((r) => r.node === 0),
      "it still receives",
    );
  });

  it("duplicating(3) puts every message on the wire three times", () => {
    const { sim, got } = byzRun(duplicating<Val>(3));
    for (const p of [1, 2, 3]) {
      assert.deepEqual(
        got(p).map((m) => m.seq),
        [1, 1, 1, 2, 2, 2, 3, 3, 3],
      );
    }
    assert.equal(byKind(sim.trace as TraceEvent[], "send").filter((e) => e.node === 0).length, 27);
  });

  it("replaying re-sends old messages from the core's history", () => {
    const { from0, coreSends } = byzRun(replaying<Val>(1, 5), 6, 4, 2);
    const sentByCore = coreSends.filter((s) => s.from === 0);
    assert.equal(sentByCore.length, 18);
    assert.ok(from0.length > sentByCore.length, "replays come on top of the faithful sends");
    const known = new Set(sentByCore.map((s) => JSON.stringify(s.msg)));
    for (const r of from0) assert.ok(known.has(JSON.stringify(r.msg)), "a replay repeats a real message");
    // A replay delivers a message older than one the peer already got from node 0.
    let stale = 0;
    for (const p of [1, 2, 3]) {
      let highest = 0;
      for (const m of from0.filter((r) => r.node === p).map((r) => r.msg)) {
        if (m.seq <= highest) stale++;
        highest = Math.max(highest, m.seq);
      }
    }
    assert.ok(stale > 0, "some peer got an old message again");
  });

  it("delaying holds every message for its delay; honest nodes' messages are not delayed", () => {
    const { receipts, coreSends } = byzRun(delaying<Val>(50, 60));
    const sentAt = new Map(coreSends.map((s) => [`${s.from}>${s.to}#${s.msg.seq}`, s.t]));
    let delayed = 0;
    for (const r of receipts) {
      const t0 = sentAt.get(`${r.from}>${r.node}#${r.msg.seq}`) as number;
      const took = r.t - t0;
      if (r.from === 0) {
        assert.ok(took >= 51 && took <= 61, `took ${took}`);
        delayed++;
      } else assert.equal(took, 1);
    }
    assert.equal(delayed, 9);
  });

  it("an adversary is cut off when its node crashes (its delayed sends die with it)", () => {
    const receipts: Receipt[] = [];
    const sim = new Simulation<Val, "tick">({
      seed: 1,
      nodes: 2,
      factory: () => new Broadcaster(1, receipts, []),
      network: { link: { latency: { kind: "constant", ms: 1 } } },
    });
    sim.setAdversary(N(0), delaying<Val>(100, 100));
    sim.at(50, () => sim.crash(N(0)));
    sim.runUntilQuiescent();
    assert.deepEqual(
      receipts.filter((r) => r.from === 0),
      [],
    );
    assert.equal(receipts.length, 1, "node 1's own message reached node 0 before the crash");
  });
});

describe("unforgeability", () => {
  const forgePlan = (byzantine: number): FaultPlan => ({
    profile: "forge-test",
    link: {},
    clocks: [],
    byzantine: [{ node: N(byzantine), strategy: "forge" }],
    schedule: [],
    healAtMs: 2000,
  });

  it("gossip with signed rumors: no forged rumor is accepted by any correct node", () => {
    const r = runScenario(gossipSpec, { seed: 7, nodes: 6, faults: forgePlan(0), trace: false });
    assert.deepEqual(r.violations, []);
    assert.ok(r.sim.counter("gossip.bad-signature") > 0, "forgeries were attempted and refused");
    for (const node of [1, 2, 3, 4, 5].map(N)) {
      assert.equal(r.sim.nodeCounters(node).get("gossip.bad-signature") !== undefined, true);
      for (const id of (r.sim.process(node) as GossipNode).known()) {
        const [origin, k] = id.split(":").map(Number) as [number, number];
        // Forged rumors have k >= 1000; only those claiming the adversary's own origin carry a
        // valid signature (its own).
        if (k >= 1000) assert.equal(origin, 0, `node ${node} accepted forged rumor ${id}`);
      }
    }
    const delivered = r.sim.outputs.filter(
      (o) =>
        (o.record as { kind: string; k: number }).kind === "delivered" &&
        (o.record as { k: number }).k >= 1000,
    );
    assert.ok(delivered.length > 0, "the adversary's rumors in its own name do get through");
    for (const o of delivered) assert.equal((o.record as { origin: number }).origin, 0);
  });

  it("without signatures the same forgery is accepted, and the validity checker reports it", () => {
    const unsigned: ProtocolSpec<Parameters<GossipNode["receive"]>[2], Parameters<GossipNode["timeout"]>[1]> =
      {
        ...gossipSpec,
        factory: () => () => new GossipNode({ ...gossipSimOptions, signed: false }),
      };
    const r = runScenario(unsigned, { seed: 7, nodes: 6, faults: forgePlan(0) });
    assert.ok(r.violations.some((v) => v.checker === "validity"));
    assert.equal(r.sim.counter("gossip.bad-signature"), 0);
  });

  it("ctx.verify refuses another node's name on a signature made with the adversary's own key", () => {
    let api: AdversaryApi<Val> | null = null;
    const sim = new Simulation<Val, "tick">({
      seed: 5,
      nodes: 3,
      factory: () => new Broadcaster(0, [], []),
    });
    sim.setAdversary(N(0), {
      name: "spy",
      onStart(a) {
        api = a;
      },
      onSend(a, to, msg) {
        a.send(to, msg);
      },
    });
    sim.runUntil(1);
    const data = new TextEncoder().encode("transfer 100 to node 0");
    const byAdversary = (api as AdversaryApi<Val> | null)?.sign(data) as Uint8Array;
    const ctx1 = (sim.process(N(1)) as Broadcaster).ctx as Context<Val, "tick">;
    const ctx2 = (sim.process(N(2)) as Broadcaster).ctx as Context<Val, "tick">;
    assert.equal(ctx1.verify(N(0), data, byAdversary), true, "its own signature is valid as its own");
    assert.equal(ctx1.verify(N(2), data, byAdversary), false, "but not in node 2's name");
    assert.equal(ctx1.verify(N(1), data, byAdversary), false);
    const by2 = ctx2.sign(data);
    assert.equal(ctx1.verify(N(2), data, by2), true);
    assert.equal(ctx1.verify(N(2), new TextEncoder().encode("transfer 999"), by2), false);
    assert.equal(ctx1.verify(N(9), data, by2), false, "an unknown signer verifies nothing");
  });
});
